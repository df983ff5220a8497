"""Over real HTTP: a saved plan over a guard is refused by the executor, leaving no journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Server, person, run, write_manifest

LEAVERS = [f"u{i}@acme.io" for i in range(3)]


def test_a_saved_plan_over_a_guard_is_refused_with_exit_4_and_no_journal(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = [person(e) for e in LEAVERS]
    org = write_manifest(tmp_path / "org.yaml", users, [])
    assert run("apply", "-m", str(org), "--auto-approve", "--journal", "first.jsonl") == 0
    write_manifest(org, [{**u, "active": False} for u in users], [], max_deprovision=2)
    assert run("plan", "-m", str(org), "--out", "plan.json") == 0
    capsys.readouterr()

    assert run("apply", "plan.json", "--journal", "j.jsonl") == 4
    assert "--allow-deprovision 3" in capsys.readouterr().err
    assert not Path("j.jsonl").exists()
    assert run("apply", "plan.json", "--journal", "j.jsonl", "--allow-deprovision", "3") == 0
    assert Path("j.jsonl").exists()
