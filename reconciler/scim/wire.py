"""The rules every outgoing HTTP request of the tool follows, SCIM and GitHub alike.

One exchange is: a session whose connections obey a wall-clock deadline
(``deadline.DeadlineAdapter``), separate connect and per-read timeouts, a streamed
body refused beyond a byte cap (declared or received), and the connection closed
afterwards. ``Transport`` (SCIM) adds retries, pacing, stats and its error tree on
top; ``reconciler.github`` adds GitHub's errors. Outgoing bodies and everything
printed go through the one redactor (``reconciler.redact``) in both.

Must not know about SCIM or GitHub (no status handling, no retries, no messages for
people): it returns what the server said, or raises ``DeadlineExceeded`` /
``BodyTooLarge`` / ``requests.RequestException``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from reconciler.scim.deadline import DeadlineAdapter, deadline

__all__ = ["Answer", "BodyTooLarge", "DeadlineExceeded", "Timeouts", "exchange", "session"]

_CHUNK = 64 * 1024
# Connections kept per host by a session this module makes: enough for the reader's
# pool and `apply --concurrency` without urllib3 discarding (and reopening) connections.
POOL_SIZE = 32


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect, to wait for each read, and for a whole request.

    ``read`` applies to each ``recv`` only, so a server that drips a byte at a time
    never trips it; ``total`` is the wall-clock deadline of one attempt (connect,
    send, headers and body), enforced by closing the connection (``deadline``).
    """

    connect: float = 5.0
    read: float = 30.0
    total: float = 60.0


class DeadlineExceeded(requests.Timeout):
    """One attempt ran past ``Timeouts.total``; not retried (it already took that long)."""


class BodyTooLarge(Exception):
    """An answer's body declared or delivered more than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer exceeded {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Answer:
    """What the server said: status, headers, the whole (capped) body, and its links.

    Named like ``requests.Response`` (``status_code``, ``reason``, ``links``, ``json``)
    so callers read it the same way, but it holds no connection.
    """

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    reason: str = ""
    links: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; raises ValueError (as requests does) when it is not."""
        try:
            return json.loads(self.content)
        except (UnicodeDecodeError, RecursionError) as error:
            raise ValueError(str(error)) from None


def session(pool_maxsize: int = POOL_SIZE) -> requests.Session:
    """A session whose connections honour ``deadline`` (both schemes)."""
    made = requests.Session()
    adapter = DeadlineAdapter(pool_maxsize=pool_maxsize)
    made.mount("https://", adapter)
    made.mount("http://", adapter)
    return made


def exchange(
    client: requests.Session,
    method: str,
    url: str,
    *,
    timeouts: Timeouts,
    max_bytes: int,
    allow_redirects: bool = False,
    charge: Callable[[int], bool] | None = None,
    **kwargs: Any,
) -> Answer:
    """Send one request and read its answer within ``timeouts`` and ``max_bytes``.

    ``charge(size)`` is called with each chunk of the body as it arrives (bytes); when it
    returns False the read stops with BodyTooLarge (a budget shared by several requests:
    ``transport.ByteBudget.take``).

    ``kwargs`` go to ``requests`` (params, data, json, headers, auth). Raises
    DeadlineExceeded past ``timeouts.total``, BodyTooLarge past ``max_bytes``, and
    requests' own exceptions for connection and per-read failures.
    """
    with deadline(timeouts.total) as current:
        try:
            with client.request(
                method,
                url,
                timeout=(timeouts.connect, timeouts.read),
                allow_redirects=allow_redirects,
                stream=True,
                **kwargs,
            ) as raw:
                content = read_capped(raw, max_bytes, charge)
        except Exception as error:
            if current.expired:
                raise DeadlineExceeded() from error
            raise
        if current.expired:  # a close-delimited body simply ended early
            raise DeadlineExceeded()
        return Answer(raw.status_code, raw.headers, content, raw.reason or "", raw.links)


def read_capped(
    raw: requests.Response, limit: int, charge: Callable[[int], bool] | None = None
) -> bytes:
    """The streamed body of ``raw``; BodyTooLarge when it declares or sends over ``limit``,
    or when ``charge`` refuses a chunk (``exchange``)."""
    declared = raw.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_content(_CHUNK):
        size += len(chunk)
        if size > limit or (charge is not None and not charge(len(chunk))):
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
