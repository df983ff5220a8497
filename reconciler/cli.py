"""Command-line entry point: parse arguments, call one function, map errors to exit codes.

No logic of its own lives here; every command is a thin shell around a module.
Exit codes (a contract CI scripts rely on): 0 success or no changes, 1 error,
2 changes present (with --detailed-exitcode), 3 stale plan, 4 refused by a safety
guard, 5 partially applied, 64 usage error (EX_USAGE; never 2), 130 interrupted.
No traceback reaches the user: expected errors are one line naming the object and
the fix; anything else is reported as a bug (the traceback only with -vv).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from reconciler import __version__
from reconciler.errors import ConfigError, ManifestError, PartialApplyError, ReconcilerError
from reconciler.files import FileWriteError, exists, is_folder, write_file_set, write_output
from reconciler.grammar import count
from reconciler.profile import MIXPANEL
from reconciler.render.escape import terminal
from reconciler.settings import today

if TYPE_CHECKING:
    from typing import TextIO

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

    from reconciler.guards import Overrides
    from reconciler.livestate import LiveState
    from reconciler.orgs import Org
    from reconciler.plan import Plan
    from reconciler.render.style import Style
    from reconciler.scim.client import ScimClient
    from reconciler.scim.retry import RetryListener
    from reconciler.settings import Target
    from reconciler.workflow import Progress, ReadOptions

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64  # sysexits.h EX_USAGE; argparse's own 2 would read as "changes present"
EXIT_INTERRUPTED = 130
DEFAULT_JOURNAL = ".reconciler/journal.jsonl"
_PLAN_OUT_FIX = "pass --out a file path in a writable folder"


# -- parser -----------------------------------------------------------------
class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit 64 (EX_USAGE), never argparse's 2.

    Subcommand parsers inherit the class, so every level of the CLI behaves alike.
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = UsageParser(
        prog="reconciler",
        description="Keep Mixpanel organization access in git and reconcile it over SCIM 2.0.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log detail on stderr (-v info, -vv every HTTP request)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines on stderr as text or one JSON object each (default %(default)s)",
    )
    parser.add_argument("--org", metavar="NAME", help="which org of reconciler.yaml to work on")
    parser.add_argument("--config", metavar="FILE", help="orgs config (default: reconciler.yaml)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check the manifest; no network")
    _manifest_arg(validate)
    validate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people, json for scripts (default %(default)s)",
    )
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of a manifest file")
    schema.set_defaults(handler=_schema)

    plan = commands.add_parser("plan", help="show what apply would change")
    _manifest_arg(plan)
    _target_args(plan)
    plan.add_argument("--out", metavar="FILE", help="save the plan as JSON for `apply FILE`")
    plan.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text for a terminal or CI log, markdown for a PR comment, json (the plan "
        "file's format) for scripts (default %(default)s)",
    )
    _detail_arg(plan)
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes (0 when none), like terraform",
    )
    plan.set_defaults(handler=_plan)

    _add_apply(commands)
    _add_import(commands)

    from reconciler.sandbox.command import add_arguments as add_sandbox_arguments

    sandbox = commands.add_parser("sandbox", help="run a local Mixpanel-compatible SCIM server")
    add_sandbox_arguments(sandbox)
    sandbox.set_defaults(handler=_sandbox)

    doctor = commands.add_parser("doctor", help="check URL, TLS, token, features and domains")
    _manifest_arg(doctor)
    _target_args(doctor)
    doctor.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text checklist or json for scripts (default %(default)s)",
    )
    doctor.set_defaults(handler=_doctor)

    demo = commands.add_parser("demo", help="plan, apply and plan again on a local sandbox")
    demo.add_argument(
        "-m",
        "--manifest",
        default=None,
        metavar="PATH",
        help="manifest file or folder (default: the demo org shipped with reconciler)",
    )
    demo.set_defaults(handler=_demo)
    _add_report_and_github(commands)
    return parser


def _add_report_and_github(commands: Subparsers) -> None:
    """Commands whose argument wiring lives in reconciler/commands/ (lightweight imports)."""
    from reconciler.commands import github_cmd, orgs_cmd, report_cmd

    report = commands.add_parser("report", help="audit who has access to what; read-only")
    _manifest_arg(report)
    _target_args(report)
    report_cmd.add_arguments(report)
    report.set_defaults(handler=_report)

    github = commands.add_parser("github", help="GitHub Actions steps: plan comment, drift issue")
    github_cmd.add_arguments(github)
    github.set_defaults(handler=_github)

    orgs = commands.add_parser("orgs", help="list the orgs of reconciler.yaml (a CI matrix)")
    orgs_cmd.add_arguments(orgs)
    orgs.set_defaults(handler=_orgs)


def _add_apply(commands: Subparsers) -> None:
    apply = commands.add_parser("apply", help="make Mixpanel match the manifest")
    apply.add_argument("plan_file", nargs="?", metavar="PLAN_FILE", help="a saved plan")
    apply.add_argument(
        "-m",
        "--manifest",
        default=None,
        metavar="PATH",
        help="manifest file or folder (default: manifests; with PLAN_FILE: only if given, "
        "to check the plan was made from it)",
    )
    _target_args(apply)
    apply.add_argument("--auto-approve", action="store_true", help="do not ask for `yes`")
    apply.add_argument(
        "--concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="operations of one phase sent in parallel, in requests at a time "
        "(default %(default)s)",
    )
    apply.add_argument(
        "--chunk-size",
        type=_positive,
        default=100,
        metavar="N",
        help="members per membership PATCH request (default %(default)s; a 413 halves it)",
    )
    apply.add_argument("--fail-fast", action="store_true", help="stop at the first failure")
    _detail_arg(apply)
    apply.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="do not read back the touched users and teams after apply (default: read each "
        "once and fail any operation whose change is not there)",
    )
    apply.add_argument(
        "--revoke-only",
        action="store_true",
        help="run only the operations that remove access (membership removals, deactivations, "
        "deletes where the policy says delete); hold every grant back for a reviewed merge. "
        "Needs no approval; guards and protected accounts apply as usual",
    )
    apply.add_argument(
        "--journal",
        default=None,
        metavar="FILE",
        help=f"append every outcome here as JSON lines (default {DEFAULT_JOURNAL})",
    )
    for flag, what in (
        ("--allow-deprovision", "deprovisions"),
        ("--allow-membership-removals", "membership removals"),
        ("--allow-teams-emptied", "teams left empty"),
    ):
        apply.add_argument(flag, type=_count, metavar="N", help=f"accept up to N {what}")
    apply.set_defaults(handler=_apply)


def _add_import(commands: Subparsers) -> None:
    imp = commands.add_parser("import", help="write the live org as manifest files")
    _target_args(imp)
    imp.add_argument(
        "--out",
        default="manifests",
        metavar="DIR",
        help="folder to write the manifest files into (default %(default)s)",
    )
    imp.add_argument(
        "--claimed-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="claimed domain (repeatable; default: every domain seen live)",
    )
    imp.add_argument("--split-teams", action="store_true", help="one file per team")
    imp.add_argument("--force", action="store_true", help="overwrite existing files")
    imp.set_defaults(handler=_import)


def _detail_arg(parser: argparse.ArgumentParser) -> None:
    from reconciler.render import SUMMARY_SHOWN

    parser.add_argument(
        "--detail",
        choices=("summary", "full"),
        default="summary",
        help=f"summary: counts per operation kind and at most {SUMMARY_SHOWN} operations of "
        "each kind (and members of each operation); full: every one. The JSON plan "
        "(plan --out, --format json) always holds every operation (default %(default)s)",
    )


def _manifest_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m",
        "--manifest",
        default=None,
        metavar="PATH",
        help="manifest file or folder of *.yaml files (default: manifests, or the org's)",
    )


def _target_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        metavar="URL",
        help=f"SCIM base URL (default ${MIXPANEL.url_env} or {MIXPANEL.default_url})",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"file holding the SCIM token (default: ${MIXPANEL.token_env})",
    )
    parser.add_argument(
        "--page-size",
        type=_positive,
        default=1000,
        metavar="N",
        help="users or teams asked for per list request (default %(default)s; the reader "
        "follows a smaller page size the server returns)",
    )
    parser.add_argument(
        "--max-attempts",
        type=_positive,
        default=6,
        metavar="N",
        help="attempts per request on 429/5xx/connection errors before giving up, "
        "the first included (default %(default)s)",
    )
    parser.add_argument(
        "--request-deadline",
        type=_seconds,
        default=60.0,
        metavar="S",
        help="wall-clock seconds one HTTP request may take, body included (default 60)",
    )
    parser.add_argument(
        "--retry-budget",
        type=_seconds,
        default=120.0,
        metavar="S",
        help="seconds the whole run may spend waiting to retry before it stops (default 120)",
    )
    parser.add_argument(
        "--max-connection-failures",
        type=_positive,
        default=5,
        metavar="N",
        help="connection failures in a row that stop the run (default 5)",
    )
    parser.add_argument(
        "--max-read-mib",
        type=_positive,
        default=256,
        metavar="N",
        help="MiB one read of the live org may receive in all (default 256)",
    )


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


# -- shared steps -----------------------------------------------------------
def _org(args: argparse.Namespace) -> Org | None:
    from reconciler.orgs import select_org

    if not hasattr(args, "selected_org"):
        args.selected_org = select_org(args.config, args.org)
    org: Org | None = args.selected_org
    return org


def _manifest(args: argparse.Namespace) -> str:
    """-m, else the org's manifest folder, else ./manifests."""
    if args.manifest:
        return str(args.manifest)
    org = _org(args)
    return org.manifest if org is not None else "manifests"


