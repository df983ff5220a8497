"""A wall-clock deadline per HTTP request, enforced by closing its connection.

The read timeout of requests/urllib3 applies to each ``recv``: a server that sends a
byte every few seconds never trips it and holds a run forever. Here one watchdog
thread keeps every request's deadline; when one passes it shuts the request's
socket down, which wakes the blocked ``recv`` with an error at once, whether the
request is waiting for the status line, the headers or the body.

The socket is found through the connection classes of ``DeadlineAdapter``'s pools:
each connection registers itself with the deadline of the thread that sends on it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Deadline", "DeadlineAdapter", "deadline"]

_local = threading.local()


class Deadline:
    """One request's deadline; ``expired`` tells the transport why its read failed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self._sock: socket.socket | None = None

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                _shut(connection)

    def hold(self, sock: socket.socket | None) -> None:
        """Keep the request's socket itself: for an HTTP/1.0 or ``Connection: close``
        answer, http.client hands the socket to the response and clears
        ``connection.sock`` before the body is read, so the deadline must not depend
        on the connection still holding it."""
        with self._lock:
            self._sock = sock
            if self.expired and sock is not None:
                _shut_socket(sock)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)
            if self._sock is not None:
                _shut_socket(self._sock)

    def finish(self) -> None:
        """The request is over; from now on its connection belongs to the pool again."""
        with self._lock:
            self.finished = True
            self._connection = None
            self._sock = None


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        _shut_socket(sock)


def _shut_socket(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket's: that one also drops the TLS object,
    # under the feet of the thread still reading from it. The raw shutdown wakes the
    # blocked recv, and the TLS layer reports the closed connection as an error.
    with contextlib.suppress(OSError, TypeError):  # already closed: it fails on its own
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every deadline of the process; it exits when none is pending."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="request-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._thread = None
                    return
                at, _, first = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            first.expire()


_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Run one request (connect, send, status, headers, body) within ``seconds``."""
    current = Deadline(seconds)
    _local.deadline = current
    _WATCHDOG.watch(current)
    try:
        yield current
    finally:
        current.finish()
        _local.deadline = None


def _register(connection: HTTPConnection) -> None:
    current: Deadline | None = getattr(_local, "deadline", None)
    if current is not None:
        current.attach(connection)


def _hold(connection: HTTPConnection) -> None:
    """After sending (the socket exists now): the deadline keeps the socket itself."""
    current: Deadline | None = getattr(_local, "deadline", None)
    if current is not None:
        current.hold(getattr(connection, "sock", None))


class _Connection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)
        _hold(self)


class _TLSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)
        _hold(self)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose connections honour the sending thread's ``deadline``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
        return manager
