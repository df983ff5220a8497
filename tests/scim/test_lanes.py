"""LanePool: at most ``width`` tasks hold a lane; a task waiting out a 429 lends its lane.

Threads are coordinated with events (bounded waits), never with sleeps.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError, wait
from functools import partial

import pytest

from reconciler.scim.lanes import LanePool, waiting_aside
from reconciler.scim.throttle import Throttle

WAIT = 5.0  # seconds: a bound for events that must come at once


class Board:
    """Counts tasks holding a lane (running outside ``waiting_aside``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []

    def enter(self, n: int) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(n)

    def leave(self) -> None:
        with self.lock:
            self.running -= 1


def test_a_task_waiting_aside_lends_its_lane_and_at_most_width_hold_one() -> None:
    board = Board()
    waiting = threading.Event()
    release = threading.Event()
    others_done = threading.Event()
    finished: list[int] = []

    def task(n: int) -> int:
        board.enter(n)
        if n == 0:
            board.leave()
            with waiting_aside():  # as the transport wraps a sparse 429's wait
                waiting.set()
                assert release.wait(WAIT)
            board.enter(n)
        board.leave()
        with board.lock:
            finished.append(n)
            if len([f for f in finished if f != 0]) == 4:
                others_done.set()
        return n

    with LanePool(2, spare=2) as pool:
        futures = [pool.submit(partial(task, n)) for n in range(5)]
        assert waiting.wait(WAIT)
        # Task 0 waits without a lane: tasks 1..4 all run meanwhile, two at a time.
        assert others_done.wait(WAIT)
        release.set()
        assert [f.result(timeout=WAIT) for f in futures] == list(range(5))
    assert board.most <= 2
    assert board.started[:3] == [0, 1, 2]  # started in submission order


def test_without_lending_a_waiting_task_keeps_its_lane() -> None:
    # The same wait outside ``waiting_aside`` (a 5xx backoff, a dense 429) holds the lane.
    release = threading.Event()
    started: list[int] = []

    def task(n: int) -> None:
        started.append(n)
        if n == 0:
            assert release.wait(WAIT)

    with LanePool(1, spare=2) as pool:
        first = pool.submit(lambda: task(0))
        second = pool.submit(lambda: task(1))
        with pytest.raises(TimeoutError):
            second.result(timeout=0.05)
        assert started == [0]
        release.set()
        first.result(timeout=WAIT)
        second.result(timeout=WAIT)
    assert started == [0, 1]


def test_a_task_back_from_its_wait_goes_before_tasks_not_yet_started() -> None:
    order: list[str] = []
    waiting = threading.Event()
    back = threading.Event()
    hold = threading.Event()

    def lender() -> None:
        with waiting_aside():
            waiting.set()
            assert back.wait(WAIT)
        order.append("lender again")

    def holder() -> None:
        order.append("holder")
        assert hold.wait(WAIT)

    def later() -> None:
        order.append("later")

    with LanePool(1, spare=3) as pool:
        futures = [pool.submit(lender)]
        assert waiting.wait(WAIT)
        futures.append(pool.submit(holder))  # takes the lent lane
        futures.append(pool.submit(later))  # waits for a lane, like the lender below
        back.set()  # the lender's wait ends while the holder holds the only lane
        _until_queued(pool, 2)  # the lender and ``later`` both wait for that lane
        hold.set()
        for future in futures:
            future.result(timeout=WAIT)
    assert order == ["holder", "lender again", "later"]


def _until_queued(pool: LanePool, n: int) -> None:
    """Wait (bounded) until ``n`` tasks wait for a lane."""
    for _ in range(500):
        with pool._lanes._lock:
            if len(pool._lanes._waiting) >= n:
                return
        time.sleep(0.01)
    raise AssertionError(f"{n} tasks never waited for a lane")


def test_shutdown_with_cancel_starts_no_task_still_waiting_for_a_lane() -> None:
    release = threading.Event()
    ran: list[int] = []

    def task(n: int) -> None:
        ran.append(n)
        assert release.wait(WAIT)

    pool = LanePool(1, spare=2)
    futures = [pool.submit(partial(task, n)) for n in range(3)]
    with pytest.raises(TimeoutError):
        futures[1].result(timeout=0.05)  # picked up by a spare thread, no lane yet
    # Close first, then let task 0 end: no moment where its lane is free and open.
    pool.shutdown(wait=False, cancel_futures=True)
    release.set()
    pool.shutdown(wait=True)
    assert ran == [0]
    for future in futures[1:]:
        with pytest.raises(CancelledError):
            future.result(timeout=WAIT)


def test_waiting_aside_outside_a_pool_does_nothing() -> None:
    with waiting_aside():
        pass


@pytest.mark.parametrize(("width", "spare"), [(0, 1), (1, -1)])
def test_a_pool_needs_a_lane(width: int, spare: int) -> None:
    with pytest.raises(ValueError, match="width >= 1"):
        LanePool(width, spare=spare)


def test_only_a_sparse_429_lets_the_request_lend_its_lane() -> None:
    clock = [0.0]
    throttle = Throttle(8, adaptive=True, clock=lambda: clock[0], sleep=lambda _: None)
    for _ in range(20):
        throttle.succeeded()
    slot = throttle.slot()
    with slot as held:
        held.rate_limited(1.0)
        assert held.sparse  # one 429 among successes: that request's bad luck
    for _ in range(8):  # a flood: half of the last 16 answers are 429s
        with throttle.slot() as held:
            held.rate_limited(1.0)
    assert not held.sparse and throttle.rate is not None
    clock[0] = 10.0
    with throttle.slot() as held:
        held.rate_limited(1.0)
    assert not held.sparse  # paced: the server enforces a rate, every request counts


def test_a_429_close_behind_others_keeps_its_lane() -> None:
    # The first burst of a real rate limiter: 429s close together, not yet dense.
    throttle = Throttle(8, adaptive=True, clock=lambda: 0.0, sleep=lambda _: None)
    for _ in range(12):
        throttle.succeeded()
    sparse = []
    for _ in range(4):
        with throttle.slot() as held:
            held.rate_limited(1.0)
            sparse.append(held.sparse)
    assert sparse == [True, True, True, False]  # the 4th has 3 others among 15 answers
    assert throttle.rate is None and throttle.not_before == float("-inf")  # not dense
    with pytest.raises(ValueError, match="lend_below"):
        Throttle(lend_below=0)


def test_leaving_the_with_block_by_an_error_starts_no_task_still_waiting() -> None:
    """Ctrl-C (or any error) while collecting results: what has a lane finishes, the
    rest never starts; a plain ``with`` exit would run every remaining task first."""
    started = threading.Event()
    release = threading.Event()
    ran: list[int] = []

    def task(n: int) -> None:
        ran.append(n)
        started.set()
        assert release.wait(WAIT)

    futures = []

    def release_once_the_next_is_cancelled() -> None:
        wait(futures[1:2], timeout=WAIT)  # task 0 keeps its lane until the pool closes
        release.set()

    releaser = threading.Thread(target=release_once_the_next_is_cancelled)
    with pytest.raises(KeyboardInterrupt), LanePool(1, spare=1) as pool:
        futures = [pool.submit(partial(task, n)) for n in range(6)]
        assert started.wait(WAIT)
        releaser.start()
        raise KeyboardInterrupt
    releaser.join(WAIT)
    assert ran == [0]
    for future in futures[1:]:
        with pytest.raises(CancelledError):
            future.result(timeout=WAIT)