def _journal(args: argparse.Namespace) -> Path:
    if args.journal:
        return Path(args.journal)
    org = _org(args)
    if org is None:
        return Path(DEFAULT_JOURNAL)
    return Path(".reconciler") / org.name / "journal.jsonl"


def _target(args: argparse.Namespace) -> Target:
    from reconciler.settings import TOKEN_ENV, Limits, environ, resolve_target

    org = _org(args)
    target = resolve_target(
        args.url or (org.url if org else None),
        args.token_file,
        environ(),
        token_env=org.token_env if org else TOKEN_ENV,
        max_attempts=args.max_attempts,
        limits=Limits(
            request_deadline=args.request_deadline,
            max_read_bytes=args.max_read_mib * 2**20,
            retry_budget=args.retry_budget,
            max_connection_failures=args.max_connection_failures,
        ),
    )
    for warning in target.warnings:
        print(f"warning: {terminal(warning)}", file=sys.stderr)
    return target


def _connect(
    args: argparse.Namespace, target: Target, *, concurrency: int | None = None
) -> ScimClient:
    from reconciler.workflow import connect

    return connect(target, concurrency=concurrency, on_retry=_waiting_line(args))


def _waiting_line(args: argparse.Namespace) -> RetryListener | None:
    """Retry waits on stderr (none with -q): one updating line on a terminal, unless -v
    logs interleave with it; a plain line per wait otherwise."""
    if args.quiet:
        return None
    from reconciler.render.waiting import WaitingLine

    return WaitingLine(sys.stderr, tty=sys.stderr.isatty() and not args.verbose)


