"""Team members from the Groups pages when users' `groups` corroborate them (issue 16).

End to end over real HTTP on 127.0.0.1: the sandbox in its member-list quirk modes,
and the independent scim2-server. Each test checks both which teams were read one
by one (``GET /Groups/{id}``) and that the plan is right: the "drop zed from
Finance" change of issue 11 still removes zed however the server lists members.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import LiveStateError
from reconciler.livestate import LiveGroup
from reconciler.manifest.loader import load_manifest
from reconciler.plan import OpKind
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from reconciler.settings import Target
from reconciler.workflow import Planned, plan_from_manifest
from scim_sandbox import Quirks, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, Server, person, run, write_manifest

NAMES = ("ann", "ben", "zed")
KEEP = ["ann@acme.io", "ben@acme.io"]
TEAMS = [
    {"name": "Finance", "members": ["ann@acme.io", "ben@acme.io", "zed@acme.io"]},
    {"name": "Eng", "members": ["ann@acme.io"]},
    {"name": "Empty", "members": []},
]
DROP_ZED = [{"name": "Finance", "members": KEEP}, *TEAMS[1:]]


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        yield sandbox


@pytest.fixture
def team_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids every ``GET /Groups/{id}`` of the test asked for, in order."""
    asked: list[str] = []
    real = ScimClient.get_group

    def recording(self: ScimClient, group_id: str, *, purpose: str = "") -> LiveGroup:
        asked.append(group_id)
        return real(self, group_id, purpose=purpose)

    monkeypatch.setattr(ScimClient, "get_group", recording)
    return asked


def seed_org(box: Sandbox) -> dict[str, str]:
    """ann, ben, zed and the teams of TEAMS; returns team ids by name."""
    ids = {}
    for name in NAMES:
        body = {
            "userName": f"{name}@acme.io",
            "name": {"givenName": "Given", "familyName": "Family"},
        }
        ids[name] = json.loads(box.store.create_user(body).body)["id"]
    teams = {}
    for team in TEAMS:
        members = [{"value": ids[m.split("@")[0]]} for m in team["members"]]
        made = box.store.create_group({"displayName": team["name"], "members": members})
        teams[str(team["name"])] = json.loads(made.body)["id"]
    return teams


def plan(base_url: str, manifest: Path) -> tuple[Planned, int]:
    loaded = load_manifest(manifest, today=date.fromisoformat(TODAY))
    with ScimClient.connect(base_url, Token(TOKEN)) as client:
        planned = plan_from_manifest(
            loaded, client, Target(base_url, Token(TOKEN)), today=date.fromisoformat(TODAY)
        )
        return planned, client.stats.calls


def removals(planned: Planned) -> dict[str, tuple[str, ...]]:
    return {
        op.key: tuple(sorted(m.email for m in op.members))
        for op in planned.plan.operations
        if op.op is OpKind.REMOVE_MEMBERS
    }


def manifest_of(tmp_path: Path, teams: list[dict[str, Any]]) -> Path:
    users = [person(f"{n}@acme.io") for n in NAMES]
    return write_manifest(tmp_path / "org.yaml", users, teams)


def members(box: Sandbox, name: str) -> set[str]:
    group = box.store.group_by_name(name)
    assert group is not None
    return {m["display"].split("@")[0] for m in group.get("members", [])}


# (quirks, the teams read one by one, words of the reason given)
TRUSTED_OR_NOT = [
    pytest.param(Quirks(), ["Finance"], "", id="honest"),
    pytest.param(
        Quirks(list_members_cut=2),
        ["Finance", "Eng"],
        "1 team whose listed members differ from users' `groups`",
        id="cut-in-list-only",
    ),
    pytest.param(
        Quirks(list_members_omitted=True),
        ["Finance", "Eng", "Empty"],
        "3 teams listed without `members`",
        id="omitted-in-list",
    ),
    pytest.param(
        Quirks(groups_omitted=True),
        ["Finance", "Eng", "Empty"],
        "the server does not fill users' `groups`",
        id="no-user-groups",
    ),
    pytest.param(
        Quirks(groups_omitted=True, list_members_cut=2),
        ["Finance", "Eng", "Empty"],
        "the server does not fill users' `groups`",
        id="no-user-groups-and-cut-in-list",
    ),
]


@pytest.mark.parametrize(("quirks", "read_each", "why"), TRUSTED_OR_NOT)
def test_only_the_teams_the_pages_cannot_vouch_for_are_read_and_zed_is_still_dropped(
    box: Sandbox,
    tmp_path: Path,
    team_reads: list[str],
    quirks: Quirks,
    read_each: list[str],
    why: str,
) -> None:
    ids = seed_org(box)
    box.set_quirks(quirks)
    planned, calls = plan(box.base_url, manifest_of(tmp_path, DROP_ZED))
    # Honest and cut-in-list: the largest team the pages vouch for (the canary) is
    # read too; every other read is a team the pages could not vouch for.
    assert sorted(team_reads) == sorted(ids[name] for name in read_each)
    assert calls == 1 + 1 + len(read_each)  # one user page, one team page, the reads
    read = planned.live.members_read
    assert read is not None and read.requests == len(read_each)
    assert why in read.why
    assert removals(planned) == {"Finance": ("zed@acme.io",)}
    assert len(planned.plan.operations) == 1
    assert planned.live.groups_by_name["Eng"].member_ids == {
        u.id for u in planned.live.users if u.user_name == "ann@acme.io"
    }
    assert run("apply", "-m", str(tmp_path / "org.yaml"), "--auto-approve") == 0
    assert members(box, "Finance") == {"ann", "ben"}


