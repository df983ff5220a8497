"""Listings and member lists the server gets wrong, end to end over real HTTP.

Each test runs the real CLI against the sandbox in one quirk mode (see
``scim_sandbox.quirks``) and checks the outcome the README's safety model
promises: fail closed with the reason and nothing written, or converge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest.loader import load_manifest
from reconciler.scim.secret import Token
from reconciler.settings import Target
from reconciler.workflow import plan_from_manifest
from scim_sandbox import Quirks, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, Server, person, run, write_manifest

FIVE = ["ann", "ben", "cat", "dan", "zed"]


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        yield sandbox


def seed(box: Sandbox, name: str, *, active: bool = True) -> str:
    resource = {
        "userName": f"{name}@acme.io",
        "name": {"givenName": "Given", "familyName": "Family"},
        "active": active,
    }
    return str(json.loads(box.store.create_user(resource).body)["id"])


def team(box: Sandbox, name: str, *member_ids: str) -> None:
    box.store.create_group({"displayName": name, "members": [{"value": i} for i in member_ids]})


def live_user(box: Sandbox, name: str) -> dict[str, Any]:
    found = box.store.user_by_name(f"{name}@acme.io")
    assert found is not None
    return found


def members(box: Sandbox, name: str) -> set[str]:
    group = box.store.group_by_name(name)
    assert group is not None
    return {m["display"].split("@")[0] for m in group.get("members", [])}


def writes(box: Sandbox) -> dict[str, int]:
    return {k: v for k, v in box.stats.requests().items() if not k.startswith("GET")}


def people(*names: str, **extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [person(f"{n}@acme.io", **extra.get(n, {})) for n in names]


# ---- capped listings -------------------------------------------------------------------


@pytest.mark.parametrize(
    "leaving", [{"active": False}, {"expires": "2026-11-01"}], ids=["inactive", "expired"]
)
def test_a_capped_listing_that_lies_fails_closed_naming_the_hidden_leaver(
    box: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    leaving: dict[str, Any],
) -> None:
    for name in FIVE:
        seed(box, name)
    manifest = write_manifest(tmp_path / "org.yaml", people(*FIVE, zed=leaving), [])
    box.set_quirks(Quirks(list_cap=3, lying_total=True))
    box.stats.reset()
    assert run("plan", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert (
        "the listing of /Users omitted zed@acme.io, which a userName lookup found (active); "
        "the server's listing is incomplete (capped or hiding users), so nothing is planned"
    ) in err
    assert "Traceback" not in err
    # One listing page plus one confirmation lookup (zed); dan needs none.
    assert box.stats.requests()["GET /Users"] == 2
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    assert writes(box) == {}
    assert live_user(box, "zed")["active"] is True


def test_a_capped_listing_that_lies_fails_closed_even_when_the_hidden_leaver_is_inactive(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # zed is already inactive, so its lookup alone proves nothing dangerous; but the
    # listing is then known to omit users, so dan (a create in the plan) is looked up.
    for name in FIVE[:-1]:
        seed(box, name)
    seed(box, "zed", active=False)
    manifest = write_manifest(tmp_path / "org.yaml", people(*FIVE, zed={"active": False}), [])
    box.set_quirks(Quirks(list_cap=3, lying_total=True))
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    assert "omitted dan@acme.io, which a userName lookup found (active)" in capsys.readouterr().err
    assert writes(box) == {}


def test_a_capped_listing_with_a_true_total_fails_closed_before_planning(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in FIVE:
        seed(box, name)
    manifest = write_manifest(tmp_path / "org.yaml", people(*FIVE, zed={"active": False}), [])
    box.set_quirks(Quirks(list_cap=3))
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    assert "nothing was planned" in capsys.readouterr().err
    assert writes(box) == {}


# ---- inactive users hidden from the listing ----------------------------------------------


def test_a_hidden_inactive_leaver_is_proven_inactive_by_lookup_and_the_plan_is_empty(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(box, "ann")
    seed(box, "zed", active=False)
    manifest = write_manifest(
        tmp_path / "org.yaml", people("ann", "zed", zed={"active": False}), []
    )
    box.set_quirks(Quirks(hide_inactive=True))
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    out = capsys.readouterr().out
    assert "the listing of /Users omitted zed@acme.io, which is inactive" in out


def test_offboarding_on_a_server_that_hides_inactive_users_stays_converged(
    box: Sandbox, tmp_path: Path
) -> None:
    ann, zed = seed(box, "ann"), seed(box, "zed")
    team(box, "Eng", ann, zed)
    box.set_quirks(Quirks(hide_inactive=True))
    users = people("ann", "zed", zed={"active": False})
    manifest = write_manifest(
        tmp_path / "org.yaml", users, [{"name": "Eng", "members": ["ann@acme.io"]}]
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert live_user(box, "zed")["active"] is False
    assert members(box, "Eng") == {"ann"}
    # zed is now hidden from the listing; the next plans prove it inactive and stay empty.
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_a_rehire_hidden_from_the_listing_converges_and_no_later_plan_fails(
    box: Sandbox, tmp_path: Path
) -> None:
    """Failing input #2 without adopt-then-reconcile: the member list reveals kim.

    The first apply creates kim (409, adopted) and adds her to Eng; the next plan
    finds her by id through Eng's member list and reactivates her instead of failing
    on "a member id that matches no user".
    """
    team(box, "Eng", seed(box, "ann"))
    seed(box, "kim", active=False)
    box.set_quirks(Quirks(hide_inactive=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        people("ann", "kim"),
        [{"name": "Eng", "members": ["ann@acme.io", "kim@acme.io"]}],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") in {0, 5}
    for _ in range(2):  # one apply with adopt-then-reconcile; at most two without
        if run("plan", "-m", str(manifest), "--detailed-exitcode") == 0:
            break
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert live_user(box, "kim")["active"] is True
    assert members(box, "Eng") == {"ann", "kim"}
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_a_rehire_hidden_from_the_listing_is_adopted_and_reactivated_in_one_apply(
    box: Sandbox, tmp_path: Path
) -> None:
    team(box, "Eng", seed(box, "ann"))
    seed(box, "kim", active=False)
    box.set_quirks(Quirks(hide_inactive=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        people("ann", "kim"),
        [{"name": "Eng", "members": ["ann@acme.io", "kim@acme.io"]}],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5  # adopted: listing incomplete
    assert live_user(box, "kim")["active"] is True
    assert members(box, "Eng") == {"ann", "kim"}
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


# ---- member lists cut short or left out ----------------------------------------------------


def test_a_team_whose_members_are_not_a_list_fails_closed(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `"members": {}` is not a team seen to be empty: zed could never be removed.
    ids = [seed(box, n) for n in ("ann", "ben", "zed")]
    team(box, "Finance", *ids)
    teams = [{"name": "Finance", "members": ["ann@acme.io", "ben@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", people("ann", "ben", "zed"), teams)
    box.set_quirks(Quirks(members_not_list=True))
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 1
    captured = capsys.readouterr()
    assert "No changes" not in captured.out
    assert "Group 'Finance' field 'members' is not a list" in captured.err
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    box.set_quirks(Quirks())
    assert members(box, "Finance") == {"ann", "ben", "zed"}  # nothing was written
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0  # honest again: removed
    assert members(box, "Finance") == {"ann", "ben"}


@pytest.mark.parametrize(
    ("quirks", "what"),
    [
        (Quirks(members_cut=2), "lists 2 members, but 3 users name the team in their `groups`"),
        (Quirks(members_omitted=True), "answered without a `members` attribute, while 3 users"),
    ],
    ids=["cut", "omitted"],
)
@pytest.mark.parametrize("drop_zed", [True, False], ids=["zed-dropped", "unchanged"])
def test_a_team_whose_member_list_cannot_be_trusted_fails_closed(
    box: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    quirks: Quirks,
    what: str,
    drop_zed: bool,
) -> None:
    ids = [seed(box, n) for n in ("ann", "ben", "zed")]
    team(box, "Finance", *ids)
    team(box, "Empty")
    kept = (
        ["ann@acme.io", "ben@acme.io"]
        if drop_zed
        else ["ann@acme.io", "ben@acme.io", "zed@acme.io"]
    )
    teams = [{"name": "Finance", "members": kept}, {"name": "Empty", "members": []}]
    manifest = write_manifest(tmp_path / "org.yaml", people("ann", "ben", "zed"), teams)
    box.set_quirks(quirks)
    box.stats.reset()
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 1
    captured = capsys.readouterr()
    assert "No changes" not in captured.out
    assert f"team 'Finance': GET /Groups/{{id}} {what}" in captured.err
    assert "its membership is unknown, not empty, so nothing is planned" in captured.err
    assert run("apply", "-m", str(manifest), "--auto-approve") == 1
    assert writes(box) == {}
    assert members(box, "Finance") == {"ann", "ben", "zed"}


# ---- honest servers: nothing extra ------------------------------------------------------------


def test_an_honest_server_stays_at_the_lower_bound_plus_one_lookup_per_absent_leaver(
    server: Server, tmp_path: Path
) -> None:
    # zed never existed: the manifest wants it inactive and the listing lacks it, so
    # each plan proves it absent with one userName lookup. Nothing else is extra.
    users = people("ann", "ben", "zed", zed={"active": False})
    teams = [{"name": "Eng", "members": ["ann@acme.io"]}, {"name": "Ops", "members": []}]
    manifest = write_manifest(tmp_path / "org.yaml", users, teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    loaded = load_manifest(manifest, today=date.fromisoformat(TODAY))
    target = Target(server.base_url, Token(TOKEN))
    with server.client() as client:
        planned = plan_from_manifest(loaded, client, target, today=date.fromisoformat(TODAY))
        # One user page, one team page, one confirmation (zed), and the team reads:
        # where users' `groups` corroborate the listed members (the sandbox), only Eng
        # (the canary, the largest team) is read; else one read per team.
        read = planned.live.members_read
        assert read is not None
        team_reads = 1 if server.kind == "sandbox" else 2
        assert (read.requests, read.from_pages) == (team_reads, 2 if team_reads == 1 else 0)
        assert client.stats.calls == 1 + 1 + team_reads + 1
        assert client.stats.by_purpose["confirm"] == 1
    assert planned.plan.operations == ()


def test_once_the_listing_is_shown_to_hide_users_a_hidden_rehire_is_planned_as_a_reactivation(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team(box, "Eng", seed(box, "ann"))
    seed(box, "zed", active=False)
    seed(box, "kim", active=False)
    box.set_quirks(Quirks(hide_inactive=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        people("ann", "kim", "zed", zed={"active": False}),
        [{"name": "Eng", "members": ["ann@acme.io", "kim@acme.io"]}],
    )
    capsys.readouterr()
    assert run("plan", "-m", str(manifest), "--format", "json") == 0
    plan = json.loads(capsys.readouterr().out)
    kinds = {(op["op"], op["key"]) for op in plan["operations"]}
    assert ("reactivate_user", "kim@acme.io") in kinds
    assert not any(kind == "create_user" for kind, _ in kinds)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert box.stats.requests().get("POST /Users", 0) == 0
    assert live_user(box, "kim")["active"] is True
    assert members(box, "Eng") == {"ann", "kim"}
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_a_saved_plan_resting_on_a_hidden_user_is_not_called_stale(
    box: Sandbox, tmp_path: Path
) -> None:
    team(box, "Eng", seed(box, "ann"))
    seed(box, "zed", active=False)
    seed(box, "kim", active=False)
    box.set_quirks(Quirks(hide_inactive=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        people("ann", "kim", "zed", zed={"active": False}),
        [{"name": "Eng", "members": ["ann@acme.io", "kim@acme.io"]}],
    )
    saved = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(saved)) == 0
    assert run("apply", str(saved), "--auto-approve") == 0
    assert live_user(box, "kim")["active"] is True
    assert members(box, "Eng") == {"ann", "kim"}


def test_without_a_second_source_a_team_without_members_is_a_guess_the_plan_names(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No users' `groups` to cross-check with: a team answered without `members` is
    # taken as empty (RFC 7643 §2.5), a guess the plan states for the reviewer, and
    # apply never reports it done: the adds do not read back.
    ids = [seed(box, n) for n in ("ann", "ben", "zed")]
    team(box, "Finance", *ids)
    teams = [{"name": "Finance", "members": ["ann@acme.io", "ben@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", people("ann", "ben", "zed"), teams)
    box.set_quirks(Quirks(members_omitted=True, groups_omitted=True))
    capsys.readouterr()
    assert run("plan", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert (
        "1 team ('Finance') answered without a `members` attribute and the server does not "
        "fill users' `groups`, so nothing can vouch for it: taken as empty" in out
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    assert "could not read the members of 'Finance' back" in capsys.readouterr().out
