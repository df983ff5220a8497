"""Narrow SCIM operations for the reader and the executor, on top of the Transport.

The one piece of protocol logic that is not pure lives here: creating without ever
duplicating. A POST whose answer was lost may have been applied, so before sending
it again we look the object up by its key and adopt it if it is there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from reconciler.identity import ascii_lower, match_key, name_fold
from reconciler.livestate import LiveGroup, LiveUser
from reconciler.profile import MIXPANEL, PRODUCT, TargetProfile
from reconciler.scim.builders import eq_filter
from reconciler.scim.errors import (
    ScimBadRequest,
    ScimCircuitOpen,
    ScimConflict,
    ScimError,
    ScimForbidden,
    ScimNotFound,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimTransportError,
    ScimUnsupportedError,
    ScimUnusableAnswer,
    conflict_hint,
)
from reconciler.scim.parse import (
    DOT_SEGMENTS,
    ListPage,
    canonical_document,
    canonical_names,
    parse_group,
    parse_list,
    parse_user,
    parse_user_groups,
)
from reconciler.scim.retry import Backoff, RetryNotice
from reconciler.scim.secret import Token
from reconciler.scim.transport import RequestStats, Response, Transport
from reconciler.scim.url import normalise_base_url

log = logging.getLogger("reconciler.scim")

T = TypeVar("T", LiveUser, LiveGroup)
CONFIRM = "confirm"  # the RequestStats purpose of confirmation reads
R = TypeVar("R")


class Origin(StrEnum):
    """How a create ended: which matters, because only a made account is known to be new."""

    CREATED = "created"  # our POST made it
    RECOVERED = "recovered"  # our POST's answer was lost; a lookup found it afterwards
    ADOPTED = "adopted"  # it existed before: the POST got a 409 and a lookup found it


@dataclass(frozen=True, slots=True)
class Creation(Generic[T]):
    """The resource a create ended with, and whether this run made it (``origin``).

    A RECOVERED resource is probably ours but may have existed before; the caller
    compares it with what it sent to tell.
    """

    resource: T
    origin: Origin
    why: str = ""  # for RECOVERED: what became of the answer ("its answer was lost")


GROUP_CONFLICT_HINT = (
    "a team named {name!r} seems to exist but a displayName filter does not find it; "
    "check the team in {product}"
)


class ScimClient:
    """The SCIM calls this tool makes, each returning domain values or raising ScimError."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._users_answered = False  # a /Users listing answered: the base URL is right

    @classmethod
    def connect(
        cls,
        base_url: str | None,
        token: Token,
        *,
        profile: TargetProfile = MIXPANEL,
        **transport_kwargs: Any,
    ) -> ScimClient:
        """A client for a base URL (None: the profile's), validated before any request.

        ``profile`` names the service in the advice its errors carry.
        """
        url = normalise_base_url(base_url, default=profile.default_url)
        return cls(Transport(url, token, profile=profile, **transport_kwargs))

    @property
    def profile(self) -> TargetProfile:
        """The service this client talks to (Mixpanel's for a transport without one)."""
        profile: TargetProfile = getattr(self.transport, "profile", MIXPANEL)
        return profile

    @property
    def stats(self) -> RequestStats:
        return self.transport.stats

    def close(self) -> None:
        self.transport.close()

    def byte_budget(self, limit: int | None = None) -> AbstractContextManager[object]:
        """Answers received inside may total at most ``limit`` bytes (None: the
        transport's ``max_read_bytes``; see Transport.byte_budget).

        In-memory fakes without a transport receive no bytes, so nothing is counted.
        """
        transport: Transport | None = getattr(self, "transport", None)
        return nullcontext() if transport is None else transport.byte_budget(limit)

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Reads ---------------------------------------------------------------------------

    def service_provider_config(self) -> dict[str, Any]:
        """The ServiceProviderConfig (RFC 7643 §5), names spelt canonically at any depth
        (``Patch``/``SUPPORTED`` read as ``patch``/``supported``, RFC 7643 §2.1).

        Raises ScimNotFound (with the base-URL hint) when the server has none.
        """
        try:
            response = self.transport.request("GET", "/ServiceProviderConfig")
        except ScimNotFound as error:
            raise error.with_hint(
                f"{self.profile.base_url_hint}; `reconciler doctor` checks the setup"
            ) from None
        body = _required_body(response, "GET", "/ServiceProviderConfig")
        return _parsed(canonical_document, body, "GET", "/ServiceProviderConfig")

    def list_users_page(self, start_index: int, count: int) -> ListPage:
        try:
            return self._list("/Users", {"startIndex": start_index, "count": count})
        except ScimForbidden as error:
            raise error.with_hint(self.profile.forbidden_list_hint) from None
        except ScimBadRequest as error:
            raise _page_size_hint(error, count) from None

    def list_groups_page(
        self, start_index: int, count: int, *, with_members: bool = False
    ) -> ListPage:
        """A page of groups; without members by default, since big teams make pages huge
        and some servers cut or refuse member lists in list answers."""
        params: dict[str, str | int] = {"startIndex": start_index, "count": count}
        if not with_members:
            params["excludedAttributes"] = "members"
        try:
            return self._list("/Groups", params)
        except ScimForbidden as error:
            raise error.with_hint(self.profile.forbidden_list_hint) from None
        except ScimBadRequest as error:
            raise _page_size_hint(error, count) from None

    def get_group(self, group_id: str, *, purpose: str = "") -> LiveGroup:
        """One team with its members as ``GET /Groups/{id}`` returns them.

        ``purpose`` counts the request in ``stats.by_purpose`` (apply's read-back).
        Raises ScimNotFound when the team does not exist.
        """
        path = f"/Groups/{_segment(group_id)}"
        response = self.transport.request("GET", path, purpose=purpose)
        group = _parsed(parse_group, _required_body(response, "GET", path), "GET", path)
        return _addressed(group, group_id, path)

    def get_user(self, user_id: str, *, purpose: str = "") -> LiveUser:
        """One user by id (``GET /Users/{id}``); raises ScimNotFound when it does not exist."""
        path = f"/Users/{_segment(user_id)}"
        response = self.transport.request("GET", path, purpose=purpose)
        user = _parsed(parse_user, _required_body(response, "GET", path), "GET", path)
        return _addressed(user, user_id, path)

    def find_user(self, user_name: str) -> LiveUser | None:
        """The user with this userName, compared case-insensitively (caseExact=false)."""
        page = self._list("/Users", {"filter": eq_filter("userName", user_name)})
        users = [_parsed(parse_user, r, "GET", "/Users") for r in page.resources]
        found = _single([u for u in users if u.key == match_key(user_name)], user_name)
        if found is None:
            _check_absent(page, "user", user_name, "/Users")
        return found

    def find_group(self, name: str) -> LiveGroup | None:
        """The team with exactly this displayName (team names are case-sensitive labels).

        Members are as the filter answer returns them; use ``get_group`` for the
        authoritative member list.
        """
        page = self._list("/Groups", {"filter": eq_filter("displayName", name)})
        groups = [_parsed(parse_group, r, "GET", "/Groups") for r in page.resources]
        found = _single([g for g in groups if g.display_name == name], name)
        if found is None:
            _check_absent(page, "team", name, "/Groups")
        return found

    # Confirmations: reads that prove what a listing left out --------------------------

    def confirm_user_name(self, user_name: str) -> LiveUser | None:
        """``find_user``, counted as a ``CONFIRM`` request: is this unlisted user absent?"""
        params = {"filter": eq_filter("userName", user_name)}
        response = self.transport.request("GET", "/Users", params=params, purpose=CONFIRM)
        page = _parsed(parse_list, _required_body(response, "GET", "/Users"), "GET", "/Users")
        users = [_parsed(parse_user, r, "GET", "/Users") for r in page.resources]
        found = _single([u for u in users if u.key == match_key(user_name)], user_name)
        if found is None:
            _check_absent(page, "user", user_name, "/Users")
        return found

    def confirm_group_name(self, name: str) -> LiveGroup | None:
        """``find_group`` by ``displayName eq``, counted as ``CONFIRM``: is this team absent?

        Any team the filter returns whose name differs from ``name`` at most in ASCII
        case or surrounding whitespace counts (servers compare displayName
        case-insensitively, so creating it would clash or duplicate).
        """
        params = {"filter": eq_filter("displayName", name)}
        response = self.transport.request("GET", "/Groups", params=params, purpose=CONFIRM)
        page = _parsed(parse_list, _required_body(response, "GET", "/Groups"), "GET", "/Groups")
        groups = [_parsed(parse_group, r, "GET", "/Groups") for r in page.resources]
        twins = [g for g in groups if name_fold(g.display_name) == name_fold(name)]
        if not twins:
            _check_absent(page, "team", name, "/Groups")
        return twins[0] if twins else None

    def confirm_user_id(self, user_id: str) -> tuple[LiveUser, frozenset[str] | None] | None:
        """GET /Users/{id} for a team member no listed user has, counted as ``CONFIRM``.

        Returns the user and its ``groups`` ids (None when the server does not fill
        them), or None on 404 (the id really points nowhere).
        """
        path = f"/Users/{_segment(user_id)}"
        try:
            response = self.transport.request("GET", path, purpose=CONFIRM)
        except ScimNotFound:
            return None
        body = _required_body(response, "GET", path)
        user = _addressed(_parsed(parse_user, body, "GET", path), user_id, path)
        return user, _parsed(parse_user_groups, body, "GET", path)

    # Writes --------------------------------------------------------------------------

    def create_user(self, resource: Mapping[str, Any]) -> LiveUser:
        """POST a user, adopting it instead when it already exists (never a duplicate)."""
        return self.create_or_adopt_user(resource).resource

    def create_group(self, resource: Mapping[str, Any]) -> LiveGroup:
        """POST a team, adopting an existing team of the same displayName."""
        return self.create_or_adopt_group(resource).resource

    def create_or_adopt_user(self, resource: Mapping[str, Any]) -> Creation[LiveUser]:
        """POST a user; on a 409, look it up by userName and adopt it (never a duplicate).

        A POST answered 200 (not 201 Created) with the user is an adoption too: the
        server returned an account it already had.

        A 409 whose user a lookup cannot find raises ScimConflict with advice that says
        only what is known (``errors.conflict_hint``): for one user, not the whole run.
        """
        user_name = str(resource["userName"])
        return self._create(
            "/Users",
            resource,
            parse_user,
            lambda: self.find_user(user_name),
            lambda conflict: conflict_hint(conflict, user_name, self.profile),
            answer=_Answer(
                "user", user_name, lambda user: match_key(user.user_name) == match_key(user_name)
            ),
        )

    def create_or_adopt_group(self, resource: Mapping[str, Any]) -> Creation[LiveGroup]:
        """POST a team; on a 409, adopt the existing team of the same displayName."""
        name = str(resource["displayName"])
        return self._create(
            "/Groups",
            resource,
            parse_group,
            lambda: self.find_group(name),
            lambda _: GROUP_CONFLICT_HINT.format(name=name, product=self.profile.product),
            answer=_Answer("team", name, lambda group: group.display_name == name),
        )

    def patch_user(self, user_id: str, patch: Mapping[str, Any]) -> LiveUser | None:
        """Apply a PatchOp; returns the user when the server answers 200 with it, else None.

        A 2xx whose body cannot be read raises ScimUnusableAnswer: the PATCH was
        accepted, so the caller must not take it as refused (the read-back decides).
        """
        path = f"/Users/{_segment(user_id)}"
        return self._patch(path, patch, parse_user)

    def patch_group(self, group_id: str, patch: Mapping[str, Any]) -> LiveGroup | None:
        """Apply a PatchOp; returns the team when the server answers 200 with it, else None.

        A 2xx whose body cannot be read raises ScimUnusableAnswer, as ``patch_user``.
        """
        path = f"/Groups/{_segment(group_id)}"
        return self._patch(path, patch, parse_group)

    def _patch(self, path: str, patch: Mapping[str, Any], parse: Callable[[object], R]) -> R | None:
        try:
            response = self.transport.request("PATCH", path, json=patch)
        except ScimProtocolError as error:
            if _accepted(error.status):
                raise ScimUnusableAnswer.of(error, error.status or 200) from None
            raise
        if response.body is None:
            return None
        try:
            return _parsed(parse, _named(response.body, "PATCH", path), "PATCH", path)
        except ScimError as error:  # a resource without an id, a blank name, ...
            raise ScimUnusableAnswer.of(error, response.status) from None

    def delete_user(self, user_id: str) -> None:
        """DELETE a user; a 404 after a retry means an earlier attempt already did it."""
        self._delete(f"/Users/{_segment(user_id)}")

    def delete_group(self, group_id: str) -> None:
        """DELETE a team (RFC 7644 §3.6); a 404 after a retry means it is already gone.

        No operation kind deletes a team today; the writer offers it so that one can be
        added in ``reconciler.kinds`` and the planner alone.
        """
        self._delete(f"/Groups/{_segment(group_id)}")

    def _delete(self, path: str) -> None:
        """A 2xx whose body cannot be read raises ScimUnusableAnswer (the read-back
        decides, as for a PATCH)."""
        try:
            self.transport.request("DELETE", path)
        except ScimNotFound as error:
            if error.attempts > 1:
                return
            raise
        except ScimProtocolError as error:
            if _accepted(error.status):
                raise ScimUnusableAnswer.of(error, error.status or 200) from None
            raise

    # Internals -----------------------------------------------------------------------

    def _list(self, path: str, params: Mapping[str, str | int]) -> ListPage:
        try:
            response = self.transport.request("GET", path, params=params)
        except ScimNotFound as error:
            if path == "/Groups" and getattr(self, "_users_answered", False):
                # /Users answered at this base URL: the URL is right and the server has
                # no Group resource type (RFC 7643 §4.2 makes it optional).
                raise error.with_hint(
                    "the server answers /Users but has no /Groups: it does not offer SCIM "
                    f"Groups, which are {self.profile.product}'s teams; this tool reads and "
                    "manages teams as Groups, so it cannot work with this server: use the "
                    "SCIM base URL of a server that offers Groups"
                ) from None
            # A collection (/Users, /Groups) is never missing on a SCIM server: the base
            # URL is wrong. Say what the right one looks like, as doctor does.
            raise error.with_hint(
                f"{self.profile.base_url_hint}; `reconciler doctor` checks the setup"
            ) from None
        except ScimError as error:
            if path not in ("/Users", "/Groups") or getattr(self, "_users_answered", False):
                raise
            if not _not_scim_at_all(error):
                raise
            # The first read answered by a web page or a 405: not a SCIM base URL either.
            advice = f"{self.profile.base_url_hint}; `reconciler doctor` checks the setup"
            raise error.with_hint(f"{error.hint}; {advice}" if error.hint else advice) from None
        page = _parsed(parse_list, _required_body(response, "GET", path), "GET", path)
        if path == "/Users":
            self._users_answered = True
        return page

    def _resendable(self, error: ScimError) -> bool:
        """Failures after which a second POST may succeed (not a 501 or 505, say)."""
        retryable = self.transport.retry.retry_statuses
        return isinstance(error, ScimTransportError) or error.status in retryable

    def _announce_resend(self, path: str, backoff: Backoff) -> Callable[[float], None] | None:
        """The waiting line's notice before a POST is sent again (its answer was lost)."""
        listener = self.transport.on_retry
        if listener is None:
            return None
        limit = self.transport.retry.max_attempts
        reason = "the answer was lost and a look-up found nothing; sending again"
        return lambda delay: listener(
            RetryNotice(f"POST {path}", reason, backoff.attempts + 1, limit, delay)
        )

    def _create(
        self,
        path: str,
        resource: Mapping[str, Any],
        parse: Callable[[object], T],
        find: Callable[[], T | None],
        hint: Callable[[ScimConflict], str],
        *,
        answer: _Answer[T],
    ) -> Creation[T]:
        backoff = self.transport.backoff()
        lost_before = False
        while True:
            try:
                response = self.transport.request("POST", path, json=resource, retry_safe=False)
            except ScimConflict as conflict:
                # Also the normal outcome of re-sending a POST whose first answer was lost.
                found = find()
                if found is None:
                    raise conflict.with_hint(hint(conflict)) from None
                origin = Origin.RECOVERED if lost_before else Origin.ADOPTED
                return _adopted(found, path, origin)
            except ScimProtocolError as unusable:
                if not _accepted(unusable.status) or isinstance(unusable, ScimUnusableAnswer):
                    raise
                # Accepted (2xx) with an answer that cannot be read: the create may well
                # be made, and sending it again would only meet a 409. Look it up.
                return self._found_after(unusable, find, answer, path)
            except (ScimTransportError, ScimServerError) as lost:
                if isinstance(lost, ScimRateLimited | ScimCircuitOpen):
                    raise
                # The POST may have been applied with only its answer lost: look first.
                found = find()
                if found is not None:
                    return _adopted(found, path, Origin.RECOVERED)
                if not self._resendable(lost) or not backoff.wait(
                    announce=self._announce_resend(path, backoff)
                ):
                    raise
                lost_before = True
                if self.transport.on_retry is not None:
                    self.transport.on_retry(None)
                log.info("re-sending POST %s: the previous answer was lost", path)
                continue
            if response.body is not None:
                try:
                    body = _named(response.body, "POST", path)
                    parsed = _parsed(parse, body, "POST", path)
                except ScimError as unusable:  # a 201 without an id, say
                    return self._found_after(
                        ScimUnusableAnswer.of(unusable, response.status), find, answer, path
                    )
                made = answer.checked(parsed, path)
                if response.status == 200:
                    # RFC 7644 §3.3: a create answers 201. A 200 with the resource is a
                    # server that returned one it already had (upsert semantics): as a
                    # 409 would have been, an adoption, not an account this run made.
                    return _adopted(made, path, Origin.ADOPTED)
                return Creation(made, Origin.CREATED)
            # A success without a body (201, or 202 Accepted): the key tells us what was made.
            found = find()
            if found is None:
                raise ScimProtocolError(
                    f"the server answered HTTP {response.status} without a body, and a lookup "
                    f"does not find the {answer.kind} {answer.key!r} (a server that creates "
                    "later, after a 202 Accepted, shows it only then); nothing is added to it "
                    "in this run: run `reconciler plan` again to see whether it exists",
                    method="POST",
                    path=path,
                )
            return Creation(found, Origin.CREATED)

    @staticmethod
    def _found_after(
        unusable: ScimError, find: Callable[[], T | None], answer: _Answer[T], path: str
    ) -> Creation[T]:
        """The resource a lookup finds after a create answered 2xx unreadably (RECOVERED,
        ``why`` saying so); ScimUnusableAnswer with what to do when it finds none."""
        found = find()
        if found is not None:
            return Creation(found, Origin.RECOVERED, why="its answer was unusable")
        raise ScimUnusableAnswer(
            f"{unusable.detail}; the server accepted the create (HTTP {unusable.status}), but "
            f"its answer cannot be read and a lookup does not find the {answer.kind} "
            f"{answer.key!r}, so nothing is added to it in this run: run `reconciler plan` "
            "again to see whether it exists, and report the answer to the server's vendor",
            status=unusable.status,
            method="POST",
            path=path,
        )


