"""Evidence beyond the listings: unlisted members looked up, member lists cross-checked."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from reconciler.errors import LiveStateError
from reconciler.evidence import confirm_absences
from reconciler.manifest.models import Manifest
from reconciler.reader import read_live_state
from tests.scim.test_reader import FakeDirectory, group, user


def in_groups(resource: dict[str, Any], *group_ids: str) -> dict[str, Any]:
    return {**resource, "groups": [{"value": g} for g in group_ids]}


def unknown(fake: FakeDirectory, match: str) -> None:
    with pytest.raises(LiveStateError, match=match) as caught:
        read_live_state(fake, page_size=10)
    assert "unknown, not empty, so nothing is planned" in str(caught.value)


def test_an_unlisted_inactive_member_is_taken_from_its_lookup_with_a_notice() -> None:
    kim = {**user(2, "kim@acme.io"), "active": False}
    fake = FakeDirectory(users=[user(1)], groups=[group(1, "u1", "u2", name="Eng")], hidden=[kim])
    live = read_live_state(fake, page_size=10)
    assert live.users_by_key["kim@acme.io"].active is False
    assert live.member_keys(live.groups_by_name["Eng"]) == {"user1@acme.io", "kim@acme.io"}
    assert fake.calls[-1] == "GET /Users/u2"
    assert "omitted kim@acme.io, which is inactive" in live.evidence[0]


def test_an_unlisted_active_member_proves_the_listing_incomplete() -> None:
    zed = user(5, "zed@acme.io")
    fake = FakeDirectory(users=[user(1)], groups=[group(1, "u5", name="Finance")], hidden=[zed])
    with pytest.raises(LiveStateError) as caught:
        read_live_state(fake, page_size=10)
    message = str(caught.value)
    assert "the listing of /Users omitted zed@acme.io, a member of team 'Finance'" in message
    assert "(active); the server's listing is incomplete" in message
    assert "nothing is planned" in message


def test_a_member_list_cut_short_is_caught_by_the_users_groups() -> None:
    users = [in_groups(user(i, f"{n}@acme.io"), "g1") for i, n in enumerate(["ann", "ben", "zed"])]
    fake = FakeDirectory(users=users, groups=[group(1, "u0", "u1", name="Finance")])
    unknown(
        fake,
        r"team 'Finance': GET /Groups/\{id\} lists 2 members, but 3 users name the team in "
        r"their `groups` \(zed@acme.io missing from the team's member list",
    )


def test_a_member_list_that_names_users_whose_groups_disagree_fails_closed() -> None:
    users = [in_groups(user(0, "ann@acme.io"), "g1"), in_groups(user(1, "ben@acme.io"))]
    fake = FakeDirectory(users=users, groups=[group(1, "u0", "u1", name="Finance")])
    unknown(fake, r"lists ben@acme.io, whose `groups` attribute does not name the team")


def test_members_left_out_are_unknown_when_users_name_the_team() -> None:
    users = [in_groups(user(0, "ann@acme.io"), "g1"), user(1)]
    omitted = {"id": "g1", "displayName": "Finance"}
    fake = FakeDirectory(users=users, groups=[omitted])
    unknown(fake, r"team 'Finance': GET /Groups/\{id\} answered without a `members` attribute")


def test_members_left_out_of_an_empty_team_are_empty_when_evidence_says_so() -> None:
    omitted = {"id": "g2", "displayName": "Empty"}
    by_groups = FakeDirectory(users=[in_groups(user(0), "g1")], groups=[group(1, "u0"), omitted])
    by_other_team = FakeDirectory(users=[user(0)], groups=[group(1, "u0"), omitted])
    for fake in (by_groups, by_other_team):
        live = read_live_state(fake, page_size=10)
        assert live.groups_by_name["Empty"].member_ids == frozenset()


def test_without_users_groups_members_left_out_everywhere_are_empty_as_rfc_7643_allows() -> None:
    # scim2-server leaves an empty `members` out and does not fill users' `groups`:
    # there is no second source, so the RFC's "absent equals empty" is all there is.
    fake = FakeDirectory(users=[user(0)], groups=[{"id": "g1", "displayName": "Ops"}])
    assert read_live_state(fake, page_size=10).groups_by_name["Ops"].member_ids == frozenset()


def test_an_explicitly_empty_member_list_is_seen_as_empty() -> None:
    fake = FakeDirectory(users=[user(0)], groups=[group(1, name="Finance")])
    assert read_live_state(fake, page_size=10).groups_by_name["Finance"].member_ids == frozenset()


def manifest_of(*users: dict[str, Any]) -> Manifest:
    people = [{"given_name": "G", "family_name": "F", **u} for u in users]
    return Manifest.model_validate(
        {"version": 1, "organization": {"claimed_domains": ["acme.io"]}, "users": people}
    )


TODAY = date(2026, 11, 22)


def test_only_wanted_inactive_users_the_listing_lacks_are_looked_up() -> None:
    fake = FakeDirectory(users=[{**user(1, "gone@acme.io"), "active": False}])
    manifest = manifest_of(
        {"email": "new@acme.io"},  # a create: the 409 path covers it, no lookup
        {"email": "gone@acme.io", "active": False},  # listed: no lookup
        {"email": "ext@other.io", "active": False},  # not a claimed domain: never touched
        {"email": "never@acme.io", "active": False},
        {"email": "old@acme.io", "expires": "2026-11-21"},
    )
    live = confirm_absences(fake, manifest, read_live_state(fake, page_size=10), TODAY)
    lookups = sorted(c for c in fake.calls if "filter" in c)  # a few run in parallel
    assert lookups == [
        "GET /Users?filter=userName eq never@acme.io",
        "GET /Users?filter=userName eq old@acme.io",
    ]
    assert live.evidence == ()


def test_hidden_inactive_leavers_found_by_lookup_share_one_notice() -> None:
    hidden = [{**user(i, f"{n}@acme.io"), "active": False} for i, n in ((2, "yan"), (3, "zed"))]
    fake = FakeDirectory(users=[user(1)], hidden=hidden)
    manifest = manifest_of(
        {"email": "yan@acme.io", "active": False},
        {"email": "zed.new@acme.io", "active": False, "previous_emails": ["zed@acme.io"]},
    )
    live = confirm_absences(fake, manifest, read_live_state(fake, page_size=10), TODAY)
    assert {"yan@acme.io", "zed@acme.io"} <= set(live.users_by_key)
    assert live.evidence == (
        "the listing of /Users omitted 2 inactive users (yan@acme.io, zed@acme.io; a userName "
        "lookup found them), as servers that hide inactive users from listings do; planned "
        "from the lookup, and the users this plan would create were looked up too",
    )


def test_a_hidden_active_leaver_fails_closed_naming_the_user() -> None:
    fake = FakeDirectory(users=[user(1)], hidden=[user(9, "zed@acme.io")])
    manifest = manifest_of({"email": "zed@acme.io", "active": False})
    with pytest.raises(LiveStateError, match=r"omitted zed@acme.io, which a userName lookup"):
        confirm_absences(fake, manifest, read_live_state(fake, page_size=10), TODAY)
