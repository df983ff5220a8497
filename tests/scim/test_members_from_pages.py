"""Which teams' members the reader takes from the Groups pages, and when it reads each.

The decision (``reconciler.evidence.listed_members_trusted``) is pure; the reader
adds the canary read and the fallback for pages too large to carry members. Every
way a server could lie about members is one case here: the read either takes only
corroborated lists, or reads the team itself and fails closed as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from reconciler import reader
from reconciler.errors import LiveStateError
from reconciler.evidence import check_member_lists, listed_members_trusted
from reconciler.livestate import LiveGroup, LiveUser
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.errors import (
    ScimAnswerTooLarge,
    ScimBadRequest,
    ScimBudgetExceeded,
    ScimError,
    ScimPayloadTooLarge,
    ScimRateLimited,
    ScimServerError,
    ScimTransportError,
)
from reconciler.scim.parse import ListPage
from reconciler.scim.secret import Token
from scim_sandbox import Sandbox
from tests.scim.test_reader import FakeDirectory, group

U = frozenset


def team(gid: str, *members: str, listed: bool = True) -> LiveGroup:
    return LiveGroup(gid, f"team {gid}", frozenset(members), members_listed=listed)


# ---- the pure decision ----------------------------------------------------------------------


def test_teams_whose_listed_members_equal_users_groups_are_trusted() -> None:
    groups = [team("g1", "u1", "u2"), team("g2", "u1"), team("g3")]
    trust = listed_members_trusted(groups, {"u1": U({"g1", "g2"}), "u2": U({"g1"}), "u3": U()})
    assert trust.trusted == {"g1", "g2", "g3"}
    assert trust.canary == "g1"  # the trusted team with the most members
    assert trust.reasons == ()


def test_the_cross_check_reuses_the_listing_table_only_for_the_same_teams() -> None:
    groups_of = {"u1": U({"g1"}), "u2": U({"g1"})}
    trust = listed_members_trusted([team("g1", "u1", "u2")], groups_of)
    assert trust.derived == {"g1": {"u1", "u2"}}
    users = [LiveUser("u1", "ada@acme.io"), LiveUser("u2", "bob@acme.io")]
    check_member_lists([team("g1", "u1", "u2")], groups_of, users, trust.derived)
    # A table for other teams is not taken: g2 is checked from `groups` itself.
    cut = [team("g1", "u1", "u2"), team("g2", "u1")]
    with pytest.raises(LiveStateError, match=r"team 'team g2'.*ada@acme\.io"):
        check_member_lists(cut, {**groups_of, "u1": U({"g1"})}, users, trust.derived)
    # Only the failing team's error builds the id -> userName map: names are shown.
    with pytest.raises(LiveStateError, match=r"bob@acme\.io missing from the team"):
        check_member_lists([team("g1", "u1")], groups_of, users)


@pytest.mark.parametrize(
    ("groups", "groups_of", "trusted", "why"),
    [
        # a listed member list cut short: u2 names g1 in its `groups`
        ([team("g1", "u1")], {"u1": U({"g1"}), "u2": U({"g1"})}, set(), "differ"),
        # a member no listed user has (hidden, or invented)
        ([team("g1", "u1", "u9")], {"u1": U({"g1"})}, set(), "differ"),
        # a member whose `groups` does not name the team
        ([team("g1", "u1", "u2")], {"u1": U({"g1"}), "u2": U()}, set(), "differ"),
        # `members` left out of the listing: absent is not empty
        ([team("g1", listed=False), team("g2", "u1")], {"u1": U({"g2"})}, {"g2"}, "without"),
        # `members: []` while a user names the team
        ([team("g1"), team("g2", "u1")], {"u1": U({"g1", "g2"})}, {"g2"}, "differ"),
    ],
    ids=["cut", "unknown-id", "extra", "absent-members", "empty-but-named"],
)
def test_a_team_the_users_groups_do_not_corroborate_is_read_by_itself(
    groups: list[LiveGroup],
    groups_of: dict[str, frozenset[str] | None],
    trusted: set[str],
    why: str,
) -> None:
    trust = listed_members_trusted(groups, groups_of)
    assert trust.trusted == trusted
    assert why in "; ".join(trust.reasons)


def test_without_groups_on_every_user_no_team_is_taken_from_the_pages() -> None:
    groups = [team("g1", "u1")]
    # u2 has no `groups` attribute: it could be a member both sources leave out.
    some = listed_members_trusted(groups, {"u1": U({"g1"}), "u2": None})
    assert some.trusted == frozenset() and some.canary is None
    assert "1 user listed without a `groups` attribute" in some.reasons[0]
    # No user names any team: the server does not fill `groups` (or the org is empty
    # of members); an all-empty listing is not evidence either.
    for groups_of in ({"u1": None}, {"u1": U()}, {}):
        trust = listed_members_trusted([team("g1")], groups_of)
        assert trust.trusted == frozenset()
        assert "does not fill users' `groups`" in trust.reasons[0]


def test_no_canary_when_every_trusted_team_is_empty() -> None:
    trust = listed_members_trusted([team("g1"), team("g2")], {"u1": U({"g2"})})
    assert trust.trusted == {"g1"} and trust.canary is None


# ---- the reader over fakes -----------------------------------------------------------------


def user(i: int, *groups: str) -> dict[str, Any]:
    return {
        "id": f"u{i}",
        "userName": f"user{i}@acme.io",
        "groups": [{"value": g} for g in groups],
    }


def org() -> FakeDirectory:
    """Three users; g0 has all three, g1 has u0, g2 is empty; `groups` filled."""
    users = [user(0, "g0", "g1"), user(1, "g0"), user(2, "g0")]
    groups = [group(0, "u0", "u1", "u2"), group(1, "u0"), group(2)]
    return FakeDirectory(users=users, groups=groups)


def team_reads(fake: FakeDirectory) -> list[str]:
    return [c.removeprefix("GET /Groups/") for c in fake.calls if c.startswith("GET /Groups/")]


def test_an_honest_server_costs_the_pages_and_one_canary_read() -> None:
    fake = org()
    live = read_live_state(fake)
    assert team_reads(fake) == ["g0"]
    assert live.groups_by_id["g0"].member_ids == {"u0", "u1", "u2"}
    assert live.groups_by_id["g1"].member_ids == {"u0"}
    assert live.members_read is not None
    assert (live.members_read.from_pages, live.members_read.requests) == (3, 1)


def test_progress_counts_the_teams_taken_from_the_pages() -> None:
    seen: list[tuple[str, int, int]] = []
    read_live_state(org(), on_progress=lambda *a: seen.append(a))
    assert [s for s in seen if s[0] == "members"] == [("members", 3, 3)]
    # u0 names a team the listing lacks ("g9"): such `groups` vouch for no listed
    # member list (attacker review 2: before, both empty teams were taken from the
    # pages with no read at all), so each team is read and progress still ends whole.
    seen.clear()
    fake = FakeDirectory(users=[user(0, "g9")], groups=[group(1), group(2)])
    live = read_live_state(fake, on_progress=lambda *a: seen.append(a))
    assert team_reads(fake) == ["g1", "g2"] and all(not g.member_ids for g in live.groups)
    assert [s for s in seen if s[0] == "members"][-1] == ("members", 2, 2)
    assert live.members_read is not None and "team id" in live.members_read.why


@dataclass
class CutBoth(FakeDirectory):
    """Lies consistently: listed members AND users' `groups` cut to the first ``cut``
    members of each team, while ``GET /Groups/{id}`` answers the whole list."""

    cut: int = 1

    def list_users_page(self, start_index: int, count: int) -> ListPage:
        page = super().list_users_page(start_index, count)
        kept = tuple({**r, "groups": self._groups_of(r["id"])} for r in page.resources)
        return ListPage(page.total_results, page.start_index, page.items_per_page, kept)

    def _groups_of(self, user_id: str) -> list[dict[str, str]]:
        return [
            {"value": g["id"]}
            for g in self.groups
            if user_id in [m["value"] for m in g["members"][: self.cut]]
        ]

    def list_groups_page(
        self, start_index: int, count: int, *, with_members: bool = False
    ) -> ListPage:
        page = super().list_groups_page(start_index, count, with_members=with_members)
        kept = tuple(
            {**r, "members": r["members"][: self.cut]} if "members" in r else r
            for r in page.resources
        )
        return ListPage(page.total_results, page.start_index, page.items_per_page, kept)


def test_a_list_and_groups_cut_alike_are_caught_by_the_canary_and_fail_closed() -> None:
    users = [user(0), user(1), user(2)]
    fake = CutBoth(users=users, groups=[group(0, "u0", "u1", "u2"), group(1, "u0")])
    with pytest.raises(LiveStateError, match="whose `groups` attribute does not name the team"):
        read_live_state(fake)
    # The canary (g0, the largest) read back 3 members against 1 listed: every team
    # was then read by itself, and the ordinary cross-check failed the read closed.
    assert sorted(team_reads(fake)) == ["g0", "g1"]


@dataclass
class FirstPageOnly(FakeDirectory):
    """Sends ``members`` on the first Groups page only."""

    def list_groups_page(
        self, start_index: int, count: int, *, with_members: bool = False
    ) -> ListPage:
        return super().list_groups_page(
            start_index, count, with_members=with_members and start_index == 1
        )


def test_members_only_on_the_first_page_reads_the_teams_of_the_other_pages() -> None:
    base = org()
    fake = FirstPageOnly(users=base.users, groups=base.groups)
    live = read_live_state(fake, page_size=2)
    assert sorted(team_reads(fake)) == ["g0", "g2"]  # g0 the canary, g2 on page 2
    assert live.groups_by_id["g2"].member_ids == frozenset()
    assert live.members_read is not None and "1 team listed without `members`" in (
        live.members_read.why
    )


def test_a_listed_member_that_does_not_parse_makes_that_team_a_read() -> None:
    base = org()
    junk = {**base.groups[1], "members": [{"display": "no value"}]}

    @dataclass
    class Junk(FakeDirectory):
        def list_groups_page(
            self, start_index: int, count: int, *, with_members: bool = False
        ) -> ListPage:
            page = super().list_groups_page(start_index, count, with_members=with_members)
            kept = tuple(junk if r["id"] == "g1" and with_members else r for r in page.resources)
            return ListPage(page.total_results, page.start_index, page.items_per_page, kept)

    fake = Junk(users=base.users, groups=base.groups)
    live = read_live_state(fake)
    assert sorted(team_reads(fake)) == ["g0", "g1"]
    assert live.groups_by_id["g1"].member_ids == {"u0"}


@pytest.mark.parametrize(
    "refusal",
    [
        ScimAnswerTooLarge,
        ScimPayloadTooLarge,
        ScimBadRequest,
        ScimServerError,
        ScimTransportError,
        ScimBudgetExceeded,  # pages read ahead with it, refused as too large, ran it out
    ],
)
def test_a_page_with_members_that_fails_is_listed_again_without_them(
    refusal: type[ScimError],
) -> None:
    base = org()

    @dataclass
    class Refusing(FakeDirectory):
        def list_groups_page(
            self, start_index: int, count: int, *, with_members: bool = False
        ) -> ListPage:
            if with_members:
                self.calls.append("refused")
                raise refusal("too big", method="GET", path="/Groups")
            return super().list_groups_page(start_index, count)

    fake = Refusing(users=base.users, groups=base.groups)
    live = read_live_state(fake)
    assert fake.calls.count("refused") == 1
    assert sorted(team_reads(fake)) == ["g0", "g1", "g2"]
    assert live.groups_by_id["g0"].member_ids == {"u0", "u1", "u2"}
    assert live.members_read is not None
    assert "listed without members (excludedAttributes=members)" in live.members_read.why


def test_a_rate_limit_on_the_page_with_members_is_not_worked_around() -> None:
    base = org()

    @dataclass
    class Limited(FakeDirectory):
        def list_groups_page(
            self, start_index: int, count: int, *, with_members: bool = False
        ) -> ListPage:
            self.calls.append("limited")
            raise ScimRateLimited("slow down", status=429, method="GET", path="/Groups")

    fake = Limited(users=base.users, groups=base.groups)
    with pytest.raises(LiveStateError, match="could not read the live state"):
        read_live_state(fake)
    assert fake.calls.count("limited") == 1


def test_over_http_a_page_over_the_byte_cap_falls_back_to_reading_each_team() -> None:
    # Five teams of 30 members: one team fits the per-answer cap, a page of them
    # does not. The read must not fail where reading team by team works.
    with Sandbox(token="t0k3n-members-cap") as box:
        bodies = [
            box.store.create_user({"userName": f"user{i:02}@acme.io"}).body for i in range(30)
        ]
        members = [{"value": json.loads(body)["id"]} for body in bodies]
        for g in range(5):
            box.store.create_group({"displayName": f"team {g}", "members": members})
        found = box.store.group_by_name("team 0")
        assert found is not None
        one_team = len(box.store.group_json(found["id"]))
        _, users_page = box.store.list_users(None, 1, 5)
        cap = int(max(one_team, len(b",".join(users_page))) * 1.5)
        assert 5 * one_team > cap  # a page of five teams with members is over the cap
        with ScimClient.connect(
            box.base_url, Token("t0k3n-members-cap"), max_response_bytes=cap
        ) as client:
            live = read_live_state(client, page_size=5)
            calls = client.stats.calls
    assert len(live.groups) == 5 and all(len(g.member_ids) == 30 for g in live.groups)
    assert live.members_read is not None and live.members_read.requests == 5
    assert "is larger than" in live.members_read.why
    # 6 user pages, the refused team page, the team page without members, 5 reads.
    assert calls == 6 + 1 + 1 + 5


# ---- reader memory: repeated strings and sets are shared -------------------------------------


def test_repeated_team_ids_names_and_keys_are_one_object_each() -> None:
    users = [
        {**user(i, "g0", "g1"), "name": {"givenName": "Ada", "familyName": "Lovelace"}}
        for i in range(3)
    ]
    # Each user decoded apart, as from JSON: equal strings are distinct objects here.
    fake = FakeDirectory(users=[json.loads(json.dumps(u)) for u in users])
    live = read_live_state(fake)
    first, second = live.users[0], live.users[1]
    assert first.given_name is second.given_name and first.family_name is second.family_name
    # The match key of a lower-case userName is that same string, not a copy.
    assert all(key is user.user_name for key, user in live.users_by_key.items())


def test_users_of_the_same_teams_share_one_groups_set() -> None:
    keep = partial(reader._user, {})
    one = keep(json.loads(json.dumps(user(1, "g0", "g1"))))[1]
    two = keep(json.loads(json.dumps(user(2, "g1", "g0"))))[1]
    assert one is two and one == {"g0", "g1"}


@pytest.mark.parametrize("named", ["Eng", "G1", " g1", "g1 ", "deleted-team"])
def test_groups_that_name_no_listed_team_id_vouch_for_no_team(named: str) -> None:
    # g1 is listed empty (a listing that empties member lists) and g2 honest; u1's
    # `groups` names g1 otherwise than by its id, so nothing corroborates g1 as empty.
    groups = [team("g1"), team("g2", "u2")]
    trust = listed_members_trusted(groups, {"u1": U({named}), "u2": U({"g2"})})
    assert trust.trusted == frozenset() and trust.canary is None
    assert (
        f"users' `groups` name 1 team id the Groups listing does not have ({named!r})"
        in (trust.reasons[0])
    )