def _accepted(status: int | None) -> bool:
    """True for a 2xx status: the server took the write, whatever its body says."""
    return status is not None and 200 <= status < 300


@dataclass(frozen=True)
class _Answer(Generic[T]):
    """What a create's answer must describe: the resource sent, by its match key."""

    kind: str  # "user" or "team"
    key: str  # the userName or displayName sent
    same: Callable[[T], bool]

    def checked(self, made: T, path: str) -> T:
        """``made`` when it is the resource sent; else ScimProtocolError (a failed create).

        A 201 whose body names another resource (another userName, another team) is
        no evidence that ours was made, and trusting it would let that other resource
        join the teams planned for ours.
        """
        if self.same(made):
            return made
        shown = made.user_name if isinstance(made, LiveUser) else made.display_name
        raise ScimProtocolError(
            f"the server's answer describes another {self.kind} ({shown!r}, id {made.id!r}), "
            f"not the {self.kind} {self.key!r} that was sent, so the create is not trusted and "
            f"nothing is added to it; check in {PRODUCT} whether {self.key!r} exists, then run "
            "`reconciler plan` again",
            method="POST",
            path=path,
        )


def _adopted(found: T, path: str, origin: Origin) -> Creation[T]:
    log.info("%s existing %s %s instead of creating it", origin.value, path.strip("/"), found.key)
    return Creation(found, origin)