def _read_options(args: argparse.Namespace) -> ReadOptions:
    from reconciler.workflow import ReadOptions

    return ReadOptions(page_size=args.page_size, on_progress=_read_progress())


def _read_progress() -> Progress | None:
    if not sys.stderr.isatty():
        return None

    def show(what: str, done: int, total: int) -> None:
        sys.stderr.write(f"\rreading {what}: {done}/{total}\x1b[K")
        if done >= total:
            sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()

    return show


def _style(stream: TextIO) -> Style:
    from reconciler.render.style import Style, use_colour

    return Style(use_colour(stream))


def _render_plan(
    plan: Plan,
    fmt: str,
    warnings: Sequence[str],
    org: str | None = None,
    detail: str = "summary",
) -> str:
    if fmt == "json":
        from reconciler.render.json import render_json

        return render_json(plan)
    from reconciler.render import SUMMARY_SHOWN

    shown = None if detail == "full" else SUMMARY_SHOWN
    if fmt == "markdown":
        from reconciler.render.markdown import render_markdown

        return render_markdown(plan, warnings=warnings, marker_key=org, shown=shown)
    from reconciler.render.text import render_text

    return render_text(plan, _style(sys.stdout), warnings=warnings, shown=shown)


# -- commands ---------------------------------------------------------------
def _validate(args: argparse.Namespace) -> int:
    from reconciler.gcpolicy import bulk_phase
    from reconciler.manifest.loader import load_manifest

    try:
        with bulk_phase():
            loaded = load_manifest(_manifest(args), today=today())
    except ManifestError as error:
        if args.format == "json":
            problems = [_problem_json(p) for p in error.problems]
            print(json.dumps({"valid": False, "problems": problems}, indent=2))
            return EXIT_ERROR
        raise
    if args.format == "json":
        body = {
            "valid": True,
            "digest": loaded.digest,
            "users": len(loaded.manifest.users),
            "teams": len(loaded.manifest.teams),
            "notices": [_problem_json(n) for n in loaded.notices],
        }
        print(json.dumps(body, indent=2))
        return EXIT_OK
    for notice in loaded.notices:
        print(f"notice: {terminal(str(notice))}", file=sys.stderr)
    files = len(loaded.sources)
    print(
        f"{_manifest(args)}: valid ({count(len(loaded.manifest.users), 'user')}, "
        f"{count(len(loaded.manifest.teams), 'team')}, {count(files, 'file')})"
    )
    return EXIT_OK


