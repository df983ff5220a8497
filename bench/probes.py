"""What one benchmark child process measures; run as ``python bench/probes.py KIND ...``.

Each probe prints one JSON line (its figures) as the last line of stdout. Running
each in its own process gives it its own peak RSS (``ru_maxrss``) and CPU time, and
keeps the client's GIL apart from the orchestrator's and the sandbox's.

- ``plan``  : load the manifest folder, read the live org, make the plan, render it
              to JSON: the ``reconciler plan`` command's work (minus its printing).
- ``read``  : only ``read_live_state``.
- ``floor`` : the reader-pattern floor: the same HTTP requests as ``read`` with a
              bare ``requests.Session`` and ``json.loads``, nothing else: user pages
              and group pages one after the other, then every team's GET through a
              pool of the same size as the reader's. No checks, no objects, no retries.
- ``pages`` : the pages floor: user pages and group pages *with members*, nothing
              else (the fewest requests any client needs). The reader takes members
              from these pages where users' ``groups`` corroborate them, plus one
              canary team read; ``team_reads`` in ``plan``/``read`` counts its reads.
- ``manifest``: write the workload manifest for ``random:N`` without HTTP.
- ``plan-cpu``: make_plan alone, in memory.
- ``apply`` : apply_plan on K user PATCHes per ``c:mode`` run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from functools import partial
from typing import Any

TOKEN = "bench-token"  # the sandbox is started with it (--token)
TOKEN_ENV = "MIXPANEL_SCIM_TOKEN"
PAGE = 1000
TODAY = date(2026, 1, 1)


class Phases:
    """Wall and CPU seconds per named phase."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, float]] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.figures[name] = {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
            }


def lower_bound(users: int, groups: int, page: int = PAGE) -> int:
    """Requests of the per-team read pattern: every page once, every team read once."""
    return max(1, math.ceil(users / page)) + max(1, math.ceil(groups / page)) + groups


def _process() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def _client(url: str) -> Any:
    from reconciler.scim.client import ScimClient
    from reconciler.scim.secret import Token

    return ScimClient.connect(url, Token(os.environ.get(TOKEN_ENV, TOKEN)))


def probe_plan(url: str, manifest: str, concurrency: int) -> dict[str, Any]:
    from reconciler.evidence import confirm_absences
    from reconciler.manifest.loader import load_manifest
    from reconciler.planner import make_plan
    from reconciler.reader import read_live_state

    phases = Phases()
    started = time.perf_counter()
    client = _client(url)
    with phases.phase("load"):
        loaded = load_manifest(manifest, today=TODAY)
    with phases.phase("read"):
        live = read_live_state(client, page_size=PAGE, concurrency=concurrency)
        live = confirm_absences(client, loaded.manifest, live, TODAY)
    with phases.phase("plan"):
        plan = make_plan(
            loaded.manifest,
            live,
            today=TODAY,
            target=client.transport.base_url,
            manifest_digest=loaded.digest,
        )
    with phases.phase("render"):
        text = plan.to_json()
    return {
        "wall": time.perf_counter() - started,
        "phases": phases.figures,
        "requests": client.stats.calls,
        "sent": client.stats.total,
        "confirmations": client.stats.by_purpose["confirm"],
        "lower_bound": lower_bound(len(live.users), len(live.groups)),
        **_team_reads(live),
        "operations": len(plan.operations),
        "summary": str(plan.summary),
        "plan_bytes": len(text),
        **_process(),
    }


def probe_read(url: str, concurrency: int) -> dict[str, Any]:
    from reconciler.reader import read_live_state

    client = _client(url)
    started, cpu = time.perf_counter(), time.process_time()
    live = read_live_state(client, page_size=PAGE, concurrency=concurrency)
    return {
        "wall": time.perf_counter() - started,
        "cpu_read": time.process_time() - cpu,
        "requests": client.stats.calls,
        "sent": client.stats.total,
        "lower_bound": lower_bound(len(live.users), len(live.groups)),
        **_team_reads(live),
        "users": len(live.users),
        "groups": len(live.groups),
        **_process(),
    }


def _team_reads(live: Any) -> dict[str, Any]:
    """How the reader got the members: teams from the pages, GET /Groups/{id} made, why."""
    read = live.members_read
    if read is None:
        return {}
    return {"teams_from_pages": read.from_pages, "team_reads": read.requests, "why": read.why}


