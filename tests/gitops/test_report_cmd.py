"""`reconciler report` end to end against the sandbox seeded with the demo org."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.commands import report_cmd
from scim_sandbox import Sandbox

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = str(REPO_ROOT / "manifests")
TOKEN = "report-test-token"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox(token=TOKEN, seed="demo") as sb:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sb.base_url)
        monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
        monkeypatch.setenv("RECONCILER_TODAY", "2026-12-20")
        yield sb


def report(*argv: str, expect: int = 0) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["report", *argv]) == expect
    return buffer.getvalue().rstrip("\n")


def test_json_report_of_the_demo_org_against_the_repository_manifest(sandbox: Sandbox) -> None:
    data = json.loads(report("-m", MANIFESTS, "--format", "json", "--expiring-days", "60"))

    assert data["with_manifest"] is True
    assert data["claimed_domains"] == ["acme.io", "acmelabs.io"]
    emails = {u["email"].lower() for u in data["users"]}
    assert len(emails) == len(data["users"]) == sandbox.store.counts()[0]
    assert "alan.turing@acme.io" in {e["email"] for e in data["expiring"]}  # Growth, 2027-01-31
    assert set(data["orphaned"]) <= emails


def test_csv_report_has_a_row_per_live_account(sandbox: Sandbox) -> None:
    rows = list(csv.DictReader(io.StringIO(report("-m", MANIFESTS, "--format", "csv"))))

    assert len(rows) == sandbox.store.counts()[0]
    assert {r["in_manifest"] for r in rows} <= {"true", "false"}


def test_without_a_manifest_the_report_shows_live_facts_only(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no manifests/ here

    text = report()

    assert "(live org only, no manifest)" in text
    assert "orphaned" not in text


def test_a_named_manifest_that_is_missing_fails_before_any_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_URL", "http://127.0.0.1:9/api/app/scim/v2")
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    report("-m", str(tmp_path / "nowhere"), expect=1)


def test_the_format_choices_are_exactly_the_renderers() -> None:
    from reconciler.render.report import RENDERERS

    assert tuple(RENDERERS) == report_cmd.FORMATS
