"""``reconciler demo``: plan, apply and plan again against a local sandbox.

Without -m (or an org's folder) the demo runs on the demo org shipped in the package.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.commands.common import Console, GlobalOptions, selected_org

HELP = "plan, apply and plan again on a local sandbox"

Main = Callable[[Sequence[str]], int]


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    manifest: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m",
        "--manifest",
        default=None,
        metavar="PATH",
        help="manifest file or folder (default: the demo org shipped with reconciler)",
    )


def run(options: Options, console: Console) -> int:
    """The demo's three steps run through the CLI's own ``main``, as a person would."""
    from reconciler.cli import main
    from reconciler.demo import run_demo

    org = selected_org(options.common)
    manifest = options.manifest or (org.manifest if org is not None else None)
    return run_demo(manifest, main, console)
