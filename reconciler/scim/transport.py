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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError

from reconciler import __version__
from reconciler.scim.errors import ScimProtocolError, ScimTransportError
from reconciler.scim.parse import parse_error
from reconciler.scim.retry import Backoff, RetryPolicy, parse_retry_after
from reconciler.scim.secret import Token
from reconciler.scim.throttle import Throttle

__all__ = ["RequestStats", "Response", "RetryPolicy", "Throttle", "Timeouts", "Transport"]

log = logging.getLogger("reconciler.http")

SCIM_JSON = "application/scim+json"
VERIFY = "verify"  # the purpose of apply's read-back requests, counted on their own
# Methods whose repetition cannot do harm in how the reconciler uses them: GET reads,
# DELETE of a gone user is reported as 404 (the client treats that as done), and our
# PATCHes set values or add/remove named members, so applying one twice changes nothing.
IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "PATCH", "PUT"})
_CHUNK = 64 * 1024
# Connections kept per host by a session this transport owns: enough for the reader's
# pool and `apply --concurrency` without urllib3 discarding (and reopening) connections.
_POOL_SIZE = 32


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait for each read; a hung server must not hang a run."""

    connect: float = 5.0
    read: float = 30.0


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
    share one ``Throttle``, so a 429 seen by one thread pauses them all.
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
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        throttle: Throttle | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._auth = _BearerAuth(token)
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._owns_session = session is None
        self._session = session or _pooled_session()
        self.max_response_bytes = max_response_bytes
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._clock = clock
        self.throttle = throttle or Throttle(sleep=sleep)
        self.stats = RequestStats()
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
        """A fresh retry budget under this transport's policy, sleep and randomness."""
        return Backoff(self.retry, self._rng, self._sleep)

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
        """
        method = method.upper()
        _check_path(path)
        safe = method in IDEMPOTENT if retry_safe is None else retry_safe
        data = None if json is None else _dumps(json)
        backoff = self.backoff()
        while True:
            try:
                status, headers, content, reopens = self._paced_send(
                    method, path, params, data, backoff, purpose=purpose
                )
            except requests.RequestException as error:
                if (safe or _not_sent(error)) and backoff.wait():
                    log.info("retrying %s %s after %s", method, path, type(error).__name__)
                    continue
                raise ScimTransportError(
                    _describe(error, self.timeouts),
                    method=method,
                    path=path,
                    attempts=backoff.attempts,
                ) from error
            if status in self.retry.retry_statuses and (safe or status == 429):
                after = parse_retry_after(headers.get("Retry-After"), self._clock())
                if backoff.wait(after):
                    if reopens is not None:  # this thread slept through the shared pause
                        self.throttle.waited_until(reopens)
                    log.info("retrying %s %s after HTTP %d", method, path, status)
                    continue
            return self._answer(
                method,
                path,
                status=status,
                headers=headers,
                content=content,
                attempts=backoff.attempts,
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
    ) -> tuple[int, CaseInsensitiveDict[str], bytes, float | None]:
        """``_send`` under the shared throttle; on a 429 closes the gate for every thread
        and returns when it reopens (None otherwise)."""
        with self.throttle.slot() as slot:
            status, headers, content = self._send(
                method, path, params, data, backoff, purpose=purpose
            )
            if status != 429:
                slot.succeeded()
                return status, headers, content, None
            after = parse_retry_after(headers.get("Retry-After"), self._clock())
            pause = self.retry.base_delay if after is None else after
            reopens = slot.rate_limited(min(max(pause, 0.0), self.retry.max_delay))
            return status, headers, content, reopens

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
        try:
            with self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                auth=self._auth,
                timeout=(self.timeouts.connect, self.timeouts.read),
                allow_redirects=False,
                stream=True,
            ) as raw:
                outcome = str(raw.status_code)
                return raw.status_code, raw.headers, self._read(raw, method, path)
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

    def _read(self, raw: requests.Response, method: str, path: str) -> bytes:
        """The body, refused beyond ``max_response_bytes`` (a runaway answer must not OOM us)."""
        limit = self.max_response_bytes
        declared = raw.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit, method, path)
        chunks: list[bytes] = []
        size = 0
        for chunk in raw.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit, method, path)
            chunks.append(chunk)
        return b"".join(chunks)

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
                raise error.at(method, path) from None
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
        raise failure.at(method, path)

    def _error_body(self, content: bytes) -> object:
        """The error body as JSON if it is JSON, else as text; the token scrubbed out
        either way, since some servers echo the request (headers included) back."""
        text = self._scrub(content.decode("utf-8", "replace"))
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _scrub(self, text: str) -> str:
        return text.replace(self._token.reveal(), "***")


def _pooled_session() -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=_POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _success_body(status: int, headers: Mapping[str, str], content: bytes) -> dict[str, Any] | None:
    if status == 204 or not content.strip():
        return None
    content_type = headers.get("Content-Type", "")
    if content_type and not _is_json_type(content_type):
        raise ScimProtocolError(
            f"answer has content type {content_type!r}, not {SCIM_JSON}", status=status
        )
    try:
        body = json.loads(content)
    except ValueError as error:
        raise ScimProtocolError(f"answer is not valid JSON ({error})", status=status) from None
    if not isinstance(body, dict):
        raise ScimProtocolError(
            f"answer is a JSON {type(body).__name__}, not an object", status=status
        )
    return body


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


def _describe(error: requests.RequestException, timeouts: Timeouts) -> str:
    # requests' own messages embed the full URL with the filter (e-mails): not shown.
    if isinstance(error, requests.ConnectTimeout):
        return f"could not connect within {timeouts.connect:g} s"
    if isinstance(error, requests.ReadTimeout):
        return f"no answer within {timeouts.read:g} s"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake or certificate check failed"
    if _not_sent(error):
        return "could not connect (refused or unresolvable host)"
    return f"connection failed or dropped ({type(error).__name__})"


def _too_large(limit: int, method: str, path: str) -> ScimProtocolError:
    return ScimProtocolError(
        f"answer is larger than {limit} bytes; refusing to read it (max_response_bytes)",
        method=method,
        path=path,
    )
