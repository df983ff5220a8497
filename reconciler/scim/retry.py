"""Retry policy and backoff: exponential with full jitter, Retry-After honoured, capped.

Kept apart from the transport so that the client's create-then-adopt loop spends
from the same kind of budget as the transport's own retries.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")


@dataclass(frozen=True)
class RetryNotice:
    """One wait before another attempt, for a person watching the run.

    ``request`` is "GET /Users" (never the query), ``reason`` why the last attempt
    failed, ``attempt`` the number of the attempt that comes after ``delay`` seconds,
    out of ``max_attempts``. The transport hands these to a listener and prints
    nothing itself; the CLI's renderer shows them.
    """

    request: str
    reason: str
    attempt: int
    max_attempts: int
    delay: float


# Called with a notice before each wait, and with None once the request that waited
# got its final answer (success or failure), so a progress line can be cleared.
RetryListener = Callable[[RetryNotice | None], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How long one logical request may keep trying.

    ``max_attempts`` counts every HTTP attempt (the first included); ``max_delay``
    caps one wait, Retry-After included; ``total_cap`` is the time budget after which
    no new attempt starts (waits plus elapsed time since the first attempt).
    ``retry_statuses`` are the answers worth another try: 429 and the transient 5xx.
    500 is in by default because SaaS front ends return it for transient overload
    too; a persistent 500 costs a few bounded retries, a transient one would
    otherwise fail the run.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_cap: float = 120.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})


class Attempt:
    """One attempt under way, as counted by ``CircuitBreaker.begin``."""

    __slots__ = ("ended", "seq")

    def __init__(self, seq: int = 0) -> None:
        self.ended = False
        self.seq = seq  # the order it began in (1, 2, ...)


class CircuitBreaker:
    """The run-level stop: one per Transport, shared by every thread and every request.

    It opens (for good: a run does not recover from it) when

    - ``max_connection_failures`` attempts in a row got no HTTP answer at all (refused,
      dropped, timed out), whichever requests and threads they belonged to. A failure
      counts only once the attempts under way beside it have ended: while one is, the
      server's answer to it decides (an answer resets the count; if they all fail, they
      count as one). Attempts begun after that failure do not defer it further, so
      overlapping attempts to a black hole (each one's deadline running out while the
      next is already under way) still count, one per round. So attempts under way
      together count once: a server, or proxy, that drops requests sent beside others
      is not unreachable, whatever the threads' timing, and a dead or hung server still
      stops the run at any concurrency; or
    - waiting for retries would take the run past ``retry_budget`` seconds of retry
      waiting in total. Waits of concurrent threads overlap, so the budget counts
      wall-clock time during which at least one retry wait was under way.

    Once open, no request starts and no retry waits (``Backoff.wait`` returns False):
    a dead server or one that only says 429 ends the run within seconds instead of
    retrying every remaining operation. ``reason`` says which limit stopped it.
    """

    def __init__(
        self,
        *,
        max_connection_failures: int = 5,
        retry_budget: float = 120.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_connection_failures < 1:
            raise ValueError("max_connection_failures must be at least 1")
        if retry_budget < 0:
            raise ValueError("retry_budget must not be negative")
        self.max_connection_failures = max_connection_failures
        self.retry_budget = retry_budget
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._consecutive = 0
        self._begun = 0  # attempts begun so far (the last one's ``seq``)
        self._under_way: set[int] = set()  # the ``seq`` of each attempt not yet ended
        # A failure waiting for the attempts under way beside it: every attempt with a
        # ``seq`` up to this one must end (without an answer) before it counts.
        self._round: int | None = None
        self._waited = 0.0
        self._covered_until = float("-inf")
        self._opened = threading.Event()  # set: every retry sleep ends at once
        self._no_waits = False
        self.reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.reason is not None

    @property
    def retry_seconds(self) -> float:
        """Seconds of retry waiting granted so far (overlapping waits counted once)."""
        with self._lock:
            return self._waited

    def begin(self) -> Attempt:
        """An attempt is sent: pass it to exactly one of ``answered``,
        ``connection_failed`` or ``abandon`` when it ends."""
        with self._lock:
            self._begun += 1
            self._under_way.add(self._begun)
            return Attempt(self._begun)

    def answered(self, attempt: Attempt | None = None) -> None:
        """An HTTP answer arrived (any status): the connection failures are not in a row."""
        with self._lock:
            self._end(attempt)
            self._consecutive = 0
            self._round = None  # the answer decides the failures beside it

    def connection_failed(self, attempt: Attempt | None = None) -> None:
        """An attempt got no answer. It counts once the attempts under way beside it
        (begun before it failed) have ended without an answer; all of them count once."""
        with self._lock:
            self._end(attempt)
            if self._round is None:
                self._round = self._begun
            self._settle()

    def stop_waiting(self) -> None:
        """No retry waits from now on, and those under way end at once (Ctrl-C).

        Unlike opening the breaker, requests still go: an interrupted apply lets its
        operations in flight finish (a create's patch, a lookup), but one whose last
        attempt was refused (429, 5xx, no answer) fails instead of waiting out a
        ``Retry-After`` or backoff for a run that is over.
        """
        with self._lock:
            self._no_waits = True
        self._opened.set()

    def abandon(self, attempt: Attempt) -> None:
        """An attempt ended otherwise (an error of ours, Ctrl-C): it is no longer under
        way and proves nothing about the server. No-op once ended."""
        with self._lock:
            self._end(attempt)
            self._settle()

    def _end(self, attempt: Attempt | None) -> None:
        if attempt is not None and not attempt.ended:
            attempt.ended = True
            self._under_way.discard(attempt.seq)

    def _settle(self) -> None:
        """Count the waiting failure once no attempt begun before it is under way."""
        if self._round is None or any(seq <= self._round for seq in self._under_way):
            return  # none waiting, or another attempt's outcome decides
        self._round = None
        self._consecutive += 1
        if self._consecutive >= self.max_connection_failures:
            self._open(
                f"{self._consecutive} connection failures in a row; the server is "
                "unreachable (limit --max-connection-failures)"
            )

    @property
    def waits_stopped(self) -> bool:
        """True once ``stop_waiting`` was called: no retry waits, no early retries."""
        return self._no_waits

    def allow_wait(self, delay: float) -> bool:
        """True (and the wait is charged) if a retry may wait ``delay`` seconds now."""
        with self._lock:
            if self.reason is not None or self._no_waits:
                return False
            now = self._monotonic()
            added = max(0.0, now + delay - max(now, self._covered_until))
            if self._waited + added > self.retry_budget:
                self._open(
                    f"waiting for retries would exceed the run's retry budget of "
                    f"{self.retry_budget:g} s (limit --retry-budget)"
                )
                return False
            self._waited += added
            self._covered_until = max(self._covered_until, now + delay)
            return True

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the breaker opens (or ``stop_waiting``): threads
        waiting out a retry or a shared 429 pause stop at once instead of sleeping for
        a run that is over."""
        self._opened.wait(max(seconds, 0.0))

    def _open(self, reason: str) -> None:
        if self.reason is None:
            self.reason = f"the run was stopped: {reason}"
            self._opened.set()


class Backoff:
    """The retry budget of one logical operation; not shared between operations.

    Every wait also asks the run's ``breaker`` (when given), so the per-operation
    budget and the run-level one are spent in this one place.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        rng: random.Random,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float] = time.monotonic,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._policy = policy
        self._rng = rng
        self._sleep = sleep
        self._monotonic = monotonic
        self._breaker = breaker
        self._started = monotonic()
        self.attempts = 1
        self.slept = 0.0

    def wait(
        self, retry_after: float | None = None, announce: Callable[[float], None] | None = None
    ) -> bool:
        """Sleep before the next attempt; False (without sleeping) when the budget is spent.

        Full jitter (a uniform draw in [0, base * 2**n]) spreads clients that failed
        together; an explicit Retry-After is the server's own instruction and is used
        as is, but never beyond ``max_delay`` so a hostile value cannot stall a run.
        ``announce`` is told the delay just before the sleep (never when giving up).
        """
        policy = self._policy
        if self.attempts >= policy.max_attempts:
            return False
        if self._breaker is not None and self._breaker.is_open:
            return False
        if retry_after is None:
            ceiling = min(policy.max_delay, policy.base_delay * 2 ** (self.attempts - 1))
            delay = self._rng.uniform(0.0, ceiling)
        else:
            delay = min(max(retry_after, 0.0), policy.max_delay)
        used = max(self.slept, self._monotonic() - self._started)
        if used + delay > policy.total_cap:
            return False
        if self._breaker is not None and not self._breaker.allow_wait(delay):
            return False
        if announce is not None:
            announce(delay)
        self._sleep(delay)
        self.slept += delay
        if self._breaker is not None and self._breaker.waits_stopped:
            # Woken early by a Ctrl-C (``stop_waiting``): give up rather than send the
            # retry before the Retry-After the server asked for.
            return False
        self.attempts += 1
        return True


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(
        text
    ):  # RFC 9110 says integer; fractions (fast test servers) are harmless
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)
