"""Fault injection: what can go wrong between a SCIM client and a real server.

The sandbox uses these to exercise the client's retries, backoff and idempotency
(the "POST whose response was lost" case). One RNG draw per request picks at most
one fault, so with a seed the sequence of faults is reproducible for a sequential
client. Limits (``max_members_per_patch``, ``max_page_size``) are not random: they
model documented-nowhere server limits and always apply.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    """How the sandbox misbehaves; the default misbehaves not at all."""

    latency_ms: float = 0
    rate_429: float = 0.0
    retry_after_s: float = 1.0
    rate_5xx: float = 0.0
    drop_rate: float = 0.0
    lost_response_rate: float = 0.0
    max_members_per_patch: int | None = None
    max_page_size: int | None = None
    only: frozenset[str] | None = None
    seed: int | None = None
    rate_limit: float = 0.0
    rate_limit_burst: int = 1

    def __post_init__(self) -> None:
        rates = (self.rate_429, self.rate_5xx, self.drop_rate, self.lost_response_rate)
        if any(rate < 0 or rate > 1 for rate in rates) or sum(rates) > 1:
            raise ValueError("fault rates must each be in [0, 1] and sum to at most 1")
        if self.latency_ms < 0 or self.retry_after_s < 0:
            raise ValueError("latency_ms and retry_after_s must not be negative")
        for limit in (self.max_members_per_patch, self.max_page_size):
            if limit is not None and limit < 1:
                raise ValueError("limits must be at least 1")
        if self.rate_limit < 0 or self.rate_limit_burst < 1:
            raise ValueError("rate_limit must not be negative and rate_limit_burst at least 1")


class Fault(enum.Enum):
    """The random fault picked for one request (``NONE`` for most)."""

    NONE = "none"
    DROP = "drop"
    RATE_LIMIT = "429"
    SERVER_ERROR = "5xx"
    LOST_RESPONSE = "lost_response"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do to one request: the fault, and the 5xx status when it is one."""

    fault: Fault
    status: int = 0


NO_FAULT = Decision(Fault.NONE)
_SERVER_ERRORS = (503, 502, 500)


class FaultInjector:
    """Draws the fault for each request from a (seeded) RNG, under a lock.

    With ``Faults.rate_limit`` (requests per second) it is also a real rate limiter,
    a token bucket holding at most ``rate_limit_burst`` tokens: a request that finds
    no token gets a 429 (with ``Retry-After``), whatever the RNG says, as a server's
    per-client limit does. Every request counts, ``only`` or not. ``clock`` is
    injectable for tests.
    """

    def __init__(self, faults: Faults, clock: Callable[[], float] = time.monotonic) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)  # noqa: S311 - faults, not secrets
        self._lock = threading.Lock()
        self._clock = clock
        self._tokens = float(faults.rate_limit_burst)
        self._refilled = clock()

    def decide(self, request_class: str) -> Decision:
        faults = self.faults
        if faults.rate_limit and not self._take_token():
            return Decision(Fault.RATE_LIMIT)
        if faults.only is not None and request_class not in faults.only:
            return NO_FAULT
        with self._lock:
            draw = self._rng.random()
            pick = self._rng.choice(_SERVER_ERRORS)
        for fault, rate in (
            (Fault.DROP, faults.drop_rate),
            (Fault.RATE_LIMIT, faults.rate_429),
            (Fault.SERVER_ERROR, faults.rate_5xx),
            (Fault.LOST_RESPONSE, faults.lost_response_rate),
        ):
            if draw < rate:
                return Decision(fault, pick if fault is Fault.SERVER_ERROR else 0)
            draw -= rate
        return NO_FAULT

    def _take_token(self) -> bool:
        """Refill the bucket for the time passed; take one token if there is one."""
        with self._lock:
            now = self._clock()
            capacity = float(self.faults.rate_limit_burst)
            self._tokens = min(
                capacity, self._tokens + (now - self._refilled) * self.faults.rate_limit
            )
            self._refilled = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def retry_after(self) -> str:
        """``Retry-After`` in seconds; fractional values are kept for fast tests."""
        seconds = self.faults.retry_after_s
        return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class SandboxStats:
    """Thread-safe counters: requests per class ("GET /Users") and faults per kind.

    Fault kinds are the ``Fault`` values ("drop", "429", "5xx", "lost_response")
    plus "413" for PATCHes refused by ``max_members_per_patch``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def count_request(self, request_class: str) -> None:
        with self._lock:
            self._requests[request_class] += 1

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def requests(self) -> dict[str, int]:
        """Requests received per class, faulted or not."""
        with self._lock:
            return dict(self._requests)

    def faults(self) -> dict[str, int]:
        """Faults injected per kind."""
        with self._lock:
            return dict(self._faults)

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self._requests.values())

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()
