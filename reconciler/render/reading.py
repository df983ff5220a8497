"""Read progress: a ``reading users: 120/5000`` line on a terminal, nothing elsewhere.

Apart from the apply progress (``render.progress``) so that ``plan`` and the other
read-only commands do not import the executor to show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from reconciler.render.style import clip, is_terminal

if TYPE_CHECKING:
    from reconciler.reader import Progress


def read_progress(stream: TextIO) -> Progress | None:
    """A ``reading users: 120/5000`` line updated in place on a terminal; None elsewhere.

    For ``read_live_state(on_progress=...)``; the line is cleared when a kind is done.
    """
    if not is_terminal(stream):
        return None

    def show(what: str, done: int, total: int) -> None:
        stream.write(f"\r{clip(f'reading {what}: {done}/{total}', stream)}\x1b[K")
        if done >= total:
            stream.write("\r\x1b[2K")
        stream.flush()

    return show
