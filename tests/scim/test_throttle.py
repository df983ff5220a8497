"""The shared throttle: a 429 pauses every thread, and AIMD concurrency, on a fake clock."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
import responses
from responses.registries import OrderedRegistry

from reconciler.scim.errors import ScimRateLimited
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token
from reconciler.scim.throttle import Throttle
from reconciler.scim.transport import Transport

BASE = "https://scim.example.test/v2"
LIST = {"totalResults": 0, "Resources": []}


class FakeClock:
    """Time that only moves when someone sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as mock:
        yield mock


def throttle(clock: FakeClock, max_in_flight: int | None = None, **kwargs: bool) -> Throttle:
    """The gate and AIMD mechanics alone: every 429 counts as dense, no rate pacing."""
    return Throttle(
        max_in_flight, clock=clock, sleep=clock.sleep, dense_after=1, pace=False, **kwargs
    )


def test_an_open_gate_lets_a_request_start_without_sleeping(clock: FakeClock) -> None:
    t = throttle(clock)
    with t.slot():
        assert t.in_flight == 1
    assert t.in_flight == 0
    assert clock.sleeps == []


def test_a_429_makes_the_next_request_wait_until_the_gate_reopens(clock: FakeClock) -> None:
    t = throttle(clock)
    with t.slot() as slot:
        assert slot.rate_limited(2.0) == 102.0
    with t.slot():
        assert clock.now == 102.0
    assert clock.sleeps == [2.0]
    assert (t.stats.rate_limited, t.stats.gate_waits, t.stats.gate_seconds) == (1, 1, 2.0)


def test_the_thread_that_slept_through_its_own_backoff_is_not_made_to_wait_twice(
    clock: FakeClock,
) -> None:
    t = throttle(clock)
    with t.slot() as slot:
        reopens = slot.rate_limited(2.0)
    t.waited_until(reopens)  # as the transport does after Backoff.wait slept
    with t.slot():
        pass
    assert clock.sleeps == []


def test_a_later_429_extends_the_pause_and_an_earlier_one_never_shortens_it(
    clock: FakeClock,
) -> None:
    t = throttle(clock)
    with t.slot() as first, t.slot() as second, t.slot() as third:
        first.rate_limited(1.0)
        second.rate_limited(3.0)
        third.rate_limited(0.5)
    assert t.not_before == 103.0
    with t.slot():
        pass
    assert clock.sleeps == [3.0]


def test_each_deadline_is_slept_once_even_if_sleep_does_not_move_the_clock() -> None:
    sleeps: list[float] = []
    t = Throttle(clock=lambda: 0.0, sleep=sleeps.append, dense_after=1, pace=False)
    with t.slot() as slot:
        slot.rate_limited(5.0)
    with t.slot():
        pass
    with t.slot():
        pass
    assert sleeps == [5.0]


def test_adaptive_concurrency_halves_once_per_generation_and_grows_by_one(
    clock: FakeClock,
) -> None:
    t = throttle(clock, 8, adaptive=True)
    assert t.limit == 8
    with t.slot() as a, t.slot() as b:
        a.rate_limited(0.0)
        b.rate_limited(0.0)  # was in flight when the first 429 came back: no second halving
    assert t.limit == 4
    for expected in (2, 1, 1):
        with t.slot() as slot:
            slot.rate_limited(0.0)
        assert t.limit == expected
    for expected in (2, 3, 4, 5, 6, 7, 8, 8):
        with t.slot() as slot:
            slot.succeeded()
        assert t.limit == expected
    assert t.stats.decreases == 4


def test_without_adaptive_the_limit_never_moves(clock: FakeClock) -> None:
    t = throttle(clock, 3)
    with t.slot() as slot:
        slot.rate_limited(0.0)
    with t.slot() as slot:
        slot.succeeded()
    assert t.limit == 3


def test_no_more_than_the_limit_are_in_flight(clock: FakeClock) -> None:
    t = throttle(clock, 2)
    t.acquire()
    t.acquire()
    started, entered = threading.Event(), threading.Event()

    def third() -> None:
        started.set()
        with t.slot():
            entered.set()

    worker = threading.Thread(target=third)
    worker.start()
    started.wait()
    assert not entered.wait(0.05)
    assert t.in_flight == 2
    t.release()
    worker.join(5)
    assert entered.is_set()
    t.release()
    assert t.in_flight == 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Throttle(0)
    with pytest.raises(ValueError, match="needs max_in_flight"):
        Throttle(adaptive=True)


def transport(clock: FakeClock, t: Throttle, **kwargs: object) -> Transport:
    return Transport(
        BASE,
        Token("tok"),
        sleep=clock.sleep,
        rng=random.Random(7),
        throttle=t,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_429_on_one_thread_pauses_a_request_on_another(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.get(f"{BASE}/Users", status=429, headers={"Retry-After": "2"})
    http.get(f"{BASE}/Groups", json=LIST)
    t = throttle(clock)
    tr = transport(clock, t, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ScimRateLimited):
        tr.request("GET", "/Users")
    other = threading.Thread(target=tr.request, args=("GET", "/Groups"))
    other.start()
    other.join(5)
    assert clock.sleeps == [2.0]
    assert t.stats.gate_waits == 1


def test_the_retrying_thread_sleeps_once_for_its_own_429(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.get(f"{BASE}/Users", status=429, headers={"Retry-After": "3"})
    http.get(f"{BASE}/Users", json=LIST)
    t = throttle(clock, 4, adaptive=True)
    assert transport(clock, t).request("GET", "/Users").status == 200
    assert clock.sleeps == [3.0]
    assert t.limit == 3  # halved to 2 on the 429, +1 on the success
    assert t.in_flight == 0


def test_a_429_without_retry_after_pauses_for_the_base_delay(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.get(f"{BASE}/Users", status=429)
    t = throttle(clock)
    tr = transport(clock, t, retry=RetryPolicy(max_attempts=1, base_delay=0.25))
    with pytest.raises(ScimRateLimited):
        tr.request("GET", "/Users")
    assert t.not_before == clock.now + 0.25


def test_a_hostile_retry_after_pauses_no_longer_than_max_delay(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.get(f"{BASE}/Users", status=429, headers={"Retry-After": "86400"})
    t = throttle(clock)
    tr = transport(clock, t, retry=RetryPolicy(max_attempts=1, max_delay=9.0))
    with pytest.raises(ScimRateLimited):
        tr.request("GET", "/Users")
    assert t.not_before == clock.now + 9.0
