"""Garbage collection tuned for a batch run: no cyclic collection during bulk phases.

Loading a manifest and reading an org build hundreds of thousands of long-lived
objects and almost no reference cycles. CPython's cyclic collector is triggered by
allocations, so during such a phase it runs again and again over a heap that only
grows, and finds nothing: measured at 100k users it was about a third of the whole
``plan``. Reference counting still frees everything that is not in a cycle, so
pausing the cyclic collector for a bounded phase costs little memory.

``bulk_phase`` moves everything alive at its start (imported modules, the parsed
options) into the permanent generation (``gc.freeze``), so later collections never
walk it again, pauses the collector for the phase, and restores the previous state
afterwards, even when the phase raises. Phases nest and may run in threads: the
collector resumes when the last one ends. See the Python documentation of ``gc``.

``freeze=False`` only pauses the collector: for a phase inside a long-lived process
(the manifest loader run as a library, by tests), where freezing would make any
cyclic garbage alive at that moment uncollectable for good. A one-shot command
(``plan``, ``validate``) opens the outer phase with the freeze.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _State:
    """How many bulk phases are open, and whether the collector ran before the first."""

    lock = threading.Lock()
    active = 0
    was_enabled = True


@contextmanager
def bulk_phase(*, freeze: bool = True) -> Iterator[None]:
    """Pause cyclic garbage collection while the ``with`` block builds bulk data.

    ``freeze``: first move everything alive into the permanent generation (only when
    no phase is open yet; see the module docstring for when not to).
    """
    with _State.lock:
        if _State.active == 0:
            _State.was_enabled = gc.isenabled()
            if freeze:
                gc.freeze()
            gc.disable()
        _State.active += 1
    try:
        yield
    finally:
        with _State.lock:
            _State.active -= 1
            if _State.active == 0 and _State.was_enabled:
                gc.enable()
