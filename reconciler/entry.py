"""The ``reconciler`` console script: the CLI is imported inside the Ctrl-C guard.

Importing the CLI and its dependencies takes a few hundred milliseconds; a Ctrl-C
then must end the run like a Ctrl-C at any other time (one line, exit 130), not
with a traceback from the middle of an import. This module imports nothing heavy.
"""

from __future__ import annotations

import signal
import sys

EXIT_INTERRUPTED = 130


def run() -> None:
    """Import the CLI, run it with ``sys.argv`` and exit with its code."""
    try:
        from reconciler.cli import main

        code = main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt this
        sys.stderr.write("interrupted\n")
        code = EXIT_INTERRUPTED
    sys.exit(code)