def _problem_json(problem: object) -> dict[str, object]:
    return {k: getattr(problem, k) for k in ("path", "line", "col", "message")}


def _schema(args: argparse.Namespace) -> int:
    from reconciler.manifest.schema import schema_json

    sys.stdout.write(schema_json())
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from reconciler.planfile import dumps
    from reconciler.workflow import load_and_read, plan_from_live

    manifest = _manifest(args)
    if args.out and is_folder(Path(args.out)):  # said before the org is read, not after
        raise FileWriteError(
            f"cannot write the plan file {args.out}: it is a folder; {_PLAN_OUT_FIX}"
        )
    target = _target_after_manifest(args, manifest)
    client = _connect(args, target)
    loaded, live = load_and_read(manifest, client, today=today(), read=_read_options(args))
    planned = plan_from_live(loaded, live, target, today=today())
    if args.out:
        # Recorded so a stale plan's advice can name the same -m (not in the digest).
        saved = planned.plan.model_copy(update={"manifest_path": manifest})
        write_output(Path(args.out), dumps(saved), what="the plan file", fix=_PLAN_OUT_FIX)
    sys.stdout.write(
        _render_plan(planned.plan, args.format, planned.warnings, args.org, args.detail)
    )
    if args.out:
        print(
            f"Saved the plan to {args.out}; apply exactly it with: reconciler apply {args.out}",
            file=sys.stderr,
        )
    if args.detailed_exitcode and planned.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _target_after_manifest(args: argparse.Namespace, manifest: str) -> Target:
    """The target, but a bad manifest is reported before a missing or bad setting.

    The manifest now loads while the live read runs, so the target is needed first;
    when it is unusable, the manifest is loaded anyway to keep that order of errors.
    """
    try:
        return _target(args)
    except ReconcilerError:
        from reconciler.manifest.loader import load_manifest

        load_manifest(manifest, today=today())
        raise


def _overrides(args: argparse.Namespace) -> Overrides:
    from reconciler.guards import Overrides

    return Overrides(
        deprovision=args.allow_deprovision,
        membership_removals=args.allow_membership_removals,
        teams_emptied=args.allow_teams_emptied,
    )


