"""A proxy on 127.0.0.1 that makes an honest SCIM server speak another legal dialect.

RFC 7643/7644 leave servers room: attribute names are case-insensitive (RFC 7643
§2.1), ``meta`` and most attributes are optional, filters and PATCH are optional
features (RFC 7644 §3.4.2.2, §3.5.2, ServiceProviderConfig), a server may page with
fewer results than asked (§3.4.2.4), answer a PATCH with 204 or 200 (§3.5.2), send
``application/json`` (§3.1, §8.1) and give integer-looking ids. Each ``Dialect``
knob turns one such variation on, in front of a real backend (the sandbox or
scim2-server), so a test states exactly which variation the tool must take (or
refuse clearly). Every loop is bounded; closing the proxy stops its thread.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import requests

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_MEMBER_FILTER = re.compile(r'members\[value eq "((?:[^"\\]|\\.)*)"\]', re.IGNORECASE)


@dataclass
class Dialect:
    """Which legal (or, for the refusal tests, unsupported) behaviour the proxy shows.

    Names and values: ``key_case`` rewrites every JSON object key of every answer
    (``str.lower``: ``username``, ``resources``); ``urn_case`` rewrites the URNs in
    ``schemas``; ``drop_meta`` removes ``meta``; ``lower_user_names`` shows every
    userName in lower case (a server that normalises them); ``drop_name`` removes
    users' ``name`` (a server that keeps no given/family name: writes to it are
    ignored); ``several_emails`` gives every user two more emails, none primary;
    ``int_ids`` shows every id as a JSON integer (the proxy maps them back);
    ``id_prefix`` shows it as that text and a number (``"user:1001"``, ``"u/1001"``);
    ``content_type`` replaces the answers' media type.

    Answers to writes: ``patch_answer`` is "204" (no body), "200" (the resource, read
    back), "200-no-members" (a team without its members) or "" (as the backend does);
    ``minimal_create`` answers a POST with the id and the key only (userName, or a
    team's displayName); ``create_answer`` is merged into every POST answer;
    ``delete_answer`` "200" answers a DELETE 200 with an empty object instead of 204.

    Features: ``no_spc`` answers 404 to ServiceProviderConfig; ``no_groups`` answers
    404 to everything under /Groups; ``spc`` is merged into the backend's
    ServiceProviderConfig; ``filters`` is "all", "none" (400 invalidFilter) or
    "username" (only ``userName eq``); ``ignore_params`` drops
    ``attributes``/``excludedAttributes``; ``refuse_params`` answers them 400
    invalidValue; ``no_patch`` answers 501 to every PATCH; ``no_member_filter``
    answers 400 invalidPath to ``members[value eq ...]``; ``no_attribute_paths``
    answers 400 invalidPath to an operation with any other path (a server taking
    value maps only); ``if_match`` answers 412 to a PATCH without ``If-Match``.

    Paging: ``max_count`` caps ``count``; ``refuse_count_over`` answers a larger
    ``count`` 400 tooMany; ``drop_start_index`` leaves ``startIndex``
    out of list answers. Illegal, for the tests that the tool refuses them:
    ``ignore_start`` answers every list from its first result; ``ignore_filter``
    answers a filtered list with the first page of the whole collection, one result
    long.
    """

    key_case: Callable[[str], str] | None = None
    urn_case: Callable[[str], str] | None = None
    drop_meta: bool = False
    lower_user_names: bool = False
    drop_name: bool = False
    several_emails: bool = False
    int_ids: bool = False
    id_prefix: str | None = None
    content_type: str | None = None
    patch_answer: str = ""
    minimal_create: bool = False
    delete_answer: str = ""
    create_answer: dict[str, Any] = field(default_factory=dict)
    no_spc: bool = False
    no_groups: bool = False
    spc: dict[str, Any] = field(default_factory=dict)
    filters: str = "all"
    ignore_params: bool = False
    ignore_filter: bool = False
    refuse_params: bool = False
    max_count: int | None = None
    refuse_count_over: int | None = None
    drop_start_index: bool = False
    ignore_start: bool = False
    no_patch: bool = False
    no_member_filter: bool = False
    no_attribute_paths: bool = False
    if_match: bool = False
    writes: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mapped(self) -> bool:
        """Whether ids are shown other than the backend's (``int_ids``, ``id_prefix``)."""
        return self.int_ids or self.id_prefix is not None

    def number(self, backend_id: str) -> int | str:
        """The id this proxy shows for ``backend_id`` (stable for the proxy's life): an
        integer, or ``id_prefix`` and that integer."""
        with self.lock:
            number = self.ids.setdefault(backend_id, len(self.ids) + 1001)
        return number if self.id_prefix is None else f"{self.id_prefix}{number}"

    def backend_id(self, shown: str) -> str:
        """The backend's id for an id the proxy showed (unknown ones pass through)."""
        with self.lock:
            for backend, number in self.ids.items():
                if f"{self.id_prefix or ''}{number}" == shown:
                    return backend
        return shown


def _handler(backend: str, dialect: Dialect) -> type[BaseHTTPRequestHandler]:
    prefix = urlsplit(backend).path.rstrip("/")
    session = requests.Session()

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

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            tail = url.path[len(prefix) :] if url.path.startswith(prefix) else url.path
            parts = [unquote(p) for p in tail.split("/") if p]
            refusal = self._refusal(method, parts, url.query, raw)
            if refusal is not None:
                self._send(*refusal)
                return
            if method != "GET":
                dialect.writes.append(f"{method} /{'/'.join(parts[:1])}")
            if dialect.mapped:
                parts = [parts[0], *(dialect.backend_id(p) for p in parts[1:])] if parts else []
                raw = _unmap_body(raw, dialect)
            path = prefix + "".join(f"/{quote(p, safe='')}" for p in parts)
            query = self._query(url.query)
            headers = {k: v for k, v in self.headers.items() if k.lower() in _FORWARDED}
            answer = session.request(
                method,
                f"{backend.split(prefix, maxsplit=1)[0]}{path}",
                params=query,
                data=raw,
                headers=headers,
                timeout=10,
            )
            status = answer.status_code
            body: Any = answer.json() if answer.content else None
            if method == "POST" and dialect.minimal_create and isinstance(body, dict):
                body = {k: v for k, v in body.items() if k in ("schemas", "id", "userName")}
                body.setdefault("displayName", answer.json().get("displayName"))
                body = {k: v for k, v in body.items() if v is not None}
            if method == "POST" and dialect.create_answer and isinstance(body, dict):
                body = _merged(body, dialect.create_answer)
            if method == "DELETE" and status == 204 and dialect.delete_answer == "200":
                status, body = 200, {}  # a 200 with an empty object instead of 204
            if method == "PATCH" and 200 <= status < 300:
                status, body = self._patch_answer(status, body, path, headers)
            if parts == ["ServiceProviderConfig"] and isinstance(body, dict):
                body = _merged(body, dialect.spc)
            if dialect.drop_start_index and isinstance(body, dict) and "Resources" in body:
                body.pop("startIndex", None)
            self._send(status, None if body is None else _dialect(body, dialect))

        def _refusal(
            self, method: str, parts: list[str], query: str, raw: bytes
        ) -> tuple[int, Any] | None:
            if parts == ["ServiceProviderConfig"] and dialect.no_spc:
                return 404, _error(404, "no such endpoint", None)
            if parts[:1] == ["Groups"] and dialect.no_groups:
                return 404, _error(404, "no such endpoint", None)
            params = dict(parse_qsl(query))
            wanted = params.get("filter")
            if (
                wanted is not None
                and dialect.filters != "all"
                and (
                    dialect.filters == "none"
                    or not re.fullmatch(r'userName eq ".*"', wanted, re.IGNORECASE)
                )
            ):
                return 400, _error(400, f"filter not supported: {wanted}", "invalidFilter")
            count = params.get("count", "0")
            if dialect.refuse_count_over is not None and int(count) > dialect.refuse_count_over:
                detail = f"count must be at most {dialect.refuse_count_over}"
                return 400, _error(400, detail, "tooMany")
            if dialect.refuse_params and ("attributes" in params or "excludedAttributes" in params):
                return 400, _error(400, "attribute selection is not supported", "invalidValue")
            if method == "PATCH" and dialect.no_patch:
                return 501, _error(501, "PATCH is not implemented; use PUT", None)
            if method == "PATCH" and dialect.if_match and "If-Match" not in self.headers:
                return 412, _error(412, "If-Match header required", None)
            if method == "PATCH" and dialect.no_member_filter and _filters_members(raw):
                return 400, _error(400, "value filters in paths are not supported", "invalidPath")
            if method == "PATCH" and dialect.no_attribute_paths and _attribute_paths(raw):
                return 400, _error(400, "only value maps without a path", "invalidPath")
            return None

        def _query(self, query: str) -> list[tuple[str, str]]:
            kept = []
            pairs = parse_qsl(query)
            if dialect.ignore_filter and any(key == "filter" for key, _ in pairs):
                # Answers the whole collection instead, one result a page.
                pairs = [(k, v) for k, v in pairs if k != "filter"] + [("count", "1")]
            for key, sent in pairs:
                if dialect.ignore_params and key in ("attributes", "excludedAttributes"):
                    continue
                if dialect.ignore_start and key == "startIndex":
                    continue
                value = sent
                if key == "count" and dialect.max_count is not None:
                    value = str(min(int(sent), dialect.max_count))
                if key == "filter" and dialect.mapped:
                    value = _unmap_filter(sent, dialect)
                kept.append((key, value))
            return kept

        def _patch_answer(
            self, status: int, body: Any, path: str, headers: dict[str, str]
        ) -> tuple[int, Any]:
            if dialect.patch_answer == "204":
                return 204, None
            if dialect.patch_answer.startswith("200") and body is None:
                root = backend.split(prefix, maxsplit=1)[0]
                body = session.get(f"{root}{path}", headers=headers, timeout=10).json()
            if dialect.patch_answer == "200-no-members" and isinstance(body, dict):
                body.pop("members", None)  # the default attribute set of some servers
            return (200, body) if dialect.patch_answer.startswith("200") else (status, body)

        def _send(self, status: int, body: Any) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", dialect.content_type or "application/scim+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


_FORWARDED = frozenset({"authorization", "content-type", "accept", "if-match"})


def _error(status: int, detail: str, scim_type: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _attribute_paths(raw: bytes) -> bool:
    """Whether a PatchOp has an operation with a path other than ``members...``."""
    operations = json.loads(raw).get("Operations", []) if raw else []
    paths = [str(op.get("path", "")) for op in operations if op.get("path")]
    return any(not p.startswith("members") for p in paths)


def _filters_members(raw: bytes) -> bool:
    """Whether a PatchOp addresses members by a value filter (``members[value eq ...]``)."""
    operations = json.loads(raw).get("Operations", []) if raw else []
    return any(_MEMBER_FILTER.search(str(op.get("path", ""))) for op in operations)


def _unmap_body(raw: bytes, dialect: Dialect) -> bytes:
    if not raw:
        return raw
    body = json.loads(raw)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: walk(v) for k, v in value.items()}
            if "value" in out and isinstance(out["value"], str | int) and "op" not in out:
                out["value"] = dialect.backend_id(str(out["value"]))
            if isinstance(out.get("path"), str):
                out["path"] = _unmap_filter(out["path"], dialect)
            return out
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(body)).encode()


