"""The one thin requests layer: auth, timeouts, retries, size limits, typed errors.

Everything SCIM-specific about bodies lives in ``builders`` and ``parse``; this
module only moves bytes and decides whether to try again. It never follows a
redirect (the token must not reach another host) and never logs the token or the
query string (filters hold e-mail addresses).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from http.client import HTTPException, IncompleteRead, RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError

from reconciler import __version__
from reconciler.profile import MIXPANEL, TargetProfile
from reconciler.redact import Redactor, redact
from reconciler.scim.errors import (
    AUTH_HINT,
    ScimAnswerTooLarge,
    ScimBudgetExceeded,
    ScimCircuitOpen,
    ScimError,
    ScimProtocolError,
    ScimTransportError,
)
from reconciler.scim.lanes import waiting_aside
from reconciler.scim.parse import parse_error
from reconciler.scim.retry import (
    Backoff,
    CircuitBreaker,
    RetryListener,
    RetryNotice,
    RetryPolicy,
    parse_retry_after,
)
from reconciler.scim.secret import Token
from reconciler.scim.throttle import Throttle
from reconciler.scim.wire import (
    BodyTooLarge,
    DeadlineExceeded,
    Timeouts,
    exchange,
)
from reconciler.scim.wire import session as bounded_session

__all__ = [
    "ByteBudget",
    "CircuitBreaker",
    "RequestStats",
    "Response",
    "RetryPolicy",
    "Throttle",
    "Timeouts",
    "Transport",
]
# ``Timeouts`` lives in ``wire`` (shared with the GitHub client) and is re-exported here.

log = logging.getLogger("reconciler.http")

SCIM_JSON = "application/scim+json"
VERIFY = "verify"  # the purpose of apply's read-back requests, counted on their own
# Methods whose repetition cannot do harm in how the reconciler uses them: GET reads,
# DELETE of a gone user is reported as 404 (the client treats that as done), and our
# PATCHes set values or add/remove named members, so applying one twice changes nothing.
IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "PATCH", "PUT"})


class ByteBudget:
    """Bytes a whole read may receive, shared by the threads of that read.

    The per-response cap (``max_response_bytes``) alone lets a server that fills every
    page to just under it grow memory without bound; a read stops at this budget.
    Bytes are charged as each chunk of a body arrives (``take``), under one lock, so
    requests in flight at once (pages read ahead, team reads) cannot together receive
    more than ``limit``: each would otherwise see the whole remainder as its own.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the byte budget must be at least 1")
        self.limit = limit
        self.used = 0
        self.exceeded = False  # a chunk was refused: the read is over its budget
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        with self._lock:
            return max(0, self.limit - self.used)

    def rewind(self, used: int) -> None:
        """Forget every byte charged since ``used`` was read from this budget: answers
        the caller has thrown away (a listing it reads again otherwise). Call it with
        no request of this budget in flight."""
        with self._lock:
            self.used = min(self.used, used)
            self.exceeded = False

    def take(self, size: int) -> bool:
        """Charge ``size`` bytes just received; False (nothing charged) past the limit."""
        with self._lock:
            if self.used + size > self.limit:
                self.exceeded = True
                return False
            self.used += size
            return True


@dataclass(frozen=True)
class Response:
    """A 2xx answer: ``body`` is the JSON object, or None for 204 / an empty body."""

    status: int
    body: dict[str, Any] | None
    headers: Mapping[str, str]


@dataclass
class RequestStats:
    """HTTP requests sent, by class ("GET /Users", "PATCH /Groups/{id}"), retries included.

    ``calls`` (sent minus retries) is the number of logical requests, the figure the
    request-count contract is about; ``total`` is what the server actually saw.
    """

    by_class: Counter[str] = field(default_factory=Counter)
    by_purpose: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def calls(self) -> int:
        return self.total - self.retries

    @property
    def verification(self) -> int:
        """Requests sent to read back what apply wrote (``VERIFY``), retries included."""
        return self.by_purpose[VERIFY]

    def record(self, request_class: str, *, retry: bool, purpose: str = "") -> None:
        with self._lock:
            self.by_class[request_class] += 1
            self.total += 1
            self.retries += int(retry)
            if purpose:
                self.by_purpose[purpose] += 1


class _BearerAuth(requests.auth.AuthBase):
    """Sets the header at send time; as an auth object it also stops requests from
    replacing our header with ~/.netrc credentials."""

    def __init__(self, token: Token) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(Token(***))"


