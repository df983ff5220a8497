"""``reconciler sandbox``: run the local Mixpanel-compatible SCIM server until stopped.

The arguments and the server's lifecycle live with the sandbox
(``scim_sandbox.command``); this module only plugs them into the CLI.
"""

from __future__ import annotations

import argparse

from reconciler.commands.common import Out
from reconciler.profile import PRODUCT
from scim_sandbox.command import SandboxOptions as Options

HELP = f"run a local {PRODUCT}-compatible SCIM server"

__all__ = ["HELP", "Options", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from scim_sandbox.command import add_arguments as add_sandbox_arguments

    add_sandbox_arguments(parser)


def run(options: Options, console: Out) -> int:
    """Serve until SIGTERM or SIGINT, then stop cleanly (state saved) and return 0."""
    from scim_sandbox.command import run as run_sandbox

    return run_sandbox(options, console)
