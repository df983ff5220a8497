"""Answers that lie or hold data no manifest can express, over real HTTP on 127.0.0.1.

Each test serves exactly the hostile data it names from ``tests.support.scripted_server``
(the sandbox refuses to hold such data) and runs the real CLI against it: a create
answered with another account, a team hidden from the listing, look-alike team
names, ids that are URL dot segments, case-twin userNames, a team named only
spaces, and an org that ``import`` cannot write as a valid manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scim_sandbox import Quirks, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest
from tests.support.scripted_server import Scripted, scim_group, scim_user, scripted_server


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Scripted]:
    """ann, ben, zed; team Eng = [ann, ben]; the server at $MIXPANEL_SCIM_URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    state = Scripted(
        users=[
            scim_user("u-ann", "ann@acme.io"),
            scim_user("u-ben", "ben@acme.io"),
            scim_user("u-zed", "zed@acme.io"),
        ],
        groups=[scim_group("g-eng", "Eng", ["u-ann", "u-ben"])],
    )
    with scripted_server(state) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        yield state


def members(state: Scripted, team_id: str) -> set[str]:
    group = next(g for g in state.groups if g["id"] == team_id)
    return {m["value"] for m in group.get("members", [])}


def base_users() -> list[dict[str, object]]:
    return [person("ann@acme.io"), person("ben@acme.io"), person("zed@acme.io")]


# -- finding 2: a create answered with another resource --------------------------------------