class Transport:
    """Sends one SCIM request with retries and returns a Response or raises a ScimError.

    Safe to share between threads (the executor's workers, the reader's pool): they
    share one ``Throttle``, so dense 429s pause them all (a sparse one pauses only its
    own request, which lends its lane: ``lanes``), and one
    ``CircuitBreaker``, which stops every thread once the run cannot go on.
    ``timeouts.total`` is enforced on the transport's own pooled session; a
    caller-supplied ``session`` (a test double) has no per-request deadline.
    """

    def __init__(
        self,
        base_url: str,
        token: Token,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        max_response_bytes: int = 64 * 2**20,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        throttle: Throttle | None = None,
        breaker: CircuitBreaker | None = None,
        max_read_bytes: int = 256 * 2**20,
        on_retry: RetryListener | None = None,
        profile: TargetProfile = MIXPANEL,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self._token = token
        self.breaker = breaker or CircuitBreaker()
        # By default every wait (retry backoff, the shared 429 pause) ends early when the
        # breaker opens; tests inject a fake sleep instead.
        sleep = sleep or self.breaker.sleep
        # The transport's own redactor: error text is masked here even when no CLI
        # registered the token with the process-wide one (library use).
        self.redact = Redactor([token.reveal()])
        self._budget: ByteBudget | None = None
        self.max_read_bytes = max_read_bytes
        self._auth = _BearerAuth(token)
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._owns_session = session is None
        self._session = session or bounded_session()
        self.max_response_bytes = max_response_bytes
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._clock = clock
        self.throttle = throttle or Throttle(sleep=sleep)
        self.stats = RequestStats()
        self.on_retry = on_retry
        self._headers = {
            "Accept": f"{SCIM_JSON}, application/json;q=0.9",
            "User-Agent": f"reconciler/{__version__}",
        }

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, Token(***))"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def backoff(self) -> Backoff:
        """A fresh retry budget under this transport's policy, sleep and randomness,
        spending from the run's circuit breaker too."""
        return Backoff(self.retry, self._rng, self._sleep, breaker=self.breaker)

    @contextmanager
    def byte_budget(self, limit: int | None = None) -> Iterator[ByteBudget]:
        """Answers received inside (from any thread) may total at most ``limit`` bytes
        (None: ``max_read_bytes``); beyond it a request fails with ScimProtocolError
        naming the budget."""
        budget = ByteBudget(self.max_read_bytes if limit is None else limit)
        previous, self._budget = self._budget, budget
        try:
            yield budget
        finally:
            self._budget = previous

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        retry_safe: bool | None = None,
        purpose: str = "",
    ) -> Response:
        """Send, retrying what is safe to retry, and return the 2xx answer.

        ``purpose`` (e.g. ``VERIFY``) also counts the request in ``stats.by_purpose``,
        so costs beyond the read and the writes can be reported on their own.

        Retried: ``retry.retry_statuses`` and connection failures for idempotent methods.
        With ``retry_safe=False`` (POST by default) only what surely was not
        processed is retried: 429 (rejected before processing) and failures to
        connect; an answer lost after sending is the caller's to resolve.
        An attempt past ``timeouts.total`` is not retried. When the run's circuit
        breaker is (or becomes) open, raises ScimCircuitOpen.
        """
        method = method.upper()
        _check_path(path)
        self._refuse_if_stopped(method, path, attempted=False)
        safe = method in IDEMPOTENT if retry_safe is None else retry_safe
        data = None if json is None else _dumps(json)
        backoff = self.backoff()
        waited: list[bool] = []  # whether a retry notice went out (then: clear it at the end)
        try:
            return self._attempts(
                method,
                path,
                params=params,
                data=data,
                safe=safe,
                backoff=backoff,
                waited=waited,
                purpose=purpose,
            )
        finally:
            if waited and self.on_retry is not None:
                self.on_retry(None)

    def _announcer(
        self, request: str, reason: str, backoff: Backoff, waited: list[bool]
    ) -> Callable[[float], None] | None:
        """What the backoff calls just before it sleeps: a notice to ``on_retry``."""
        listener = self.on_retry
        if listener is None:
            return None

        def announce(delay: float) -> None:
            waited.append(True)
            attempt = backoff.attempts + 1
            listener(RetryNotice(request, reason, attempt, self.retry.max_attempts, delay))

        return announce

    def _attempts(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        data: bytes | None,
        safe: bool,
        backoff: Backoff,
        waited: list[bool],
        purpose: str = "",
    ) -> Response:
        """The retry loop of ``request``; every wait is announced to ``on_retry`` first."""
        request = f"{method} {path}"
        while True:
            attempt = self.breaker.begin()
            try:
                status, headers, content, reopens, sparse = self._paced_send(
                    method, path, params, data, backoff, purpose=purpose
                )
            except requests.RequestException as error:
                self.breaker.connection_failed(attempt)
                retryable = (safe or _not_sent(error)) and not _hopeless(error)
                retryable = retryable and not isinstance(error, DeadlineExceeded)
                why = _describe(error, self.timeouts, self.base_url)
                if retryable and backoff.wait(
                    announce=self._announcer(request, why, backoff, waited)
                ):
                    log.info("retrying %s %s after %s", method, path, type(error).__name__)
                    continue
                raise self._stopped(
                    ScimTransportError(
                        _describe(error, self.timeouts, self.base_url, final=True),
                        method=method,
                        path=path,
                        attempts=backoff.attempts,
                    )
                ) from error
            else:
                self.breaker.answered(attempt)
            finally:
                self.breaker.abandon(attempt)  # an error of ours or Ctrl-C: no-op otherwise
            retryable = status in self.retry.retry_statuses and (safe or status == 429)
            if retryable:
                after = parse_retry_after(headers.get("Retry-After"), self._clock())
                why = f"HTTP {status}" + (" (rate limited)" if status == 429 else "")
                if after is not None and after > self.retry.max_delay:
                    # Said, so a wait shorter than the server asked does not look like a bug.
                    why += (
                        f"; the server asked to wait {after:.0f} s, this run waits at most "
                        f"{self.retry.max_delay:.0f} s per retry"
                    )
                announce = self._announcer(request, why, backoff, waited)
                # Waiting out a sparse 429 this request holds no lane: another runs meanwhile.
                with waiting_aside() if sparse else nullcontext():
                    again = backoff.wait(after, announce=announce)
                if again:
                    if reopens is not None:  # this thread slept through the shared pause
                        self.throttle.waited_until(reopens)
                    log.info("retrying %s %s after HTTP %d", method, path, status)
                    continue
            try:
                return self._answer(
                    method,
                    path,
                    status=status,
                    headers=headers,
                    content=content,
                    attempts=backoff.attempts,
                )
            except ScimError as failure:
                # A 429/5xx given up on because the run is stopping stops the caller too.
                raise (self._stopped(failure) if retryable else failure) from None

    def _refuse_if_stopped(self, method: str, path: str, *, attempted: bool) -> None:
        """Raise ScimCircuitOpen, sending nothing, once the run-level breaker is open."""
        reason = self.breaker.reason
        if reason is not None:
            # The reason travels in the detail too: when parallel reads stop together, the
            # one reported may be a request the breaker refused, not the one that tripped it.
            raise ScimCircuitOpen(
                f"not sent: {reason}",
                reason=reason,
                attempted=attempted,
                method=method,
                path=path,
            )

    def _stopped(self, error: ScimError) -> ScimError:
        """``error``, as a ScimCircuitOpen when the breaker opened (the run must stop)."""
        reason = self.breaker.reason
        if reason is None:
            return error
        return ScimCircuitOpen(
            f"{error.detail}; {reason}",
            reason=reason,
            attempted=True,
            status=error.status,
            method=error.method,
            path=error.path,
            attempts=error.attempts,
        )

    def _paced_send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        data: bytes | None,
        backoff: Backoff,
        *,
        purpose: str = "",
    ) -> tuple[int, CaseInsensitiveDict[str], bytes, float | None, bool]:
        """``_send`` under the shared throttle: the answer, then for a 429 when the
        request may be retried (None otherwise) and whether the throttle judged that
        429 sparse (dense 429s close the gate for every thread)."""
        with self.throttle.slot() as slot:
            # The breaker may have opened while this thread waited for the gate.
            self._refuse_if_stopped(method, path, attempted=backoff.attempts > 1)
            status, headers, content = self._send(
                method, path, params, data, backoff, purpose=purpose
            )
            if status != 429:
                slot.succeeded()
                return status, headers, content, None, False
            after = parse_retry_after(headers.get("Retry-After"), self._clock())
            pause = self.retry.base_delay if after is None else after
            reopens = slot.rate_limited(min(max(pause, 0.0), self.retry.max_delay))
            return status, headers, content, reopens, slot.sparse

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        data: bytes | None,
        backoff: Backoff,
        *,
        purpose: str = "",
    ) -> tuple[int, CaseInsensitiveDict[str], bytes]:
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = SCIM_JSON
        self.stats.record(_request_class(method, path), retry=backoff.attempts > 1, purpose=purpose)
        started = time.perf_counter()
        outcome = "no answer"
        limit = self._limit()
        budget = self._budget
        try:
            try:
                answer = exchange(
                    self._session,
                    method,
                    self.base_url + path,
                    timeouts=self.timeouts,
                    max_bytes=limit,
                    charge=None if budget is None else budget.take,
                    params=params,
                    data=data,
                    headers=headers,
                    auth=self._auth,
                )
            except BodyTooLarge:
                raise self._too_large(limit, method, path) from None
            outcome = str(answer.status_code)
            return answer.status_code, CaseInsensitiveDict(answer.headers), answer.content
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            retry = backoff.attempts - 1
            log.debug(
                "%s %s -> %s in %.0f ms (retry %d)",
                method,
                path,
                outcome,
                elapsed_ms,
                retry,
                extra={
                    "http": {
                        "method": method,
                        "path": path,
                        "status": outcome,
                        "duration_ms": round(elapsed_ms, 1),
                        "retry": retry,
                    }
                },
            )

    def _limit(self) -> int:
        """The bytes one answer may hold: ``max_response_bytes`` (a runaway answer must
        not OOM us), or what is left of the read's byte budget if that is less."""
        budget = self._budget
        limit = self.max_response_bytes
        if budget is not None and budget.remaining < limit:
            limit = budget.remaining
        return limit

    def _too_large(self, limit: int, method: str, path: str) -> ScimProtocolError:
        budget = self._budget
        if budget is not None and (limit < self.max_response_bytes or budget.exceeded):
            return ScimBudgetExceeded(
                f"the read exceeded its byte budget of {budget.limit} bytes "
                f"({budget.used} already received); raise it with --max-read-mib if the "
                "org is really that large",
                method=method,
                path=path,
            )
        return _too_large(limit, method, path)

    def _answer(
        self,
        method: str,
        path: str,
        *,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
        attempts: int,
    ) -> Response:
        if 200 <= status < 300:
            try:
                body = _success_body(status, headers, content)
            except ScimProtocolError as error:
                raise error.at(method, path).scrubbed(self.redact) from None
            return Response(status, body, headers)
        if 300 <= status < 400:
            location = self._scrub(headers.get("Location", "(none)"))
            raise ScimProtocolError(
                f"redirect to {location} refused: the token is only sent to the configured "
                "base URL; configure the final URL instead",
                status=status,
                method=method,
                path=path,
            )
        failure = parse_error(status, self._error_body(content), method, path)
        failure.attempts = attempts
        if status == 401 and failure.hint == AUTH_HINT:
            failure = failure.with_hint(self.profile.auth_hint)  # the service's own advice
        if status == 401 and self._token.source:
            # Which token was refused matters when several are configured (env, file, org).
            source = f"the refused token came from {self._token.source}"
            failure = failure.with_hint(f"{failure.hint}; {source}" if failure.hint else source)
        raise failure.at(method, path)

    def _error_body(self, content: bytes) -> object:
        """The error body as JSON if it is JSON, else as text; the token scrubbed out
        either way, since some servers echo the request (headers included) back."""
        text = self._scrub(content.decode("utf-8", "replace"))
        try:
            value: object = loads_json(text)
            # JSON escapes decode to the raw token again: scrub the decoded strings too.
            return _scrub_value(value, self._scrub)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to walk
            return text

    def _scrub(self, text: str) -> str:
        """Mask the token in decoded text: raw, JSON-escaped, %-encoded or base64."""
        return self.redact(text)


