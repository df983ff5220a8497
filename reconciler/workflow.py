"""The commands' steps wired together: load, read, plan, check, apply.

This is where the pure core (manifest, diff, planner, guards, staleness) meets the
I/O edges (the SCIM client and the executor). It returns values; the CLI decides
what to print and which exit code they mean.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError, StalePlanError
from reconciler.evidence import confirm_absences, confirm_plan_targets
from reconciler.executor import ApplyOptions, ApplyResult, OpResult, apply_plan
from reconciler.gcpolicy import bulk_phase
from reconciler.guards import Overrides, check_guards, guard_findings
from reconciler.journal import Journal
from reconciler.livestate import LiveState
from reconciler.manifest.loader import LoadedManifest, load_manifest
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.throttle import Throttle
from reconciler.settings import Target
from reconciler.staleness import drift_since_plan

Progress = Callable[[str, int, int], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadOptions:
    page_size: int = 1000
    on_progress: Progress | None = None


@dataclass(frozen=True)
class Planned:
    """A plan with the inputs it came from and the guard findings apply would raise."""

    plan: Plan
    live: LiveState
    manifest: LoadedManifest
    warnings: tuple[str, ...]


def connect(target: Target, *, concurrency: int | None = None) -> ScimClient:
    """A client; ``concurrency`` (apply's) also bounds in-flight requests adaptively.

    All workers share one throttle, so a 429 to any of them pauses every one until
    Retry-After, and the in-flight limit halves and recovers (AIMD).
    """
    retry = RetryPolicy(max_attempts=target.max_attempts)
    throttle = Throttle(concurrency, adaptive=True) if concurrency else None
    return ScimClient.connect(target.base_url, target.token, retry=retry, throttle=throttle)


def plan_from_manifest(
    loaded: LoadedManifest,
    client: ScimClient,
    target: Target,
    *,
    today: date,
    read: ReadOptions = ReadOptions(),
    overrides: Overrides | None = None,
) -> Planned:
    """Plan a validated manifest (callers load it before any network) against live.

    Users the manifest wants inactive that the listing lacks are proven absent first
    (``reconciler.evidence.confirm_absences``); LiveStateError when one is not.
    """
    with bulk_phase():
        live = _read(client, read)
    live = confirm_absences(client, loaded.manifest, live, today)
    return plan_from_live(loaded, live, target, today=today, overrides=overrides)


CANCEL_WAIT_SECONDS = 5.0


class _Cancelled(Exception):
    """The manifest failed to load: the live read still running is not needed."""


def load_and_read(
    manifest_path: str | Path,
    client: ScimClient,
    *,
    today: date,
    read: ReadOptions = ReadOptions(),
) -> tuple[LoadedManifest, LiveState]:
    """Load the manifest while the live read waits on the network, in another thread.

    With real latency the read is mostly waiting, so the two together cost about
    max(load, read) instead of their sum. The manifest's outcome comes first: when
    it fails to load (or on Ctrl-C) the read is cancelled at its next page or team,
    joined, and the manifest's error is raised; a read error is raised only for a
    valid manifest. Both run in one ``bulk_phase`` (no cyclic garbage collection).
    Then, as ``plan_from_manifest`` does, absences the plan relies on are confirmed
    (``reconciler.evidence.confirm_absences``).
    Raises ManifestError, LiveStateError or the read's ReconcilerError.
    """
    cancel = threading.Event()
    outcome: dict[str, Any] = {}
    forward = read.on_progress

    def progress(kind: str, done: int, total: int) -> None:
        if cancel.is_set():
            raise _Cancelled
        if forward is not None:
            forward(kind, done, total)

    def run() -> None:
        try:
            outcome["live"] = _read(client, ReadOptions(read.page_size, progress))
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    with bulk_phase(), _prompt_switching():
        reader = threading.Thread(target=run, name="live-read", daemon=True)
        reader.start()
        try:
            loaded = load_manifest(manifest_path, today=today)
        except BaseException:
            cancel.set()
            reader.join(CANCEL_WAIT_SECONDS)  # bounded: a read stuck in retries is left behind
            raise
        try:
            reader.join()
        except BaseException:  # Ctrl-C while waiting: stop the read, then stop
            cancel.set()
            raise
    error = outcome.get("error")
    if error is not None:
        raise error
    # Users the manifest wants inactive that the listing lacks are proven absent.
    live: LiveState = confirm_absences(client, loaded.manifest, outcome["live"], today)
    return loaded, live


@contextmanager
def _prompt_switching() -> Iterator[None]:
    """Hand the GIL over every 1 ms (not 5) while the load and the read overlap.

    The load keeps the GIL busy; each answer the read thread waits for would
    otherwise sit up to 5 ms before it is handled, request after request.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, 0.001))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def plan_from_live(
    loaded: LoadedManifest,
    live: LiveState,
    target: Target,
    *,
    today: date,
    overrides: Overrides | None = None,
) -> Planned:
    """Plan a validated manifest against a live state already read; no I/O."""
    plan = make_plan(
        loaded.manifest,
        live,
        today=today,
        target=target.base_url,
        manifest_digest=loaded.digest,
        extra_notices=(*(str(n) for n in loaded.notices), *live.evidence),
    )
    findings = guard_findings(plan, live, overrides or Overrides())
    warnings = tuple(str(f) for f in findings)
    return Planned(plan, live, loaded, warnings)


