"""A server on 127.0.0.1 that sends a JSON answer one byte at a time, any path.

Each read is quick, the whole answer is not: only a wall-clock deadline cuts it. The
HTTP version is a parameter because HTTP/1.0 (and ``Connection: close``) answers hand
the socket from the connection to the response before the body is read.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BODY = b"[" + b" " * 200 + b"]"  # 202 bytes: about 10 s at the pace below


def _handler(version: str, stopping: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Drip(BaseHTTPRequestHandler):
        protocol_version = version

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client hung up: stop sending
                for i in range(len(BODY)):  # bounded
                    self.wfile.write(BODY[i : i + 1])
                    self.wfile.flush()
                    if stopping.wait(0.05):
                        return

    return Drip


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


@contextlib.contextmanager
def drip_server(version: str = "HTTP/1.1") -> Iterator[str]:
    """Serve on 127.0.0.1; yields the base URL; stops every thread on exit."""
    stopping = threading.Event()
    server = _Quiet(("127.0.0.1", 0), _handler(version, stopping))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
