"""The orchestration layer: the commands' steps wired together (read, plan, check,
apply, import, report; doctor's checks live in ``reconciler.doctor``).

This is where the pure core (manifest, diff, planner, guards, staleness) meets the
I/O edges (the SCIM client and the executor). It returns values; the commands in
``reconciler.commands`` decide what to print and which exit code they mean.
Must not: print, read options from argparse, or pick exit codes.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from reconciler import planfile
from reconciler.errors import ConfigError, Problem, RefusedPlanError, StalePlanError
from reconciler.evidence import confirm_absences, confirm_plan_targets, unvouched_notice
from reconciler.files import MIB, read_text
from reconciler.gcpolicy import bulk_phase
from reconciler.grammar import count
from reconciler.guards import GuardFinding, Overrides, guard_findings
from reconciler.livestate import LiveState
from reconciler.manifest.loader import (
    LoadedManifest,
    load_manifest,
    load_read_manifest,
    read_manifest,
)
from reconciler.manifest.models import Manifest
from reconciler.plan import Plan, not_covered
from reconciler.planfile import TamperedPlanError
from reconciler.planner import make_plan
from reconciler.profile import PRODUCT
from reconciler.reader import Progress, read_live_state
from reconciler.render.escape import shell_word, terminal
from reconciler.render.findings import drift_since_plan, guard_line
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import CircuitBreaker, RetryListener, RetryPolicy
from reconciler.scim.throttle import Throttle
from reconciler.scim.transport import Timeouts
from reconciler.settings import Target
from reconciler.staleness import already_applied, done_count

if TYPE_CHECKING:  # imported where used: `plan` needs none of apply, import or report
    from reconciler.executor import ApplyOptions, ApplyResult, OpResult
    from reconciler.importer import ImportedFiles
    from reconciler.report import AccessReport

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
    findings: tuple[GuardFinding, ...] = ()


def connect(
    target: Target, *, concurrency: int | None = None, on_retry: RetryListener | None = None
) -> ScimClient:
    """A client; ``concurrency`` (apply's) also bounds in-flight requests adaptively.

    All workers share one throttle: dense 429s pause every one until Retry-After and
    the in-flight limit halves and recovers (AIMD); a sparse 429 pauses only its own
    request (``reconciler.scim.throttle``).
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
        profile=target.profile,
    )


def plan_from_manifest(
    loaded: LoadedManifest,
    client: ScimClient,
    target: Target,
    *,
    today: date,
    read: ReadOptions = ReadOptions(),
    overrides: Overrides | None = None,
    revoke_only: bool = False,
) -> Planned:
    """Plan a validated manifest (callers load it before any network) against live.

    Users the manifest wants inactive that the listing lacks are proven absent first
    (``reconciler.evidence.confirm_absences``); LiveStateError when one is not.
    ``revoke_only`` keeps only the operations that remove access and holds the rest
    back (``Plan.revocations_only``): what the scheduled enforce job runs.
    """
    with bulk_phase():
        live = _read(client, read)
    live = confirm_absences(client, loaded.manifest, live, today)
    return plan_from_live(
        loaded, live, target, today=today, overrides=overrides, revoke_only=revoke_only
    )


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

    files = read_manifest(manifest_path)  # a missing or oversized folder: no request at all
    if any(isinstance(raw, Problem) for _, raw in files):
        # A file that could not be read (a device, EACCES): ManifestError naming each
        # file (and every other problem), before any request.
        load_read_manifest(files, today=today)
    with bulk_phase(), _prompt_switching():
        reader = threading.Thread(target=run, name="live-read", daemon=True)
        reader.start()
        try:
            loaded = load_read_manifest(files, today=today)
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
    revoke_only: bool = False,
) -> Planned:
    """Plan a validated manifest against a live state already read; no I/O.

    ``revoke_only`` keeps only the operations that remove access (``plan_from_manifest``).
    The diff runs in a ``bulk_phase``: with the collector back on, its first runs would
    walk every object the load and the read just built (a few tenths of a second at
    100k users), and the diff makes no cycles for it to find.
    """
    with bulk_phase():
        plan = make_plan(
            loaded.manifest,
            live,
            today=today,
            target=target.base_url,
            manifest_digest=loaded.digest,
            extra_notices=(
                *(str(n) for n in still_true(loaded.notices, live)),
                *live.evidence,
                *_unvouched(live),
            ),
            org=target.org_identity,
        )
    if revoke_only:
        plan = plan.revocations_only()
    findings = tuple(guard_findings(plan, live, overrides or Overrides()))
    return Planned(plan, live, loaded, tuple(map(guard_line, findings)), findings)


