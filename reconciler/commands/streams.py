"""The CLI's output streams: redacted for the whole command, flushed, never a traceback.

``redacted_output`` wraps stdout and stderr in the one redactor; ``flush_quietly``
and ``to_devnull`` make a full disk or a closed pipe end the command with the one
error already reported, not an interpreter traceback at exit.
Must not: decide exit codes or print anything but what the streams were given.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _typeshed import SupportsWrite


@contextmanager
def redacted_output() -> Iterator[None]:
    """stdout and stderr pass through the one redactor for the whole command.

    The default token variable is registered up front so that commands that never
    load the SCIM token (``github``, ``validate``) still cannot print it.
    """
    from reconciler.redact import RedactingStream, register_secret, secrets_scope
    from reconciler.settings import TOKEN_ENV, environ

    saved = sys.stdout, sys.stderr
    with secrets_scope():
        register_secret(environ().get(TOKEN_ENV, "").strip())
        sys.stdout = RedactingStream(saved[0])
        sys.stderr = RedactingStream(saved[1], "standard error")
        try:
            yield
        finally:
            flush_quietly()
            sys.stdout, sys.stderr = saved


def stdout_closed(command: str) -> bool:
    """True (and said on stderr when it is open) when the command was run with ``>&-``:
    its output would be lost."""
    if sys.stdout is not None:
        return False
    if sys.stderr is not None:
        sys.stderr.write(
            f"error: reconciler {command}: standard output is closed, so its output "
            "would be lost; send it to a file, a pipe or /dev/null instead of closing it\n"
        )
    return True


def flush_quietly() -> None:
    """Flush before the streams are unwrapped; what cannot be written then is dropped.

    Output that failed (``> /dev/full``) was already reported; pointing the
    descriptor at /dev/null stops the interpreter's own flush at exit from printing
    an ignored-exception traceback.
    """
    from reconciler.errors import ReconcilerError

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ReconcilerError):
            to_devnull(stream)


def to_devnull(stream: object) -> None:
    """Point ``stream``'s descriptor at /dev/null (nothing more can be written to it)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
        os.close(devnull)


def print_message(message: str, file: SupportsWrite[str] | None) -> None:
    """argparse's ``_print_message``, except that ``--help`` or ``--version`` output
    that cannot be written (``> /dev/full``) raises OSError instead of vanishing
    with exit 0.

    A closed pipe (``--help | head -1``) stays quiet; stderr failing is ignored, as
    argparse does, since nothing could be said anyway.
    """
    if not message:
        return
    stream = file or sys.stderr
    out: TextIO = sys.stdout
    try:
        stream.write(message)
        if stream is out:
            out.flush()
    except BrokenPipeError:
        to_devnull(stream)
    except OSError:
        if stream is out:
            raise
    except AttributeError:  # a stream closed at start (None)
        pass


def unwritten_stdout(error: OSError) -> str:
    """The one-line error for output that could not be written to stdout."""
    reason = error.strerror or type(error).__name__
    return (
        f"cannot write to standard output: {reason}; send the output to a file on a disk "
        "with free space or to a pipe, and re-run"
    )
