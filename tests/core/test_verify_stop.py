"""Ctrl-C during the read-back: the reads under way finish, no new read starts."""

from __future__ import annotations

import threading

import pytest

from reconciler.livestate import LiveGroup, LiveUser
from reconciler.verify import Expectations, verify

WAIT = 5.0  # seconds: a bound for events that must come at once


class _Reader:
    """The first read is interrupted once a second one is under way; others wait."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.read: list[str] = []
        self.second = threading.Event()
        self.release = threading.Event()

    def get_user(self, user_id: str, *, purpose: str = "") -> LiveUser:
        with self.lock:
            self.read.append(user_id)
            first = len(self.read) == 1
        if first:
            assert self.second.wait(WAIT)
            threading.Timer(0.3, self.release.set).start()  # once the pool is closed
            raise KeyboardInterrupt
        self.second.set()
        assert self.release.wait(WAIT)
        return LiveUser(user_id, f"{user_id}@acme.io", None, None, None, True)

    def get_group(self, group_id: str, *, purpose: str = "") -> LiveGroup:
        raise AssertionError("no team is read back here")


def test_an_interrupted_read_back_starts_no_new_read() -> None:
    expected = Expectations()
    for n in range(40):
        expected.user(f"u{n:02}", f"op-{n}", f"u{n:02}@acme.io", {"active": True})
    reader = _Reader()
    with pytest.raises(KeyboardInterrupt):
        verify(expected, reader, concurrency=2)
    reader.release.wait(WAIT)
    # The interrupted read, the one under way, and at most one that took the
    # interrupted read's lane before the stop: never the 37 others.
    assert len(reader.read) <= 3
