"""``reconciler validate``: check the manifest; no network, no token.

Prints one summary line (or JSON for scripts); each problem is ``path:line:col:
message`` through the CLI's error handling, or a JSON list with ``--format json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from reconciler.commands.common import (
    EXIT_ERROR,
    EXIT_OK,
    Console,
    GlobalOptions,
    manifest_arg,
    manifest_path,
)

HELP = "check the manifest; no network"


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    manifest: str | None = None
    format: str = "text"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    manifest_arg(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people, json for scripts (default %(default)s)",
    )


def run(options: Options, console: Console) -> int:
    """0 when valid; ManifestError or ConfigFileError (or 1 with a JSON list of problems)."""
    from reconciler.errors import ConfigFileError, ManifestError
    from reconciler.gcpolicy import bulk_phase
    from reconciler.grammar import count
    from reconciler.manifest.loader import load_manifest
    from reconciler.render.escape import terminal
    from reconciler.settings import today

    try:
        path = manifest_path(options.common, options.manifest)  # reads reconciler.yaml
        with bulk_phase():
            loaded = load_manifest(path, today=today())
    except (ManifestError, ConfigFileError) as error:  # the config's problems, the same shape
        if options.format == "json":
            problems = [_problem_json(p) for p in error.problems]
            console(json.dumps({"valid": False, "problems": problems}, indent=2))
            return EXIT_ERROR
        raise
    if options.format == "json":
        body = {
            "valid": True,
            "digest": loaded.digest,
            "users": len(loaded.manifest.users),
            "teams": len(loaded.manifest.teams),
            "notices": [_problem_json(n) for n in loaded.notices],
        }
        console(json.dumps(body, indent=2))
        return EXIT_OK
    for notice in loaded.notices:
        console.err(f"notice: {terminal(str(notice))}")
    files = len(loaded.sources)
    console(
        f"{path}: valid ({count(len(loaded.manifest.users), 'user')}, "
        f"{count(len(loaded.manifest.teams), 'team')}, {count(files, 'file')})"
    )
    return EXIT_OK


def _problem_json(problem: object) -> dict[str, object]:
    return {k: getattr(problem, k) for k in ("path", "line", "col", "message")}
