"""Shared pacing for every thread of one Transport: adaptive rate, "not before" gate, AIMD.

A 429 always makes the request that got it wait its ``Retry-After`` (the retry
budget, ``retry.Backoff``, sleeps for that thread). Whether the *other* threads
should slow down depends on what the 429s say together:

- Sparse 429s (a few among many successes, as a busy server sheds load at random)
  are that request's bad luck: the others carry on. Pausing everyone on each one
  serialised the whole run (apply took twice as long under 10% random 429s).
- Dense 429s (at least ``dense_after`` of the last ``window`` answers: 16 of 64, a
  quarter, which 10% random 429s reach by chance about once in 5,000 windows; or
  half of the last ``paced_window``, a flood) mean the client is too fast for the
  server: the pause the server asked for then applies
  to every thread (a shared gate closes until ``Retry-After``), and the request
  rate is cut (multiplicative decrease, once per generation: the requests already
  in flight when it was cut do not cut it again) and then paced by a token bucket
  that grows by ``increase`` per answer that was not a 429 (probing upward again).
  Once paced, the server has shown it enforces a rate, so a shorter look decides:
  ``paced_dense_after`` 429s among the last ``paced_window`` answers (4 of 16) cut
  it again, and the rate settles just under the server's limit with few 429s.

Optionally the number of requests in flight adapts too (AIMD, as TCP does): halved
on dense 429s, one more after each answer that was not a 429, never above the
configured maximum. This module decides *when* a request may start; it never
retries and never sleeps for the thread that got the 429.
"""

from __future__ import annotations

import threading
import time
from collections import deque
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
    rate_cuts: int = 0
    pacing_seconds: float = 0.0


@dataclass
class Slot:
    """One request's permission to run; tells the throttle how the answer went."""

    throttle: Throttle
    generation: int
    sparse: bool = False  # set by ``rate_limited``: the 429 was judged the request's bad luck

    def rate_limited(self, delay: float) -> float:
        """A 429 arrived: close the gate for ``delay`` seconds if 429s are dense; returns
        when the request may be retried. Sets ``sparse`` (see ``Throttle.judge``)."""
        reopens, self.sparse = self.throttle.judge(delay, self.generation)
        return reopens

    def succeeded(self) -> None:
        self.throttle.succeeded()