def probe_floor(url: str, concurrency: int) -> dict[str, Any]:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {os.environ.get(TOKEN_ENV, TOKEN)}"
    calls = 0

    def get(path: str, params: dict[str, Any] | None = None) -> Any:
        nonlocal calls
        calls += 1
        answer = session.get(url + path, params=params, timeout=30)
        answer.raise_for_status()
        return json.loads(answer.content)

    started, cpu = time.perf_counter(), time.process_time()
    users = _pages(lambda s: get("/Users", {"startIndex": s, "count": PAGE}))
    groups = _pages(
        lambda s: get("/Groups", {"startIndex": s, "count": PAGE, "excludedAttributes": "members"})
    )
    ids = [g["id"] for g in groups]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        teams = list(pool.map(lambda i: get(f"/Groups/{i}"), ids))
    members = sum(len(t.get("members", [])) for t in teams)
    return {
        "wall": time.perf_counter() - started,
        "cpu_read": time.process_time() - cpu,
        "requests": calls,
        "users": len(users),
        "groups": len(groups),
        "members": members,
        **_process(),
    }


def probe_pages(url: str, window: int = 1) -> dict[str, Any]:
    """The pages floor: every page of Users and of Groups *with members*, nothing else.

    The fewest requests any client can read the org in (ceil(N/P) + ceil(G/P)), with a
    bare ``requests.Session`` and ``json.loads``; the reader takes members from list
    pages only where users' ``groups`` corroborate them (and reads one canary team),
    so this is a floor, not a competitor. ``window`` > 1: after each listing's first
    page, its other pages are fetched that many at a time (as the reader's read-ahead
    may), with no check at all: the floor for a client that reads pages concurrently.
    """
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {os.environ.get(TOKEN_ENV, TOKEN)}"
    calls = 0

    def get(path: str, params: dict[str, Any]) -> Any:
        nonlocal calls
        calls += 1
        answer = session.get(url + path, params=params, timeout=60)
        answer.raise_for_status()
        return json.loads(answer.content)

    started, cpu = time.perf_counter(), time.process_time()
    listing = _pages if window == 1 else partial(_pages_at_once, window=window)
    users = listing(lambda s: get("/Users", {"startIndex": s, "count": PAGE}))
    groups = listing(lambda s: get("/Groups", {"startIndex": s, "count": PAGE}))
    members = sum(len(g.get("members") or []) for g in groups)
    return {
        "wall": time.perf_counter() - started,
        "cpu_read": time.process_time() - cpu,
        "requests": calls,
        "users": len(users),
        "groups": len(groups),
        "members": members,
        **_process(),
    }


def probe_manifest(users: int, percent: float, out: str) -> dict[str, Any]:
    """Write the workload manifest for the sandbox's ``random:N`` org, without any HTTP.

    Used for the largest sizes, so the orchestrator never holds a 300k-user org.
    """
    from pathlib import Path

    from workload import make_workload, write_yaml

    workload = make_workload(live_in_memory(users), percent)
    paths = write_yaml(workload.document, Path(out))
    return {"files": len(paths), "changes": workload.changes, **_process()}


def _pages(fetch: Callable[[int], Any]) -> list[Any]:
    resources: list[Any] = []
    while True:
        body = fetch(len(resources) + 1)
        resources.extend(body.get("Resources", []))
        if len(resources) >= body["totalResults"] or not body.get("Resources"):
            return resources


def _pages_at_once(fetch: Callable[[int], Any], window: int) -> list[Any]:
    """The first page, then every other page ``window`` at a time (pages of PAGE)."""
    first = fetch(1)
    resources: list[Any] = list(first.get("Resources", []))
    starts = range(1 + PAGE, first["totalResults"] + 1, PAGE)
    with ThreadPoolExecutor(window) as pool:
        for body in pool.map(fetch, starts):
            resources.extend(body.get("Resources", []))
    return resources


def live_in_memory(users: int) -> Any:
    """The sandbox's ``random:N`` org as a LiveState, built without any HTTP."""
    from reconciler.livestate import LiveState
    from reconciler.scim.parse import parse_group, parse_user
    from scim_sandbox.seed import seed_random
    from scim_sandbox.store import Store

    store = Store()
    seed_random(store, users)
    return LiveState.of(
        [parse_user(u) for u in store.users()], [parse_group(g) for g in store.groups()]
    )


def probe_plan_cpu(users: int, percent: float, repeats: int) -> dict[str, Any]:
    """make_plan alone on in-memory inputs; a fresh LiveState per repeat, so the live
    fingerprint (computed once per LiveState) is part of what is timed. Run in a
    ``bulk_phase``, as ``workflow.plan_from_live`` runs it in ``reconciler plan``."""
    from workload import make_workload

    from reconciler.gcpolicy import bulk_phase
    from reconciler.livestate import LiveState
    from reconciler.manifest.models import Manifest
    from reconciler.planner import make_plan

    live = live_in_memory(users)
    workload = make_workload(live, percent)
    manifest = Manifest.model_validate(workload.document)
    times: list[float] = []
    operations = 0
    for _ in range(repeats):
        fresh = LiveState.of(live.users, live.groups)
        with bulk_phase():
            cpu = time.process_time()
            plan = make_plan(manifest, fresh, today=TODAY, target="bench", manifest_digest="bench")
            times.append(time.process_time() - cpu)
        operations = len(plan.operations)
    return {"cpu_runs": times, "operations": operations, "changes": workload.changes}


