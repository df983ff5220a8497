"""A create answered 201 with the id of a resource that already exists (issue: attacker
review 2). Trusting that id would add the account (or team) that id belongs to
wherever the plan puts the new one: access the manifest never named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scim_sandbox import Quirks, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest
from tests.e2e.test_quirks_writes import LOOSE, member_names, seed_user


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(token=TOKEN) as server:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", server.base_url)
        monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
        monkeypatch.setenv("RECONCILER_TODAY", TODAY)
        monkeypatch.chdir(tmp_path)
        yield server


@pytest.mark.parametrize("verify", [True, False])
def test_a_user_create_answered_with_an_existing_users_id_joins_no_team(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], verify: bool
) -> None:
    # ann exists and is in no team; new@ is created for Eng, and the server's 201
    # answer carries ann's id with new@'s userName.
    seed_user(sandbox, "ann")
    sandbox.store.create_group({"displayName": "Eng"})
    sandbox.set_quirks(Quirks(post_answers_other_id=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("new@acme.io")],
        [{"name": "Eng", "members": ["new@acme.io"]}],
        **LOOSE,
    )
    extra = [] if verify else ["--no-verify"]
    # Before: ann (the id's owner) was added to Eng; with --no-verify, exit 0.
    assert run("apply", "-m", str(manifest), "--auto-approve", *extra) == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_user new@acme.io" in x)
    assert "ann@acme.io" in line and "already" in line
    assert "ann@acme.io" not in member_names(sandbox, "Eng")


def test_a_team_create_answered_with_an_existing_teams_id_gets_no_members(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_user(sandbox, "ann")
    sandbox.store.create_group({"displayName": "Ops"})
    sandbox.set_quirks(Quirks(post_answers_other_id=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io")],
        [{"name": "Ops", "members": []}, {"name": "Eng", "members": ["ann@acme.io"]}],
        **LOOSE,
    )
    # Before: ann was added to Ops (the id's owner), which the manifest keeps empty.
    assert run("apply", "-m", str(manifest), "--auto-approve", "--no-verify") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_team Eng" in x or "create_group Eng" in x)
    assert "'Ops'" in line and "already" in line
    assert member_names(sandbox, "Ops") == set()