def _read(client: ScimClient, read: ReadOptions) -> LiveState:
    started = time.perf_counter()
    before = client.stats.total
    live = read_live_state(client, page_size=read.page_size, on_progress=read.on_progress)
    log.info(
        "read %d users and %d teams in %.2f s (%d requests)",
        len(live.users),
        len(live.groups),
        time.perf_counter() - started,
        client.stats.total - before,
        extra={"users": len(live.users), "teams": len(live.groups)},
    )
    return live


def read_plan_file(path: str) -> Plan:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read plan file {path}: {error.strerror}") from None
    try:
        plan = Plan.from_json(text)
    except ValueError as error:
        first = str(error).splitlines()[0]
        raise ConfigError(
            f"{path} is not a plan file made by `reconciler plan --out` ({first})"
        ) from None
    return plan


def check_saved_plan(
    plan: Plan,
    client: ScimClient,
    target: Target,
    *,
    manifest_path: str | None,
    today: date,
    read: ReadOptions = ReadOptions(),
) -> LiveState:
    """Refuse a plan made for another org, from another manifest, or on a moved live state."""
    if plan.target != target.base_url:
        raise ConfigError(
            f"the plan was made for {plan.target}, not {target.base_url}; "
            "set MIXPANEL_SCIM_URL to the plan's target or re-run plan"
        )
    if manifest_path is not None:
        loaded = load_manifest(manifest_path, today=today)
        if loaded.digest != plan.manifest_digest:
            raise StalePlanError(
                f"saved plan is stale: the manifest at {manifest_path} changed since the plan "
                f"was made ({plan.manifest_digest[:19]} -> {loaded.digest[:19]}).\n"
                "Run `reconciler plan --out plan.json` again and review the new plan."
            )
    with bulk_phase():
        live = _read(client, read)
    live = confirm_plan_targets(client, plan, live)
    drift = drift_since_plan(plan, live)
    if drift:
        lines = "\n".join(f"  - {d}" for d in drift)
        raise StalePlanError(
            f"saved plan is stale: Mixpanel changed since the plan was made:\n{lines}\n"
            "Run `reconciler plan --out plan.json` again and review the new plan."
        )
    return live


def execute(
    plan: Plan,
    live: LiveState,
    client: ScimClient,
    *,
    overrides: Overrides,
    journal_path: Path | None,
    run_id: str,
    options: ApplyOptions,
    on_result: Callable[[OpResult], None] | None = None,
) -> ApplyResult:
    """Check the guards once more, then run the plan; the journal records every outcome."""
    check_guards(plan, live, overrides)
    with Journal(journal_path, run_id=run_id) as journal:
        return apply_plan(plan, client, journal=journal, options=options, on_result=on_result)
