"""The diff's fast path (unchanged users and memberships settled in bulk) against the
one-by-one reference (``diff(..., fast=False)``): equal changes and a byte-identical
plan for randomized orgs full of the awkward cases (case and whitespace variants,
look-alikes, renames, twins, expiry, protected and unlisted users, unknown ids)."""

from __future__ import annotations

import functools
import random
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from reconciler import planner
from reconciler.diff import diff
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest.models import Manifest

TODAY = date(2026, 11, 22)
LOCALS = ("ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo")
TEAMS = ("Eng", "Ops", "Data", "Sales")
SEEDS = range(400)


def _expiry(rng: random.Random) -> str | None:
    """Mostly none; else past, today, within the warning window, or far ahead."""
    if rng.random() < 0.75:
        return None
    return str(TODAY + timedelta(days=rng.choice((-30, -1, 0, 3, 13, 200))))


def _variant(rng: random.Random, email: str) -> str:
    """How the live side may spell a manifest email."""
    local, _, domain = email.partition("@")
    return rng.choice(
        (
            email,
            email,
            email,
            email.upper(),
            local.capitalize() + "@" + domain,
            " " + email,
            email + "\t",
            local.replace("a", "\u0430", 1) + "@" + domain,  # Cyrillic a: a look-alike
            local + "\u200b@" + domain,  # zero-width space: a look-alike
        )
    )


def _org(seed: int) -> tuple[dict[str, Any], LiveState]:
    rng = random.Random(seed)
    domains = ["acme.io", "beta.io"]
    locals_ = rng.sample(LOCALS, rng.randint(0, len(LOCALS)))
    emails = [f"{name}@{rng.choice(domains)}" for name in locals_]
    users: list[dict[str, Any]] = []
    for email in emails:
        entry: dict[str, Any] = {
            "email": email,
            "given_name": rng.choice(("A", "B")),
            "family_name": rng.choice(("F", "G")),
        }
        display = rng.choice((None, None, "D", "E"))
        if display is not None:
            entry["display_name"] = display
        if rng.random() < 0.15:
            entry["active"] = False
        expires = _expiry(rng)
        if expires is not None:
            entry["expires"] = expires
        if rng.random() < 0.1:
            entry["previous_emails"] = [f"old.{rng.choice(LOCALS)}@{rng.choice(domains)}"]
        users.append(entry)

    live_users: list[LiveUser] = []
    ids = iter(range(10_000))

    def add_live(name: str, source: dict[str, Any] | None = None) -> None:
        same = source is not None and rng.random() < 0.7
        live_users.append(
            LiveUser(
                id=f"u{next(ids)}" if rng.random() < 0.97 else "u0",  # rarely a repeated id
                user_name=name,
                given_name=source["given_name"] if same and source else rng.choice(("A", "B")),
                family_name=source["family_name"] if same and source else "F",
                display_name=(source or {}).get("display_name")
                if same
                else rng.choice((None, "D")),
                active=rng.random() < 0.85,
            )
        )

    for entry in users:
        if rng.random() < 0.85:
            add_live(_variant(rng, entry["email"]), entry)
        if rng.random() < 0.05:  # a case twin of the same account
            add_live(entry["email"].upper(), entry)
        for previous in entry.get("previous_emails", ()):
            if rng.random() < 0.6:
                add_live(previous)
    for _ in range(rng.randint(0, 4)):  # unlisted, in and out of the claimed domains
        add_live(f"{rng.choice(LOCALS)}{rng.randint(0, 9)}@{rng.choice([*domains, 'x.io'])}")

    all_ids = [u.id for u in live_users] + ["ghost"]
    groups = []
    for number, team in enumerate(TEAMS):
        if rng.random() < 0.7:
            name = rng.choice((team, team, team.lower(), f" {team}", team + "\u200b"))
            member_ids = frozenset(rng.sample(all_ids, rng.randint(0, len(all_ids))))
            groups.append(LiveGroup(f"g{number}", name, member_ids))
    if rng.random() < 0.3:
        groups.append(LiveGroup("g-old", "Legacy", frozenset(rng.sample(all_ids, 1))))

    teams: list[dict[str, Any]] = []
    for team in rng.sample(TEAMS, rng.randint(0, len(TEAMS))):
        entry = {"name": team}
        if rng.random() < 0.15:
            entry["previous_names"] = ["Legacy"]
        if rng.random() < 0.9:
            members: list[Any] = []
            for email in rng.sample(emails, rng.randint(0, len(emails))):
                expires = _expiry(rng) if rng.random() < 0.3 else None
                spelled = email if rng.random() < 0.9 else email.upper()
                members.append({"email": spelled, "expires": expires} if expires else spelled)
            if rng.random() < 0.1:
                members.append("nobody@acme.io")  # listed in a team, not in users
            names = (u.user_name for u in live_users)
            plain = [n for n in names if n.isascii() and n.isprintable() and n == n.strip()]
            if plain and rng.random() < 0.3:
                members.append(rng.choice(plain))  # maybe live and unlisted in users
            entry["members"] = members
        teams.append(entry)

    lookalikes = [u.user_name for u in live_users if not u.user_name.isascii()]
    policy: dict[str, Any] = {
        "unmanaged_users": rng.choice(("report", "deactivate", "ignore")),
        "deprovision": rng.choice(("deactivate", "delete")),
        "protected": rng.sample(emails, min(len(emails), rng.choice((0, 0, 1)))),
        "lookalike_users": rng.sample(lookalikes, min(len(lookalikes), rng.choice((0, 1)))),
    }
    document = {
        "version": 1,
        "organization": {"claimed_domains": domains},
        "policy": policy,
        "users": users,
        "teams": teams,
    }
    return document, LiveState.of(live_users, groups)


