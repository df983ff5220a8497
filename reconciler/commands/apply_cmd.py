"""``reconciler apply``: make Mixpanel match the manifest, or run a reviewed plan file.

From the manifest: plan, show, refuse over a safety guard, ask for ``yes`` (unless
``--auto-approve``, or ``--revoke-only`` which needs none), then execute. With
PLAN_FILE: refuse a plan for another org, from another manifest or on a moved
live state, then execute exactly it. The guards are enforced once more by the
executor itself, where the writes happen.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from reconciler.commands.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Console,
    GlobalOptions,
    TargetOptions,
    connect,
    detail_arg,
    given,
    manifest_path,
    output_file,
    positive,
    read_options,
    render_plan,
    resolve,
    resolve_after_manifest,
    selected_org,
    style,
    target_args,
    whole,
)
from reconciler.profile import PRODUCT

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from reconciler.guards import Overrides
    from reconciler.livestate import LiveState
    from reconciler.plan import Plan
    from reconciler.scim.client import ScimClient

    # What apply executes once the plan is read, checked and approved; else its exit code.
    _Ready: TypeAlias = int | tuple[Plan, LiveState, ScimClient]

HELP = f"make {PRODUCT} match the manifest"
DEFAULT_JOURNAL = ".reconciler/journal.jsonl"


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    target: TargetOptions = field(default_factory=TargetOptions)
    plan_file: str | None = None
    manifest: str | None = None
    auto_approve: bool = False
    concurrency: int = 4
    chunk_size: int = 100
    fail_fast: bool = False
    detail: str = "summary"
    verify: bool = True
    verify_settle: float = 2.0
    revoke_only: bool = False
    journal: str | None = None
    allow_deprovision: int | None = None
    allow_membership_removals: int | None = None
    allow_teams_emptied: int | None = None


# One worker thread per operation in flight, up to the phase's size: --concurrency
# 100000 on a plan of 5,000 creates started 5,000 threads and connections at once.
MAX_CONCURRENCY = 64


def _concurrency(text: str) -> int:
    """argparse type for --concurrency: a whole number from 1 to MAX_CONCURRENCY."""
    value = positive(text)
    if value > MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_CONCURRENCY}, got {text}")
    return value


# Seconds before a read-back that differs is read again (an eventually consistent
# server); the environment variable sets the default (tests make it short).
SETTLE_ENV = "RECONCILER_VERIFY_SETTLE"
MAX_SETTLE = 60.0


class _FromEnv(str):
    """The default of --verify-settle as ${SETTLE_ENV} gives it: argparse checks a string
    default with the option's type, and the error must name the variable, not an
    option the user never typed."""

    __slots__ = ()


def _settle(text: str) -> float:
    """argparse type for --verify-settle: seconds from 0 to MAX_SETTLE."""
    source = f" (from ${SETTLE_ENV}; unset it or fix it)" if isinstance(text, _FromEnv) else ""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}{source}") from None
    if not 0 <= value <= MAX_SETTLE:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"must be between 0 and {MAX_SETTLE:.0f} seconds, got {text}{source}"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "plan_file", nargs="?", type=given, metavar="PLAN_FILE", help="a saved plan"
    )
    parser.add_argument(
        "-m",
        "--manifest",
        type=given,
        default=None,
        metavar="PATH",
        help="manifest file or folder (default: manifests; with PLAN_FILE: only if given, "
        "to check the plan was made from it)",
    )
    target_args(parser)
    parser.add_argument("--auto-approve", action="store_true", help="do not ask for `yes`")
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=4,
        metavar="N",
        help="operations of one phase sent in parallel, in requests at a time, 1 to "
        f"{MAX_CONCURRENCY} (default %(default)s)",
    )
    parser.add_argument(
        "--chunk-size",
        type=positive,
        default=100,
        metavar="N",
        help="members per membership PATCH request (default %(default)s; a 413 halves it)",
    )
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failure")
    detail_arg(parser)
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="do not read back the touched users and teams after apply (default: read each "
        "once and fail any operation whose change is not there)",
    )
    parser.add_argument(
        "--verify-settle",
        type=_settle,
        default=_FromEnv(os.environ.get(SETTLE_ENV, "2")),
        metavar="S",
        help="seconds to wait before reading again an object whose read-back differs, "
        "for servers that show a write a moment late (default 2, or "
        f"${SETTLE_ENV}; 0: the first read-back decides)",
    )
    parser.add_argument(
        "--revoke-only",
        action="store_true",
        help="run only the operations that remove access (membership removals, deactivations, "
        "deletes where the policy says delete); hold every grant back for a reviewed merge. "
        "Needs no approval; guards and protected accounts apply as usual",
    )
    parser.add_argument(
        "--journal",
        type=output_file,
        default=None,
        metavar="FILE",
        help=(
            f"append every outcome here as JSON lines (default {DEFAULT_JOURNAL}; "
            "with --org NAME, .reconciler/NAME/journal.jsonl)"
        ),
    )
    for flag, what, limit in (
        ("--allow-deprovision", "deprovisions", "max_deprovision(_percent)"),
        ("--allow-membership-removals", "membership removals", "max_membership_removals(_percent)"),
        ("--allow-teams-emptied", "teams left empty", "max_teams_emptied"),
    ):
        parser.add_argument(
            flag,
            type=whole,
            metavar="N",
            help=f"accept up to N {what} even above the policy's {limit}, the count the "
            "guard names (default: none; the policy's limits hold)",
        )


def run(options: Options, console: Console) -> int:
    """0 when done or nothing to do; 1 when not confirmed; errors carry 3, 4 and 5;
    130 on Ctrl-C (said apart when it came before any write)."""
    from reconciler.errors import UsageError

    if options.plan_file and options.revoke_only:
        raise UsageError(
            "--revoke-only plans from the manifest itself; drop PLAN_FILE "
            "(reconciler apply --revoke-only -m manifests)"
        )
    if options.journal:  # the default .reconciler/ is the tool's own, created as needed
        from pathlib import Path

        from reconciler.files import check_parent_folder

        fix = "pass --journal a file path in a writable folder"
        check_parent_folder(Path(options.journal), what="the journal", fix=fix)
    try:
        if options.plan_file:
            ready = _apply_saved(options, options.plan_file, console)
        else:
            ready = _apply_manifest(options, console)
    except KeyboardInterrupt:  # while reading, planning or asking: no write was sent
        from reconciler import ctrl_c

        console.err(
            ctrl_c.interrupted_line(
                f"before any change: apply wrote nothing to {PRODUCT}; run it again when ready"
            )
        )
        return EXIT_INTERRUPTED
    if isinstance(ready, int):
        return ready
    return _execute(options, *ready, console)


def _apply_saved(options: Options, plan_file: str, console: Console) -> _Ready:
    from reconciler.grammar import count
    from reconciler.render.escape import terminal
    from reconciler.settings import today
    from reconciler.staleness import already_applied
    from reconciler.workflow import check_saved_plan, read_plan_file

    plan = read_plan_file(plan_file)
    target = resolve(options.common, options.target, console)
    client = connect(options.common, target, console, concurrency=options.concurrency)
    live = check_saved_plan(
        plan,
        client,
        target,
        manifest_path=options.manifest,
        today=today(),
        read=read_options(options.target, console),
        plan_file=plan_file,
        org_name=options.common.org,
    )
    if already_applied(plan, live):
        held = len(plan.operations)
        what = "the one operation" if held == 1 else f"all {count(held, 'operation')}"
        console(
            f"this plan was already applied: {PRODUCT} already holds {what} of "
            f"{terminal(plan_file)}; nothing to do"
        )
        return EXIT_OK
    console.write(render_plan(plan, "text", (), console.stdout, detail=options.detail))
    if not plan.has_changes:
        return EXIT_OK
    return plan, live, client


def _apply_manifest(options: Options, console: Console) -> _Ready:
    from reconciler.guards import refuse_if_any
    from reconciler.settings import today
    from reconciler.workflow import load_and_read, plan_from_live

    manifest = manifest_path(options.common, options.manifest)
    target = resolve_after_manifest(options.common, options.target, console, manifest)
    client = connect(options.common, target, console, concurrency=options.concurrency)
    loaded, live = load_and_read(
        manifest, client, today=today(), read=read_options(options.target, console)
    )
    planned = plan_from_live(
        loaded,
        live,
        target,
        today=today(),
        overrides=_overrides(options),
        revoke_only=options.revoke_only,
    )
    plan = planned.plan
    console.write(
        render_plan(plan, "text", planned.warnings, console.stdout, detail=options.detail)
    )
    if not plan.has_changes:
        return EXIT_OK
    refuse_if_any(planned.findings)  # refuse before anyone types "yes"
    # Revoke-only needs no approval: the manifest is the reviewed default branch,
    # and removing access is the safe direction. Grants still wait for a review.
    if not options.revoke_only and not _confirmed(options, console):
        return EXIT_ERROR
    return plan, planned.live, client


def _overrides(options: Options) -> Overrides:
    from reconciler.guards import Overrides

    return Overrides(
        deprovision=options.allow_deprovision,
        membership_removals=options.allow_membership_removals,
        teams_emptied=options.allow_teams_emptied,
    )


def _journal(options: Options) -> Path:
    from pathlib import Path

    if options.journal:
        return Path(options.journal)
    org = selected_org(options.common)
    if org is None:
        return Path(DEFAULT_JOURNAL)
    return Path(".reconciler") / org.name / "journal.jsonl"


def _confirmed(options: Options, console: Console) -> bool:
    if options.auto_approve:
        return True
    if not console.interactive:
        console.err(
            "error: apply needs confirmation: re-run with --auto-approve in automation, "
            "or apply a reviewed plan file (reconciler plan --out plan.json; "
            "reconciler apply plan.json)"
        )
        return False
    console(f"\nDo you want to perform these actions in {PRODUCT}?")
    try:
        answer = console.ask("  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
    except EOFError:  # Ctrl-D, or the terminal went away: no answer is not a yes
        console.err("")
        answer = ""
    except KeyboardInterrupt:  # said by the caller, on a line of its own
        console.err("")
        raise
    if answer.strip() != "yes":
        console.err("Apply cancelled.")
        return False
    return True


def _stop_waiting(client: ScimClient) -> Callable[[], None] | None:
    """What ends the client's retry waits on Ctrl-C (its breaker's), if it has one."""
    breaker = getattr(client.transport, "breaker", None)
    return getattr(breaker, "stop_waiting", None)


def _execute(
    options: Options, plan: Plan, live: LiveState, client: ScimClient, console: Console
) -> int:
    from reconciler.errors import PartialApplyError
    from reconciler.executor import ApplyInterrupted, ApplyOptions
    from reconciler.grammar import count
    from reconciler.render.progress import ProgressReporter, render_apply_summary
    from reconciler.render.style import is_terminal
    from reconciler.workflow import execute

    reporter = ProgressReporter(
        console.stdout,
        len(plan.operations),
        tty=is_terminal(console.stdout),
        style=style(console.stdout),
    )
    journal = _journal(options)
    try:
        result = execute(
            plan,
            live,
            client,
            overrides=_overrides(options),
            journal_path=journal,
            run_id=options.common.run_id,
            options=ApplyOptions(
                chunk_size=options.chunk_size,
                concurrency=options.concurrency,
                fail_fast=options.fail_fast,
                verify=options.verify,
                verify_settle=options.verify_settle,
                on_interrupt=_stop_waiting(client),
            ),
            on_result=reporter,
        )
    except ApplyInterrupted as interrupted:
        # Operations in flight when Ctrl-C came finish while the run drains; the progress
        # lines showed a prefix of the plan, so the rest of what finished is shown too.
        for late in interrupted.result.results[reporter.done :]:
            reporter(late)
        reporter.finish()
        console.write(render_apply_summary(interrupted.result, interrupted_of=interrupted.total))
        left = interrupted.result.count_done < interrupted.total
        console.err(
            f"interrupted: {interrupted.result.count_done} of {interrupted.total} done; "
            f"{'re-run to finish' if left else 'nothing is left; run plan to confirm'} "
            f"(every finished operation is in {journal})"
        )
        return EXIT_INTERRUPTED
    reporter.finish()
    console.write(render_apply_summary(result))
    if not result.complete:
        if not result.unfinished:
            raise PartialApplyError(
                "every operation was carried out, but the listing was proven incomplete "
                "(see above); run `reconciler doctor`, then plan again"
            )
        raise PartialApplyError(
            f"{result.unfinished} of "
            f"{count(len(result.results), 'operation')} "
            "did not complete; see above. Re-run apply to do the rest."
        )
    return EXIT_OK
