"""A local Mixpanel-compatible SCIM 2.0 server for the demo, the tests and the benchmarks.

``Sandbox`` runs it in a background thread; ``Store`` is the directory behind it;
``Faults`` makes it misbehave the way real servers do (latency, 429, 5xx, dropped
connections, lost responses, per-request limits); ``Quirks`` makes it say what
misbehaving servers say (capped or lying listings, hidden inactive users, cut or
missing member lists, refused, ignored or misanswered writes). Never a production server.

Must not: import the reconciler's client, planner or executor (it would stop being an
independent server to test them against), bind anything but 127.0.0.1, or keep a
loop without a bound. It uses only ``errors``, ``files``, ``grammar`` and ``profile``.

Why it stays inside ``reconciler`` (issue 14 asked for a top-level ``sandbox``): the
runtime needs it (``reconciler demo`` and ``reconciler sandbox`` run it, so it ships
in the distribution either way and moving it would not make the runtime smaller); it
needs more than errors and files (``grammar.count``, the profile's SCIM path); and a
top-level package named ``sandbox`` would claim a generic import name in every
environment the tool is installed into. The boundary is kept by the rule above.
"""

from reconciler.sandbox.faults import Faults, SandboxStats
from reconciler.sandbox.quirks import Quirks
from reconciler.sandbox.service import Sandbox
from reconciler.sandbox.store import Store

__all__ = ["Faults", "Quirks", "Sandbox", "SandboxStats", "Store"]