def _scrub_value(value: object, scrub: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _scrub_value(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, scrub) for v in value]
    return value


def _success_body(status: int, headers: Mapping[str, str], content: bytes) -> dict[str, Any] | None:
    if status == 204 or not content.strip():
        return None
    content_type = headers.get("Content-Type", "")
    if content_type and not _is_json_type(content_type):
        raise ScimProtocolError(
            f"answer has content type {content_type!r}, not {SCIM_JSON}", status=status
        )
    try:
        body = loads_json(content)
    except ValueError as error:
        raise ScimProtocolError(f"answer is not valid JSON ({error})", status=status) from None
    if not isinstance(body, dict):
        raise ScimProtocolError(
            f"answer is a JSON {type(body).__name__}, not an object", status=status
        )
    return body


def loads_json(content: bytes | str) -> Any:
    """``json.loads`` that fails only with ValueError, whatever a hostile body holds.

    Python's decoder raises RecursionError for deeply nested arrays or objects (a
    few thousand ``[``): that is a malformed answer, not a bug, so it is a ValueError
    here, as are invalid UTF-8 and integers too long to convert.
    """
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("nested too deeply (no SCIM answer is)") from None


def _is_json_type(content_type: str) -> bool:
    """application/scim+json or application/json, any parameters (charset) and any case."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in {SCIM_JSON, "application/json"}


def _dumps(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _check_path(path: str) -> None:
    # Paths are appended to the base URL; anything that could change the host is a bug.
    if not path.startswith("/") or path.startswith("//") or "://" in path or "?" in path:
        raise ValueError(f"not a SCIM resource path: {path!r}")


def _request_class(method: str, path: str) -> str:
    segments = path.strip("/").split("/")
    return f"{method} /{segments[0]}" + ("/{id}" if len(segments) > 1 else "")


def _not_sent(error: requests.RequestException) -> bool:
    """True when the request surely never reached the server (safe to resend a POST)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


