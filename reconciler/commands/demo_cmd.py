"""``reconciler demo``: plan, apply and plan again against a local sandbox.

Without -m (or an org's folder) the demo runs on the demo org shipped in the package.
Each step is a sibling command (``plan``, ``apply``) parsed from its own arguments and
run through its own ``run``, as the CLI would: nothing here imports the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.commands.common import Console, GlobalOptions, given, options_from, selected_org

HELP = "plan, apply and plan again on a local sandbox"


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    manifest: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m",
        "--manifest",
        type=given,
        default=None,
        metavar="PATH",
        help="manifest file or folder (default: the demo org shipped with reconciler)",
    )


def run(options: Options, console: Console) -> int:
    """The demo's three steps, each run as ``reconciler <step> ARGS`` would run it."""
    from reconciler.demo import run_demo

    org = selected_org(options.common)
    manifest = options.manifest or (org.manifest if org is not None else None)

    def step(argv: Sequence[str] | None) -> int:
        return run_step(list(argv or ()), options.common, console)

    return run_demo(manifest, step, console)


def run_step(argv: list[str], common: GlobalOptions, console: Console) -> int:
    """``argv`` (``["plan", "-m", PATH]``) parsed by that command's own arguments and run
    with the demo's global options: the CLI edge, for one sibling command."""
    from reconciler.commands import command

    name, *rest = argv
    module = command(name)
    parser = argparse.ArgumentParser(prog=f"reconciler {name}")
    module.add_arguments(parser)
    step_options = options_from(module.Options, parser.parse_args(rest))
    return module.run(replace(step_options, common=replace(common, command=name)), console)
