"""The ``reconciler`` console script: the CLI is imported inside the Ctrl-C guard.

Importing the CLI and its dependencies takes a few hundred milliseconds; a Ctrl-C
then must end the run like a Ctrl-C at any other time (one line, exit 130), not
with a traceback from the middle of an import. This module imports nothing heavy.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from reconciler import ctrl_c

EXIT_INTERRUPTED = 130


def _interrupted_early(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C before the CLI is running: nothing was done, so end at once, cleanly."""
    os.write(2, b"interrupted\n")
    os._exit(EXIT_INTERRUPTED)


# Installed when the console script imports this module, so no moment between
# Python's start-up and the CLI's own handling is left unguarded.
signal.signal(signal.SIGINT, _interrupted_early)


def run() -> None:
    """Import the CLI, run it with ``sys.argv`` and exit with its code."""
    try:
        from reconciler.cli import main

        # From here on a Ctrl-C is a KeyboardInterrupt the CLI turns into a record
        # of what was done (journal, "N of M done") before it exits 130. SIGTERM (a
        # `timeout`, `docker stop`, a CI runner or scheduler stopping the job) is
        # handled the same way: killed mid-apply, the operations in flight would be
        # cut off and the journal left without its "interrupted" record.
        signal.signal(signal.SIGINT, ctrl_c.interrupted)
        signal.signal(signal.SIGTERM, ctrl_c.interrupted)
        sys.unraisablehook = ctrl_c.unraisable_hook(sys.unraisablehook)
        code = main()
        # The run is over and its outcome printed: a Ctrl-C now must not turn the
        # interpreter's shutdown (flushing streams, joining threads) into a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt this
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.stderr.write("interrupted\n")
        code = EXIT_INTERRUPTED
    _forget_caught_interrupts()
    sys.exit(code)


def _forget_caught_interrupts() -> None:
    """Let the exit code stand after a Ctrl-C the CLI caught and reported.

    CPython remembers a KeyboardInterrupt that escaped code compiled from a string
    (``exec("...")``, as ``dataclasses`` does while a module is imported) even when an
    outer ``except`` caught it, and ``python -m`` then ends the process with SIGINT
    instead of the exit code given (a parent sees -2, not 130). Running any string
    clears that memory; the outcome was already printed, so nothing else changes.
    """
    exec("")  # noqa: S102 - a constant empty string: it only resets the flag above
