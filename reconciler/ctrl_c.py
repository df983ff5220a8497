"""Whether a Ctrl-C reached the running CLI: one flag, set by the SIGINT handler.

A Ctrl-C that lands inside the import system can surface as another error than
KeyboardInterrupt (CPython's module lock raises RuntimeError "cannot release
un-acquired lock"). The CLI's last resort asks this module before it calls such an
error a bug: the run was interrupted (exit 130), not broken.

A Ctrl-C can also land in code Python runs on its own behalf (a weakref callback of
the import system, a finalizer), where the KeyboardInterrupt cannot propagate:
Python would print "Exception ignored in ..." with a traceback and carry on as if
nothing was pressed. ``unraisable_hook`` ends such a run instead, as a Ctrl-C before
the CLI runs is ended: one ``interrupted`` line, exit 130. The journal is written
and fsynced one outcome at a time, so nothing done is lost.

Importing this module changes nothing; the console script (``reconciler.entry``)
installs the handler and the hook.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130


class _State:
    received = False


def interrupted(signum: int, frame: FrameType | None) -> None:
    """The SIGINT handler while the CLI runs: remember the Ctrl-C, raise KeyboardInterrupt."""
    _State.received = True
    raise KeyboardInterrupt


def unraisable_hook(
    previous: Callable[[Any], object],
) -> Callable[[Any], None]:
    """A ``sys.unraisablehook`` that ends the run on a swallowed Ctrl-C, else ``previous``."""

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _State.received = True
            # A closed or full stdout: what was printed is what there is.
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
            os.write(2, b"interrupted\n")
            os._exit(EXIT_INTERRUPTED)
        previous(unraisable)

    return hook


def interrupted_line(what: str = "") -> str:
    """The ``interrupted`` line (then ``what``, when given) for the CLI to print on
    stderr, on a line of its own: a waiting line a worker drew on the terminal
    (``render.waiting``) is cleared first."""
    waiting = sys.modules.get("reconciler.render.waiting")  # no import while interrupted
    if waiting is not None:
        waiting.clear_waiting_lines()
    return f"interrupted {what}" if what else "interrupted"


@contextlib.contextmanager
def held(note: Callable[[], None]) -> Iterator[None]:
    """While the body runs, a Ctrl-C (or a SIGTERM the CLI handles alike) calls
    ``note`` instead of raising KeyboardInterrupt.

    For the few steps that close an interrupted run (its journal record, the summary
    of what was done): a second Ctrl-C there would cut them off half-written. The run
    is ending as interrupted anyway, so the signal is only noted. The previous
    handlers are put back after; outside the main thread the body runs as is, and a
    signal Python installed no handler of its own for (SIGTERM's default) keeps it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def later(signum: int, frame: FrameType | None) -> None:
        _State.received = True
        # The handler runs between two bytecodes of the body: a note that fails there
        # (a write to the stderr the body is writing, "reentrant call") must not
        # surface inside the body and cut off what it protects.
        with contextlib.suppress(Exception):
            note()

    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(number)
        if callable(handler):
            previous[number] = handler
            signal.signal(number, later)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """The body runs whole; a Ctrl-C (or SIGTERM) during it raises KeyboardInterrupt
    when it ends. For short steps that must not stop half-way: submitting a phase's
    operations to the thread pool (a worker started but not yet recorded by the pool
    would escape the drain that waits for the operations in flight)."""
    came: list[bool] = []
    with held(lambda: came.append(True)):
        yield
    if came:
        raise KeyboardInterrupt


def forget() -> None:
    """A new run starts: a Ctrl-C an earlier run in this process received is not its
    (one process runs one command, but tests and library callers run several)."""
    _State.received = False


def received() -> bool:
    """True once a Ctrl-C reached the running CLI in this process."""
    return _State.received


def caused(error: BaseException) -> bool:
    """True when ``error`` came from a Ctrl-C: one reached the CLI, or is in its chain.

    The chain (``__cause__``, else ``__context__``) holds the KeyboardInterrupt when
    the error was raised while it unwound, e.g. in an import lock's ``finally``.
    """
    if _State.received:
        return True
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False
