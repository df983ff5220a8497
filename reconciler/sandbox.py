"""The former import path of the sandbox, kept as an alias of ``scim_sandbox``.

The sandbox is its own top-level package now (``scim_sandbox``); code and tests
written against ``reconciler.sandbox`` (and its submodules, e.g.
``reconciler.sandbox.quirks``) get the very same modules. No sandbox code lives here.

Must not: grow code of its own; new code imports ``scim_sandbox``.
"""

from __future__ import annotations

import importlib
import sys

from scim_sandbox import Faults, Quirks, Sandbox, SandboxStats, Store

__all__ = ["Faults", "Quirks", "Sandbox", "SandboxStats", "Store"]

_SUBMODULES = (
    "api",
    "command",
    "discovery",
    "failure",
    "faults",
    "filters",
    "patch",
    "persistence",
    "quirks",
    "resources",
    "seed",
    "server",
    "service",
    "store",
)
for _name in _SUBMODULES:
    _module = importlib.import_module(f"scim_sandbox.{_name}")
    sys.modules[f"{__name__}.{_name}"] = _module  # `import reconciler.sandbox.quirks`
    globals()[_name] = _module  # `reconciler.sandbox.quirks.Quirks`
