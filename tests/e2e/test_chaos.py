"""Seeded chaos: random faults on every request class, apply until convergence.

For each seed the sandbox starts from an org that differs from the manifest, then
misbehaves at random (429s, 5xx, dropped connections, lost responses) on every
request. Apply is repeated until a fault-free plan is empty. Asserted: the final
live state equals the manifest, no user was ever duplicated, and nobody was
deprovisioned that a plan did not name. Bounded: fast retries, at most 10 runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import date

import pytest

from reconciler.errors import ReconcilerError
from reconciler.executor import ApplyOptions, apply_plan
from reconciler.journal import Journal
from reconciler.livestate import LiveState
from reconciler.manifest.models import Manifest
from reconciler.plan import DEPROVISION_OPS
from reconciler.planner import make_plan
from reconciler.reader import read_live_state
from reconciler.scim import builders
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token
from scim_sandbox import Faults, Sandbox

SEEDS = range(1, 9)
MAX_RUNS = 10
TODAY = date(2026, 11, 22)
FAST = RetryPolicy(max_attempts=4, base_delay=0.005, max_delay=0.05, total_cap=5.0)


def desired() -> Manifest:
    users = [
        {
            "email": f"p{i:02}@acme.io",
            "given_name": "P",
            "family_name": f"N{i}",
            "active": i % 9 != 0,
        }
        for i in range(30)
    ]
    teams = [
        {
            "name": f"Team {t}",
            "previous_names": [f"Old {t}"],
            "members": [f"p{i:02}@acme.io" for i in range(t, 30, 4) if i % 9 != 0],
        }
        for t in range(4)
    ]
    return Manifest.model_validate(
        {
            "version": 1,
            "organization": {"claimed_domains": ["acme.io"]},
            "policy": {"max_deprovision": 100, "max_membership_removals": 500},
            "users": users,
            "teams": teams,
        }
    )


def seed_org(client: ScimClient) -> None:
    """Half the people exist (some with stale names), two teams under old names."""
    ids = {}
    for i in range(0, 30, 2):
        user = client.create_user(
            builders.user_resource(f"p{i:02}@acme.io", "P", "Stale", None, True)
        )
        ids[i] = user.id
    for t in range(2):
        group = client.create_group(builders.group_resource(f"Old {t}"))
        client.patch_group(group.id, builders.add_members([ids[i] for i in range(0, 30, 6)]))


def fresh_client(box: Sandbox) -> ScimClient:
    return ScimClient.connect(box.base_url, Token("chaos"), retry=FAST)


def converge(box: Sandbox, manifest: Manifest, seed: int) -> tuple[int, set[str]]:
    """Apply under faults until a fault-free plan is empty; return runs and deprovisioned keys."""
    named: set[str] = set()
    for attempt in range(1, MAX_RUNS + 1):
        box.set_faults(
            Faults(
                rate_429=0.08,
                retry_after_s=0.005,
                rate_5xx=0.08,
                drop_rate=0.04,
                lost_response_rate=0.04,
                seed=seed * 100 + attempt,
            )
        )
        client = fresh_client(box)
        try:
            live = read_live_state(client)
            plan = make_plan(manifest, live, today=TODAY, target=box.base_url, manifest_digest="d")
            named |= {op.key.lower() for op in plan.operations if op.op in DEPROVISION_OPS}
            apply_plan(
                plan,
                client,
                journal=Journal(None, run_id=str(attempt)),
                options=ApplyOptions(concurrency=4),
            )
        except ReconcilerError:
            pass  # a read that cannot complete aborts the run before anything is planned
        box.set_faults(Faults())
        check = make_plan(
            manifest,
            read_live_state(fresh_client(box)),
            today=TODAY,
            target=box.base_url,
            manifest_digest="d",
        )
        if not check.has_changes:
            return attempt, named
    pytest.fail(f"seed {seed}: no convergence after {MAX_RUNS} runs")


def test_seeded_chaos_converges_without_duplicates_or_unplanned_deprovisions(
    report_figure: Callable[[str], None],
) -> None:
    manifest = desired()
    runs: list[int] = []
    requests = faults = 0
    for seed in SEEDS:
        with Sandbox(token="chaos", claimed_domains=("acme.io",)) as box:
            seed_org(fresh_client(box))
            box.stats.reset()
            count, named = converge(box, manifest, seed)
            runs.append(count)
            requests += box.stats.total_requests
            faults += sum(box.stats.faults().values())
            users = box.store.users()
            names = [u["userName"].lower() for u in users]
            assert len(names) == len(set(names)), f"seed {seed}: duplicate users"
            live = read_live_state(fresh_client(box))
            inactive = {u.key for u in live.users if not u.active}
            assert inactive <= named, f"seed {seed}: deprovisioned without a plan naming it"
            assert _matches(manifest, live)
    line = (
        f"chaos: {len(runs)} seeds, {requests} requests, {faults} faults injected, "
        f"runs to converge median {statistics.median(runs):g} max {max(runs)}"
    )
    report_figure(line)
    assert faults > 0


def _matches(manifest: Manifest, live: LiveState) -> bool:
    plan = make_plan(manifest, live, today=TODAY, target="x", manifest_digest="d")
    return not plan.has_changes
