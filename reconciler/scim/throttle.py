"""Shared pacing for every thread of one Transport: a "not before" gate and AIMD concurrency.

A 429 is the server saying the *client* is too fast, not that one request was
unlucky, so the pause it asks for applies to every thread: the first 429 closes a
shared gate until its Retry-After has passed, and no thread starts a request before
then. Optionally the number of requests in flight adapts (AIMD, as TCP does): halved
on a 429, one more after each answer that was not a 429, never above the configured
maximum. Without a maximum there is no limit on requests in flight, only the gate.

This module decides *when* a request may start; it never retries and never sleeps
for the thread that got the 429 (its retry budget, ``retry.Backoff``, does that).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Slot", "Throttle", "ThrottleStats"]


@dataclass
class ThrottleStats:
    """What the throttle did, for benchmarks and logs: 429s seen, time threads waited."""

    rate_limited: int = 0
    decreases: int = 0
    gate_waits: int = 0
    gate_seconds: float = 0.0


@dataclass
class Slot:
    """One request's permission to run; tells the throttle how the answer went."""

    throttle: Throttle
    generation: int

    def rate_limited(self, delay: float) -> float:
        """A 429 arrived: close the gate for ``delay`` seconds; returns the reopening time."""
        return self.throttle.rate_limited(delay, self.generation)

    def succeeded(self) -> None:
        self.throttle.succeeded()


class Throttle:
    """Shared by all threads using one Transport (the executor's workers, the reader's pool).

    ``max_in_flight`` None means no concurrency limit (the gate still applies);
    ``adaptive`` (which needs a maximum) starts at the maximum and applies AIMD.
    ``clock`` and ``sleep`` are injectable so tests run on a fake clock.
    """

    def __init__(
        self,
        max_in_flight: int | None = None,
        *,
        adaptive: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if adaptive and max_in_flight is None:
            raise ValueError("adaptive concurrency needs max_in_flight")
        self.max_in_flight = max_in_flight
        self.adaptive = adaptive
        self._limit = max_in_flight
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._in_flight = 0
        self._not_before = float("-inf")
        self._generation = 0
        self._local = threading.local()
        self.stats = ThrottleStats()

    @property
    def limit(self) -> int | None:
        """Requests currently allowed in flight (None: unlimited)."""
        with self._cond:
            return self._limit

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def not_before(self) -> float:
        """Clock time before which no request starts (-inf when the gate is open)."""
        with self._cond:
            return self._not_before

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """Wait for the gate and a free slot, hold it for one request, then free it."""
        generation = self.acquire()
        try:
            yield Slot(self, generation)
        finally:
            self.release()

    def acquire(self) -> int:
        """Block until a request may start; returns the AIMD generation it starts in."""
        while True:
            self._wait_for_gate()
            with self._cond:
                while self._limit is not None and self._in_flight >= self._limit:
                    self._cond.wait()
                if self._not_before <= self._excused_until():
                    self._in_flight += 1
                    return self._generation
            # A 429 closed the gate while this thread waited for a slot: wait again.

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    def rate_limited(self, delay: float, generation: int) -> float:
        """Close the gate for everyone for ``delay`` seconds; halve the limit once per
        generation, so the requests already in flight when the first 429 came back do
        not each halve it again. Returns the time the gate reopens."""
        with self._cond:
            self.stats.rate_limited += 1
            self._not_before = max(self._not_before, self._clock() + max(delay, 0.0))
            if self.adaptive and generation == self._generation and self._limit is not None:
                self._limit = max(1, self._limit // 2)
                self._generation += 1
                self.stats.decreases += 1
            return self._not_before

    def succeeded(self) -> None:
        """An answer that was not a 429: additive increase, up to the maximum."""
        if not self.adaptive:
            return
        with self._cond:
            limit, ceiling = self._limit, self.max_in_flight
            if limit is not None and ceiling is not None and limit < ceiling:
                self._limit = limit + 1
                self._cond.notify()

    def waited_until(self, when: float) -> None:
        """This thread already slept (its retry backoff) until ``when``: it passes the
        gate up to that time without sleeping a second time."""
        self._local.excused = max(self._excused_until(), when)

    def _excused_until(self) -> float:
        # The gate counts as open for this thread when it already waited through it
        # (with the clock itself when that is later).
        excused: float = getattr(self._local, "excused", float("-inf"))
        return max(excused, self._clock())

    def _wait_for_gate(self) -> None:
        """Sleep until the gate reopens; sleep again only if a new 429 moved it later.

        Each deadline is slept for once: a fake ``sleep`` that does not move the clock
        cannot make this loop spin.
        """
        while True:
            with self._cond:
                deadline = self._not_before
            delay = deadline - self._excused_until()
            if delay <= 0:
                return
            with self._cond:
                self.stats.gate_waits += 1
                self.stats.gate_seconds += delay
            self._sleep(delay)
            self.waited_until(deadline)