# OpenSSL's words when the peer answered TLS with plain HTTP (an https:// URL to an
# http server): "wrong version number" (OpenSSL 1.1/3.0), "record layer failure" (3.2+).
_PLAIN_HTTP_SIGNS = ("wrong version number", "wrong_version_number", "record layer failure")
_CERTIFICATE_SIGNS = ("certificate verify failed", "certificate_verify_failed", "hostname mismatch")


def _tls_kind(error: requests.RequestException) -> str | None:
    """The kind of a TLS failure (plain-http, certificate, tls); None for other errors."""
    if not isinstance(error, requests.exceptions.SSLError):
        return None
    text = str(error).lower()
    if any(sign in text for sign in _PLAIN_HTTP_SIGNS):
        return "plain-http"
    if any(sign in text for sign in _CERTIFICATE_SIGNS):
        return "certificate"
    return "tls"


def _hopeless(error: requests.RequestException) -> bool:
    """Failures another attempt cannot fix: the wrong protocol or a certificate refused."""
    return _tls_kind(error) in {"plain-http", "certificate"}


def _describe(
    error: requests.RequestException, timeouts: Timeouts, base_url: str = "", *, final: bool = False
) -> str:
    """What went wrong, in words (never requests' own text: it holds the filter's emails).

    ``final`` is for the error that ends the request (not a waiting line, which says
    the run goes on by itself): a connection nothing answered also names the host
    and port it tried and what to check.
    """
    if isinstance(error, DeadlineExceeded):
        return (
            f"no complete answer within {timeouts.total:g} s (the per-request deadline; "
            "raise it with --request-deadline if the server is just slow)"
        )
    server = urlsplit(base_url).netloc or "the server"
    check = f" to {server}; check the host and port of the URL, and that the server runs"
    if isinstance(error, requests.ConnectTimeout):
        return f"could not connect within {timeouts.connect:g} s" + (check if final else "")
    if isinstance(error, requests.ReadTimeout):
        return f"no answer within {timeouts.read:g} s"
    tls = _tls_kind(error)
    if tls == "plain-http":
        return (
            f"the server at {server} speaks plain HTTP, not HTTPS; use http:// only for "
            "loopback (the local sandbox) or fix the URL"
        )
    if tls == "certificate":
        return (
            f"the TLS certificate of {server} is not valid for this host (or not trusted); "
            "check the URL, and set REQUESTS_CA_BUNDLE if a proxy re-signs TLS"
        )
    if tls == "tls":
        return f"the TLS handshake with {server} failed; check the URL, proxy and firewall"
    if _not_sent(error):
        return "could not connect (refused or unresolvable host)" + (check if final else "")
    broken = _broken_http(error)
    if broken is not None:
        return (
            f"the answer from {server} is not valid HTTP ({broken}); the server or a proxy "
            "in front of it is broken: check the URL, or report it to the server's vendor"
        )
    return f"connection failed or dropped ({type(error).__name__})"


def _broken_http(error: BaseException) -> str | None:
    """What was wrong with an answer that is not HTTP (more than 100 headers, a 64 KiB
    header line, a garbled status line), or None for a connection merely dropped."""
    seen: BaseException | None = error
    for _ in range(8):  # the cause chain and ``args``: requests -> urllib3 -> http.client
        if seen is None:
            return None
        if isinstance(seen, HTTPException) and not isinstance(
            seen, RemoteDisconnected | IncompleteRead
        ):
            # Redacted before it is cut: a status line may echo anything, the token too,
            # and a cut through it would leave a prefix no redactor recognises.
            return redact(" ".join(str(seen).split()))[:120] or type(seen).__name__
        inner = next((a for a in seen.args if isinstance(a, BaseException)), None)
        seen = inner or seen.__cause__ or seen.__context__
    return None


def _too_large(limit: int, method: str, path: str) -> ScimProtocolError:
    return ScimAnswerTooLarge(
        f"answer is larger than {limit} bytes; refusing to read it (max_response_bytes)",
        method=method,
        path=path,
    )