class Throttle:
    """Shared by all threads using one Transport (the executor's workers, the reader's pool).

    ``max_in_flight`` None means no concurrency limit (the gate still applies);
    ``adaptive`` (which needs a maximum) starts at the maximum and applies AIMD.
    ``window`` and ``dense_after`` decide when 429s are dense before pacing (429s
    among the last ``window`` answers), ``paced_window`` (default the smaller of 16
    and ``window``) and ``paced_dense_after`` once paced; ``decrease`` (0 < d < 1) is
    the factor a dense burst cuts the request rate by, ``increase`` (> 0) the
    fraction it grows by per answer that was not a 429; ``min_rate`` (requests per
    second) is the floor; ``pace=False`` keeps only the gate and the in-flight limit
    (no token bucket); ``lend_below`` (>= 1): a 429 with fewer other 429s among the
    last ``paced_window`` answers, while not paced, is sparse (``judge``). ``clock``
    and ``sleep`` are injectable (fake-clock tests). Raises ValueError for settings
    outside those ranges.
    """

    def __init__(
        self,
        max_in_flight: int | None = None,
        *,
        adaptive: bool = False,
        # Measured (bench/probes.py apply, 200 verified PATCHes at c=8, 50 ms): with 4
        # of 16 before pacing, 10% random 429s still cut the rate 2-4 times per run
        # (1.9x clean); with 16 of 64 never (1.6x, as per-thread backoff), while behind
        # a real rate limiter it sends as few 429s as before (78 against 74).
        window: int = 64,
        dense_after: int = 16,
        paced_window: int | None = None,
        paced_dense_after: int = 4,
        decrease: float = 0.5,
        increase: float = 0.02,
        min_rate: float = 0.5,
        pace: bool = True,
        # Measured (bench, rate limiter 40/s): lending on the first burst of 429s cost a
        # 13th rate cut and ~4 more 429s; under 10% random 429s, 3 or more others among
        # 15 answers happen for about 1 in 6 of them (those keep their lane).
        lend_below: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if adaptive and max_in_flight is None:
            raise ValueError("adaptive concurrency needs max_in_flight")
        paced_window = min(16, window) if paced_window is None else paced_window
        if not 1 <= paced_window <= window:
            raise ValueError("paced_window must be between 1 and window")
        if not 1 <= paced_dense_after <= paced_window or not 1 <= dense_after <= window:
            raise ValueError("dense_after and paced_dense_after must be between 1 and their window")
        if lend_below < 1:
            raise ValueError("lend_below must be at least 1")
        if not 0 < decrease < 1 or increase <= 0 or min_rate <= 0:
            raise ValueError("need 0 < decrease < 1, increase > 0 and min_rate > 0")
        self.dense_after = dense_after
        self.paced_window = paced_window
        self.paced_dense_after = paced_dense_after
        self.decrease = decrease
        self.increase = increase
        self.min_rate = min_rate
        self.pace = pace
        self.lend_below = lend_below
        self._answers: deque[tuple[float, bool]] = deque(maxlen=window)  # (when, was 429)
        self._starts: deque[float] = deque(maxlen=window)  # when the last requests started
        self._rate: float | None = None  # requests per second; None: not paced
        self._next_start = float("-inf")
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
    def rate(self) -> float | None:
        """Requests per second the token bucket currently allows (None: not paced)."""
        with self._cond:
            return self._rate

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
                    generation = self._generation
                    start = self._take_token()
                    self._starts.append(max(start, self._clock()))
                    break
            # A 429 closed the gate while this thread waited for a slot: wait again.
        delay = start - self._clock()
        if delay > 0:
            with self._cond:
                self.stats.pacing_seconds += delay
            self._sleep(delay)
        return generation

    def _take_token(self) -> float:
        """When this request may start under the token bucket (caller holds the lock)."""
        if self._rate is None:
            return float("-inf")
        start = max(self._clock(), self._next_start)
        self._next_start = start + 1.0 / self._rate
        return start

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    def rate_limited(self, delay: float, generation: int) -> float:
        """A 429 asking for ``delay`` seconds; returns when the request that got it may
        be retried (now + delay). Only when 429s are dense does the pause apply to
        every thread (the gate) and the rate and the in-flight limit get cut, once per
        generation, so the requests already in flight when it was cut do not each cut
        it again."""
        return self.judge(delay, generation)[0]

    def judge(self, delay: float, generation: int) -> tuple[float, bool]:
        """``rate_limited``, and whether this 429 was sparse: not paced, and fewer than
        ``lend_below`` other 429s among the last ``paced_window`` answers (so never dense).

        Only a sparse 429 is the request's own bad luck, so only then may the caller
        give its concurrency lane to another request while it waits
        (``lanes.waiting_aside``). Once the server has shown it enforces a rate, and
        while 429s come closer together than that (the first burst of a real rate
        limiter, before it is judged dense), a request waiting out its 429 keeps its
        lane, as every request counts against that rate.
        """
        with self._cond:
            self.stats.rate_limited += 1
            now = self._clock()
            reopens = now + max(delay, 0.0)
            others = self._recent_429s()
            self._answers.append((now, True))
            if not self._dense():
                return reopens, self._rate is None and others < self.lend_below
            self._not_before = max(self._not_before, reopens)
            if generation == self._generation:
                self._cut(now)
                if self.adaptive and self._limit is not None:
                    self._limit = max(1, self._limit // 2)
                    self.stats.decreases += 1
                self._generation += 1
            return self._not_before, False

    def _recent_429s(self) -> int:
        """429s among the answers that, with one more, make the last ``paced_window``."""
        recent = list(self._answers)[-(self.paced_window - 1) :] if self.paced_window > 1 else []
        return sum(1 for _, was_429 in recent if was_429)

    def _dense(self) -> bool:
        recent = sum(1 for _, was_429 in list(self._answers)[-self.paced_window :] if was_429)
        if self._rate is not None:
            return recent >= self.paced_dense_after
        # Unpaced: a quarter of the long window, or a flood (half of the short one, which
        # 10% random 429s reach about once in 20,000 looks) seen without waiting for it.
        flood = self.paced_window >= 2 and recent * 2 >= self.paced_window
        return flood or sum(1 for _, was_429 in self._answers if was_429) >= self.dense_after

    def _cut(self, now: float) -> None:
        """Multiplicative decrease of the request rate (caller holds the lock).

        Unpaced, the rate to cut is the one just observed (the last ``window``
        requests over the time since the first of them started), and the cut goes no
        higher than the rate the server accepted over those answers (answers that were
        not 429s, per second): behind a real limiter that is its limit, reached in one
        cut instead of a halving per burst of 429s.
        """
        if not self.pace:
            return
        current = self._rate
        if current is None:
            current = len(self._starts) / max(now - self._starts[0], 1e-3)
            cut = current * self.decrease
            accepted = sum(1 for _, was_429 in self._answers if not was_429)
            if accepted and self._answers:
                cut = min(cut, accepted / max(now - self._answers[0][0], 1e-3))
        else:
            cut = current * self.decrease
        self._rate = max(self.min_rate, cut)
        self._next_start = max(self._next_start, now)
        self._answers.clear()  # judge the new rate on its own answers
        self.stats.rate_cuts += 1

    def succeeded(self) -> None:
        """An answer that was not a 429: the rate and the in-flight limit grow back."""
        with self._cond:
            self._answers.append((self._clock(), False))
            if self._rate is not None:
                self._rate *= 1 + self.increase
            if not self.adaptive:
                return
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