def _apply(args: argparse.Namespace) -> int:
    from reconciler.workflow import (
        check_saved_plan,
        load_and_read,
        plan_from_live,
        read_plan_file,
    )

    if args.plan_file and args.revoke_only:
        raise ConfigError(
            "--revoke-only plans from the manifest itself; drop PLAN_FILE "
            "(reconciler apply --revoke-only -m manifests)"
        )
    if args.plan_file:
        plan = read_plan_file(args.plan_file)
        target = _target(args)
        client = _connect(args, target, concurrency=args.concurrency)
        live = check_saved_plan(
            plan,
            client,
            target,
            manifest_path=args.manifest,
            today=today(),
            read=_read_options(args),
            plan_file=args.plan_file,
        )
        from reconciler.staleness import already_applied

        if already_applied(plan, live):
            print(
                f"this plan was already applied: Mixpanel already holds all "
                f"{count(len(plan.operations), 'operation')} of {args.plan_file}; nothing to do"
            )
            return EXIT_OK
        sys.stdout.write(_render_plan(plan, "text", (), detail=args.detail))
    else:
        manifest = _manifest(args)
        target = _target_after_manifest(args, manifest)
        client = _connect(args, target, concurrency=args.concurrency)
        loaded, live = load_and_read(manifest, client, today=today(), read=_read_options(args))
        planned = plan_from_live(
            loaded,
            live,
            target,
            today=today(),
            overrides=_overrides(args),
            revoke_only=args.revoke_only,
        )
        plan, live = planned.plan, planned.live
        sys.stdout.write(_render_plan(plan, "text", planned.warnings, detail=args.detail))
        if not plan.has_changes:
            return EXIT_OK
        from reconciler.guards import check_guards

        check_guards(plan, live, _overrides(args))  # refuse before anyone types "yes"
        # Revoke-only needs no approval: the manifest is the reviewed default branch,
        # and removing access is the safe direction. Grants still wait for a review.
        if not args.revoke_only and not _confirmed(args):
            return EXIT_ERROR
    if not plan.has_changes:
        return EXIT_OK
    return _execute(args, plan, live, client)


