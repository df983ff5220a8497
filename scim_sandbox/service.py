"""``Sandbox``: a running Mixpanel-compatible SCIM server, wired from its parts.

It owns the store, the optional state file, the fault settings and the HTTP server
thread. Tests use it as a context manager; the ``sandbox`` CLI command wraps it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from scim_sandbox.api import BASE_PATH, ScimApi
from scim_sandbox.faults import FaultInjector, Faults, SandboxStats
from scim_sandbox.persistence import Persister, load_state
from scim_sandbox.quirks import Quirks
from scim_sandbox.seed import apply_seed, validate_seed
from scim_sandbox.server import HOST, SandboxHTTPServer
from scim_sandbox.store import Store


class Sandbox:
    """A local SCIM server on 127.0.0.1 that behaves like Mixpanel's, faults included.

    The store is loaded (from ``state_file``) and seeded at construction, so
    ``store`` can be inspected or prepared before ``start()``. ``base_url`` is known
    once started (the port may be chosen by the OS). Not for production use: one
    static token, no TLS.
    """

    def __init__(
        self,
        *,
        token: str,
        claimed_domains: Iterable[str] = ("acme.io", "acmelabs.io"),
        outside_org_emails: Iterable[str] = (),
        state_file: Path | None = None,
        seed: str | None = None,
        faults: Faults | None = None,
        quirks: Quirks | None = None,
        port: int = 0,
    ) -> None:
        if not token:
            raise ValueError("the sandbox needs a non-empty token")
        asked = seed
        seed = validate_seed(seed or "empty")
        self.store = Store(claimed_domains=claimed_domains, outside_org_emails=outside_org_emails)
        self.stats = SandboxStats()
        self.state_file = state_file
        self._token = token
        self._port = port
        self._injector = FaultInjector(faults or Faults())
        self._quirks = quirks or Quirks()
        self._persister = Persister(self.store, state_file) if state_file else None
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.loaded = load_state(self.store, state_file) if state_file else False
        # The seed only fills an empty directory; say so rather than drop it silently,
        # also for an explicit `--seed empty` (a fresh start asked for, not given).
        self.seed_ignored = asked is not None and not self.store.is_empty()
        apply_seed(self.store, seed)
        if self._persister is not None:
            self._persister.checkpoint()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` and the profile's SCIM path; only valid while started."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{HOST}:{self._server.server_address[1]}{BASE_PATH}"

    @property
    def faults(self) -> Faults:
        return self._injector.faults

    def set_faults(self, faults: Faults) -> None:
        """Switch fault settings for the following requests (the RNG restarts from the seed)."""
        self._injector = FaultInjector(faults)

    @property
    def quirks(self) -> Quirks:
        return self._quirks

    def set_quirks(self, quirks: Quirks) -> None:
        """Switch quirk modes for the following requests (e.g. seed honestly, then misbehave)."""
        self._quirks = quirks

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        persist = self._persister.persist if self._persister else None
        api = ScimApi(
            self.store,
            self._token,
            lambda: self._injector.faults,
            self.stats,
            persist,
            quirks=lambda: self._quirks,
        )
        self._server = SandboxHTTPServer(self._port, api, lambda: self._injector, self.stats)
        self.store.set_base_url(self.base_url)
        self.store.warm()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scim-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close client connections and save the state (if any)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()
        self._server = self._thread = None
        if self._persister is not None:
            self._persister.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
