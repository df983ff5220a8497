"""What every command shares: the console, the options built at the CLI edge, shared flags.

The CLI parses ``argv`` with argparse, then builds each command's frozen options
dataclass with ``options_from``; no ``argparse.Namespace`` goes further down. A
command's ``run(options, console)`` writes only through the ``Console`` it is given
(stdout lines by calling it, stderr lines with ``console.err``), so commands never
print by themselves and tests can capture what they say.

Must not: import anything heavy at module level (``--help`` and the parser stay fast,
and a Ctrl-C during start-up stays clean), talk HTTP, or decide exit codes for
errors (the CLI maps errors to codes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, NoReturn, TextIO, TypeVar

from reconciler.render.console import Console as Console  # noqa: PLC0414 - re-exported
from reconciler.render.escape import bytes_shown, quoted

if TYPE_CHECKING:
    from pathlib import Path

    from _typeshed import SupportsWrite

    from reconciler.errors import ConfigFileError, ManifestError, Problem
    from reconciler.orgs import Org
    from reconciler.plan import Plan
    from reconciler.render.style import Style
    from reconciler.scim.client import ScimClient
    from reconciler.scim.retry import RetryListener
    from reconciler.settings import Target
    from reconciler.workflow import ReadOptions

# Exit codes (a contract CI scripts rely on); errors carry their own (errors.py).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64  # sysexits.h EX_USAGE; argparse's own 2 would read as "changes present"
EXIT_INTERRUPTED = 130

Out = Callable[[str], None]
"""A line printer: what a command says on stdout, one line per call."""


@dataclass(frozen=True)
class GlobalOptions:
    """The flags before the command name, the same for every command."""

    command: str = ""
    verbose: int = 0
    quiet: bool = False
    log_format: str = "text"
    org: str | None = None
    config: str | None = None
    run_id: str = ""


@dataclass(frozen=True)
class TargetOptions:
    """Where the SCIM server is, how to authenticate, and the bounds of every request."""

    url: str | None = None
    token_file: str | None = None
    page_size: int = 1000
    max_attempts: int = 6
    request_deadline: float = 60.0  # seconds per HTTP request, body included
    retry_budget: float = 120.0  # seconds the run may spend waiting to retry
    max_connection_failures: int = 5
    max_read_mib: int = 256  # MiB one read of the live org may receive


Options = TypeVar("Options")


def options_from(cls: type[Options], args: argparse.Namespace) -> Options:
    """Build a command's frozen options dataclass from parsed arguments (the CLI edge).

    A field typed GlobalOptions or TargetOptions (named ``common``/``target``) is built
    from the same namespace; every other field takes the attribute of its name (a
    list becomes a tuple), or its default when the attribute is None or missing (an
    option not given, or one of a subcommand's other steps).
    """
    values: dict[str, object] = {}
    for field in fields(cls):  # type: ignore[arg-type]
        if field.name == "common":
            values["common"] = options_from(GlobalOptions, args)
        elif field.name == "target":
            values["target"] = options_from(TargetOptions, args)
        elif getattr(args, field.name, None) is not None:
            value = getattr(args, field.name)
            values[field.name] = tuple(value) if isinstance(value, list) else value
        elif hasattr(args, field.name) and field.default is MISSING:
            values[field.name] = None
        elif field.default is MISSING and field.default_factory is MISSING:
            raise TypeError(f"{cls.__name__}.{field.name} is not an argument of the parser")
    return cls(**values)


# -- flags shared by several commands -----------------------------------------
def manifest_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m",
        "--manifest",
        type=given,
        default=None,
        metavar="PATH",
        help="manifest file or folder of *.yaml files (default: manifests, or the org's)",
    )


def detail_arg(parser: argparse.ArgumentParser) -> None:
    from reconciler.render import SUMMARY_SHOWN

    parser.add_argument(
        "--detail",
        choices=("summary", "full"),
        default="summary",
        help=f"summary: counts per operation kind and at most {SUMMARY_SHOWN} operations of "
        "each kind (and members of each operation); full: every one. The JSON plan "
        "(plan --out, --format json) always holds every operation (default %(default)s)",
    )


def target_args(parser: argparse.ArgumentParser) -> None:
    from reconciler.profile import MIXPANEL

    parser.add_argument(
        "--url",
        type=given,
        metavar="URL",
        help=f"SCIM base URL (default ${MIXPANEL.url_env} or {MIXPANEL.default_url})",
    )
    parser.add_argument(
        "--token-file",
        type=given,
        metavar="FILE",
        help=f"file holding the SCIM token (default: ${MIXPANEL.token_env})",
    )
    parser.add_argument(
        "--page-size",
        type=positive,
        default=1000,
        metavar="N",
        help="users or teams asked for per list request (default %(default)s; the reader "
        "follows a smaller page size the server returns)",
    )
    parser.add_argument(
        "--max-attempts",
        type=positive,
        default=6,
        metavar="N",
        help="attempts per request on 429/5xx/connection errors before giving up, "
        "the first included (default %(default)s)",
    )
    parser.add_argument(
        "--request-deadline",
        type=seconds,
        default=60.0,
        metavar="S",
        help="wall-clock seconds one HTTP request may take, body included (default 60)",
    )
    parser.add_argument(
        "--retry-budget",
        type=seconds,
        default=120.0,
        metavar="S",
        help="seconds the whole run may spend waiting to retry before it stops (default 120)",
    )
    parser.add_argument(
        "--max-connection-failures",
        type=positive,
        default=5,
        metavar="N",
        help="connection failures in a row that stop the run (default 5)",
    )
    parser.add_argument(
        "--max-read-mib",
        type=positive,
        default=256,
        metavar="N",
        help="MiB one read of the live org may receive in all (default 256)",
    )


def positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {quoted(text)}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def seconds(text: str) -> float:
    """argparse type: seconds, more than 0 and less than a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {quoted(text)}") from None
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, got {text}")
    return value


def given(text: str) -> str:
    """argparse type for a path or URL option: not empty.

    An empty value is nearly always an unset variable in a script (``-m "$DIR"``);
    quietly falling back to the default would act on something nobody named.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty (an unset variable in the calling script?); pass a value, or leave "
            "the option out for its default"
        )
    return text


def output_file(text: str) -> str:
    """argparse type for an option naming a file or folder to write: not empty, not ``-``."""
    if text.strip() == "-":
        raise argparse.ArgumentTypeError(
            "'-' is not a path here: this option writes a file of that name, not to stdout; "
            "pass a file path (`plan --format json` prints the plan on stdout)"
        )
    return given(text)


def org_name(text: str) -> str:
    """argparse type for ``--org``: a name as reconciler.yaml allows it (orgs.py's rule)."""
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", text):
        raise argparse.ArgumentTypeError(
            f"{quoted(text)} is not an org name; use the name of an org in reconciler.yaml "
            "(lowercase letters, digits, - and _; `reconciler orgs` lists them)"
        )
    return text


def exit_code(text: str) -> int:
    """argparse type: a process exit code, 0 to 255."""
    value = whole(text)
    if value > 255:
        raise argparse.ArgumentTypeError(f"an exit code is 0 to 255, got {text}")
    return value


def pr_number(text: str) -> int:
    """argparse type: a pull request's number (1 or more)."""
    try:
        return positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"not a pull request number: {quoted(text)}") from None


def whole(text: str) -> int:
    """argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {quoted(text)}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


# -- steps shared by several commands -----------------------------------------
def selected_org(common: GlobalOptions) -> Org | None:
    """The org of reconciler.yaml this run works on (None without a config file)."""
    from reconciler.orgs import select_org

    return select_org(common.config, common.org)


def manifest_path(common: GlobalOptions, manifest: str | None) -> str:
    """-m, else the org's manifest folder, else ./manifests.

    An org's manifest that does not exist is a ConfigError naming reconciler.yaml, whose
    ``manifest:`` is what to fix (the manifest loader would say "pass -m").
    """
    if manifest:
        if common.org is not None:
            _refuse_another_orgs_manifest(common, manifest)
        return manifest
    org = selected_org(common)
    if org is None:
        return "manifests"
    if not exists(org.manifest):
        from reconciler.errors import ConfigError
        from reconciler.orgs import CONFIG_FILE

        config = common.config or CONFIG_FILE
        raise ConfigError(
            f"{config}: org {org.name}: its manifest {org.manifest} does not exist; fix its "
            "manifest: (a file or folder, relative to where reconciler runs) or pass -m"
        )
    return org.manifest


def _refuse_another_orgs_manifest(common: GlobalOptions, manifest: str) -> None:
    """``--org eu -m orgs/us``: refuse one org's manifest for another org's Mixpanel.

    Planned against eu, us's manifest would create us's people in eu (and, under
    ``unmanaged_users: deactivate``, deprovision eu's). Any other ``-m`` (a draft
    outside every org's folder) is allowed. Raises ConfigError naming both orgs.
    """
    from pathlib import Path

    from reconciler.errors import ConfigError
    from reconciler.orgs import CONFIG_FILE, load_orgs
    from reconciler.profile import PRODUCT

    org = selected_org(common)
    if org is None:
        return
    config = common.config or CONFIG_FILE
    try:
        given = Path(manifest).resolve()

        def within(folder: str) -> bool:
            root = Path(folder).resolve()
            return given == root or root in given.parents

        if within(org.manifest):
            return
        other = next((o for o in load_orgs(Path(config)).orgs if within(o.manifest)), None)
    except (OSError, RuntimeError):  # a path that cannot be resolved: the loader names it
        return
    if other is not None:
        raise ConfigError(
            f"-m {manifest} is the manifest of org {other.name} in {config}, not of --org "
            f"{org.name}: planned against {org.name}'s {PRODUCT}, it would give "
            f"{other.name}'s people access there; drop -m ({org.name}'s manifest is "
            f"{org.manifest}) or pass --org {other.name}"
        )


def exists(path: str) -> bool:
    from pathlib import Path

    from reconciler.files import exists as file_exists

    return file_exists(Path(path))


def resolve(common: GlobalOptions, options: TargetOptions, console: Console) -> Target:
    """The SCIM target from the flags, the org's settings and the environment."""
    from reconciler.render.escape import terminal
    from reconciler.settings import TOKEN_ENV, Limits, environ, resolve_target

    org = selected_org(common)
    from_org = f"url of org {org.name} in reconciler.yaml" if org is not None else "--url"
    target = resolve_target(
        options.url or (org.url if org else None),
        options.token_file,
        environ(),
        token_env=org.token_env if org else TOKEN_ENV,
        max_attempts=options.max_attempts,
        limits=Limits(
            request_deadline=options.request_deadline,
            max_read_bytes=options.max_read_mib * 2**20,
            retry_budget=options.retry_budget,
            max_connection_failures=options.max_connection_failures,
        ),
        url_source="--url" if options.url else from_org,
    )
    for warning in target.warnings:
        console.err(f"warning: {terminal(warning)}")
    return target


def resolve_after_manifest(
    common: GlobalOptions, options: TargetOptions, console: Console, manifest: str
) -> Target:
    """The target, but a bad manifest is reported before a missing or bad setting.

    The manifest loads while the live read runs, so the target is needed first;
    when it is unusable, the manifest is loaded anyway to keep that order of errors.
    """
    from reconciler.errors import ReconcilerError

    try:
        return resolve(common, options, console)
    except ReconcilerError:
        from reconciler.manifest.loader import load_manifest
        from reconciler.settings import today

        load_manifest(manifest, today=today())
        raise


def connect(
    common: GlobalOptions, target: Target, console: Console, *, concurrency: int | None = None
) -> ScimClient:
    """A SCIM client whose retry waits show on the console's stderr (unless -q)."""
    from reconciler.workflow import connect as connect_client

    return connect_client(target, concurrency=concurrency, on_retry=waiting_line(common, console))


def waiting_line(common: GlobalOptions, console: Console) -> RetryListener | None:
    """Retry waits on stderr (none with -q): one updating line on a terminal, unless -v
    logs interleave with it; a plain line per wait otherwise."""
    if common.quiet:
        return None
    from reconciler.render.style import is_terminal
    from reconciler.render.waiting import WaitingLine

    return WaitingLine(console.stderr, tty=is_terminal(console.stderr) and not common.verbose)


def read_options(options: TargetOptions, console: Console) -> ReadOptions:
    """Page size, and a progress line on stderr when it is a terminal."""
    from reconciler.render.reading import read_progress
    from reconciler.workflow import ReadOptions

    return ReadOptions(page_size=options.page_size, on_progress=read_progress(console.stderr))


def style(stream: TextIO) -> Style:
    from reconciler.render.style import Style, use_colour

    return Style(use_colour(stream))


def render_plan(
    plan: Plan,
    fmt: str,
    warnings: Sequence[str],
    stream: TextIO,
    *,
    org: str | None = None,
    detail: str = "summary",
) -> str:
    """The plan in one of the views: text, markdown or json (the plan file itself)."""
    if fmt == "json":
        from reconciler.render.json import render_json

        return render_json(plan)
    from reconciler.render import SUMMARY_SHOWN

    shown = None if detail == "full" else SUMMARY_SHOWN
    if fmt == "markdown":
        from reconciler.render.markdown import render_markdown

        return render_markdown(plan, warnings=warnings, marker_key=org, shown=shown)
    from reconciler.render.text import render_text

    return render_text(plan, style(stream), warnings=warnings, shown=shown)


# -- the command line ----------------------------------------------------------
_GLOBAL_FLAGS = ("-v", "--verbose", "-q", "--quiet", "--log-format", "--org", "--config")


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit 64 (EX_USAGE), never argparse's 2.

    Subcommand parsers inherit the class, so every level of the CLI behaves alike.
    ``--help`` or ``--version`` output that cannot be written (``> /dev/full``)
    raises OSError (``parse_command_line`` makes it one line and exit 1), not a
    silent exit 0.
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        # argparse quotes arguments with repr: a byte that is not UTF-8 shown as \xff.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {bytes_shown(message)}\n")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        from reconciler.commands.streams import print_message

        print_message(message, file)


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse; an unknown argument is refused by the command's own parser (its usage line).

    argparse would name the top-level parser (``reconciler: error: unrecognized
    arguments``) for ``reconciler plan --bogus``; README promises the command's usage
    and ``reconciler plan: error: ...``. A global flag given after the command gets
    the fix: put it before the command.
    """
    try:
        args, extras = parser.parse_known_args(argv)
    except OSError as error:  # --help or --version could not be written
        from reconciler.commands.streams import to_devnull, unwritten_stdout
        from reconciler.render.console import Console

        to_devnull(sys.stdout)
        Console().err(f"error: {unwritten_stdout(error)}")
        raise SystemExit(EXIT_ERROR) from None
    if not extras:
        return args

    from reconciler.render.escape import terminal

    tokens = list(sys.argv[1:] if argv is None else argv)
    command = getattr(args, "command", None)
    at = tokens.index(command) if command in tokens else len(tokens)
    after = any(at < i for i, token in enumerate(tokens) if token in extras)
    owner: argparse.ArgumentParser = (getattr(args, "usage_parser", None) if after else None) or (
        parser
    )
    shown = " ".join(terminal(extra) for extra in extras)
    misplaced = [e for e in extras if e.split("=", 1)[0] in _GLOBAL_FLAGS]
    hint = (
        f"; {misplaced[0].split('=', 1)[0]} is a global option: put it before the command "
        f"(reconciler {misplaced[0].split('=', 1)[0]} ... {args.command} ...)"
        if misplaced and getattr(args, "command", None)
        else ""
    )
    owner.error(f"unrecognized arguments: {shown}{hint}")


def problem_lines(error: ManifestError | ConfigFileError) -> list[str]:
    """What the CLI prints for a manifest or orgs-config error, not yet escaped: one
    ``path:line:col: message`` per problem, the count, then a hint when one helps."""
    from reconciler.errors import ManifestError

    lines = [*map(str, error.problems), f"error: {error.summary}"]
    hint = one_file_hint(error.problems) if isinstance(error, ManifestError) else None
    return [*lines, f"hint: {hint}"] if hint else lines


_OUTSIDE_THE_FILE = ("no manifest file defines 'organization'", "is not a declared user")


def one_file_hint(problems: Sequence[Problem]) -> str | None:
    """A hint when ``-m`` named one file of a manifest folder, or None.

    ``-m teams/growth.yaml`` reads that file alone, so its members are "not declared"
    and no file defines ``organization``: the fix each problem suggests (declare the
    user) is the wrong one. When every problem is in one file and its folder, or the
    folder above (for ``teams/``), holds another ``*.yaml``/``*.yml`` that declares
    ``organization:`` or ``users:``, the hint names that folder to pass instead.
    """
    from pathlib import Path

    paths = {problem.path for problem in problems}
    if len(paths) != 1 or not any(
        marker in problem.message for problem in problems for marker in _OUTSIDE_THE_FILE
    ):
        return None
    named = Path(paths.pop())
    try:
        if not named.is_file():
            return None
        for folder in (named.parent, named.parent.parent):
            declaring = _declaring_file(folder, named)
            if declaring is not None:
                from reconciler.render.escape import shell_word

                return (
                    f"-m names the one file {named}, read alone; {declaring} declares the "
                    "organization or its users: to read the manifest as a whole, pass "
                    f"-m {shell_word(str(folder))}"
                )
    except OSError:  # a folder that cannot be listed: no hint, the problems stand
        return None
    return None


def _declaring_file(folder: Path, named: Path) -> Path | None:
    """A manifest file of ``folder`` (not ``named``) with a top-level ``organization:``
    or ``users:`` key, judged from its first 64 KiB."""
    import re

    from reconciler.manifest.loader import SUFFIXES

    top_level = re.compile(rb"^(?:organization|users)[ \t]*:", re.MULTILINE)
    for entry in sorted(folder.iterdir()):
        if (
            entry.name.startswith(".")
            or not entry.name.lower().endswith(SUFFIXES)
            or entry.resolve() == named.resolve()
            or not entry.is_file()
        ):
            continue
        with entry.open("rb") as handle:
            if top_level.search(handle.read(64 * 1024)):
                return entry
    return None