def still_true(notices: tuple[Problem, ...], live: LiveState) -> tuple[Problem, ...]:
    """Validation notices, minus past-expiry ones whose access live shows already gone.

    "expires ... is in the past: will be deprovisioned at the next apply" is true until
    that apply has run; after it, repeating the line on every plan would be false.
    """
    kept = []
    for notice in notices:
        if notice.while_access is None or _has_access(live, *notice.while_access):
            kept.append(notice)
    return tuple(kept)


def _has_access(live: LiveState, key: str, team: str | None) -> bool:
    user = live.users_by_key.get(key)
    if user is None or not user.active:
        return False
    if team is None:
        return True
    group = live.groups_by_name.get(team)
    return group is not None and user.id in group.member_ids


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
        plan = planfile.loads(text)
    except TamperedPlanError as error:
        raise ConfigError(
            f"refusing {path}: {error}. Make a new plan with `reconciler plan --out "
            f"{shell_word(path)}` and review it"
        ) from None
    except ValueError as error:
        raise ConfigError(
            f"{path} is not a plan file made by `reconciler plan --out` ({_why(error)}); {fix}"
        ) from None
    return plan


def _why(error: ValueError) -> str:
    """The first problem, naming the field: ``org: Input should be a valid string (got null)``."""
    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "the document"
        got = json.dumps(first.get("input"), default=str)
        got = got if len(got) <= 40 else got[:39] + "…"
        more = len(error.errors()) - 1
        extra = f"; {count(more, 'more problem')}" if more else ""
        return f"{field}: {first['msg']}, got {got}{extra}"
    return str(error).splitlines()[0]


def check_saved_plan(
    plan: Plan,
    client: ScimClient,
    target: Target,
    *,
    manifest_path: str | None,
    today: date,
    read: ReadOptions = ReadOptions(),
    plan_file: str = "plan.json",
    org_name: str | None = None,
) -> LiveState:
    """Refuse a plan made for another org, from another manifest, or on a moved live state.

    With ``manifest_path``, also refuse operations the manifest would not produce
    from the live state the plan was made on (an edited plan file). A plan whose
    every operation already holds live is not refused: the caller checks
    ``already_applied`` and says so (nothing to do). ``plan_file`` and ``org_name`` (the
    ``--org`` of reconciler.yaml this run was given) only shape the advice.
    """
    check_same_org(plan, target)
    loaded = None
    if manifest_path is not None:
        loaded = load_manifest(manifest_path, today=today)
        if loaded.digest != plan.manifest_digest:
            raise StalePlanError(
                f"saved plan is stale: the manifest at {manifest_path} changed since the plan "
                f"was made ({plan.manifest_digest[:19]} -> {loaded.digest[:19]}).\n"
                + replan_advice(plan, manifest_path, plan_file, org_name)
            )
    with bulk_phase():
        live = _read(client, read)
    live = confirm_plan_targets(client, plan, live)
    drift = drift_since_plan(plan, live)
    if drift and not already_applied(plan, live):
        lines = "\n".join(f"  - {terminal(d)}" for d in drift)
        raise StalePlanError(
            f"saved plan is stale: {PRODUCT} changed since the plan was made "
            f"({done_count(plan, live)} already done):\n{lines}\n"
            + replan_advice(plan, manifest_path, plan_file, org_name)
        )
    if loaded is not None and not already_applied(plan, live):
        _check_produced(plan, loaded, live, target, today, manifest_path or "")
    return live


def check_same_org(plan: Plan, target: Target) -> None:
    """Refuse a plan made with another URL or another org's token (every org shares a URL)."""
    if plan.target != target.base_url:
        raise ConfigError(
            f"the plan was made for {plan.target}, not {target.base_url}; "
            f"set {target.profile.url_env} to the plan's target or re-run plan"
        )
    if plan.org != target.org_identity:
        raise ConfigError(
            f"the plan was made for another org than this token reaches ({plan.org or 'none'} "
            f"!= {target.org_identity}): every {target.profile.product} org shares the URL "
            f"{plan.target}, and the token picks the org. Use the token of the org the plan was "
            "made for, or make a new plan with this one (also needed after the token was "
            "regenerated)"
        )


