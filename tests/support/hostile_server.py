"""A hostile SCIM server on 127.0.0.1: it echoes the token, drips, pages forever, dies.

Each behaviour is one ``Hostile`` knob, so a test states exactly which misbehaviour
it proves the reconciler survives. The server holds a small directory (users that
can be created and patched) so that plan, apply, import, report and doctor all get
far enough to meet the misbehaviour. Every loop in here is bounded and every
blocking wait checks ``stopping``, so closing the server ends all its threads.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class Hostile:
    """What the server does wrong; the defaults make it a plain, small SCIM server.

    ``echo(authorization)`` returns the text a 401 repeats (None: answer normally);
    ``patch_echo`` does the same for a 400 to every PATCH; ``reflect`` puts that text
    into a user's givenName; ``malformed_echo`` answers GET /Users 200 with ``active``
    set to that text. ``drip`` seconds between body bytes, ``stall`` sends nothing at
    all, ``endless`` ignores startIndex and claims 10**12 results (the same page each
    time; ``endless_fresh``: a new user each time; ``endless_paged``: a new user each
    time, answering the startIndex asked for), ``fat`` bytes of filler in every user of a
    page (each page a fresh user), ``die_after_writes`` closes the server after that
    many writes, ``writes_429`` / ``reads_429`` answer every write / read 429 with
    Retry-After 30; ``stall_after_writes``: past that many writes, every request
    (reads too) is read and never answered (a black hole). ``echo_html`` sends the
    ``echo`` text in a text/html page instead; ``redirect_echo`` answers every read
    302 with that text in the Location header.
    """

    users: list[dict[str, Any]] = field(default_factory=list)
    echo: Callable[[str], str] | None = None
    patch_echo: Callable[[str], str] | None = None
    reflect: Callable[[str], str] | None = None
    malformed_echo: Callable[[str], str] | None = None
    echo_html: bool = False
    redirect_echo: Callable[[str], str] | None = None
    drip: float | None = None
    stall: bool = False
    endless: bool = False
    endless_fresh: bool = False
    endless_paged: bool = False
    fat: int = 0
    die_after_writes: int | None = None
    writes_429: bool = False
    stall_after_writes: int | None = None
    reads_429: bool = False
    requests: int = 0
    writes: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hung(self) -> bool:
        return self.stall_after_writes is not None and self.writes > self.stall_after_writes

    @property
    def dead(self) -> bool:
        return self.die_after_writes is not None and self.writes > self.die_after_writes


def user(i: int, given: str = "Given") -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": f"u{i}",
        "userName": f"user{i}@acme.io",
        "name": {"givenName": given, "familyName": "Family"},
        "active": True,
    }


def _handler(state: Hostile, on_die: Callable[[], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _auth(self) -> str:
            return self.headers.get("Authorization", "")

        def do_GET(self) -> None:
            with state.lock:
                state.requests += 1
            if state.hung:
                state.stopping.wait(60)
                return None
            if state.dead:  # a kept-alive connection of a dead server: hang up
                self.close_connection = True
                return None
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if state.echo is not None and state.echo_html:
                return self._html(401, state.echo(self._auth()))
            if state.echo is not None:
                return self._error(401, state.echo(self._auth()))
            if state.redirect_echo is not None:
                return self._redirect(state.redirect_echo(self._auth()))
            if state.reads_429:
                return self._too_many()
            if url.path.endswith("/ServiceProviderConfig"):
                features = {"patch": {"supported": True}, "filter": {"supported": True}}
                return self._json(200, features)
            if url.path.endswith("/Groups"):
                return self._json(200, _list([], 1, 0))
            if "/Users" not in url.path:
                return self._error(404, "no such endpoint")
            start = int(query.get("startIndex", "1"))
            if state.malformed_echo is not None:
                bad = {**user(1), "active": state.malformed_echo(self._auth())}
                return self._json(200, _list([bad], 1, 1))
            if state.stall:
                state.stopping.wait(60)
                return None
            if state.endless:
                return self._json(200, _list([user(1)], 1, 10**12))
            if state.endless_fresh:
                return self._json(200, _list([user(state.requests)], 1, 10**12))
            if state.endless_paged:
                return self._json(200, _list([user(start)], start, 10**12))
            if state.fat:
                fresh = {**user(start), "title": "x" * state.fat}
                return self._json(200, _list([fresh], start, 10**5))
            if state.drip is not None:
                return self._drip(_list([], 1, 0))
            users = [dict(u) for u in state.users]
            if state.reflect is not None and users:
                users[0]["name"] = {"givenName": state.reflect(self._auth()), "familyName": "F"}
            if "filter" in query:
                wanted = query["filter"].split('"')[1].lower()
                found = [u for u in users if u["userName"].lower() == wanted]
                return self._json(200, _list(found, 1, len(found)))
            count = int(query.get("count", "100"))
            page = users[start - 1 : start - 1 + count]
            return self._json(200, _list(page, start, len(users)))

        def do_POST(self) -> None:
            body = self._write()
            if body is None:
                return
            with state.lock:
                created = {**body, "id": f"new{state.writes}"}
                state.users.append(created)
            self._json(201, created)

        def do_PATCH(self) -> None:
            if self._write() is None:
                return
            if state.patch_echo is not None:
                return self._error(400, state.patch_echo(self._auth()))
            self._json(200, user(0))

        def _write(self) -> dict[str, Any] | None:
            """Counts the write; None when the answer was already sent (429, death)."""
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length else b"{}"
            with state.lock:
                state.requests += 1
                state.writes += 1
                dying = state.dead
            if dying:
                on_die()
                self.close_connection = True
                return None
            if state.writes_429:
                self._too_many()
                return None
            if state.hung:
                state.stopping.wait(60)
                return None
            value: dict[str, Any] = json.loads(raw)
            return value

        def _too_many(self) -> None:
            self.send_response(429)
            self.send_header("Retry-After", "30")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _drip(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            assert state.drip is not None
            with contextlib.suppress(OSError):
                for byte in data:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if state.stopping.wait(state.drip):
                        return

        def _error(self, status: int, detail: str) -> None:
            self._json(status, {"schemas": [ERROR], "status": str(status), "detail": detail})

        def _html(self, status: int, text: str) -> None:
            data = f"<html><body><p>{text}</p></body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:9/login?next={location}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _json(self, status: int, body: dict[str, Any]) -> None:
            # The standard library does not escape "/"; many servers (PHP, Java) do.
            data = json.dumps(body).replace("/", "\\/").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _list(resources: list[dict[str, Any]], start: int, total: int) -> dict[str, Any]:
    return {
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


class _QuietServer(ThreadingHTTPServer):
    """Connections the client (or the server's own death) cut are expected here: they
    must not print tracebacks into the output the tests inspect."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


@contextlib.contextmanager
def hostile_server(state: Hostile) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1; yields the base URL. Stops every thread on exit."""
    server: _QuietServer | None = None
    died = threading.Event()

    def die() -> None:
        # Closing the listening socket from a handler thread: later connects are refused.
        if not died.is_set():
            died.set()
            threading.Thread(target=_stop, args=(server,), daemon=True).start()

    server = _QuietServer(("127.0.0.1", 0), _handler(state, die))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/scim/v2"
    finally:
        state.stopping.set()
        if not died.is_set():
            died.set()
            _stop(server)
        thread.join(timeout=5)


def _stop(server: _QuietServer | None) -> None:
    if server is None:
        return
    server.shutdown()
    server.server_close()
