"""The reader's read-ahead: the requests of a page-by-page read, never two at once, and
none still under way once the read has ended.

Threads are coordinated with events (bounded waits); the one sleep (0.1 s) keeps a
request under way while the page before it fails to convert.
"""

from __future__ import annotations

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