class _OldGate:
    """For comparison only: the shared gate before the adaptive limiter (every 429 pauses
    every thread) with AIMD concurrency."""

    @staticmethod
    def make(concurrency: int) -> Any:
        from reconciler.scim.throttle import Throttle

        return Throttle(concurrency, adaptive=True, dense_after=1, pace=False)


class _NoGate:
    """For comparison only: per-thread backoff, no shared pause (what a naive pool does)."""

    @staticmethod
    def make() -> Any:
        from reconciler.scim.throttle import Throttle

        class NoGate(Throttle):
            def judge(self, delay: float, generation: int) -> tuple[float, bool]:
                # never dense, and the waiting request keeps its worker, as in a plain pool
                self.stats.rate_limited += 1
                return time.monotonic() + delay, False

        return NoGate()


def _throttle(mode: str, concurrency: int) -> Any:
    """``adaptive``: what ``reconciler apply`` uses; ``gate`` and ``nogate``: comparisons."""
    from reconciler.scim.throttle import Throttle

    if mode == "gate":
        return _OldGate.make(concurrency)
    if mode == "nogate":
        return _NoGate.make()
    return Throttle(concurrency, adaptive=True)


def probe_apply(url: str, operations: int, runs: str) -> dict[str, Any]:
    """Time apply_plan on ``operations`` user PATCHes, once per ``c:mode`` in ``runs``.

    Every run renames the same users again (given_name gets a new suffix), so each
    plan holds exactly ``operations`` patch_user operations; reading and planning
    are not timed.
    """
    from reconciler.executor import ApplyOptions, apply_plan
    from reconciler.journal import Journal
    from reconciler.manifest.models import Manifest
    from reconciler.planner import make_plan
    from reconciler.reader import read_live_state

    reader = _client(url)
    base = read_live_state(reader)
    targets = [u for u in base.users if u.active][:operations]
    results = []
    for number, spec in enumerate(runs.split(","), start=1):
        concurrency_text, _, mode = spec.partition(":")
        concurrency = int(concurrency_text)
        live = read_live_state(reader)
        renamed = {u.id: f"{u.given_name}-r{number}" for u in targets}
        manifest = Manifest.model_validate(
            {
                "version": 1,
                "organization": {"claimed_domains": ["acme.io", "acmelabs.io"]},
                "policy": {"unmanaged_users": "ignore"},
                "users": [
                    {
                        "email": u.user_name,
                        "given_name": renamed.get(u.id, u.given_name),
                        "family_name": u.family_name,
                        "active": u.active,
                    }
                    for u in live.users
                ],
            }
        )
        plan = make_plan(manifest, live, today=TODAY, target=url, manifest_digest="bench")
        assert len(plan.operations) == operations, plan.summary
        client = _client(url)
        client.transport.throttle = _throttle(mode or "adaptive", concurrency)
        started = time.perf_counter()
        with Journal(None, run_id="bench") as journal:
            outcome = apply_plan(
                plan, client, journal=journal, options=ApplyOptions(concurrency=concurrency)
            )
        wall = time.perf_counter() - started
        stats = client.transport.throttle.stats
        results.append(
            {
                "concurrency": concurrency,
                "mode": mode or "adaptive",
                "wall": wall,
                "done": outcome.count_done,
                "requests": client.stats.total,
                "verification": client.stats.verification,
                "retries": client.stats.retries,
                "rate_limited": stats.rate_limited,
                "gate_seconds": stats.gate_seconds,
                "rate_cuts": stats.rate_cuts,
            }
        )
    return {"operations": operations, "runs": results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "kind", choices=("plan", "read", "floor", "pages", "manifest", "plan-cpu", "apply")
    )
    parser.add_argument("--out", default="")
    parser.add_argument("--url", default="")
    parser.add_argument("--manifest")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--window", type=int, default=1, help="pages: pages at a time")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--percent", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--operations", type=int, default=200)
    parser.add_argument("--runs", default="1:adaptive,8:adaptive")
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args()
    os.environ[TOKEN_ENV] = args.token
    if args.kind == "plan":
        figures = probe_plan(args.url, args.manifest, args.concurrency)
    elif args.kind == "apply":
        figures = probe_apply(args.url, args.operations, args.runs)
    elif args.kind == "plan-cpu":
        figures = probe_plan_cpu(args.users, args.percent, args.repeats)
    elif args.kind == "read":
        figures = probe_read(args.url, args.concurrency)
    elif args.kind == "pages":
        figures = probe_pages(args.url, args.window)
    elif args.kind == "manifest":
        figures = probe_manifest(args.users, args.percent, args.out)
    else:
        figures = probe_floor(args.url, args.concurrency)
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
