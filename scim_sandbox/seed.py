"""Initial content for a new sandbox: ``empty``, ``demo`` (a small org) or ``random:N``.

A seed applies only to an empty store, so restarting on a state file never
duplicates or overwrites data. ``random:N`` is for benchmarks: deterministic, with
skewed team sizes (a few teams above 1,000 members at 100k users) and fast enough
to seed 100k users in a few seconds, which is why it bypasses the per-request path.
"""

from __future__ import annotations

import json
import random
import uuid
from importlib import resources
from typing import Any

from reconciler.errors import ConfigError
from scim_sandbox.failure import ScimFailure
from scim_sandbox.resources import GroupRecord, UserRecord, now
from scim_sandbox.store import Store

RANDOM_SEED = 20240601
_FIRST = (
    "ada",
    "alan",
    "barbara",
    "claude",
    "donald",
    "edsger",
    "frances",
    "grace",
    "hedy",
    "ivan",
    "john",
    "karen",
    "linus",
    "margaret",
    "niklaus",
    "ole",
    "peter",
    "radia",
    "ruth",
    "shafi",
    "tim",
    "tony",
    "ursula",
    "vint",
    "whitfield",
    "yukihiro",
)
_LAST = (
    "lovelace",
    "turing",
    "liskov",
    "shannon",
    "knuth",
    "dijkstra",
    "allen",
    "hopper",
    "lamarr",
    "sutherland",
    "backus",
    "jones",
    "torvalds",
    "hamilton",
    "wirth",
    "dahl",
    "naur",
    "perlman",
    "teitelbaum",
    "goldwasser",
    "berners-lee",
    "hoare",
    "burns",
    "cerf",
    "diffie",
    "matsumoto",
)
_TEAMS = (
    "Analytics",
    "Growth",
    "Platform",
    "Payments",
    "Mobile",
    "Web",
    "Data-Science",
    "Marketing",
    "Sales",
    "Support",
    "Security",
    "Finance",
    "Design",
    "Research",
    "Infrastructure",
    "Product",
)


# Far above any benchmark (300k users); a bigger N would only exhaust memory.
MAX_RANDOM_USERS = 5_000_000


def validate_seed(spec: str) -> str:
    """Check a ``--seed`` value early (before the server starts); returns it unchanged."""
    if spec in {"empty", "demo"}:
        return spec
    kind, _, count = spec.partition(":")
    if kind == "random" and count.isdigit() and 0 < int(count) <= MAX_RANDOM_USERS:
        return spec
    raise ConfigError(
        f"unknown seed {spec!r}: use empty, demo or random:N (N from 1 to {MAX_RANDOM_USERS:,})"
    )


def apply_seed(store: Store, spec: str) -> None:
    """Fill an empty store according to ``spec``; a non-empty store is left alone."""
    validate_seed(spec)
    if not store.is_empty() or spec == "empty":
        return
    if spec == "demo":
        seed_demo(
            store, json.loads(resources.files(__package__).joinpath("demo_seed.json").read_text())
        )
    else:
        seed_random(store, int(spec.partition(":")[2]))


def seed_demo(store: Store, document: dict[str, Any]) -> None:
    """Create the demo org through the normal validated path (claimed domains apply)."""
    ids: dict[str, str] = {}
    for user in document.get("users", []):
        payload = {
            "userName": user["userName"],
            "name": {"givenName": user.get("givenName"), "familyName": user.get("familyName")},
            "displayName": user.get("displayName"),
            "active": user.get("active", True),
        }
        created = _demo_step(store.create_user, payload, user["userName"])
        ids[user["userName"].lower()] = json.loads(created)["id"]
    for group in document.get("groups", []):
        missing = [m for m in group.get("members", []) if m.lower() not in ids]
        if missing:
            raise ConfigError(
                f"demo seed: team {group['displayName']} lists unknown users {missing}"
            )
        members = [{"value": ids[m.lower()]} for m in group.get("members", [])]
        payload = {"displayName": group["displayName"], "members": members}
        _demo_step(store.create_group, payload, group["displayName"])


def _demo_step(create: Any, payload: dict[str, Any], label: str) -> bytes:
    try:
        body: bytes = create(payload).body
    except ScimFailure as failure:
        raise ConfigError(f"demo seed: {label}: {failure.detail}") from failure
    return body


def seed_random(store: Store, count: int) -> None:
    """``count`` users over the claimed domains and ``count // 50`` (at least 1) teams."""
    domains = sorted(store.claimed_domains)
    if not domains:
        raise ConfigError("random seed needs at least one claimed domain")
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - reproducible fixtures, not secrets
    stamp = now()
    weights = [4] + [1] * (len(domains) - 1)
    users = [
        _random_user(rng, index, rng.choices(domains, weights)[0], stamp) for index in range(count)
    ]
    groups = [
        GroupRecord(
            _id(rng),
            f"{_TEAMS[k % len(_TEAMS)]} {k + 1}",
            None,
            stamp,
            stamp,
            dict.fromkeys(users[i].id for i in rng.sample(range(count), _team_size(count, k))),
        )
        for k in range(max(1, count // 50))
    ]
    store.load(users, groups)


def _random_user(rng: random.Random, index: int, domain: str, stamp: str) -> UserRecord:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    user_name = f"{first}.{last}{index}@{domain}"
    return UserRecord(
        id=_id(rng),
        user_name=user_name,
        given_name=first.capitalize(),
        family_name=last.capitalize(),
        display_name=f"{first.capitalize()} {last.capitalize()}",
        emails=[{"value": user_name, "type": "work", "primary": True}],
        active=rng.random() >= 0.03,
        external_id=None,
        created=stamp,
        last_modified=stamp,
    )


def _team_size(count: int, rank: int) -> int:
    """Zipf-like: the biggest team holds 2.5% of users, then sizes fall off as rank^-0.8."""
    return min(count, max(2, int(count * 0.025 / (rank + 1) ** 0.8)))


def _id(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex
