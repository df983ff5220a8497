"""Revocation on time, unattended: `apply --revoke-only`, expiry instants, offboarding.

Over real HTTP against the built-in sandbox and the independent scim2-server, with
the clock pinned by RECONCILER_NOW / RECONCILER_TODAY.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.livestate import LiveState
from reconciler.reader import read_live_state
from reconciler.scim.builders import (
    add_members,
    group_resource,
    replace_user_attributes,
    user_resource,
)
from tests.e2e.conftest import Server, person, run, write_manifest

ADA = person("ada@acme.io", "Ada", "Lovelace")
BOB = person("bob@acme.io", "Bob", "Builder")
CY = person("cy@acme.io", "Cy", "Young")


def _live(server: Server) -> LiveState:
    return read_live_state(server.client())


def _members(server: Server, team: str) -> set[str]:
    live = _live(server)
    return set(live.member_keys(live.groups_by_name[team]))


def test_revoke_only_removes_expired_access_and_holds_a_pending_grant_back(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [ADA, BOB],
        [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io"]}],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    # Bob's access ended yesterday; Cy was added to the manifest but is not reviewed yet.
    write_manifest(
        manifest,
        [ADA, {**BOB, "expires": "2026-11-21"}, CY],
        [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io", "cy@acme.io"]}],
    )
    capsys.readouterr()
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0  # no approval asked
    out = capsys.readouterr().out
    assert "Held back: 2 grants wait for a reviewed merge" in out  # create cy, add cy
    assert "bob@acme.io) will be deprovisioned at the next apply" in out
    live = _live(server)
    assert live.users_by_key["bob@acme.io"].active is False
    assert "cy@acme.io" not in live.users_by_key
    assert _members(server, "Data") == {"ada@acme.io"}
    capsys.readouterr()
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert "Nothing to revoke" in out and "2 grants wait" in out
    assert "will be deprovisioned" not in out  # the notice stopped: bob is deprovisioned
    # The grant still goes through a normal (reviewed) apply.
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 2


def test_an_hour_level_expiry_is_enforced_at_its_instant(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 18:00 at +01:00 is 17:00 UTC.
    team = {
        "name": "Data",
        "members": [{"email": "bob@acme.io", "expires": "2026-11-22T18:00:00+01:00"}],
    }
    manifest = write_manifest(tmp_path / "org.yaml", [ADA, BOB], [team])
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-22T16:59:59Z")
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert _members(server, "Data") == {"bob@acme.io"}
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    assert _members(server, "Data") == {"bob@acme.io"}  # not yet
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-22T17:00:00Z")
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    assert _members(server, "Data") == set()
    assert _live(server).users_by_key["bob@acme.io"].active  # only the membership ended


def test_a_user_expiry_instant_deactivates_and_the_plan_shows_it_in_utc(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bob = {**BOB, "expires": "2026-11-22T09:30:00-05:00"}
    manifest = write_manifest(
        tmp_path / "org.yaml", [ADA, bob], [{"name": "Data", "members": ["bob@acme.io"]}]
    )
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-22T14:00:00Z")
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-22T14:30:00Z")
    capsys.readouterr()
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert "expired on 2026-11-22T14:30:00Z" in out
    live = _live(server)
    assert live.users_by_key["bob@acme.io"].active is False
    assert _members(server, "Data") == set()


def test_active_false_alone_offboards_a_team_member(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", [ADA, BOB], teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    write_manifest(manifest, [ADA, {**BOB, "active": False}], teams)  # the one-line change
    capsys.readouterr()
    assert run("validate", "-m", str(manifest)) == 0
    assert "still listed in team 'Data'" in capsys.readouterr().err
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert "bob@acme.io  (deprovisioned: active: false in the manifest)" in out
    assert _live(server).users_by_key["bob@acme.io"].active is False
    assert _members(server, "Data") == {"ada@acme.io"}
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_import_writes_inactive_team_members_counts_what_it_wrote_and_plans_nothing(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", [ADA, BOB], teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    client = server.client()
    bob = _live(server).users_by_key["bob@acme.io"]
    client.patch_user(bob.id, replace_user_attributes({"active": False}))  # by hand
    client.create_user(user_resource("eve@acmelabs.io", "Eve", "Else", None, True))
    assert _members(server, "Data") == {"ada@acme.io", "bob@acme.io"}
    out = tmp_path / "imported"
    capsys.readouterr()
    assert run("import", "--out", str(out), "--claimed-domain", "acme.io") == 0
    printed = capsys.readouterr().out
    assert "Imported 2 users and 1 team into" in printed  # eve is outside acme.io: not written
    assert "bob@acme.io" in (out / "org.yaml").read_text()
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0


def test_revoke_only_cannot_be_combined_with_a_plan_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("apply", str(tmp_path / "plan.json"), "--revoke-only") == 64  # usage error
    err = capsys.readouterr().err
    assert err.startswith("usage: reconciler apply ")
    assert (
        "reconciler apply: error: --revoke-only plans from the manifest itself; drop PLAN_FILE"
        in err
    )


def test_a_bad_pinned_clock_is_an_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", [ADA], [])
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-22T17:00:00")
    assert run("validate", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "RECONCILER_NOW='2026-11-22T17:00:00' is not a date or a timestamp with an offset" in err
    assert "Traceback" not in err


def test_revoke_only_reverts_hand_made_grants_the_policy_covers_and_nothing_else(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = [{"name": "Data", "members": ["ada@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", [ADA], teams, unmanaged_users="deactivate")
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    client = server.client()
    mallory = client.create_user(user_resource("mallory@acme.io", "Mal", "Lory", None, True))
    data = _live(server).groups_by_name["Data"]
    client.patch_group(data.id, add_members([mallory.id]))  # by hand, no PR
    side = client.create_group(group_resource("Side project"))
    client.patch_group(side.id, add_members([_live(server).users_by_key["ada@acme.io"].id]))
    capsys.readouterr()
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    live = _live(server)
    assert live.users_by_key["mallory@acme.io"].active is False
    assert _members(server, "Data") == {"ada@acme.io"}
    assert _members(server, "Side project") == {"ada@acme.io"}  # unlisted team: left alone
    assert live.users_by_key["ada@acme.io"].active


def test_an_offboarded_user_leaves_a_team_no_manifest_declares_and_the_notice_says_so(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", [ADA, BOB], teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    client = server.client()
    side = client.create_group(group_resource("Side project"))  # made by hand, not declared
    live = _live(server)
    both = [live.users_by_key["ada@acme.io"].id, live.users_by_key["bob@acme.io"].id]
    client.patch_group(side.id, add_members(both))
    write_manifest(manifest, [ADA, {**BOB, "active": False}], teams)
    capsys.readouterr()
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert 'team "Side project": remove members (1)' in out
    assert (
        '1 team in Mixpanel is not in the manifest and is left alone: "Side project"; '
        "only users being deprovisioned are removed from it" in out
    )
    assert _members(server, "Side project") == {"ada@acme.io"}  # bob's access is all gone
    assert _members(server, "Data") == {"ada@acme.io"}
    capsys.readouterr()
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    out = capsys.readouterr().out
    assert 'left alone: "Side project"\n' in out  # nothing to remove: no "only ..." clause


def test_revoke_only_keeps_the_guards_and_never_touches_a_protected_account(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = person("owner@acme.io", "Own", "Er")
    users = [person(f"u{i}@acme.io") for i in range(3)]
    manifest = write_manifest(tmp_path / "org.yaml", [owner, *users], [])
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    # The owner is dropped from the manifest (unlisted users are deactivated), two
    # accesses expired and one user left: three deprovisions over a limit of one.
    expired = [{**u, "expires": "2026-11-21T23:59:59+00:00"} for u in users[:2]]
    policy = {"unmanaged_users": "deactivate", "max_deprovision": 1, "protected": [owner["email"]]}
    write_manifest(manifest, expired, [], **policy)
    capsys.readouterr()
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 4
    err = capsys.readouterr().err
    assert "refusing to deprovision users: 3 is over the limit of 1" in err
    assert "--allow-deprovision 3" in err
    assert all(user.active for user in _live(server).users)  # a guard refusal revokes nothing
    assert run("apply", "--revoke-only", "-m", str(manifest), "--allow-deprovision", "3") == 0
    active = {user.key for user in _live(server).users if user.active}
    assert active == {"owner@acme.io"}  # protected: never deactivated, even unlisted


def test_revoke_only_names_a_team_by_its_live_name_while_its_rename_waits_for_review(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", [ADA, BOB], teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    renamed = [{"name": "Analytics", "previous_names": ["Data"], "members": ["ada@acme.io"]}]
    write_manifest(manifest, [ADA, BOB], renamed)  # one commit: a rename and a removal
    capsys.readouterr()
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert 'team "Data": remove members (1)' in out  # the team as it is called in Mixpanel
    assert "✓ remove_members Data: removed 1" in out
    assert "Analytics" not in out.split("Held back:")[0]  # it is not called that yet
    assert "1 team to rename" in out
    assert _members(server, "Data") == {"ada@acme.io"}
    assert "Analytics" not in _live(server).groups_by_name