def test_members_cut_in_both_list_and_read_still_fail_closed_reading_only_that_team(
    box: Sandbox, tmp_path: Path, team_reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = seed_org(box)
    box.set_quirks(Quirks(members_cut=2))
    manifest = manifest_of(tmp_path, DROP_ZED)
    with pytest.raises(Exception, match="lists 2 members, but 3 users name the team"):
        plan(box.base_url, manifest)
    assert sorted(team_reads) == sorted([ids["Finance"], ids["Eng"]])
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 1
    assert "team 'Finance': GET /Groups/{id} lists 2 members" in capsys.readouterr().err
    assert members(box, "Finance") == {"ann", "ben", "zed"}


def test_an_unchanged_org_read_from_the_pages_plans_nothing(
    box: Sandbox, tmp_path: Path, team_reads: list[str]
) -> None:
    seed_org(box)
    planned, calls = plan(box.base_url, manifest_of(tmp_path, TEAMS))
    assert planned.plan.operations == ()
    assert calls == 3 and len(team_reads) == 1
    read = planned.live.members_read
    assert read is not None and (read.from_pages, read.read_each, read.requests) == (3, 0, 1)


def test_any_server_gets_zed_dropped_from_finance(server: Server, tmp_path: Path) -> None:
    # Whatever the server does about users' `groups` (scim2-server may not fill it),
    # the plan read back after apply is right.
    manifest = manifest_of(tmp_path, TEAMS)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    planned, _ = plan(server.base_url, manifest_of(tmp_path, DROP_ZED))
    assert removals(planned) == {"Finance": ("zed@acme.io",)}
    read = planned.live.members_read
    assert read is not None and read.from_pages + read.read_each == 3
    assert run("apply", "-m", str(tmp_path / "org.yaml"), "--auto-approve") == 0
    again, _ = plan(server.base_url, tmp_path / "org.yaml")
    assert again.plan.operations == ()
    finance = again.live.groups_by_name["Finance"]
    assert again.live.member_keys(finance) == {"ann@acme.io", "ben@acme.io"}


@pytest.mark.parametrize(
    ("quirks", "said"),
    [
        (
            Quirks(),
            "Read path: 3 of 3 teams from the Groups pages (users' `groups` agree with "
            "them), 1 GET /Groups/{id} instead of 3 (2 saved)",
        ),
        (
            Quirks(groups_omitted=True),
            "Read path: each of the 3 teams with GET /Groups/{id}; read one by one: the "
            "server does not fill users' `groups`",
        ),
        (
            Quirks(list_members_cut=2),
            "Read path: 2 of 3 teams from the Groups pages (users' `groups` agree with "
            "them), 2 GET /Groups/{id} instead of 3 (1 saved); read one by one: 1 team "
            "whose listed members differ from users' `groups`",
        ),
    ],
    ids=["honest", "no-user-groups", "cut-in-list"],
)
def test_doctor_says_which_read_path_the_members_took_and_why(
    box: Sandbox, capsys: pytest.CaptureFixture[str], quirks: Quirks, said: str
) -> None:
    seed_org(box)
    box.set_quirks(quirks)
    assert run("doctor", "--format", "json", "--max-attempts", "1") in (0, 2)
    report = json.loads(capsys.readouterr().out)
    (membership,) = [c for c in report["checks"] if c["name"].startswith("team members")]
    assert said in membership["detail"]


def test_groups_naming_teams_otherwise_than_by_id_vouch_for_no_listed_member_list(
    box: Sandbox, tmp_path: Path, team_reads: list[str]
) -> None:
    # The listing empties every member list, and users' `groups` name teams by
    # displayName: no `groups` value is a team id, so each team looked corroborated
    # as empty (no team read, no canary) and zed kept Finance.
    ids = seed_org(box)
    box.set_quirks(Quirks(list_members_cut=0, groups_by_name=True))
    with pytest.raises(LiveStateError) as caught:
        plan(box.base_url, manifest_of(tmp_path, DROP_ZED))
    # Every team was read by id; the cross-check then fails closed (nothing planned).
    assert sorted(team_reads) == sorted(ids.values())
    assert "Finance" in str(caught.value) and "nothing is planned" in str(caught.value)
    assert run("apply", "-m", str(tmp_path / "org.yaml"), "--auto-approve") == 1
    assert members(box, "Finance") == {"ann", "ben", "zed"}  # nothing written