def _confirmed(args: argparse.Namespace) -> bool:
    if args.auto_approve:
        return True
    if not sys.stdin.isatty():
        print(
            "error: apply needs confirmation: re-run with --auto-approve in automation, "
            "or apply a reviewed plan file (reconciler plan --out plan.json; "
            "reconciler apply plan.json)",
            file=sys.stderr,
        )
        return False
    print("\nDo you want to perform these actions in Mixpanel?")
    answer = input("  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
    if answer.strip() != "yes":
        print("Apply cancelled.", file=sys.stderr)
        return False
    return True


def _execute(args: argparse.Namespace, plan: Plan, live: LiveState, client: ScimClient) -> int:
    from reconciler.executor import ApplyInterrupted, ApplyOptions
    from reconciler.render.progress import ProgressReporter, render_apply_summary
    from reconciler.workflow import execute

    tty = sys.stdout.isatty()
    reporter = ProgressReporter(
        sys.stdout,
        len(plan.operations),
        tty=tty,
        style=_style(sys.stdout),
    )
    journal = _journal(args)
    try:
        result = execute(
            plan,
            live,
            client,
            overrides=_overrides(args),
            journal_path=journal,
            run_id=args.run_id,
            options=ApplyOptions(
                chunk_size=args.chunk_size,
                concurrency=args.concurrency,
                fail_fast=args.fail_fast,
                verify=args.verify,
            ),
            on_result=reporter,
        )
    except ApplyInterrupted as interrupted:
        reporter.finish()
        sys.stdout.write(render_apply_summary(interrupted.result, interrupted_of=interrupted.total))
        print(
            f"interrupted: {interrupted.result.count_done} of {interrupted.total} done; "
            f"re-run to finish (every finished operation is in {journal})",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    reporter.finish()
    sys.stdout.write(render_apply_summary(result))
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


def _import(args: argparse.Namespace) -> int:
    from reconciler.importer import import_manifest, infer_claimed_domains
    from reconciler.reader import read_live_state

    out = Path(args.out)
    if _exists(args.out) and not is_folder(out):  # found before the org is read, not after
        raise ReconcilerError(f"--out {out} is a file; pass a folder (new or empty) for --out")
    target = _target(args)
    live = read_live_state(_connect(args, target), page_size=args.page_size)
    domains = args.claimed_domain or infer_claimed_domains(live)
    imported = import_manifest(live, domains, split_teams=args.split_teams)
    existing = [name for name in imported.files if _exists(str(out / name))]
    if existing and not args.force:
        raise ReconcilerError(
            f"{out / existing[0]} already exists; choose an empty --out folder or pass --force"
        )
    files = {**imported.files, "schema.json": _schema_text()}
    fix = "pass --out a folder you can write to"
    write_file_set(out, files, what="the imported manifest", fix=fix)  # secrets refused first
    for note in imported.notes:
        print(f"note: {terminal(note)}", file=sys.stderr)
    _check_imported(out)
    print(
        f"Imported {count(imported.users, 'user')} and {count(imported.teams, 'team')} "
        f"into {out}/ ({count(len(imported.files), 'file')}); "
        f"claimed domains: {', '.join(domains)}"
    )
    if imported.exact:
        print("Next: review, commit, open a pull request; its plan should show no changes.")
    else:
        print(
            "Next: review the notes above, commit, open a pull request; its plan shows the "
            "changes the notes name (placeholders, corrected userNames) and nothing else."
        )
    return EXIT_OK


def _check_imported(out: Path) -> None:
    """The files just written must validate; never end an import on a promise they break."""
    from reconciler.manifest.loader import load_manifest

    try:
        load_manifest(out, today=today())
    except ManifestError as error:
        raise ReconcilerError(
            f"the manifest written to {out}/ does not validate, so it cannot be used as it "
            f"is: {error}. Fix the files named above by hand (they are kept for review), "
            "and please report this as a bug of `reconciler import`"
        ) from error


def _schema_text() -> str:
    from reconciler.manifest.schema import schema_json

    return schema_json()


def _report(args: argparse.Namespace) -> int:
    from reconciler.commands.report_cmd import run

    manifest = _manifest(args)
    explicit = args.manifest is not None or args.org is not None or _exists(manifest)
    target = _target(args)
    args.on_retry = _waiting_line(args)
    code: int = run(
        args,
        lambda line: print(line, flush=True),
        target=target,
        manifest_path=manifest if explicit else None,
    )
    return code


def _github(args: argparse.Namespace) -> int:
    from reconciler.commands.github_cmd import run

    code: int = run(args, lambda line: print(line, flush=True))
    return code


def _orgs(args: argparse.Namespace) -> int:
    from reconciler.commands.orgs_cmd import run

    code: int = run(args, lambda line: print(line, flush=True))
    return code


def _doctor(args: argparse.Namespace) -> int:
    from reconciler.doctor import diagnose
    from reconciler.manifest.loader import load_manifest
    from reconciler.render.doctor import diagnosis_json, render_diagnosis

    target = _target(args)
    domains = None
    manifest = _manifest(args)
    if args.manifest or _exists(manifest):
        domains = load_manifest(manifest, today=today()).manifest.organization.claimed_domains
    diagnosis = diagnose(_connect(args, target), target.base_url, domains)
    if args.format == "json":
        sys.stdout.write(diagnosis_json(diagnosis))
    else:
        sys.stdout.write(render_diagnosis(diagnosis, _style(sys.stdout)))
    return EXIT_OK if diagnosis.healthy else EXIT_ERROR


def _sandbox(args: argparse.Namespace) -> int:
    from reconciler.sandbox.command import run

    code: int = run(args, lambda line: print(line, flush=True))
    return code


def _demo(args: argparse.Namespace) -> int:
    from reconciler.demo import run_demo

    # Without -m (or an org's folder) the demo runs on the demo org shipped in the package.
    org = _org(args)
    manifest = args.manifest or (org.manifest if org is not None else None)
    return run_demo(manifest, main, lambda line: print(line, flush=True))


def _exists(path: str) -> bool:
    return exists(Path(path))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code.

    ``--help`` and ``--version`` raise SystemExit(0) and a usage error SystemExit(64),
    as argparse does; Ctrl-C at any moment returns 130.
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while parsing or importing, before the command ran
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    from reconciler.logs import level_for, logging_configured

    parser = build_parser()
    args = parser.parse_args(argv)  # SystemExit: 0 for --help, 64 for a usage error
    args.run_id = uuid.uuid4().hex[:12]
    level = level_for(args.verbose, args.quiet)
    if sys.stdout is None:  # run with >&-: the command's output would be lost
        if sys.stderr is not None:
            sys.stderr.write(
                f"error: reconciler {args.command}: standard output is closed, so its output "
                "would be lost; send it to a file, a pipe or /dev/null instead of closing it\n"
            )
        return EXIT_ERROR
    with _redacted_output(), logging_configured(level, args.log_format, args.run_id, sys.stderr):
        return _dispatch(args)


def _flush_quietly() -> None:
    """Flush before the streams are unwrapped; what cannot be written then is dropped.

    Output that failed (``> /dev/full``) was already reported; pointing the
    descriptor at /dev/null stops the interpreter's own flush at exit from printing
    an ignored-exception traceback.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ReconcilerError):
            _to_devnull(stream)


def _to_devnull(stream: object) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
        os.close(devnull)


@contextmanager
def _redacted_output() -> Iterator[None]:
    """stdout and stderr pass through the one redactor for the whole command.

    The default token variable is registered up front so that commands that never
    load the SCIM token (``github``, ``validate``) still cannot print it.
    """
    from reconciler.redact import RedactingStream, register_secret, secrets_scope
    from reconciler.settings import TOKEN_ENV, environ

    saved = sys.stdout, sys.stderr
    with secrets_scope():
        register_secret(environ().get(TOKEN_ENV, "").strip())
        sys.stdout = RedactingStream(saved[0])
        sys.stderr = RedactingStream(saved[1], "standard error")
        try:
            yield
        finally:
            _flush_quietly()
            sys.stdout, sys.stderr = saved


def _dispatch(args: argparse.Namespace) -> int:
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # a full disk or a closed pipe is reported here, not at exit
    except ManifestError as error:
        # One bare `path:line:col: message` per line, so editors and CI problem
        # matchers can read every problem; the count comes last.
        for problem in error.problems:
            print(terminal(str(problem)), file=sys.stderr)
        print(f"error: {count(len(error.problems), 'problem')} in the manifest", file=sys.stderr)
        return error.exit_code
    except ReconcilerError as error:
        # Errors may quote server data (a detail, a userName): shown escaped. Only an
        # error composed of our own lines keeps its line breaks (each line escaped).
        lines = str(error).split("\n") if error.multiline else [str(error)]
        print(f"error: {terminal(lines[0])}", file=sys.stderr)
        for line in lines[1:]:
            print(terminal(line), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _to_devnull(sys.stdout)
        return EXIT_ERROR
    except OSError as error:  # a path no precise check foresaw: still one line, with the path
        print(f"error: {_os_error(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # the last resort: a bug, said as one line
        _report_bug(args, error)
        return EXIT_ERROR
    return code


def _os_error(error: OSError) -> str:
    where = error.filename if error.filename is not None else "a local file"
    reason = error.strerror or type(error).__name__
    return f"{terminal(str(where))}: {reason}; check the path and its permissions, and re-run"


def _report_bug(args: argparse.Namespace, error: Exception) -> None:
    """One line for an error nobody foresaw; the traceback only at -vv (debug)."""
    if args.verbose >= 2:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    print(
        f"error: reconciler {args.command} failed unexpectedly ({type(error).__name__}); "
        "this is a bug, please report it with the command you ran "
        "(re-run with -vv to include the traceback)",
        file=sys.stderr,
    )
