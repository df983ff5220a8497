"""Benchmark workloads: a manifest that matches a live org except for p% of changes.

The changes are a realistic mix, in equal parts: new hires (created and added to a
team), attribute edits (given_name), leavers (``active: false``) and membership
moves (out of one team, into another). Deterministic for a given live state and seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.livestate import LiveState

DOMAINS = ("acme.io", "acmelabs.io")
USERS_PER_FILE = 10_000  # the loader refuses files above 5 MB
TEAMS_PER_FILE = 500
POLICY = {
    # plan only reports guard findings; generous limits keep the output about the plan
    "unmanaged_users": "report",
    "max_deprovision": 1_000_000,
    "max_deprovision_percent": 100,
    "max_membership_removals": 1_000_000,
    "max_membership_removals_percent": 100,
    "max_teams_emptied": 1_000_000,
}


@dataclass(frozen=True)
class Workload:
    """The desired state as plain data (what YAML would load to) and what it changes."""

    document: dict[str, Any]
    changes: dict[str, int]


def make_workload(live: LiveState, percent: float, seed: int = 1) -> Workload:
    """The live org as a manifest, with ``percent`` % of users changed (split four ways)."""
    rng = random.Random(seed)
    each = max(1, round(len(live.users) * percent / 100 / 4))
    in_teams = {i for g in live.groups for i in g.member_ids}
    active = [u for u in live.users if u.active and u.id not in in_teams]
    picked = rng.sample(active, min(len(active), 2 * each))
    patched = {u.id for u in picked[:each]}
    leaving = {u.id for u in picked[each:]}
    members = sorted(i for i in in_teams if live.users_by_id[i].active)
    movers = rng.sample(members, min(len(members), each))
    users = [_user(u, patched, leaving) for u in live.users]
    hires = [_hire(i) for i in range(each)]
    users.extend(hires)
    keys = {u.id: u.user_name for u in live.users}
    # An inactive user cannot be a team member in a manifest: live memberships of
    # users that are inactive (3% of the seed) are removed by the plan.
    teams = {
        g.display_name: sorted(keys[i] for i in g.member_ids if live.users_by_id[i].active)
        for g in live.groups
    }
    names = sorted(teams)
    moves = _move(teams, names, movers, keys, rng)
    for hire in hires:
        teams[rng.choice(names)].append(hire["email"])
    document = {
        "version": 1,
        "organization": {"claimed_domains": list(DOMAINS)},
        "policy": POLICY,
        "users": users,
        "teams": [{"name": n, "members": teams[n]} for n in names],
    }
    counts = {"create": each, "patch": len(patched), "deactivate": len(leaving), "move": moves}
    return Workload(document, counts)


def _user(u: Any, patched: set[str], leaving: set[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "email": u.user_name,
        "given_name": u.given_name + ("-renamed" if u.id in patched else ""),
        "family_name": u.family_name,
        "display_name": u.display_name,
    }
    if not u.active or u.id in leaving:
        entry["active"] = False
    return entry


def _hire(index: int) -> dict[str, Any]:
    return {
        "email": f"new.hire{index}@acme.io",
        "given_name": "New",
        "family_name": f"Hire{index}",
        "display_name": f"New Hire{index}",
    }


def _move(
    teams: dict[str, list[str]],
    names: list[str],
    movers: list[str],
    keys: dict[str, str],
    rng: random.Random,
) -> int:
    """Take each mover out of one team it is in and into one it is not in."""
    member_of: dict[str, list[str]] = {}
    for name in names:
        for email in teams[name]:
            member_of.setdefault(email, []).append(name)
    moved = 0
    for user_id in movers:
        email = keys[user_id]
        source = member_of.get(email)
        target = rng.choice(names)
        if not source or target in source:
            continue
        teams[source[0]].remove(email)
        teams[target].append(email)
        moved += 1
    return moved


def write_yaml(document: dict[str, Any], folder: Path) -> list[Path]:
    """The manifest as a folder of YAML files (flow style, one user per line).

    Written by hand rather than with yaml.dump: PyYAML's pure-Python emitter would
    take longer than the plan being measured. JSON strings are valid YAML scalars.
    """
    folder.mkdir(parents=True, exist_ok=True)
    head = {k: document[k] for k in ("version", "organization", "policy")}
    paths = [_write(folder / "org.yaml", [json.dumps(head)])]
    users, teams = document["users"], document["teams"]
    for n, start in enumerate(range(0, len(users), USERS_PER_FILE)):
        lines = ["version: 1", "users:"]
        lines += [f"  - {json.dumps(u)}" for u in users[start : start + USERS_PER_FILE]]
        paths.append(_write(folder / f"users-{n:03d}.yaml", lines))
    for n, start in enumerate(range(0, len(teams), TEAMS_PER_FILE)):
        lines = ["version: 1", "teams:"]
        for team in teams[start : start + TEAMS_PER_FILE]:
            lines.append(f"  - name: {json.dumps(team['name'])}")
            if not team["members"]:
                lines.append("    members: []")
                continue
            lines.append("    members:")
            lines += [f"      - {json.dumps(m)}" for m in team["members"]]
        paths.append(_write(folder / f"teams-{n:03d}.yaml", lines))
    return paths


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