def _check_produced(  # noqa: PLR0917 - one caller, all of them needed
    plan: Plan,
    loaded: LoadedManifest,
    live: LiveState,
    target: Target,
    today: date,
    manifest_path: str,
) -> None:
    """Every saved operation must be one the manifest produces from this live state.

    The drift check has just shown that what the plan touches is as it was when the
    plan was made, so a fresh plan from the same manifest must contain each saved
    operation; anything it lacks was written into the file by hand.
    """
    fresh = make_plan(
        loaded.manifest,
        live,
        today=today,
        target=target.base_url,
        manifest_digest=loaded.digest,
        org=target.org_identity,
    )
    loosened = _other_basis(plan, fresh)
    if loosened:
        lines = "\n".join(f"  - {terminal(line)}" for line in loosened)
        raise RefusedPlanError(
            f"refusing the saved plan: it does not carry the policy and claimed domains of "
            f"the manifest at {manifest_path}, though it names that manifest's digest:\n"
            f"{lines}\nThe plan file was edited (the guards check a saved plan against its "
            "own copy of the policy). Make a new one with `reconciler plan --out plan.json` "
            "and review it."
        )
    extra = not_covered(plan.operations, (*fresh.operations, *fresh.held_back), same_ids=True)
    if extra:
        lines = "\n".join(f"  - {terminal(line)}" for line in extra)
        raise RefusedPlanError(
            f"refusing the saved plan: the manifest at {manifest_path} does not produce these "
            f"operations from the live state the plan was made on:\n{lines}\n"
            "The plan file was edited (or an expiry passed since it was made). Make a new one "
            "with `reconciler plan --out plan.json` and review it."
        )


def _other_basis(plan: Plan, fresh: Plan) -> list[str]:
    """Where a saved plan's policy or claimed domains differ from the manifest's, one line each."""
    found = []
    saved, wanted = plan.policy.model_dump(mode="json"), fresh.policy.model_dump(mode="json")
    for name in sorted(saved.keys() | wanted.keys()):
        if saved.get(name) != wanted.get(name):
            found.append(
                f"policy.{name}: {json.dumps(saved.get(name))} in the plan, "
                f"{json.dumps(wanted.get(name))} in the manifest"
            )
    if sorted(plan.claimed_domains) != sorted(fresh.claimed_domains):
        found.append(
            f"claimed_domains: {json.dumps(list(plan.claimed_domains))} in the plan, "
            f"{json.dumps(list(fresh.claimed_domains))} in the manifest"
        )
    return found


def replan_advice(
    plan: Plan, manifest_path: str | None, plan_file: str, org_name: str | None = None
) -> str:
    """The command that makes a fresh plan from the same manifest (and the same org of
    reconciler.yaml, ``org_name``) into the same file."""
    manifest = manifest_path or plan.manifest_path
    # The plan file is not trusted to put control characters on the terminal.
    source = f" -m {shell_word(manifest)}" if manifest and manifest.isprintable() else ""
    org = f" --org {shell_word(org_name)}" if org_name else ""
    again = f"reconciler{org} plan{source} --out {shell_word(plan_file)}"
    return f"Run `{again}` again and review the new plan."


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
    """Run the plan (``apply_plan`` enforces the guards first); the journal records every
    outcome and is created only when the guards let the run start."""
    from reconciler.executor import apply_plan
    from reconciler.journal import Journal

    with Journal(journal_path, run_id=run_id) as journal:
        return apply_plan(
            plan,
            client,
            journal=journal,
            options=options,
            on_result=on_result,
            live=live,
            overrides=overrides,
        )


def import_org(
    client: ScimClient,
    *,
    page_size: int,
    claimed_domains: Sequence[str] = (),
    split_teams: bool = False,
) -> tuple[ImportedFiles, list[str]]:
    """Read the live org and turn it into manifest files (nothing written here).

    ``claimed_domains`` empty: every domain seen live. Returns the files and the
    domains used. LiveStateError when the listing cannot be trusted.
    """
    from reconciler.importer import import_manifest, infer_claimed_domains

    live = _read(client, ReadOptions(page_size=page_size))
    domains = list(claimed_domains) or infer_claimed_domains(live)
    return import_manifest(live, domains, split_teams=split_teams), domains


def audit(
    client: ScimClient,
    manifest: Manifest | None,
    *,
    page_size: int,
    today: date,
    expiring_days: int | None,
) -> AccessReport:
    """The access report of the live org, against the manifest when there is one.

    ``expiring_days`` None: the policy's ``expiry_warning_days``, else 14. Read-only.
    """
    from reconciler.report import build_report

    live = _read(client, ReadOptions(page_size=page_size))
    days = expiring_days
    if days is None:
        days = manifest.policy.expiry_warning_days if manifest else 14
    return build_report(manifest, live, today=today, expiring_days=days)


def _unvouched(live: LiveState) -> tuple[str, ...]:
    """The notice naming the teams whose empty member list is a guess, if any."""
    read = live.members_read
    notice = unvouched_notice(read.unvouched) if read is not None else None
    return (notice,) if notice else ()
