"""The subcommands: one module ``<name>_cmd.py`` per command, all of one shape.

Each module has ``HELP`` (its line in ``reconciler --help``), a frozen ``Options``
dataclass, ``add_arguments(parser)`` and ``run(options, console) -> exit code``.
The CLI (``reconciler.cli``) parses, builds ``Options`` with
``common.options_from`` and dispatches; no command sees argparse's parsed arguments.
The steps themselves (read, plan, apply, import, report) are in
``reconciler.workflow``; the commands only choose them, show what they return and
pick the exit code.

Must not: print except through the console given to ``run``, import heavy modules at
module level (the parser is built from every command on each start), or talk
HTTP or write to the server except through ``reconciler.workflow``.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

# In the order `reconciler --help` lists them; the module is f"{name}_cmd".
COMMANDS = (
    "validate",
    "schema",
    "plan",
    "apply",
    "import",
    "sandbox",
    "doctor",
    "demo",
    "report",
    "github",
    "orgs",
)


class Command(Protocol):
    """What every command module provides."""

    HELP: str
    Options: type[Any]

    def add_arguments(self, parser: Any) -> None: ...  # pragma: no cover - a protocol

    def run(self, options: Any, console: Any) -> int: ...  # pragma: no cover - a protocol


def command(name: str) -> Command:
    """The module of command ``name`` (one of COMMANDS)."""
    return cast("Command", importlib.import_module(f"reconciler.commands.{name}_cmd"))
