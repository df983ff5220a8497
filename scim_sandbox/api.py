"""SCIM request semantics: routing, auth, paging, projections, errors. No sockets.

``ScimApi.handle`` turns a parsed ``Request`` into a ``Response``; the HTTP layer
(``server.py``) only moves bytes and injects faults. Keeping the two apart lets the
semantics be read (and reasoned about) without any networking in the way.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.profile import MIXPANEL
from scim_sandbox import discovery
from scim_sandbox.failure import ScimFailure, invalid_syntax, invalid_value
from scim_sandbox.faults import Faults, SandboxStats
from scim_sandbox.filters import (
    GROUP_FILTER_ATTRIBUTES,
    USER_FILTER_ATTRIBUTES,
    EqFilter,
    parse_filter,
)
from scim_sandbox.patch import count_member_values, parse_operations
from scim_sandbox.quirks import Quirks
from scim_sandbox.resources import encode, list_body
from scim_sandbox.store import Store, Written

BASE_PATH = MIXPANEL.scim_path  # the sandbox answers where Mixpanel does
CONTENT_TYPE = "application/scim+json"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
_ALWAYS_RETURNED = {"id", "schemas"}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HTML_PAGE = b"<!doctype html><html><body><h1>Saved</h1></body></html>"
_KINDS = ("Users", "Groups")


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the API sees it; ``path`` has no query string."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def request_class(method: str, path: str) -> str:
    """ "PATCH /Groups" for ``PATCH <BASE_PATH>/Groups/abc``: the unit faults and stats use."""
    rest = path[len(BASE_PATH) :] if path.startswith(BASE_PATH) else path
    first = rest.strip("/").split("/", 1)[0]
    return f"{method} /{first}"


def error_response(failure: ScimFailure) -> Response:
    return Response(failure.status, failure.body())


class ScimApi:
    """The Mixpanel-like SCIM endpoints over a ``Store``.

    ``persist`` is called with the store version after each mutation and before the
    response exists, so an acknowledged write is durable. ``faults`` and ``quirks``
    are read per request so ``Sandbox.set_faults`` / ``set_quirks`` take effect
    immediately.
    """

    def __init__(
        self,
        store: Store,
        token: str,
        faults: Callable[[], Faults],
        stats: SandboxStats,
        persist: Callable[[int], None] | None = None,
        *,
        quirks: Callable[[], Quirks] = Quirks,
    ) -> None:
        self._store = store
        self._quirks = quirks
        self._token = token.encode()
        self._faults = faults
        self._stats = stats
        self._persist = persist
        # (kind, key) written to so far, for ``read_returns_other`` (after a write).
        self._written_to: set[tuple[str, str]] = set()
        self._written_lock = threading.Lock()
        # ``stale_reads``: (kind, id) -> [reads left, the answer before the write or None].
        self._stale: dict[tuple[str, str], list[Any]] = {}

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path != BASE_PATH and not path.startswith(BASE_PATH + "/"):
            return error_response(ScimFailure(404, f"no SCIM endpoint at {request.path}"))
        if not self._authorized(request.authorization):
            failure = ScimFailure(401, "a valid Bearer token is required")
            return Response(401, failure.body(), (("WWW-Authenticate", 'Bearer realm="SCIM"'),))
        parts = [part for part in path[len(BASE_PATH) :].split("/") if part]
        quirks = self._quirks()
        if quirks.read_returns_other and request.method in _WRITES:
            self._note_write(parts)
        if quirks.creates_inactive and request.method == "POST" and parts == ["Users"]:
            request = self._made_inactive(request)
        if quirks.stale_reads and request.method == "GET":
            stale = self._stale_read(parts)
            if stale is not None:
                return stale
        before = self._before_write(quirks, request, parts)
        try:
            quirked = self._write_quirks(quirks, request, parts)
            response = quirked or self._route(request, parts)
        except ScimFailure as failure:
            if failure.status == 409 and quirks.conflict_without_scimtype:
                failure = ScimFailure(409, failure.detail)
            return error_response(failure)
        if quirks.stale_reads and request.method in _WRITES and 200 <= response.status < 300:
            self._note_stale(quirks.stale_reads, parts, before, response)
        if (
            quirks.active_omitted
            and request.method in _WRITES
            and parts[:1] == ["Users"]
            and response.status in (200, 201)
            and response.body
        ):
            response = Response(response.status, quirks.user_body(response.body), response.headers)
        if quirks.patch_returns_other and request.method == "PATCH" and response.status == 200:
            return self._answer_about_another(parts, response)
        if quirks.post_answers_other_id and request.method == "POST" and response.status == 201:
            return self._created_with_other_id(parts, response)
        if request.method == "GET" and response.status == 200 and self._reads_other(quirks, parts):
            return self._answer_about_another(parts, response)
        if quirks.html_write_answers and request.method in _WRITES:
            return self._html_answer(response)
        return response

    def _html_answer(self, response: Response) -> Response:
        """A success answer, once the write was done, as an HTML page (errors untouched)."""
        if not 200 <= response.status < 300:
            return response
        self._stats.count_fault("quirk_html_write_answer")
        status = 200 if response.status == 204 else response.status
        return Response(status, _HTML_PAGE, (("Content-Type", "text/html; charset=utf-8"),))

    def _made_inactive(self, request: Request) -> Request:
        """A user create as the ``creates_inactive`` server sees it: ``active`` false."""
        payload = _json(request.body)
        if not isinstance(payload, dict):
            return request
        self._stats.count_fault("quirk_created_inactive")
        return dataclasses.replace(request, body=encode({**payload, "active": False}))

    def _created_with_other_id(self, parts: list[str], response: Response) -> Response:
        """A create's 201 answer about the resource sent, but with another one's ``id``."""
        body = json.loads(response.body)
        listed = self._store.users() if parts[0] == "Users" else self._store.groups()
        other = next((r["id"] for r in listed if r["id"] != body["id"]), None)
        if other is None:
            return response
        self._stats.count_fault("quirk_post_answered_other_id")
        body["id"] = other
        return Response(201, json.dumps(body).encode(), response.headers)

    def _note_write(self, parts: list[str]) -> None:
        if len(parts) == 2 and parts[0] in _KINDS:
            key = self._store.key_of(parts[0], parts[1])
            if key is not None:
                with self._written_lock:
                    self._written_to.add((parts[0], key))

    def _reads_other(self, quirks: Quirks, parts: list[str]) -> bool:
        """``read_returns_other``: a read by id of a targeted resource written to before."""
        if not quirks.read_returns_other or len(parts) != 2 or parts[0] not in _KINDS:
            return False
        key = self._store.key_of(parts[0], parts[1])
        if key is None or not quirks.reads_other(parts[0], key):
            return False
        with self._written_lock:
            return (parts[0], key) in self._written_to

    # ---- quirk modes (see quirks.py) ------------------------------------------------

    def _before_write(self, quirks: Quirks, request: Request, parts: list[str]) -> bytes | None:
        """``stale_reads``: the resource a write by id is about to change, as it reads now."""
        if not quirks.stale_reads or request.method not in _WRITES or len(parts) != 2:
            return None
        if parts[0] not in _KINDS:
            return None
        try:
            if parts[0] == "Users":
                return quirks.user_body(self._store.user_json(parts[1]))
            return quirks.group_body(self._store.group_json(parts[1]))
        except ScimFailure:
            return None

    def _note_stale(
        self, reads: int, parts: list[str], before: bytes | None, response: Response
    ) -> None:
        """``stale_reads``: the next ``reads`` reads by id of what was written answer
        ``before`` (None: 404, for a resource this write created)."""
        if not parts or parts[0] not in _KINDS:
            return
        if len(parts) == 2:
            resource_id = parts[1]
        else:
            try:
                resource_id = str(json.loads(response.body)["id"])
            except (ValueError, KeyError, TypeError):
                return
        with self._written_lock:
            self._stale[(parts[0], resource_id)] = [reads, before]

    def _stale_read(self, parts: list[str]) -> Response | None:
        if len(parts) != 2 or parts[0] not in _KINDS:
            return None
        with self._written_lock:
            pending = self._stale.get((parts[0], parts[1]))
            if pending is None:
                return None
            pending[0] -= 1
            if pending[0] <= 0:
                del self._stale[(parts[0], parts[1])]
            before = pending[1]
        self._stats.count_fault("quirk_stale_read")
        if before is None:
            kind = "User" if parts[0] == "Users" else "Group"
            return error_response(ScimFailure(404, f"{kind} {parts[1]} not found"))
        return _ok(before)

    def _write_quirks(self, quirks: Quirks, request: Request, parts: list[str]) -> Response | None:
        """A 403 or a success that does nothing, for a write the quirks single out."""
        if request.method not in _WRITES or not parts or parts[0] not in ("Users", "Groups"):
            return None
        kind = parts[0]
        key = self._written_key(request, parts)
        if key is None:
            return None
        detail = quirks.forbidden(kind, key)
        if detail is not None:
            self._stats.count_fault("quirk_403")
            raise ScimFailure(403, detail)
        if quirks.post_returns_existing and request.method == "POST" and len(parts) == 1:
            existing = (
                self._store.user_by_name(key) if kind == "Users" else self._store.group_by_name(key)
            )
            if existing is not None:
                self._stats.count_fault("quirk_post_returned_existing")
                return _ok(encode(existing))
        if not quirks.ignores(kind, key):
            return None
        self._stats.count_fault("quirk_ignored_write")
        if request.method == "POST":
            return self._pretend_created(kind, request)
        return Response(204)

    def _written_key(self, request: Request, parts: list[str]) -> str | None:
        kind = parts[0]
        if len(parts) == 2:
            return self._store.key_of(kind, parts[1])
        if request.method != "POST":
            return None
        payload = _json(request.body)
        field = "userName" if kind == "Users" else "displayName"
        value = payload.get(field) if isinstance(payload, dict) else None
        return value if isinstance(value, str) else None

    def _pretend_created(self, kind: str, request: Request) -> Response:
        payload = _json(request.body)
        invented = uuid.uuid4().hex
        location = f"{self._store.base_url}/{kind}/{invented}"
        resource = {
            **payload,
            "id": invented,
            "meta": {"resourceType": kind[:-1], "location": location},
        }
        return Response(201, encode(resource), (("Location", location),))

    def _answer_about_another(self, parts: list[str], response: Response) -> Response:
        if len(parts) != 2:
            return response
        other = self._store.another_id(parts[0], parts[1])
        if other is None:
            return response
        if parts[0] == "Users":
            return _ok(self._store.user_json(other))
        return _ok(self._store.group_json(other))

    def _authorized(self, header: str | None) -> bool:
        scheme, _, credentials = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self._token)

    def _route(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        match parts:
            case ["Users"] if method == "GET":
                return self._list_users(request.query)
            case ["Users"] if method == "POST":
                return self._created(self._store.create_user(_json(request.body)))
            case ["Users", user_id]:
                if method == "GET" and self._quirks().member_ids_case:
                    user_id = user_id.lower()  # sandbox ids are lowercase hex
                return self._one_user(request, user_id)
            case ["Groups"] if method == "GET":
                return self._list_groups(request.query)
            case ["Groups"] if method == "POST":
                return self._created(self._store.create_group(_json(request.body)))
            case ["Groups", group_id]:
                return self._one_group(request, group_id)
            case ["ServiceProviderConfig"] | ["ResourceTypes", *_] | ["Schemas", *_]:
                return self._discovery(method, parts)
            case ["Users" | "Groups"]:
                raise _not_allowed(method)
        raise ScimFailure(404, f"no SCIM endpoint at {request.path}")

    # ---- Users ------------------------------------------------------------------------

    def _list_users(self, query: dict[str, str]) -> Response:
        flt = _filter(query, USER_FILTER_ATTRIBUTES)
        quirks = self._quirks()
        start, count = quirks.listing_window(*self._paging(query), filtered=flt is not None)
        hide = quirks.hide_inactive
        total, items = self._store.list_users(flt, start, count, hide_inactive=hide)
        total = quirks.listed_total(total, len(items), filtered=flt is not None)
        items = [quirks.user_body(item) for item in items]
        return _ok(list_body(total, start, _project_all(items, query)))

    def _one_user(self, request: Request, user_id: str) -> Response:
        store = self._store
        if request.method == "GET":
            body = self._quirks().user_body(store.user_json(user_id))
            return _ok(_project(body, request.query))
        if request.method == "PUT":
            return self._saved(store.replace_user(user_id, _json(request.body)))
        if request.method == "PATCH":
            return self._saved(store.patch_user(user_id, parse_operations(_json(request.body))))
        if request.method == "DELETE":
            return self._deleted(store.delete_user(user_id))
        raise _not_allowed(request.method)

    # ---- Groups -----------------------------------------------------------------------

    def _list_groups(self, query: dict[str, str]) -> Response:
        flt = _filter(query, GROUP_FILTER_ATTRIBUTES)
        quirks = self._quirks()
        start, count = quirks.listing_window(*self._paging(query), filtered=flt is not None)
        members, query = _members_wanted(query)
        total, items = self._store.list_groups(flt, start, count, members=members)
        total = quirks.listed_total(total, len(items), filtered=flt is not None)
        if members:
            items = [quirks.group_body(item, listing=True) for item in items]
        return _ok(list_body(total, start, _project_all(items, query)))

    def _one_group(self, request: Request, group_id: str) -> Response:
        store = self._store
        if request.method == "GET":
            members, query = _members_wanted(request.query)
            body = store.group_json(group_id, members=members)
            return _ok(_project(self._quirks().group_body(body), query))
        if request.method == "PUT":
            return self._saved(store.replace_group(group_id, _json(request.body)))
        if request.method == "PATCH":
            operations = parse_operations(_json(request.body))
            if self._quirks().add_replaces_members:
                operations = [
                    dataclasses.replace(o, op="replace")
                    if o.op == "add" and (o.path or "").lower() == "members"
                    else o
                    for o in operations
                ]
            limit = self._faults().max_members_per_patch
            if limit is not None and count_member_values(operations) > limit:
                self._stats.count_fault("413")
                raise ScimFailure(413, f"too many members in one request (max {limit})")
            return self._saved(store.patch_group(group_id, operations))
        if request.method == "DELETE":
            return self._deleted(store.delete_group(group_id))
        raise _not_allowed(request.method)

    # ---- shared -------------------------------------------------------------------------

    def _paging(self, query: dict[str, str]) -> tuple[int, int]:
        """(startIndex, count) per RFC 7644 §3.4.2.4: <1 means 1, negative count means 0."""
        start = max(1, _integer(query, "startIndex", 1))
        cap = self._faults().max_page_size or MAX_COUNT
        count = min(max(0, _integer(query, "count", DEFAULT_COUNT)), cap)
        return start, count

    def _discovery(self, method: str, parts: list[str]) -> Response:
        if method != "GET":
            raise _not_allowed(method)
        base = self._store.base_url
        if parts == ["ServiceProviderConfig"]:
            cap = self._faults().max_page_size or MAX_COUNT
            return _ok(encode(discovery.service_provider_config(base, cap)))
        documents = (
            discovery.resource_types(base)
            if parts[0] == "ResourceTypes"
            else discovery.schemas(base)
        )
        if len(parts) == 1:
            return _ok(encode(discovery.list_response(documents)))
        for document in documents:
            if document["id"] == parts[1]:
                return _ok(encode(document))
        raise ScimFailure(404, f"{parts[0]} {parts[1]} not found")

    def _written(self, written: Written) -> None:
        if self._persist is not None:
            self._persist(written.version)

    def _created(self, written: Written) -> Response:
        self._written(written)
        location = json.loads(written.body)["meta"]["location"]
        return Response(201, written.body, (("Location", location),))

    def _saved(self, written: Written) -> Response:
        self._written(written)
        return _ok(written.body)

    def _deleted(self, version: int) -> Response:
        if self._persist is not None:
            self._persist(version)
        return Response(204)


def _ok(body: bytes) -> Response:
    return Response(200, body)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as error:
        raise invalid_syntax(f"the request body is not valid JSON ({error})") from error


def _integer(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise invalid_value(f"'{name}' must be an integer, not {raw!r}") from error


def _filter(query: dict[str, str], allowed: dict[str, str]) -> EqFilter | None:
    text = query.get("filter")
    return None if not text else parse_filter(text, allowed)


def _not_allowed(method: str) -> ScimFailure:
    return ScimFailure(405, f"method {method} is not allowed here")


def _names(query: dict[str, str], key: str) -> set[str]:
    return {name.strip().lower() for name in query.get(key, "").split(",") if name.strip()}


def _members_wanted(query: dict[str, str]) -> tuple[bool, dict[str, str]]:
    """Serve ``excludedAttributes=members`` from the member-less cache (the big-team fast path)."""
    excluded = _names(query, "excludedAttributes")
    if "members" not in excluded:
        return True, query
    rest = {k: v for k, v in query.items() if k != "excludedAttributes"}
    remaining = ",".join(sorted(excluded - {"members"}))
    if remaining:
        rest["excludedAttributes"] = remaining
    return False, rest


def _project_all(items: list[bytes], query: dict[str, str]) -> list[bytes]:
    if "attributes" not in query and "excludedAttributes" not in query:
        return items
    return [_project(item, query) for item in items]


def _project(body: bytes, query: dict[str, str]) -> bytes:
    """Apply ``attributes`` / ``excludedAttributes`` (top-level or ``a.b`` names)."""
    wanted, excluded = _names(query, "attributes"), _names(query, "excludedAttributes")
    if not wanted and not excluded:
        return body
    resource: dict[str, Any] = json.loads(body)
    if wanted:
        tops = {name.rpartition(":")[2].split(".")[0] for name in wanted} | _ALWAYS_RETURNED
        resource = {k: v for k, v in resource.items() if k.lower() in tops}
    for name in excluded:
        top, _, sub = name.rpartition(":")[2].partition(".")
        for key in [k for k in resource if k.lower() == top and k.lower() not in _ALWAYS_RETURNED]:
            if not sub:
                del resource[key]
            elif isinstance(resource[key], dict):
                resource[key] = {k: v for k, v in resource[key].items() if k.lower() != sub}
    return encode(resource)