def _plan_json(desired: Manifest, live: LiveState) -> str:
    plan = planner.make_plan(desired, live, today=TODAY, target="t", manifest_digest="d")
    return plan.to_json()


def test_the_fast_diff_gives_the_reference_plan_for_random_orgs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared = changed = 0
    for seed in SEEDS:
        document, live = _org(seed)
        try:
            desired = Manifest.model_validate(document)
        except ValidationError:
            continue
        fast = diff(desired, live, TODAY)
        reference = diff(desired, live, TODAY, fast=False)
        assert fast == reference, f"seed {seed}"
        fast_plan = _plan_json(desired, live)
        with monkeypatch.context() as patch:
            patch.setattr(planner, "diff", functools.partial(diff, fast=False))
            assert _plan_json(desired, live) == fast_plan, f"seed {seed}"
        compared += 1
        changed += bool(fast.users or fast.teams)
    # The generator must mostly give valid manifests, most of which change something.
    assert compared > len(SEEDS) * 0.8
    assert changed > compared * 0.8


def test_the_fast_diff_gives_the_reference_plan_at_a_larger_scale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hundreds of users, mostly unchanged (the case the fast path is for)."""
    rng = random.Random(7)
    live_users = [
        LiveUser(f"u{i}", f"user{i}@acme.io", "G", f"F{i}", None, rng.random() < 0.97)
        for i in range(600)
    ]
    users = [
        {
            "email": u.user_name if rng.random() < 0.98 else u.user_name.upper(),
            "given_name": "G" if rng.random() < 0.97 else "H",
            "family_name": u.family_name,
            **({"active": False} if not u.active or rng.random() < 0.02 else {}),
        }
        for u in live_users
        if rng.random() < 0.98
    ]
    users += [{"email": f"new{i}@acme.io", "given_name": "N", "family_name": "H"} for i in range(9)]
    groups = [
        LiveGroup(f"g{t}", f"Team {t}", frozenset(f"u{i}" for i in range(t, 600, 7)))
        for t in range(7)
    ]
    teams = [
        {
            "name": f"Team {t}",
            "members": [
                u["email"] for i, u in enumerate(users) if i % 7 == t and rng.random() < 0.97
            ],
        }
        for t in range(7)
    ]
    desired = Manifest.model_validate(
        {
            "version": 1,
            "organization": {"claimed_domains": ["acme.io"]},
            "policy": {"unmanaged_users": "deactivate"},
            "users": users,
            "teams": teams,
        }
    )
    live = LiveState.of(live_users, groups)
    fast = diff(desired, live, TODAY)
    assert fast == diff(desired, live, TODAY, fast=False)
    assert fast.users and fast.teams
    fast_plan = _plan_json(desired, live)
    monkeypatch.setattr(planner, "diff", functools.partial(diff, fast=False))
    assert _plan_json(desired, live) == fast_plan
