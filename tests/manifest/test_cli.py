"""``reconciler validate`` as users and CI call it: exit codes and output shapes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.manifest.support import EXAMPLES, FIXTURES, ORG, write

LOCATED = re.compile(r"^[^:\s]+:\d+:\d+: .+")


def test_validate_exits_0_and_summarises_a_valid_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_TODAY", "2026-06-01")
    assert main(["validate", "-m", str(EXAMPLES)]) == 0
    out = capsys.readouterr()
    assert out.out == f"{EXAMPLES}: valid (30 users, 5 teams, 6 files)\n"
    assert out.err == ""


def test_validate_exits_1_and_prints_every_problem_as_file_line_col(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)
    assert main(["validate", "-m", "bad-duplicate-user-across-files"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(
        "bad-duplicate-user-across-files/teams/data.yaml:3:13: users[0].email: "
    )
    assert all(LOCATED.match(line) for line in lines[:-1])  # bare, for problem matchers
    assert lines[-1] == "error: 1 problem in the manifest"


def test_validate_json_lists_problems_with_their_location(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)
    assert main(["validate", "-m", "bad-unknown-key.yaml", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "valid": False,
        "problems": [
            {
                "path": "bad-unknown-key.yaml",
                "line": 7,
                "col": 5,
                "message": "users[3]: unknown key 'emial'; did you mean 'email'?",
            }
        ],
    }


def test_validate_json_on_success_has_the_digest_counts_and_notices(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECONCILER_TODAY", "2026-06-01")
    users = "users:\n  - {email: a@acme.io, given_name: A, family_name: B, expires: 2026-01-01}\n"
    write(tmp_path, {"org.yaml": ORG + users})
    assert main(["validate", "-m", str(tmp_path), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["valid"] is True
    assert body["digest"].startswith("sha256:")
    assert (body["users"], body["teams"]) == (1, 0)
    assert [n["line"] for n in body["notices"]] == [4]


def test_validate_prints_notices_on_stderr_and_still_exits_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECONCILER_TODAY", "2028-01-01")
    assert main(["validate", "-m", str(EXAMPLES)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert all(line.startswith(f"notice: {EXAMPLES}") for line in err)
