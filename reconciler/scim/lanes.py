"""Concurrency lanes: at most N requests in flight, and a request waiting out its 429 holds none.

``apply --concurrency N`` promises at most N requests in flight. A plain pool of N
threads keeps that promise, but a request that got a sparse 429 (a server shedding
load at random) then holds its thread through the whole ``Retry-After`` doing
nothing, and the run slows by that wait for every such 429. ``LanePool`` keeps the
promise differently: a task (one plan operation, one read-back) needs one of N
*lanes* to run, and while its request waits out a 429's ``Retry-After`` (inside
``waiting_aside``, which the transport wraps around that wait) it lends its lane
to the next task, so another independent request runs meanwhile. After the wait
it takes a lane back before its retry, ahead of any task not yet started. A task
holds at most one request at a time, so lanes held = requests in flight <= N.

What does not change: the request still waits its full ``Retry-After`` (the wait
only gets longer if every lane is busy when it ends), dense 429s still close the
throttle's shared gate and pace the rate (``throttle.Throttle``; a task waiting at
the gate keeps its lane), a 429 that is dense or comes while the throttle paces a
server's rate keeps its lane (``Throttle.judge``: every request counts against that
rate), and waits for 5xx or connection failures keep the lane (an ailing server gets
no extra requests). Tasks start in submission order; results
are the caller's to collect in that order.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import TypeVar

__all__ = ["LanePool", "waiting_aside"]

T = TypeVar("T")

# Set on a pool's worker thread while it runs a task: what to do around a 429 wait.
_lending = threading.local()


@dataclass(frozen=True)
class _Loan:
    lanes: _Lanes
    ticket: int


@contextmanager
def waiting_aside() -> Iterator[None]:
    """Wrap a request's own ``Retry-After`` wait: its lane, if the thread holds one of
    a ``LanePool``'s, goes to the next task meanwhile and is taken back (first in
    line) before the block ends. Outside a pool (the reader, a single worker) it
    does nothing. Must not wrap anything that sends a request."""
    loan: _Loan | None = getattr(_lending, "loan", None)
    if loan is None:
        yield
        return
    loan.lanes.leave()
    try:
        yield
    finally:
        loan.lanes.enter((0, loan.ticket))  # back first: a started task finishes first


class _Lanes:
    """``width`` lanes granted in rank order: (0, ticket) a task coming back from a
    429 wait, (1, ticket) a task not yet started; tickets follow submission order.

    Each waiter sleeps on its own condition and only the first in line is woken
    when a lane frees: no herd of threads waking for one lane.
    """

    def __init__(self, width: int) -> None:
        self._free = width
        self._waiting: list[tuple[tuple[int, int], threading.Condition]] = []
        self._lock = threading.Lock()
        self._closed = False

    def enter(self, rank: tuple[int, int]) -> None:
        """Block until this rank is first in line and a lane is free; take it.

        Raises CancelledError, taking nothing, for a task not yet started once the
        pool is closed (``close``)."""
        with self._lock:
            self._cancel_if_closed(rank)
            if self._free and not self._waiting:
                self._free -= 1
                return
            entry = (rank, threading.Condition(self._lock))
            heapq.heappush(self._waiting, entry)  # ranks are unique: conditions never compared
            while not (self._free and self._waiting[0] is entry):
                entry[1].wait()
                if self._closed and rank[0] == 1:
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
                    self._wake_first()
                    raise CancelledError
            heapq.heappop(self._waiting)
            self._free -= 1
            self._wake_first()  # the next in line may find a lane free too

    def _cancel_if_closed(self, rank: tuple[int, int]) -> None:
        """(Lock held.) A task not yet started does not start once the pool is closed."""
        if self._closed and rank[0] == 1:
            raise CancelledError

    def _wake_first(self) -> None:
        """(Lock held.) Wake the first in line if a lane is free for it."""
        if self._free and self._waiting:
            self._waiting[0][1].notify()

    def leave(self) -> None:
        with self._lock:
            self._free += 1
            self._wake_first()

    def close(self) -> None:
        """Tasks not yet started start no more (they end with CancelledError)."""
        with self._lock:
            self._closed = True
            for _, waiter in self._waiting:
                waiter.notify()


class LanePool:
    """A thread pool in which at most ``width`` tasks hold a lane (so at most ``width``
    requests are in flight), started in submission order, with ``spare`` more threads
    (default ``width``) for tasks that lend their lane while waiting out a 429.

    ``width`` and ``spare`` must be at least 1 and 0. Use as a context manager, or
    call ``shutdown``; ``shutdown(cancel_futures=True)`` also stops tasks that were
    picked up but have not got a lane yet (their futures raise CancelledError), so
    a stop starts nothing new. The context manager does that when its block ends by
    an exception.
    """

    def __init__(
        self, width: int, *, spare: int | None = None, thread_name_prefix: str = ""
    ) -> None:
        spare = width if spare is None else spare
        if width < 1 or spare < 0:
            raise ValueError("a lane pool needs width >= 1 and spare >= 0")
        self.width = width
        self._lanes = _Lanes(width)
        self._tickets = count()
        self._pool = ThreadPoolExecutor(
            max_workers=width + spare, thread_name_prefix=thread_name_prefix
        )

    def submit(self, task: Callable[[], T]) -> Future[T]:
        """Run ``task`` when a lane is free and every task submitted before it has started."""
        return self._pool.submit(self._run, next(self._tickets), task)

    def _run(self, ticket: int, task: Callable[[], T]) -> T:
        self._lanes.enter((1, ticket))
        previous = getattr(_lending, "loan", None)
        _lending.loan = _Loan(self._lanes, ticket)
        try:
            return task()
        finally:
            _lending.loan = previous
            self._lanes.leave()

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        if cancel_futures:
            self._lanes.close()
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __enter__(self) -> LanePool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        """Wait for the tasks; leaving by an error (Ctrl-C, a failed task's result)
        also cancels every task that has not got a lane yet, so nothing new starts."""
        self.shutdown(wait=True, cancel_futures=kind is not None)
