"""The whole loop over real HTTP: plan, apply, plan again, import, saved plans, guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.manifest.loader import load_manifest
from tests.e2e.conftest import Server, person, run, write_manifest

USERS = [
    person("ada@acme.io", "Ada", "Lovelace"),
    person("bob@acme.io", "Bob", "Builder"),
    person("cy@acmelabs.io", "Cy", "Young", display_name="Cy Y."),
    person("dee@acme.io", "Dee", "Dee", expires="2027-01-31"),
]
TEAMS = [
    {"name": "Data Science", "members": ["ada@acme.io", "cy@acmelabs.io"]},
    {
        "name": "Growth",
        "members": ["bob@acme.io", {"email": "dee@acme.io", "expires": "2026-12-31"}],
    },
]


def test_apply_then_plan_is_empty_and_a_second_apply_changes_nothing(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 2
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    capsys.readouterr()
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    assert "No changes. Mixpanel matches the manifest." in capsys.readouterr().out
    before = _live(server).fingerprint
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert "No changes" in capsys.readouterr().out
    assert _live(server).fingerprint == before


def test_offboarding_moves_and_renames_converge(server: Server, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    users = [*USERS[:1], {**USERS[1], "active": False}, *USERS[2:]]
    teams = [
        {"name": "Data", "previous_names": ["Data Science"], "members": ["ada@acme.io"]},
        {"name": "Growth", "members": ["cy@acmelabs.io"]},
    ]
    write_manifest(manifest, users, teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    live = {u.key: u for u in _live(server).users}
    assert live["bob@acme.io"].active is False
    groups = {g.display_name: g for g in _live(server).groups}
    assert set(groups) == {"Data", "Growth"}


def test_import_then_plan_is_empty(server: Server, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    out = tmp_path / "imported"
    assert (
        run(
            "import",
            "--out",
            str(out),
            "--split-teams",
            "--claimed-domain",
            "acme.io",
            "--claimed-domain",
            "acmelabs.io",
        )
        == 0
    )
    assert (out / "teams" / "data-science.yaml").exists()
    load_manifest(out, today=__import__("datetime").date(2026, 11, 22))
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0


def test_a_saved_plan_applies_exactly_and_a_stale_one_is_refused(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("plan", "-m", str(manifest), "--out", "plan.json") == 0
    assert json.loads(Path("plan.json").read_text())["format_version"] == 1
    assert run("apply", "plan.json", "-m", str(manifest)) == 0
    # A new plan, then someone deactivates Bob by hand before it is applied.
    write_manifest(manifest, [*USERS[:1], {**USERS[1], "family_name": "Marley"}, *USERS[2:]], TEAMS)
    assert run("plan", "-m", str(manifest), "--out", "plan2.json") == 0
    client = server.client()
    bob = client.find_user("bob@acme.io")
    assert bob is not None
    from reconciler.scim import builders

    client.patch_user(bob.id, builders.replace_user_attributes({"active": False}))
    capsys.readouterr()
    assert run("apply", "plan2.json", "-m", str(manifest)) == 3
    err = capsys.readouterr().err
    assert "bob@acme.io: active changed true -> false since the plan" in err
    assert "reconciler plan" in err


def test_a_plan_from_another_manifest_is_refused(server: Server, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("plan", "-m", str(manifest), "--out", "plan.json") == 0
    write_manifest(manifest, USERS[:3], TEAMS[:1])
    assert run("apply", "plan.json", "-m", str(manifest)) == 3


def test_the_deprovision_guard_refuses_then_the_named_override_accepts(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = [person(f"u{i:02}@acme.io") for i in range(6)]
    manifest = write_manifest(tmp_path / "org.yaml", many, [])
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    write_manifest(manifest, [{**u, "active": False} for u in many], [], max_deprovision=2)
    capsys.readouterr()
    assert run("apply", "-m", str(manifest), "--auto-approve") == 4
    assert "--allow-deprovision 6" in capsys.readouterr().err
    assert run("apply", "-m", str(manifest)) == 4  # refused before asking for approval
    assert run("apply", "-m", str(manifest), "--auto-approve", "--allow-deprovision", "5") == 4
    assert run("apply", "-m", str(manifest), "--auto-approve", "--allow-deprovision", "6") == 0
    assert all(not u.active for u in _live(server).users)


def test_apply_without_approval_outside_a_terminal_is_refused(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("apply", "-m", str(manifest)) == 1
    assert "--auto-approve" in capsys.readouterr().err
    assert _live(server).users == ()


def _live(server: Server):  # type: ignore[no-untyped-def]
    from reconciler.reader import read_live_state

    return read_live_state(server.client())


def test_deprovision_delete_removes_memberships_first_and_converges(
    server: Server, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    leaving = [{**USERS[0], "active": False}, *USERS[1:]]
    teams = [{"name": "Data Science", "members": ["cy@acmelabs.io"]}, TEAMS[1]]
    write_manifest(manifest, leaving, teams, deprovision="delete")
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    live = _live(server)  # readable: no team points at the deleted user
    assert "ada@acme.io" not in {u.key for u in live.users}
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


class _Terminal:
    """Stands in for stdin on a terminal where a person types ``answer``."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer + "\n"


@pytest.mark.parametrize(("answer", "code", "applied"), [("yes", 0, True), ("y", 1, False)])
def test_on_a_terminal_apply_asks_and_only_yes_approves(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    applied: bool,
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    assert run("apply", "-m", str(manifest)) == code
    assert bool(_live(server).users) is applied
