"""The diff's bulk passes against the one-by-one reference, on orgs shaped for them.

``diff`` settles unchanged users in C loops (active ones, inactive ones, ones that
omit an optional attribute) and compares memberships by team ids; ``fast=False`` is
the reference that compares every user and membership in turn. These orgs are
mostly unchanged (what the bulk passes are for) with a high rate of each case they
must hand back to the general path: inactive users with edits, previous emails with
both addresses live, expiry, omitted display names, names in another case, manifest
users outside the claimed domains listed in teams, look-alikes, unknown member ids.
"""

from __future__ import annotations

import functools
import random
from datetime import date, timedelta
from typing import Any

import pytest

from reconciler import diff as diff_module
from reconciler import planner
from reconciler.attributes import FROM_MANIFEST
from reconciler.diff import diff
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest.models import Manifest

TODAY = date(2026, 11, 22)
CLAIMED = ["acme.io", "beta.io"]
SEEDS = range(100)


class _Org:
    """A random org: manifest entries and live users built side by side."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.users: list[dict[str, Any]] = []
        self.live: list[LiveUser] = []
        self.ids = iter(range(100_000))

    def add(self, number: int) -> None:
        rng = self.rng
        domain = rng.choice([*CLAIMED, "x.io"] if rng.random() < 0.05 else CLAIMED)
        email = f"user{number}@{domain}"
        entry: dict[str, Any] = {"email": email, "given_name": "G", "family_name": f"F{number}"}
        if rng.random() < 0.7:
            entry["display_name"] = rng.choice(("D", "E"))
        active = rng.random() < 0.7
        if not active:
            entry["active"] = False
        if rng.random() < 0.05:
            entry["expires"] = str(TODAY + timedelta(days=rng.choice((-3, 0, 5, 90))))
        if rng.random() < 0.05:
            old = f"old{number}@{rng.choice(CLAIMED)}"
            entry["previous_emails"] = [old]
            if rng.random() < 0.7:
                self._live(old, entry, rng.random() < 0.5)
        self.users.append(entry)
        if rng.random() < 0.93:
            self._live(self._spelling(email), entry, active if rng.random() < 0.9 else not active)

    def _spelling(self, email: str) -> str:
        return email.upper() if self.rng.random() < 0.03 else email

    def _live(self, name: str, entry: dict[str, Any], active: bool) -> None:
        rng = self.rng
        edited = rng.random() < 0.1
        self.live.append(
            LiveUser(
                id=f"u{next(self.ids)}",
                user_name=name,
                given_name="H" if edited else entry["given_name"],
                family_name=entry["family_name"],
                display_name=entry.get("display_name", rng.choice((None, "D", "Z"))),
                active=active,
            )
        )

    def extras(self) -> None:
        """Unlisted and look-alike live users, in and out of the claimed domains."""
        for number in range(self.rng.randint(0, 6)):
            domain = self.rng.choice([*CLAIMED, "x.io"])
            name = self.rng.choice((f"extra{number}@{domain}", f"us\u0435r{number}@{domain}"))
            self.live.append(LiveUser(f"u{next(self.ids)}", name, "G", "F", None, True))

    def teams(self) -> tuple[list[dict[str, Any]], list[LiveGroup]]:
        rng = self.rng
        emails = [u["email"] for u in self.users]
        live_ids = [u.id for u in self.live]
        wanted, groups = [], []
        for number in range(rng.randint(1, 5)):
            name = f"Team {number}"
            listed = rng.sample(emails, rng.randint(0, len(emails)))
            if rng.random() < 0.2:
                listed.append(f"nobody{number}@acme.io")  # listed, in no users: entry
            members: list[Any] = [e.upper() if rng.random() < 0.02 else e for e in listed]
            if rng.random() < 0.1 and members:
                expires = str(TODAY + timedelta(days=rng.choice((-1, 4))))
                members[0] = {"email": listed[0], "expires": expires}
            wanted.append({"name": name, "members": members})
            if rng.random() < 0.9:
                have = set(rng.sample(live_ids, rng.randint(0, len(live_ids))))
                have |= {"ghost"} if rng.random() < 0.1 else set()
                groups.append(LiveGroup(f"g{number}", name, frozenset(have)))
        return wanted, groups


def _org(seed: int, size: int) -> tuple[Manifest, LiveState]:
    org = _Org(seed)
    for number in range(size):
        org.add(number)
    org.extras()
    teams, groups = org.teams()
    lookalikes = [u.user_name for u in org.live if not u.user_name.isascii()]
    document = {
        "version": 1,
        "organization": {"claimed_domains": CLAIMED},
        "policy": {
            "unmanaged_users": org.rng.choice(("report", "deactivate", "ignore")),
            "deprovision": org.rng.choice(("deactivate", "delete")),
            "lookalike_users": lookalikes[:1] if org.rng.random() < 0.3 else [],
        },
        "users": org.users,
        "teams": teams,
    }
    return Manifest.model_validate(document), LiveState.of(org.live, groups)


def _plan_json(desired: Manifest, live: LiveState) -> str:
    plan = planner.make_plan(desired, live, today=TODAY, target="t", manifest_digest="d")
    return plan.to_json()


def _assert_same(desired: Manifest, live: LiveState, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = diff(desired, live, TODAY)
    assert fast == diff(desired, live, TODAY, fast=False)
    fast_plan = _plan_json(desired, live)
    with monkeypatch.context() as patch:
        patch.setattr(planner, "diff", functools.partial(diff, fast=False))
        assert _plan_json(desired, live) == fast_plan


def test_the_bulk_passes_give_the_reference_plan_for_random_orgs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notices = 0
    for seed in SEEDS:
        desired, live = _org(seed, 40)
        _assert_same(desired, live, monkeypatch)
        notices += any("previous email" in n for n in diff(desired, live, TODAY).notices)
    assert notices > len(SEEDS) // 10  # renames with both addresses live are exercised


@pytest.mark.parametrize("seed", range(3))
def test_the_bulk_passes_give_the_reference_plan_at_a_larger_scale(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    desired, live = _org(1000 + seed, 800)
    _assert_same(desired, live, monkeypatch)


def _one(
    live_user: LiveUser, entry: dict[str, Any], members: list[Any], member_ids: frozenset[str]
) -> tuple[Manifest, LiveState]:
    desired = Manifest.model_validate(
        {
            "version": 1,
            "organization": {"claimed_domains": CLAIMED},
            "users": [entry],
            "teams": [{"name": "Eng", "members": members}],
        }
    )
    return desired, LiveState.of([live_user], [LiveGroup("g1", "Eng", member_ids)])


def test_an_inactive_user_with_an_edit_is_patched_not_settled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = {"email": "ada@acme.io", "given_name": "Ada", "family_name": "L", "active": False}
    live_user = LiveUser("u1", "ada@acme.io", "Augusta", "L", None, False)
    desired, live = _one(live_user, entry, [], frozenset())
    (change,) = diff(desired, live, TODAY).users
    assert change.action == "patch"
    _assert_same(desired, live, monkeypatch)


def test_an_inactive_user_whose_previous_email_is_live_too_gets_the_notice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = {
        "email": "ada@acme.io",
        "given_name": "Ada",
        "family_name": "L",
        "active": False,
        "previous_emails": ["old@acme.io"],
    }
    users = [
        LiveUser("u1", "ada@acme.io", "Ada", "L", None, False),
        LiveUser("u2", "old@acme.io", "Ada", "L", None, False),
    ]
    desired = Manifest.model_validate(
        {"version": 1, "organization": {"claimed_domains": CLAIMED}, "users": [entry]}
    )
    live = LiveState.of(users, [])
    assert any("previous email old@acme.io" in n for n in diff(desired, live, TODAY).notices)
    _assert_same(desired, live, monkeypatch)


def test_a_listed_member_outside_the_claimed_domains_is_compared_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loader refuses such a user; a Manifest built in code still plans as the
    reference does (the live membership is not the diff's to see, so it is added)."""
    entry = {"email": "ada@x.io", "given_name": "Ada", "family_name": "L"}
    live_user = LiveUser("u1", "ada@x.io", "Ada", "L", None, True)
    desired, live = _one(live_user, entry, ["ada@x.io"], frozenset({"u1"}))
    (team,) = diff(desired, live, TODAY).teams
    assert [m.email for m in team.add] == ["ada@x.io"]
    _assert_same(desired, live, monkeypatch)


