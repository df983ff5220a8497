"""A local Mixpanel-compatible SCIM 2.0 server for the demo, the tests and the benchmarks.

``Sandbox`` runs it in a background thread; ``Store`` is the directory behind it;
``Faults`` makes it misbehave the way real servers do (latency, 429, 5xx, dropped
connections, lost responses, per-request limits); ``Quirks`` makes it say what
misbehaving servers say (capped or lying listings, hidden inactive users, cut or
missing member lists, refused, ignored or misanswered writes). Never a production server.

Its own top-level package (issue 14), shipped in the same distribution as
``reconciler`` so that ``reconciler demo`` and ``reconciler sandbox`` can run it, but
not inside the runtime package: ``python -m scim_sandbox`` runs it on its own.

Must not: import the reconciler's client, planner or executor (it would stop being an
independent server to test them against), bind anything but 127.0.0.1, or keep a
loop without a bound. Of ``reconciler`` it uses only the leaves ``errors``, ``files``,
``grammar`` and ``profile`` (``tests/core/test_boundaries.py`` holds it to that).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scim_sandbox.faults import Faults, SandboxStats
    from scim_sandbox.quirks import Quirks
    from scim_sandbox.service import Sandbox
    from scim_sandbox.store import Store

__all__ = ["Faults", "Quirks", "Sandbox", "SandboxStats", "Store"]

# Imported on first use (PEP 562), so ``scim_sandbox.command``'s arguments, which
# every ``reconciler`` start builds, do not load the HTTP server and the store.
_MODULE_OF = {
    "Faults": "faults",
    "SandboxStats": "faults",
    "Quirks": "quirks",
    "Sandbox": "service",
    "Store": "store",
}


def __getattr__(name: str) -> Any:
    """``scim_sandbox.Sandbox`` and the other exported names, imported when first asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
