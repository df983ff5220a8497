"""Command-line entry point: parse arguments, call one function, map errors to exit codes.

No logic of its own lives here; every command is a thin shell around a module.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from reconciler import __version__
from reconciler.errors import ManifestError, ReconcilerError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_INTERRUPTED = 130


def _today() -> datetime:
    return datetime.now(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="Keep Mixpanel organization access in git and reconcile it over SCIM 2.0.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check the manifest; no network")
    _manifest_arg(validate)
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the manifest")
    schema.set_defaults(handler=_schema)

    from reconciler.sandbox.command import add_arguments as add_sandbox_arguments

    sandbox = commands.add_parser("sandbox", help="run a local Mixpanel-compatible SCIM server")
    add_sandbox_arguments(sandbox)
    sandbox.set_defaults(handler=_sandbox)
    return parser


def _manifest_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m",
        "--manifest",
        default="manifests",
        metavar="PATH",
        help="manifest file or folder of *.yaml files (default: manifests)",
    )


def _validate(args: argparse.Namespace) -> int:
    from reconciler.manifest.loader import load_manifest

    try:
        loaded = load_manifest(args.manifest, today=_today().date())
    except ManifestError as error:
        if args.format == "json":
            problems = [
                {"path": p.path, "line": p.line, "col": p.col, "message": p.message}
                for p in error.problems
            ]
            print(json.dumps({"valid": False, "problems": problems}, indent=2))
            return EXIT_ERROR
        raise
    if args.format == "json":
        notices = [
            {"path": n.path, "line": n.line, "col": n.col, "message": n.message}
            for n in loaded.notices
        ]
        body = {
            "valid": True,
            "digest": loaded.digest,
            "users": len(loaded.manifest.users),
            "teams": len(loaded.manifest.teams),
            "notices": notices,
        }
        print(json.dumps(body, indent=2))
        return EXIT_OK
    for notice in loaded.notices:
        print(f"notice: {notice}", file=sys.stderr)
    files = len(loaded.sources)
    print(
        f"{args.manifest}: valid ({len(loaded.manifest.users)} users, "
        f"{len(loaded.manifest.teams)} teams, {files} file{'s' if files != 1 else ''})"
    )
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from reconciler.manifest.schema import schema_json

    sys.stdout.write(schema_json())
    return EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    from reconciler.sandbox.command import run

    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ReconcilerError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code