def _unmap_filter(text: str, dialect: Dialect) -> str:
    return _MEMBER_FILTER.sub(lambda m: f'members[value eq "{dialect.backend_id(m[1])}"]', text)


def _dialect(body: Any, dialect: Dialect) -> Any:
    """``body`` as the dialect shows it (ids, meta, names, emails, then key case)."""

    def walk(value: Any, parent: str) -> Any:
        if isinstance(value, list):
            return [walk(v, parent) for v in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, sent in value.items():
            if key == "meta" and dialect.drop_meta:
                continue
            if key == "name" and dialect.drop_name and "userName" in value:
                continue
            item: Any
            if key == "schemas" and dialect.urn_case and isinstance(sent, list):
                item = [dialect.urn_case(s) if isinstance(s, str) else s for s in sent]
            elif key == "userName" and dialect.lower_user_names and isinstance(sent, str):
                item = sent.lower()
            elif (
                dialect.mapped
                and isinstance(sent, str)
                and (key == "id" or (key == "value" and parent in ("members", "groups")))
            ):
                item = dialect.number(sent)
            else:
                item = walk(sent, key)
            out[dialect.key_case(key) if dialect.key_case else key] = item
        if dialect.several_emails and "userName" in value:
            emails = [{"value": f"alias{n}.{value['userName']}", "type": "other"} for n in (1, 2)]
            plain = [
                {k: v for k, v in e.items() if k != "primary"} for e in value.get("emails", [])
            ]
            key = dialect.key_case("emails") if dialect.key_case else "emails"
            out[key] = [*emails, *plain]
        return out

    return walk(body, "")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


@contextlib.contextmanager
def dialect_proxy(backend: str, dialect: Dialect) -> Iterator[str]:
    """Serve ``backend`` (a SCIM base URL) in ``dialect`` on 127.0.0.1; yields the
    proxy's base URL (same path); stops the proxy on exit."""
    server = _QuietServer(("127.0.0.1", 0), _handler(backend, dialect))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{urlsplit(backend).path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
