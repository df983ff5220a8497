"""A small scripted SCIM server on 127.0.0.1 that serves whatever data a test gives it.

The sandbox refuses malformed data (a team named "   ", a user whose id is "..",
two users whose userNames differ only in case); real servers have been seen to
hold such data. ``Scripted`` holds raw resources, served as they are, plus a few
knobs for answers that lie: a team left out of the listing, a create answered
with another resource. Every request is recorded in ``log`` ("METHOD path"), so
a test can prove what was (not) written. Every loop is bounded; the context
manager stops the server and its threads.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PREFIX = "/scim/v2"


def scim_user(user_id: str, user_name: str, *, given: str = "Given", family: str = "Family",
              active: bool = True) -> dict[str, Any]:  # fmt: skip
    return {
        "schemas": [USER],
        "id": user_id,
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "active": active,
    }


def scim_group(group_id: str, name: str, members: list[str]) -> dict[str, Any]:
    return {
        "schemas": [GROUP],
        "id": group_id,
        "displayName": name,
        "members": [{"value": m} for m in members],
    }


@dataclass
class Scripted:
    """The server's data and its lies.

    ``unlisted_groups``: ids of teams left out of ``GET /Groups`` without a filter
    (still served by id and by a ``displayName eq`` filter). ``create_answers_with``:
    the id of an existing user (or team) whose body answers every POST to /Users
    (/Groups) after the POST was applied. ``create_accepted``: every POST answers
    202 Accepted without a body and creates nothing yet (an asynchronous server).
    ``create_conflict``: (scimType, detail) of a 409 that answers every POST (an empty
    scimType: the 409 has none).
    ``create_refusal``: (status, detail) answering every POST, which creates nothing.
    ``write_answer``: (status, content type, body) that answers every POST and PATCH
    once it was applied (a server that does the work but answers HTML, or a body
    without an id). ``lose_member_adds``: that many PATCHes adding team members are
    applied, then answered 503 (the answer lost, the work done).
    ``conflict_on_present_member``: a PATCH adding a member the team already has is
    answered 409 "member already exists" and changes nothing.
    ``patch_status_after_work``: every PATCH is applied, then answered with this
    status (a 500 or 502 from a server, or a proxy, that failed after the work).
    ``patch_refusal``: (status, detail) answering every PATCH, which changes nothing.
    ``list_delay``: seconds each listing GET waits before it is answered;
    ``in_flight`` / ``most_in_flight``: requests being served now / at most at once.
    ``busy_when_concurrent``: a status (503, 429) answering, with ``Retry-After: 0``,
    every listing GET that arrives while another request is being served (a server, or
    a proxy, that takes one request at a time). ``drop_when_concurrent``: such a request's
    connection is closed instead, without an answer.
    ``sent``: the size in bytes of every answer's body, in the order answered.
    ``chunked``: answers are sent with ``Transfer-Encoding: chunked`` (no
    Content-Length, as servers stream big or compressed answers).
    Listings honour ``excludedAttributes=members`` (teams listed without members).
    """

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    unlisted_groups: set[str] = field(default_factory=set)
    create_answers_with: str | None = None
    create_accepted: bool = False
    create_conflict: tuple[str, str] | None = None
    create_refusal: tuple[int, str] | None = None
    write_answer: tuple[int, str, bytes] | None = None
    lose_member_adds: int = 0
    conflict_on_present_member: bool = False
    patch_status_after_work: int | None = None
    patch_refusal: tuple[int, str] | None = None
    list_delay: float = 0.0  # seconds every GET of a listing takes (a round trip)
    log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0  # requests being served now
    most_in_flight: int = 0
    sent: list[int] = field(default_factory=list)
    chunked: bool = False
    busy_when_concurrent: int | None = None
    drop_when_concurrent: bool = False

    def writes(self) -> list[str]:
        return [line for line in self.log if not line.startswith("GET ")]


def _handler(state: Scripted) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            with state.lock:
                state.in_flight += 1
                state.most_in_flight = max(state.most_in_flight, state.in_flight)
            try:
                listing = method == "GET" and url.path.endswith(("/Users", "/Groups"))
                if state.drop_when_concurrent and listing and state.in_flight > 1:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if state.busy_when_concurrent and listing and state.in_flight > 1:
                    with state.lock:
                        state.log.append(f"{method} {url.path} busy")
                    self._busy(state.busy_when_concurrent)
                    return
                if (
                    state.list_delay
                    and method == "GET"
                    and url.path.endswith(("/Users", "/Groups"))
                ):
                    time.sleep(state.list_delay)
                with state.lock:
                    state.log.append(f"{method} {url.path}")
                    status, body = self._route(method, url.path, url.query, raw)
                answer = state.write_answer
                if answer is not None and method in ("POST", "PATCH") and status < 300:
                    self._raw(*answer)
                else:
                    self._json(status, body)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _route(
            self, method: str, path: str, query: str, raw: bytes
        ) -> tuple[int, dict[str, Any] | None]:
            if not path.startswith(PREFIX):
                return 404, {"detail": "no such endpoint"}
            parts = [unquote(p) for p in path[len(PREFIX) :].split("/") if p]
            if parts == ["ServiceProviderConfig"]:
                return 200, {"patch": {"supported": True}, "filter": {"supported": True}}
            if not parts or parts[0] not in ("Users", "Groups"):
                return 404, {"detail": "no such endpoint"}
            store = state.users if parts[0] == "Users" else state.groups
            if len(parts) == 1 and method == "GET":
                return 200, self._list(parts[0], store, query)
            if len(parts) == 1 and method == "POST" and state.create_accepted:
                return 202, None
            if len(parts) == 1 and method == "POST" and state.create_refusal is not None:
                status, detail = state.create_refusal
                return status, {"detail": detail}
            if len(parts) == 1 and method == "POST" and state.create_conflict:
                scim_type, detail = state.create_conflict
                if not scim_type:  # a 409 that does not say which conflict
                    return 409, {"detail": detail}
                return 409, {"scimType": scim_type, "detail": detail}
            if len(parts) == 1 and method == "POST":
                return self._create(parts[0], store, json.loads(raw or b"{}"))
            if len(parts) != 2:
                return 405, {"detail": f"{method} not allowed here"}
            found = next((r for r in store if r["id"] == parts[1]), None)
            if found is None:
                return 404, {"detail": "not found"}
            if method == "GET":
                return 200, found
            if method == "DELETE":
                store.remove(found)
                return 204, None
            if method == "PATCH" and state.patch_refusal is not None:
                status, detail = state.patch_refusal
                return status, {"detail": detail}
            if method == "PATCH":
                operations = json.loads(raw or b"{}").get("Operations", [])
                adds = [
                    o for o in operations if o.get("op") == "add" and o.get("path") == "members"
                ]
                have = {m["value"] for m in found.get("members", [])}
                asked = {m["value"] for o in adds for m in o.get("value") or []}
                if state.conflict_on_present_member and asked & have:
                    return 409, {"scimType": "uniqueness", "detail": "member already exists"}
                for op in operations:
                    _patch(found, op)
                if adds and state.lose_member_adds > 0:
                    state.lose_member_adds -= 1
                    return 503, {"detail": "try again later"}
                if state.patch_status_after_work is not None:
                    return state.patch_status_after_work, {"detail": "upstream failed"}
                return 200, found
            return 405, {"detail": f"{method} not allowed here"}

        def _list(self, kind: str, store: list[dict[str, Any]], query: str) -> dict[str, Any]:
            params = {k: v[0] for k, v in parse_qs(query).items()}
            items = list(store)
            flt = params.get("filter")
            if flt:
                attribute, _, rest = flt.partition(" eq ")
                wanted = rest.strip().strip('"').lower()
                items = [r for r in items if str(r.get(attribute.strip(), "")).lower() == wanted]
            elif kind == "Groups":
                items = [g for g in items if g["id"] not in state.unlisted_groups]
            start = int(params.get("startIndex", "1"))
            count = int(params.get("count", "100"))
            page = items[start - 1 : start - 1 + count]
            if params.get("excludedAttributes") == "members":
                page = [{k: v for k, v in r.items() if k != "members"} for r in page]
            return {
                "schemas": [LIST],
                "totalResults": len(items),
                "startIndex": start,
                "itemsPerPage": len(page),
                "Resources": page,
            }

        def _create(
            self, kind: str, store: list[dict[str, Any]], body: dict[str, Any]
        ) -> tuple[int, dict[str, Any]]:
            created = {**body, "id": uuid.uuid4().hex[:12]}
            store.append(created)
            other = next((r for r in store if r["id"] == state.create_answers_with), None)
            return 201, other if other is not None else created

        def _busy(self, status: int) -> None:
            data = json.dumps({"status": str(status), "detail": "one request at a time"})
            self.send_response(status)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data.encode())

        def _json(self, status: int, body: dict[str, Any] | None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self._raw(status, "application/scim+json", data)

        def _raw(self, status: int, content_type: str, data: bytes) -> None:
            with state.lock:
                state.sent.append(len(data))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if not state.chunked:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for at in range(0, len(data), 16384):
                piece = data[at : at + 16384]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

    return Handler


def _patch(resource: dict[str, Any], op: dict[str, Any]) -> None:
    """The PatchOp forms the reconciler sends: replace (path or value object), members."""
    kind, path, value = str(op.get("op", "")).lower(), op.get("path"), op.get("value")
    if path == "members" and kind == "add":
        resource.setdefault("members", []).extend(value or [])
    elif path and path.startswith("members[") and kind == "remove":
        gone = path.split('"')[1]
        resource["members"] = [m for m in resource.get("members", []) if m["value"] != gone]
    elif path == "members" and kind == "remove":
        gone_ids = {m["value"] for m in value or []}
        resource["members"] = [m for m in resource.get("members", []) if m["value"] not in gone_ids]
    elif path is None and isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("name."):
                resource.setdefault("name", {})[key[5:]] = item
            else:
                resource[key] = item
    elif isinstance(path, str):
        if path.startswith("name."):
            resource.setdefault("name", {})[path[5:]] = value
        else:
            resource[path] = value


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


@contextlib.contextmanager
def scripted_server(state: Scripted) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1; yields the base URL; stops the server on exit."""
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
