"""Command-line entry point: the parser, the dispatch to one command, the exit codes.

Each subcommand is a module of ``reconciler.commands`` (``add_arguments`` and
``run(options, console)``); this module builds the parser from them, turns the
parsed arguments into the command's frozen options, runs it inside the redacted
output and the logging set-up, and maps errors to exit codes.

Exit codes (a contract CI scripts rely on): 0 success or no changes, 1 error,
2 changes present (with --detailed-exitcode), 3 stale plan, 4 refused by a safety
guard, 5 partially applied, 64 usage error (EX_USAGE; never 2), 130 interrupted.
No traceback reaches the user: expected errors are one line naming the object and
the fix; anything else is reported as a bug (the traceback only with -vv).
Must not: hold any command's logic, or let an ``argparse.Namespace`` go further.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial

from reconciler import __version__, ctrl_c
from reconciler.commands import COMMANDS, Command, command
from reconciler.commands.common import (  # the exit codes: see the module docstring
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    Console,
    GlobalOptions,
    UsageParser,
    given,
    options_from,
    org_name,
    parse_command_line,
    problem_lines,
)
from reconciler.commands.streams import redacted_output, stdout_closed, to_devnull
from reconciler.errors import ConfigFileError, ManifestError, ReconcilerError, UsageError
from reconciler.profile import PRODUCT
from reconciler.render.escape import terminal


def build_parser() -> argparse.ArgumentParser:
    """The whole CLI: the global flags, then one subparser per ``reconciler.commands``."""
    parser: argparse.ArgumentParser = UsageParser(
        prog="reconciler",
        description=f"Keep {PRODUCT} organization access in git and reconcile it over SCIM 2.0.",
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
    parser.add_argument(
        "--org",
        type=org_name,
        metavar="NAME",
        help="which org of reconciler.yaml to work on (default: its only org; required "
        "when it has several)",
    )
    parser.add_argument(
        "--config", type=given, metavar="FILE", help="orgs config (default: reconciler.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = command(name)
        subparser = commands.add_parser(name, help=module.HELP)
        module.add_arguments(subparser)
        # usage_parser: a UsageError raised by the command prints this usage line.
        subparser.set_defaults(handler=partial(_run, module), usage_parser=subparser)
    return parser


def _run(module: Command, args: argparse.Namespace) -> int:
    """The CLI edge: the parsed arguments become the command's frozen options."""
    return module.run(options_from(module.Options, args), Console())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code.

    ``--help`` and ``--version`` raise SystemExit(0) and a usage error SystemExit(64),
    as argparse does; Ctrl-C at any moment returns 130.
    """
    ctrl_c.forget()
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while parsing or importing, before the command ran
        print(ctrl_c.interrupted_line(), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if not ctrl_c.caused(error):
            raise
        print(ctrl_c.interrupted_line(), file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    from reconciler.logs import level_for, logging_configured

    parser = build_parser()
    args = parse_command_line(parser, argv)  # SystemExit: 0 for --help, 64 for a usage error
    # 12 random hex digits, as uuid4().hex[:12] gave, without importing uuid (and
    # platform) on every start.
    args.run_id = os.urandom(6).hex()
    common = options_from(GlobalOptions, args)
    level = level_for(common.verbose, common.quiet)
    if stdout_closed(common.command):  # run with >&-: the command's output would be lost
        return EXIT_ERROR
    # Entered in order: the log handler gets the redacting stderr.
    with (
        redacted_output(),
        logging_configured(level, common.log_format, common.run_id, sys.stderr),
    ):
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command's handler; every error becomes one line (or ours) and an exit code."""
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # a full disk or a closed pipe is reported here, not at exit
    except (ManifestError, ConfigFileError) as error:
        # One bare `path:line:col: message` per line (the manifest's or reconciler.yaml's),
        # so editors and CI problem matchers can read every problem; the count comes last.
        print("\n".join(map(terminal, problem_lines(error))), file=sys.stderr)
        return error.exit_code
    except UsageError as error:  # options refused after parsing: said the way argparse does
        parser = getattr(args, "usage_parser", None) or build_parser()
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {terminal(str(error))}", file=sys.stderr)
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
        print(ctrl_c.interrupted_line(), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        to_devnull(sys.stdout)
        return EXIT_ERROR
    except OSError as error:  # a path no precise check foresaw: still one line, with the path
        print(f"error: {_os_error(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # the last resort: a bug, said as one line
        if ctrl_c.caused(error):
            print(ctrl_c.interrupted_line(), file=sys.stderr)
            return EXIT_INTERRUPTED
        _report_bug(options_from(GlobalOptions, args), error)
        return EXIT_ERROR
    return code


def _os_error(error: OSError) -> str:
    where = error.filename if error.filename is not None else "a local file"
    reason = error.strerror or type(error).__name__
    return f"{terminal(str(where))}: {reason}; check the path and its permissions, and re-run"


def _report_bug(common: GlobalOptions, error: Exception) -> None:
    """One line for an error nobody foresaw; the traceback only at -vv (debug)."""
    if common.verbose >= 2:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    print(
        f"error: reconciler {common.command} failed unexpectedly ({type(error).__name__}); "
        "this is a bug, please report it with the command you ran "
        "(re-run with -vv to include the traceback)",
        file=sys.stderr,
    )