def test_a_create_answered_with_another_account_fails_and_that_account_joins_nothing(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.create_answers_with = "u-zed"
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [*base_users(), person("new@acme.io")],
        [{"name": "Eng", "members": ["ann@acme.io", "ben@acme.io", "new@acme.io"]}],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_user new@acme.io:" in x)
    assert "✗" in line and "describes another user ('zed@acme.io'" in line
    assert "not trusted and nothing is added to it" in line
    assert members(org, "g-eng") == {"u-ann", "u-ben"}  # zed was never added
    zed = next(u for u in org.users if u["id"] == "u-zed")
    assert zed["userName"] == "zed@acme.io" and zed["active"] is True  # never patched
    assert not [w for w in org.writes() if "/Users/u-zed" in w]


def test_a_team_create_answered_with_another_team_fails_and_nothing_is_added_to_it(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.create_answers_with = "g-eng"
    manifest = write_manifest(
        tmp_path / "org.yaml",
        base_users(),
        [
            {"name": "Eng", "members": ["ann@acme.io", "ben@acme.io"]},
            {"name": "Ops", "members": ["zed@acme.io"]},
        ],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_group Ops:" in x)
    assert "✗" in line and "describes another team ('Eng'" in line
    assert members(org, "g-eng") == {"u-ann", "u-ben"}  # zed was not added to Eng
    assert not [w for w in org.writes() if "/Groups/g-eng" in w]


# -- finding 6: a team the listing hides ----------------------------------------------------


def test_a_team_hidden_from_the_listing_is_found_by_lookup_and_nothing_is_planned(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.groups.append(scim_group("g-ops", "Ops", ["u-zed"]))
    org.unlisted_groups.add("g-ops")
    manifest = write_manifest(
        tmp_path / "org.yaml",
        base_users(),
        [
            {"name": "Eng", "members": ["ann@acme.io", "ben@acme.io"]},
            {"name": "Ops", "members": ["ann@acme.io"]},
        ],
    )
    assert run("plan", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "the listing of /Groups omitted team 'Ops'" in err
    assert "nothing is planned" in err
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    assert org.writes() == []  # never duplicated, zed never left in a twin
    assert len(org.groups) == 2


def test_a_saved_plan_whose_new_team_is_now_hidden_is_refused_before_any_write(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(
        tmp_path / "org.yaml",
        base_users(),
        [
            {"name": "Eng", "members": ["ann@acme.io", "ben@acme.io"]},
            {"name": "Ops", "members": ["ann@acme.io"]},
        ],
    )
    assert run("plan", "-m", str(manifest), "--out", str(tmp_path / "plan.json")) == 0
    org.groups.append(scim_group("g-ops", "Ops", ["u-zed"]))  # made since, and hidden
    org.unlisted_groups.add("g-ops")
    capsys.readouterr()
    assert run("apply", str(tmp_path / "plan.json"), "--auto-approve") == 1
    assert "the listing of /Groups omitted team 'Ops'" in capsys.readouterr().err
    assert org.writes() == []


def test_a_team_to_create_that_a_lookup_does_not_find_is_created(
    org: Scripted, tmp_path: Path
) -> None:
    manifest = write_manifest(
        tmp_path / "org.yaml",
        base_users(),
        [
            {"name": "Eng", "members": ["ann@acme.io", "ben@acme.io"]},
            {"name": "Ops", "members": ["zed@acme.io"]},
        ],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert "GET /scim/v2/Groups" in org.log  # the lookup
    assert [g["displayName"] for g in org.groups] == ["Eng", "Ops"]
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


# -- finding 7: look-alike team names ------------------------------------------------------


def test_a_look_alike_team_name_is_flagged_escaped_and_never_matched(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.groups[0]["displayName"] = "\u0415ng"  # Cyrillic IE, then "ng"
    manifest = write_manifest(
        tmp_path / "org.yaml",
        base_users(),
        [{"name": "Eng", "members": ["ann@acme.io"]}],
    )
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 2
    out = capsys.readouterr().out
    assert "look-alike team name" in out
    assert "\\u0415ng" in out  # shown so it cannot pass for "Eng"
    assert "mixes scripts (CYRILLIC, LATIN)" in out
    assert 'team "Eng" will be created' in out  # never matched to the manifest's Eng
    assert "\u0415" not in out  # the look-alike is never printed as it would pass
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert members(org, "g-eng") == {"u-ann", "u-ben"}  # the look-alike team untouched
    assert org.groups[0]["displayName"] == "\u0415ng"


# -- finding 12: ids that are dot segments --------------------------------------------------


@pytest.mark.parametrize("bad_id", [".", ".."])
def test_a_dot_segment_id_is_refused_before_any_write(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_id: str
) -> None:
    org.users[2]["id"] = bad_id
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("ben@acme.io"), person("zed@acme.io", active=False)],
        [],
        max_deprovision_percent=100,
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    err = capsys.readouterr().err
    assert f"User 'zed@acme.io' has the id {bad_id!r}" in err
    assert "GET /Users" in err
    assert org.writes() == []


@pytest.mark.parametrize("bad_id", [".", ".."])
def test_a_team_with_a_dot_segment_id_is_refused_before_any_write(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_id: str
) -> None:
    org.groups[0]["id"] = bad_id
    org.groups[0]["members"] = []
    manifest = write_manifest(
        tmp_path / "org.yaml", base_users(), [{"name": "Eng", "members": ["ann@acme.io"]}]
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    err = capsys.readouterr().err
    assert f"Group 'Eng' has the id {bad_id!r}" in err
    assert org.writes() == []


# -- finding 12: messages for data only a person can fix -------------------------------------


def test_case_twin_user_names_on_one_page_say_what_to_fix(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.users.append(scim_user("u-zed2", "ZED@acme.io"))
    manifest = write_manifest(tmp_path / "org.yaml", base_users(), [])
    assert run("plan", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "across pages" not in err
    assert "re-run when it is resolved" not in err
    assert "'zed@acme.io'" in err and "differ only in case" in err
    assert "u-zed" in err and "u-zed2" in err
    assert "in Mixpanel" in err


def test_a_team_named_only_spaces_names_its_id_and_the_fix(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.groups.append(scim_group("g-blank", "   ", []))
    manifest = write_manifest(tmp_path / "org.yaml", base_users(), [])
    assert run("plan", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "'g-blank'" in err
    assert "GET /Groups" in err
    assert "displayName" in err
    assert "re-run" not in err
    assert "Mixpanel" in err


# -- finding 11: import never writes a manifest that fails validation ---------------------------


def test_import_of_case_twin_teams_and_blank_names_writes_a_valid_manifest(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.groups.append(scim_group("g-eng2", "eng", ["u-zed"]))
    org.groups.append(scim_group("g-look", "Op\u0455", []))  # Cyrillic dze
    org.users[2]["name"]["familyName"] = "  "
    out = tmp_path / "imported"
    assert run("import", "--out", str(out), "--split-teams") == 0
    captured = capsys.readouterr()
    assert "'eng'" in captured.err and "differ only in case" in captured.err
    assert "zed@acme.io" in captured.err  # the blank family name, named
    assert 'team "Op\\u0455" (id g-look) was not imported' in captured.err
    assert "should show no changes" not in captured.out
    assert run("validate", "-m", str(out)) == 0
    capsys.readouterr()
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 2
    plan = capsys.readouterr().out
    assert "user zed@acme.io will be updated" in plan and '"  " -> "-"' in plan
    assert 'are left alone: "Op\\u0455", "eng"' in plan
    assert "look-alike team name" in plan
    assert org.writes() == []


def test_import_of_a_plain_org_still_promises_an_empty_plan(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "imported"
    assert run("import", "--out", str(out)) == 0
    assert "its plan should show no changes" in capsys.readouterr().out
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0


# -- findings 1, 4, 5 (fixed by verify-after-write): pinned over real HTTP -------------------


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        for name in ("ann", "zed"):
            sandbox.store.create_user(
                {
                    "userName": f"{name}@acme.io",
                    "name": {"givenName": "Given", "familyName": "Family"},
                }
            )
        yield sandbox


def test_a_delete_answered_but_not_done_fails_verification(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box.set_quirks(Quirks.from_specs(["ignore-writes=zed@acme.io"]))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("zed@acme.io", active=False)],
        [],
        deprovision="delete",
        max_deprovision_percent=100,
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "failed: delete_user zed" in x)
    assert "the server answered success but the change is not there" in line
    assert "zed@acme.io still exists" in line
    assert box.store.user_by_name("zed@acme.io") is not None


def test_revoke_only_verifies_what_it_revoked(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box.set_quirks(Quirks.from_specs(["ignore-writes=zed@acme.io"]))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("zed@acme.io", active=False)],
        [],
        max_deprovision_percent=100,
    )
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "failed: deactivate_user zed" in x)
    assert "active of zed@acme.io is True, not False" in line
    zed = box.store.user_by_name("zed@acme.io")
    assert zed is not None and zed["active"] is True


@pytest.mark.parametrize("deprovision", ["deactivate", "delete"])
def test_revoke_only_verifies_the_team_removals_and_deletes_it_made(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], deprovision: str
) -> None:
    # Every kind of write --revoke-only makes is read back: a membership PATCH the
    # team ignores, and the deprovision (a DELETE too) the user ignores.
    ann = box.store.user_by_name("ann@acme.io")
    zed = box.store.user_by_name("zed@acme.io")
    assert ann is not None and zed is not None
    box.store.create_group(
        {"displayName": "Ops", "members": [{"value": ann["id"]}, {"value": zed["id"]}]}
    )
    box.set_quirks(Quirks.from_specs(["ignore-writes=zed@acme.io", "ignore-writes=Ops"]))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("zed@acme.io", active=False)],
        [{"name": "Ops", "members": ["ann@acme.io"]}],
        deprovision=deprovision,
        max_deprovision_percent=100,
        max_membership_removals_percent=100,
    )
    assert run("apply", "--revoke-only", "-m", str(manifest)) == 5
    out = capsys.readouterr().out
    removal = next(x for x in out.splitlines() if "failed: remove_members Ops" in x)
    assert "zed@acme.io is still a member of 'Ops'" in removal
    gone = "still exists" if deprovision == "delete" else "active of zed@acme.io is True"
    assert gone in next(x for x in out.splitlines() if f"failed: {deprovision}_user zed" in x)
    assert "Verified: read back 2 touched objects; 2 operations answered success" in out


def test_without_verification_a_team_patch_answer_about_another_team_fails_the_operation(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box.store.create_group({"displayName": "Old"})
    box.store.create_group({"displayName": "Ops"})
    box.set_quirks(Quirks(patch_returns_other=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("zed@acme.io")],
        [{"name": "Eng", "previous_names": ["Old"], "members": ["ann@acme.io"]}],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve", "--no-verify") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "rename_group Eng:" in x and "✗" in x)
    assert "the server's answer describes another team ('Ops')" in line
    line = next(x for x in out.splitlines() if "add_members Eng:" in x and "✗" in x)
    assert "describes another team ('Ops')" in line
    # The quirk only lies in its answers: the writes were made.
    box.set_quirks(Quirks())
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_a_create_answered_202_without_a_body_fails_with_what_happened_and_what_to_do(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.create_accepted = True  # asynchronous: nothing exists yet when apply looks
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [*base_users(), person("new@acme.io")],
        [{"name": "Eng", "members": ["ann@acme.io", "ben@acme.io", "new@acme.io"]}],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_user new@acme.io:" in x)
    # Before: "malformed answer: 201 without a body", for a 202, with no next step.
    assert "HTTP 202 without a body" in line and "201" not in line
    assert "run `reconciler plan` again" in line
    assert members(org, "g-eng") == {"u-ann", "u-ben"}


def test_a_409_that_is_not_a_taken_username_is_not_explained_as_one(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.create_conflict = ("mutability", "attribute 'active' is readOnly")
    manifest = write_manifest(tmp_path / "org.yaml", [*base_users(), person("new@acme.io")], [])
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_user new@acme.io:" in x)
    # Before: "the server reported a conflict without saying which (no scimType)".
    assert "HTTP 409 (mutability): attribute 'active' is readOnly" in line
    assert "no scimType" not in line and "outside this organization" not in line
    assert "a conflict of type 'mutability', not a taken userName" in line


def test_a_member_left_behind_by_a_deleted_user_names_the_fix_not_a_rerun(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.groups[0]["members"].append({"value": "u-gone"})  # a deleted user's membership
    manifest = write_manifest(
        tmp_path / "org.yaml", base_users(), [{"name": "Eng", "members": ["ann@acme.io"]}]
    )
    assert run("plan", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "team 'Eng' has member id 'u-gone' that matches no user" in err
    # Before: "re-run when it is resolved", which reads the same forever.
    assert "re-run when it is resolved" not in err
    assert "Fix: remove that member from team 'Eng' in Mixpanel" in err
    assert not org.writes()
