"""``reconciler schema``: print the JSON Schema of a manifest file (for editors)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from reconciler.commands.common import EXIT_OK, Console, GlobalOptions

HELP = "print the JSON Schema of a manifest file"


@dataclass(frozen=True)
class Options:
    common: GlobalOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own."""


def run(options: Options, console: Console) -> int:
    from reconciler.manifest.schema import schema_json

    console.write(schema_json())
    return EXIT_OK
