"""``python -m scim_sandbox``: the sandbox server on its own, without the reconciler's CLI.

The same arguments and lifecycle as ``reconciler sandbox`` (``scim_sandbox.command``);
an error is one ``error: ...`` line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields

from reconciler.errors import ReconcilerError
from scim_sandbox.command import SandboxOptions, add_arguments, run


def options(args: argparse.Namespace) -> SandboxOptions:
    """The frozen options from parsed arguments: a list becomes a tuple, None the default."""
    values: dict[str, object] = {}
    for field in fields(SandboxOptions):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = tuple(value) if isinstance(value, list) else value
        elif field.default is MISSING and field.default_factory is MISSING:
            values[field.name] = None  # pragma: no cover - every field has a default
    return SandboxOptions(**values)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until SIGTERM or SIGINT, and return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m scim_sandbox", description="a local Mixpanel-compatible SCIM server"
    )
    add_arguments(parser)
    try:
        return run(options(parser.parse_args(argv)), print)
    except ReconcilerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
