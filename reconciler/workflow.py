"""The commands' steps wired together: load, read, plan, check, apply.

This is where the pure core (manifest, diff, planner, guards, staleness) meets the
I/O edges (the SCIM client and the executor). It returns values; the CLI decides
what to print and which exit code they mean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reconciler.errors import ConfigError, StalePlanError
from reconciler.evidence import confirm_absences, confirm_plan_targets
from reconciler.executor import ApplyOptions, ApplyResult, OpResult, apply_plan
from reconciler.files import MIB, read_text
from reconciler.guards import Overrides, check_guards, guard_findings
from reconciler.journal import Journal
from reconciler.livestate import LiveState
from reconciler.manifest.loader import LoadedManifest, load_manifest
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import CircuitBreaker, RetryListener, RetryPolicy
from reconciler.scim.throttle import Throttle
from reconciler.scim.transport import Timeouts
from reconciler.settings import Target
from reconciler.staleness import already_applied, done_count, drift_since_plan

Progress = Callable[[str, int, int], None]
# A 100k-user org's plan with every user changed is about 60 MiB of JSON.
PLAN_FILE_MAX_BYTES = 256 * MIB
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


def connect(
    target: Target, *, concurrency: int | None = None, on_retry: RetryListener | None = None
) -> ScimClient:
    """A client; ``concurrency`` (apply's) also bounds in-flight requests adaptively.

    All workers share one throttle, so a 429 to any of them pauses every one until
    Retry-After, and the in-flight limit halves and recovers (AIMD).
    """
    retry = RetryPolicy(max_attempts=target.max_attempts)
    limits = target.limits
    breaker = CircuitBreaker(
        max_connection_failures=limits.max_connection_failures,
        retry_budget=limits.retry_budget,
    )
    throttle = Throttle(concurrency, adaptive=True, sleep=breaker.sleep) if concurrency else None
    return ScimClient.connect(
        target.base_url,
        target.token,
        retry=retry,
        throttle=throttle,
        breaker=breaker,
        timeouts=Timeouts(total=limits.request_deadline),
        max_read_bytes=limits.max_read_bytes,
        on_retry=on_retry,
    )


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
    live = confirm_absences(client, loaded.manifest, _read(client, read), today)
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
    fix = "pass the JSON file that `reconciler plan --out FILE` wrote"
    text = read_text(Path(path), PLAN_FILE_MAX_BYTES, what="plan file", fix=fix)
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
    plan_file: str = "plan.json",
) -> LiveState:
    """Refuse a plan made for another org, from another manifest, or on a moved live state.

    A plan whose every operation already holds live is not refused: the caller checks
    ``already_applied`` and says so (nothing to do). ``plan_file`` only shapes the advice.
    """
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
                + replan_advice(plan, manifest_path, plan_file)
            )
    live = confirm_plan_targets(client, plan, _read(client, read))
    drift = drift_since_plan(plan, live)
    if drift and not already_applied(plan, live):
        lines = "\n".join(f"  - {d}" for d in drift)
        raise StalePlanError(
            f"saved plan is stale: Mixpanel changed since the plan was made "
            f"({done_count(plan, live)} already done):\n{lines}\n"
            + replan_advice(plan, manifest_path, plan_file)
        )
    return live


def replan_advice(plan: Plan, manifest_path: str | None, plan_file: str) -> str:
    """The command that makes a fresh plan from the same manifest into the same file."""
    manifest = manifest_path or plan.manifest_path
    # The plan file is not trusted to put control characters on the terminal.
    source = f" -m {manifest}" if manifest and manifest.isprintable() else ""
    return f"Run `reconciler plan{source} --out {plan_file}` again and review the new plan."


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