def test_a_team_listing_an_empty_member_id_is_compared_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = {"email": "ada@acme.io", "given_name": "Ada", "family_name": "L"}
    live_user = LiveUser("u1", "ada@acme.io", "Ada", "L", None, True)
    desired, live = _one(live_user, entry, ["ada@acme.io", "new@acme.io"], frozenset({""}))
    (team,) = diff(desired, live, TODAY).teams
    assert [m.email for m in team.add] == ["ada@acme.io"]  # new@ is listed in no users
    _assert_same(desired, live, monkeypatch)


def test_without_the_spelled_out_user_pass_every_user_takes_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row added to the attribute table turns the spelled-out pass off: still correct."""
    desired, live = _org(2024, 300)
    expected = _plan_json(desired, live)
    monkeypatch.setattr(diff_module, "_FAST_SETTLE", False)
    users = desired.users
    lives = [live.users_by_key.get(u.key) for u in users]
    unsettled, _ = diff_module._settle(users, [u.key for u in users], lives)
    assert unsettled == list(range(len(users)))
    assert _plan_json(desired, live) == expected
    _assert_same(desired, live, monkeypatch)


def test_the_spelled_out_user_pass_names_every_diffed_attribute() -> None:
    assert diff_module._FAST_SETTLE
    assert [row[0] for row in diff_module._SETTLED_ROWS] == [a.name for a in FROM_MANIFEST]


@pytest.mark.parametrize("name", ["ada\x7f@acme.io", "ada\x1f@acme.io", "ad\u0430@acme.io"])
def test_the_all_at_once_scan_still_finds_each_lookalike_username(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan reads every userName at once; any control or non-ASCII one is looked at."""
    users = [LiveUser(f"u{i}", f"user{i}@acme.io", "G", "F", None, True) for i in range(50)]
    users.append(LiveUser("odd", name, "G", "F", None, True))
    desired = Manifest.model_validate(
        {"version": 1, "organization": {"claimed_domains": CLAIMED}, "users": []}
    )
    live = LiveState.of(users, [])
    (notice,) = [n for n in diff(desired, live, TODAY).notices if "look-alike" in n]
    assert notice.startswith(name)
    _assert_same(desired, live, monkeypatch)
