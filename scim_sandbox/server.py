"""The HTTP layer: HTTP/1.1 keep-alive on 127.0.0.1, fault injection, nothing else.

Request semantics live in ``api.py``. Faults are applied here because they are
about the wire: a dropped connection happens before the request is processed, a
lost response after it was committed (the case that makes POST retries dangerous).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scim_sandbox.api import CONTENT_TYPE, Request, Response, ScimApi, request_class
from scim_sandbox.failure import ScimFailure
from scim_sandbox.faults import Decision, Fault, FaultInjector, SandboxStats

HOST = "127.0.0.1"  # never anything else: the sandbox has a well-known token in tests
MAX_BODY = 16 * 1024 * 1024


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading server that can close its keep-alive connections when stopping.

    Without that, ``server_close`` would wait for idle clients to hang up; closing
    them lets a test stop the server while its ``requests.Session`` is still open.
    """

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(
        self, port: int, api: ScimApi, injector: Callable[[], FaultInjector], stats: SandboxStats
    ) -> None:
        self.api = api
        self.injector = injector
        self.stats = stats
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: broken connections are normal here (faults, stopping)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately; without NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        self.server.track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: it would be noise in test output (and must never show the token)."""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            authorization=self.headers.get("Authorization"),
            body=body,
        )
        kind = request_class(request.method, request.path)
        self.server.stats.count_request(kind)
        injector = self.server.injector()
        if injector.faults.latency_ms:
            time.sleep(injector.faults.latency_ms / 1000)
        decision = injector.decide(kind)
        if decision.fault is not Fault.NONE:
            self.server.stats.count_fault(decision.fault.value)
        if decision.fault is Fault.DROP:
            self.close_connection = True
            return
        if decision.fault in (Fault.RATE_LIMIT, Fault.SERVER_ERROR):
            self._send(_fault_response(decision, injector.retry_after()))
            return
        response = self.server.api.handle(request)
        if decision.fault is Fault.LOST_RESPONSE:
            self.close_connection = True
            return
        self._send(response)

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(_plain_error(411, "send a Content-Length; chunked bodies are not accepted"))
            self.close_connection = True
            return None
        try:
            size = int(length or 0)
        except ValueError:
            size = -1
        if size < 0 or size > MAX_BODY:
            self._send(_plain_error(413 if size > 0 else 400, "bad or too large Content-Length"))
            self.close_connection = True
            return None
        return self.rfile.read(size) if size else b""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        own_type = any(name.lower() == "content-type" for name, _ in response.headers)
        if response.body and not own_type:  # a quirk may answer another content type
            self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)


def _fault_response(decision: Decision, retry_after: str) -> Response:
    if decision.fault is Fault.RATE_LIMIT:
        failure = ScimFailure(429, "too many requests, retry later")
        return Response(429, failure.body(), (("Retry-After", retry_after),))
    failure = ScimFailure(decision.status, "the service is temporarily unavailable")
    headers = (("Retry-After", retry_after),) if decision.status == 503 else ()
    return Response(decision.status, failure.body(), headers)


def _plain_error(status: int, detail: str) -> Response:
    return Response(status, ScimFailure(status, detail).body())