def _addressed(resource: T, wanted_id: str, path: str) -> T:
    """``resource`` when it is the one ``GET path`` addressed (the same id, exactly).

    A read by id is evidence only about that id: a server that answers with another
    resource (ids matched ignoring case, a cache, a routing bug) would let a
    verification pass on someone else's record, or merge two accounts into one.
    Raises ScimProtocolError naming both ids otherwise.
    """
    if resource.id == wanted_id:
        return resource
    kind, shown = (
        ("user", resource.user_name)
        if isinstance(resource, LiveUser)
        else ("team", resource.display_name)
    )
    why = (
        "the ids differ only in case: the server matches ids case-insensitively, but ids "
        "are case-sensitive (RFC 7643 §3.1), so the two cannot be taken for one"
        if ascii_lower(resource.id) == ascii_lower(wanted_id)
        else "a read by id that returns another resource proves nothing about the one asked for"
    )
    raise ScimProtocolError(
        f"the answer describes another {kind} ({shown!r}, id {resource.id!r}), not the id "
        f"{wanted_id!r} that was asked for; {why}. Report it to the server's vendor",
        method="GET",
        path=path,
    )


def _page_size_hint(error: ScimBadRequest, count: int) -> ScimBadRequest:
    """``error`` (a 400 to a list page) with advice on the page size when it may be the
    cause: some servers refuse a ``count`` above their maximum (scimType tooMany or
    invalidValue) instead of returning fewer results (RFC 7644 §3.4.2.4)."""
    kind = (error.scim_type or "").lower()
    if count <= 1 or kind not in ("", "toomany", "invalidvalue"):
        return error
    smaller = max(1, min(100, count // 2))
    return error.with_hint(
        f"{error.hint + '; ' if error.hint else ''}the request asked for count={count} "
        "per page; if the server limits its page size, run again with a smaller "
        f"--page-size (e.g. --page-size {smaller}; `reconciler doctor` shows the "
        "server's maxResults)"
    )


def _check_absent(page: ListPage, kind: str, key: str, path: str) -> None:
    """Nothing when a filter answer without ``key`` holds every result it counts (then
    ``key`` is absent); else ScimProtocolError: a partial answer (``totalResults``
    above the resources returned, e.g. a server that ignores the filter and pages the
    whole collection) proves nothing about the resources it left out."""
    if page.total_results <= len(page.resources):
        return
    raise ScimProtocolError(
        f"the filter answer for the {kind} {key!r} holds {len(page.resources)} of "
        f"{page.total_results} results (totalResults) and not that {kind}: a partial answer "
        f"cannot prove the {kind} absent (the server may ignore the filter and page the "
        "whole collection), so nothing is done on it; check that the server supports "
        "`eq` filters (`reconciler doctor` shows its features)",
        method="GET",
        path=path,
    )


def _single(matches: list[T], key: str) -> T | None:
    if len(matches) > 1:
        raise ScimProtocolError(f"{len(matches)} resources match {key!r}; expected at most one")
    return matches[0] if matches else None


def _segment(resource_id: str) -> str:
    # Ids come from the server; quoting keeps a hostile id inside its path segment.
    # "." and ".." stay dot segments after quoting (the parsers refuse them on read;
    # this is the last line before a request goes to another URL than meant).
    if resource_id in DOT_SEGMENTS:
        raise ScimUnsupportedError(
            f"the id {resource_id!r} is a URL dot segment; no request is sent to it"
        )
    return quote(resource_id, safe="")


def _required_body(response: Response, method: str, path: str) -> dict[str, Any]:
    """The answer's body, its attribute names spelt canonically (``_named``)."""
    if response.body is None:
        raise ScimProtocolError("the answer has no body", method=method, path=path)
    return _named(response.body, method, path)


def _named(body: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """``body`` with the names this tool reads spelt canonically (RFC 7643 §2.1: they
    are case-insensitive); one name in two spellings raises ScimProtocolError."""
    try:
        return canonical_names(body)
    except ScimError as error:
        raise error.at(method, path) from None


def _parsed(parse: Callable[[object], R], body: object, method: str, path: str) -> R:
    """Run a pure parser and locate its errors at the request that produced the body."""
    try:
        return parse(body)
    except ScimError as error:
        raise error.at(method, path) from None


def _not_scim_at_all(error: ScimError) -> bool:
    """An answer no SCIM server gives to a list request: a success of another content
    type than JSON (a web page, say) or 405 Method Not Allowed; a wrong base URL gets
    such answers. A broken JSON body is a broken server, not a wrong URL."""
    if error.status == 405:
        return True
    content = error.detail.startswith("answer has content type")
    return isinstance(error, ScimProtocolError) and _accepted(error.status) and content
