"""The reader's read-ahead: the pages of a page-by-page read (with ``window`` 1, never
two requests at once; with a wider window, at most that many), and none still under
way once the read has ended.

Threads are coordinated with events (bounded waits); the one sleep (0.1 s) keeps a
request under way while the page before it fails to convert.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from reconciler import reader
from reconciler.errors import LiveStateError
from reconciler.scim.errors import ScimUnsupportedError
from reconciler.scim.parse import ListPage

TOTAL = 9


class _Server:
    """Pages of 3 of TOTAL resources; counts the requests in flight."""

    def __init__(self, slow_from: int = TOTAL + 1) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.asked: list[int] = []
        self.slow_from = slow_from

    def fetch(self, start: int, count: int) -> ListPage:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.asked.append(start)
        if start >= self.slow_from:
            time.sleep(0.1)
        resources = tuple({"id": f"u{n}"} for n in range(start, min(start + 3, TOTAL + 1)))
        with self.lock:
            self.in_flight -= 1
        return ListPage(TOTAL, start, len(resources), resources)


def _quiet(kind: str, done: int, total: int) -> None:
    return None


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "read-ahead"]


def test_the_requests_are_those_of_a_page_by_page_read_one_at_a_time() -> None:
    server = _Server()
    kept = reader._read_all("users", server.fetch, 3, _quiet, lambda r: r["id"])
    assert kept == [f"u{n}" for n in range(1, TOTAL + 1)]
    assert server.asked == [1, 4, 7]
    assert server.most == 1


@pytest.mark.parametrize("where", ["convert", "progress"])
def test_a_page_that_fails_to_convert_ends_the_read_with_the_next_request(where: str) -> None:
    """The next page's request is under way when this page fails: the error comes
    once that request has ended, so no request of this listing runs beside the
    caller's next one (doctor goes on to its next check, which reads again)."""
    server = _Server(slow_from=4)

    def keep(resource: dict[str, Any]) -> str:
        if where == "convert" and resource["id"] == "u2":
            raise ScimUnsupportedError("a user without a name")
        return str(resource["id"])

    def progress(kind: str, done: int, total: int) -> None:
        if where == "progress":
            raise LiveStateError("the progress display failed")

    others = set(_read_ahead_threads())  # another test's, if any: not this read's
    with pytest.raises((ScimUnsupportedError, LiveStateError)):
        reader._read_all("users", server.fetch, 3, progress, keep)
    assert [t for t in _read_ahead_threads() if t not in others] == []
    assert server.in_flight == 0
    assert server.asked == [1, 4]


# -- a window of pages read ahead (``window`` > 1) ----------------------------------


class _Overlap(_Server):
    """_Server whose request for startIndex 4 waits (bounded) until the one for 7 has
    started: only a read with both in flight at once gets past it quickly."""

    def __init__(self) -> None:
        super().__init__()
        self.seven = threading.Event()
        self.overlapped: bool | None = None

    def fetch(self, start: int, count: int) -> ListPage:
        if start == 7:
            self.seven.set()
        if start == 4:
            self.overlapped = self.seven.wait(timeout=5)
        return super().fetch(start, count)


def test_a_window_asks_for_the_pages_after_this_one_together_and_nothing_more() -> None:
    server = _Overlap()
    kept = reader._read_all("users", server.fetch, 3, _quiet, lambda r: r["id"], 3)
    assert kept == [f"u{n}" for n in range(1, TOTAL + 1)]
    assert server.overlapped is True
    assert sorted(server.asked) == [1, 4, 7]  # the page-by-page read's pages, once each
    assert server.most <= 3
    assert _read_ahead_threads() == [] or all(not t.is_alive() for t in _read_ahead_threads())


class _Stateless:
    """A server whose answer depends only on (startIndex, count), never on the order of
    requests: so a page-by-page read and a read with a window must see the same pages,
    and must end the same way. ``seed`` picks its quirks: pages capped to a size that
    changes, a short page in the middle, a repeated or missing resource, a wrong
    startIndex, a totalResults that changes, an error."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.total = rng.randint(0, 40)
        self.listed = self.total + rng.choice([0, 0, 0, -1, 1])  # what totalResults says
        self.caps = {s: rng.choice([3, 3, 3, 3, 2, 5, 1]) for s in range(1, 60)}
        self.quirks = {
            s: rng.choice(["", "", "", "", "", "", "dup", "start", "drift", "fail", "empty"])
            for s in range(1, 60)
        }
        self.lock = threading.Lock()
        self.asked: list[int] = []
        self.in_flight = self.most = 0

    def fetch(self, start: int, count: int) -> ListPage:
        with self.lock:
            self.asked.append(start)
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            return self._answer(start, count)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, start: int, count: int) -> ListPage:
        quirk = self.quirks.get(start, "") if start > 1 else ""
        if quirk == "fail":
            raise ScimUnsupportedError(f"page at {start} failed")
        size = min(count, self.caps.get(start, 3))
        ids = range(start, min(start + size, self.total + 1))
        if quirk == "empty":
            ids = range(0)
        resources = tuple({"id": f"u{n}"} for n in ids)
        if quirk == "dup" and resources:
            resources = ({"id": f"u{start - 1}"}, *resources[1:])
        listed = self.listed + (1 if quirk == "drift" else 0)
        answered = start + 1 if quirk == "start" else start
        return ListPage(listed, answered, len(resources), resources)


def _outcome(server: _Stateless, window: int) -> tuple[str, object]:
    try:
        return "ok", reader._read_all("users", server.fetch, 4, _quiet, lambda r: r["id"], window)
    except (LiveStateError, ScimUnsupportedError) as error:
        return type(error).__name__, str(error)


@pytest.mark.parametrize("seed", range(300))
def test_a_window_reads_what_a_page_by_page_read_reads_and_fails_where_it_fails(
    seed: int,
) -> None:
    one, four = _Stateless(seed), _Stateless(seed)
    assert _outcome(four, 4) == _outcome(one, 1)
    assert set(one.asked) <= set(four.asked)
    assert len(four.asked) - len(one.asked) <= 3  # the window costs 3 requests at most
    assert four.most <= 4 and one.most == 1
    assert four.in_flight == 0  # every request ended before the read did
