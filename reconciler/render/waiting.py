"""The waiting line: what the client is retrying, why, and when the next attempt comes.

Without it a run that backs off (a refused connection, a 429 with a long
Retry-After) looks hung. The transport reports each wait to a listener and prints
nothing; this renderer is that listener for the CLI. On a terminal it keeps one
line on stderr up to date and clears it when the request got its answer; elsewhere
(CI logs, files) it writes one plain line per wait.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TextIO

from reconciler.render.style import fits
from reconciler.scim.retry import RetryNotice

_CLEAR = "\r\x1b[2K"

# The lines made in this process, so a Ctrl-C (which ends the run while a worker
# thread may still be sleeping in a backoff) can clear one left on the terminal.
_LINES: weakref.WeakSet[WaitingLine] = weakref.WeakSet()


def clear_waiting_lines() -> None:
    """Clear any waiting line still drawn on a terminal; before a last message such as
    ``interrupted``, which would otherwise be appended to it."""
    for line in list(_LINES):
        line.clear()


def waiting_text(notice: RetryNotice, now: float) -> str:
    """``waiting to retry GET /Users: HTTP 429 (rate limited); attempt 2 of 6 in 30.0 s
    (at 12:00:30 UTC)``; ``now`` in seconds since the epoch."""
    at = datetime.fromtimestamp(now + notice.delay, UTC).strftime("%H:%M:%S")
    return (
        f"waiting to retry {notice.request}: {notice.reason}; attempt {notice.attempt} of "
        f"{notice.max_attempts} in {notice.delay:.1f} s (at {at} UTC)"
    )


class WaitingLine:
    """A ``RetryListener`` writing to ``stream``; safe to call from several threads.

    Requests in parallel (apply's ``--concurrency``) wait each in its own thread: on a
    terminal, when one wait ends while another goes on, the line shows the one still
    waiting (with the time it has left) instead of going blank.
    """

    def __init__(
        self, stream: TextIO, *, tty: bool, clock: Callable[[], float] = time.time
    ) -> None:
        self.stream = stream
        self.tty = tty
        self._clock = clock
        self._lock = threading.Lock()
        self._shown = False
        self._waiting: dict[int, tuple[RetryNotice, float]] = {}  # thread -> (notice, since)
        _LINES.add(self)

    def __call__(self, notice: RetryNotice | None) -> None:
        # A closed or broken stderr must not fail the request being waited for.
        with contextlib.suppress(OSError, ValueError):
            self._show(notice)

    def clear(self) -> None:
        """Forget every wait and clear the line (the run is ending, e.g. on Ctrl-C)."""
        with contextlib.suppress(OSError, ValueError), self._lock:
            self._waiting.clear()
            self._erase()

    def _show(self, notice: RetryNotice | None) -> None:
        with self._lock:
            me = threading.get_ident()
            if notice is not None:
                now = self._clock()
                self._waiting[me] = (notice, now)
                self._draw(notice, now)
                return
            self._waiting.pop(me, None)
            if not (self.tty and self._shown):
                return
            if not self._waiting:
                self._erase()
                return
            other, since = next(reversed(self._waiting.values()))
            now = self._clock()
            left = max(since + other.delay - now, 0.0)
            self._draw(replace(other, delay=left), now)

    def _erase(self) -> None:
        if self.tty and self._shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._shown = False

    def _draw(self, notice: RetryNotice, now: float) -> None:
        text = waiting_text(notice, now)
        in_place = self.tty and fits(text, self.stream)  # a wrapped line cannot be redrawn
        if self.tty and not in_place and self._shown:
            self.stream.write(_CLEAR)
        self.stream.write(f"\r{text}\x1b[K" if in_place else f"{text}\n")
        self.stream.flush()
        self._shown = in_place
