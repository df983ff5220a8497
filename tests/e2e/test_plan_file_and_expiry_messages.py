"""Refusals that say what is wrong: a saved plan's digest case and null fields, and
expiry instants outside what a timestamp can hold. Through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, person, run, write_manifest


def _saved_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, object]]:
    manifest = write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])
    plan = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(plan)) == 0
    capsys.readouterr()
    return plan, json.loads(plan.read_text())


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, lines
    return errors[0]


def test_an_upper_cased_digest_is_refused_saying_it_must_be_lower_case(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, document = _saved_plan(tmp_path, capsys)
    document["digest"] = str(document["digest"]).upper()
    plan.write_text(json.dumps(document))

    code = run("apply", str(plan), "--auto-approve")

    assert code == 1
    error = _error(capsys)
    assert "is not in lower case" in error and "lower-case hex" in error
    assert "do not match" not in error


@pytest.mark.parametrize("field", ["org", "target", "live_fingerprint"])
def test_a_null_field_in_a_plan_file_is_named(
    field: str, server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, document = _saved_plan(tmp_path, capsys)
    document[field] = None
    plan.write_text(json.dumps(document))

    code = run("apply", str(plan), "--auto-approve")

    assert code == 1
    error = _error(capsys)
    assert f"({field}: " in error and "got null" in error
    assert "validation error for Plan" not in error


@pytest.mark.parametrize(
    "expires",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+00:45"],
)
def test_an_expiry_instant_outside_years_1_to_9999_in_utc_is_a_validation_error(
    expires: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", [person("ada@acme.io", expires=expires)], [])

    code = run("validate", "-m", str(manifest))

    err = capsys.readouterr().err
    assert code != 0
    assert "outside the years 0001 to 9999 once converted to UTC" in err
    assert "0001-01-01T00:00:00Z;" not in err and "9999-12-31T23:59:59.999999Z" not in err


def test_expiry_instants_at_the_edges_in_utc_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = [
        person("ada@acme.io", expires="9999-12-31T23:59:59Z"),
        person("bob@acme.io", expires="9999-12-31T23:59:59+01:00"),
    ]
    manifest = write_manifest(tmp_path / "org.yaml", users, [])

    assert run("validate", "-m", str(manifest)) == 0
