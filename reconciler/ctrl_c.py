"""Whether a Ctrl-C reached the running CLI: one flag, set by the SIGINT handler.

A Ctrl-C that lands inside the import system can surface as another error than
KeyboardInterrupt (CPython's module lock raises RuntimeError "cannot release
un-acquired lock"). The CLI's last resort asks this module before it calls such an
error a bug: the run was interrupted (exit 130), not broken. Importing this module
changes nothing; the console script (``reconciler.entry``) installs the handler.
"""

from __future__ import annotations

from types import FrameType


class _State:
    received = False


def interrupted(signum: int, frame: FrameType | None) -> None:
    """The SIGINT handler while the CLI runs: remember the Ctrl-C, raise KeyboardInterrupt."""
    _State.received = True
    raise KeyboardInterrupt


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
