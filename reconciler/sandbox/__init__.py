"""A local Mixpanel-compatible SCIM 2.0 server for the demo, the tests and the benchmarks.

``Sandbox`` runs it in a background thread; ``Store`` is the directory behind it;
``Faults`` makes it misbehave the way real servers do (latency, 429, 5xx, dropped
connections, lost responses, per-request limits); ``Quirks`` makes it say what
misbehaving servers say (capped or lying listings, hidden inactive users, cut or
missing member lists, refused, ignored or misanswered writes). Never a production server.
"""

from reconciler.sandbox.faults import Faults, SandboxStats
from reconciler.sandbox.quirks import Quirks
from reconciler.sandbox.service import Sandbox
from reconciler.sandbox.store import Store

__all__ = ["Faults", "Quirks", "Sandbox", "SandboxStats", "Store"]
