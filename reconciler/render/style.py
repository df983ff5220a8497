"""Terminal colours, on only when they help: a TTY and no ``NO_COLOR`` (no-color.org)."""

from __future__ import annotations

import os
from typing import TextIO

_CODES = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2", "cyan": "36"}


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return is_terminal(stream)


def is_terminal(stream: TextIO) -> bool:
    """A terminal that takes colours and cursor movement: a TTY, and ``TERM`` is not ``dumb``.

    ``TERM=dumb`` (Emacs shells, some CI consoles) shows escape codes as garbage, so
    there the output is plain lines, as in a log.
    """
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed stream
        return False


def width(stream: TextIO) -> int:
    """Columns of the terminal ``stream`` writes to (``COLUMNS`` first, else 80)."""
    import shutil

    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    override = os.environ.get("COLUMNS", "")
    if override.isdigit() and int(override) > 0:
        columns = int(override)
    return columns or shutil.get_terminal_size().columns


def fits(text: str, stream: TextIO) -> bool:
    """Whether ``text`` fits on one row of ``stream``'s terminal: only such a line can be
    redrawn in place with a carriage return (a wrapped one leaves its first rows behind)."""
    return len(text) < width(stream)


def clip(text: str, stream: TextIO) -> str:
    """``text`` cut to one row of the terminal (a progress line may lose its end)."""
    room = max(1, width(stream) - 1)
    return text if len(text) <= room else text[: room - 1] + "…"


class Style:
    """Wraps text in ANSI codes when enabled; an identity function otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, colour: str) -> str:
        if not self.enabled:
            return text
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"
