"""A deliberately broken SCIM server: each mode answers /Users in one wrong way.

Used to prove that a malformed answer gives a clear error and exit 1, with nothing
written, instead of a traceback or, worse, a plan built on garbage.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("bad-json", "html", "missing-id", "huge", "redirect", "short-total")
# Answers that are not valid HTTP at all: http.client refuses their headers.
BROKEN_HTTP_MODES = ("many-headers", "long-header")
# Nested deeper than Python's JSON decoder can go (it raises RecursionError).
DEEP_MODES = ("deep-json", "deep-in-user", "deep-error")
_HUGE = 70 * 2**20
_DEEP = b"[" * 100_000 + b"]" * 100_000


def _handler(mode: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            if "/Groups" in self.path:
                self._send(200, json.dumps(_list([])).encode())
            elif mode == "bad-json":
                self._send(200, b'{"Resources": [')
            elif mode == "html":
                self._send(200, b"<html>login</html>", "text/html")
            elif mode == "missing-id":
                self._send(200, json.dumps(_list([{"userName": "a@acme.io"}])).encode())
            elif mode == "short-total":
                body = _list([{"id": "1", "userName": "a@acme.io"}])
                body["totalResults"] = 5
                self._send(200, json.dumps(body).encode())
            elif mode == "deep-json":
                self._send(200, _DEEP)
            elif mode == "deep-in-user":
                user = b'{"id": "1", "userName": "a@acme.io", "x": ' + _DEEP + b"}"
                self._send(200, b'{"totalResults": 1, "Resources": [' + user + b"]}")
            elif mode == "deep-error":
                self._send(400, b'{"detail": ' + _DEEP + b"}")
            elif mode in BROKEN_HTTP_MODES:
                self.send_response(200)
                self.send_header("Content-Type", "application/scim+json")
                many = mode == "many-headers"
                for i in range(150 if many else 1):
                    self.send_header(f"X-Junk-{i}", "x" * (10 if many else 70_000))
                self.send_header("Content-Length", "2")
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(b"{}")
            elif mode == "redirect":
                self.send_response(302)
                self.send_header("Location", "https://attacker.invalid/steal")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(_HUGE))
                self.end_headers()
                chunk = b" " * 2**20
                with contextlib.suppress(OSError):
                    for _ in range(_HUGE // len(chunk)):
                        self.wfile.write(chunk)

        def _send(self, status: int, body: bytes, ctype: str = "application/scim+json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _list(resources: list[dict[str, object]]) -> dict[str, object]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client resets the connection (the reconciler gives up on a
    broken answer mid-stream): the server's traceback must not look like the CLI's."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return None


@contextlib.contextmanager
def bad_server(mode: str) -> Iterator[str]:
    server = _QuietServer(("127.0.0.1", 0), _handler(mode))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/scim/v2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
