"""An append-only record of every apply outcome, written so a crash cannot corrupt it.

Each event is one JSON line, written with a single ``write`` on an ``O_APPEND``
descriptor and fsynced before the next operation starts. A crash can at worst leave
a torn last line, which ``read_journal`` skips; every earlier line is intact.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.files import open_append
from reconciler.redact import redact

_FIX = "pass --journal a writable file on a disk with free space"


class JournalError(ReconcilerError):
    """The journal cannot be opened or written: apply stops rather than act unrecorded.

    Exit 1 when nothing was recorded yet (the first event precedes every write to
    the server), exit 5 once events were: the run stopped midway, a re-run finishes.
    """


class Journal:
    """Thread-safe JSON Lines writer; ``Journal(None)`` records nothing (for tests).

    Raises JournalError (naming the path, the reason and the fix) when the file
    cannot be opened (at the first event) or an event cannot be written in full.
    """

    def __init__(self, path: Path | None, *, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._written = 0

    def _open(self, path: Path) -> int:
        """The file is opened (created) with the first event, so a run refused before it
        (a safety guard) leaves no journal behind."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file where the folder goes
            blocking = next((p for p in (path.parent, *path.parent.parents) if p.is_file()), None)
            raise JournalError(
                f"cannot open the journal {path}: {blocking or path.parent} is a file, not a "
                "folder; nothing was applied; move that file away, or pass --journal a file "
                "path in a writable folder"
            ) from None
        except OSError as error:
            raise JournalError(
                f"cannot open the journal {path}: {_reason(error)}; nothing was applied; {_FIX}"
            ) from None
        try:
            return open_append(path)  # a regular file only, never a device or link
        except OSError as error:
            raise JournalError(
                f"cannot open the journal {path}: {_reason(error)}; nothing was applied; {_FIX}"
            ) from None

    def record(self, event: str, fields: Mapping[str, Any]) -> None:
        if self.path is None:
            return
        entry = {"ts": datetime.now(UTC).isoformat(), "run_id": self.run_id, "event": event}
        entry.update(fields)
        # Redacted as text after encoding to JSON, like every other output channel.
        # ASCII only: a bidi control or C1 character in live data must not reach a
        # terminal that shows the journal (`tail -f`); the JSON escape keeps the value.
        text = redact(json.dumps(entry, sort_keys=True, ensure_ascii=True))
        line = (text + "\n").encode()
        with self._lock:
            if self._fd is None:
                self._fd = self._open(self.path)
            try:
                if os.write(self._fd, line) != len(line):
                    raise OSError(errno.ENOSPC, "the event was written only in part")
                os.fsync(self._fd)
            except OSError as error:
                raise self._failed(error) from None
            self._written += 1

    def _failed(self, error: OSError) -> JournalError:
        if self._written == 0:
            return JournalError(
                f"cannot write the journal {self.path}: {_reason(error)}; nothing was applied; "
                f"{_FIX}"
            )
        failure = JournalError(
            f"cannot write the journal {self.path}: {_reason(error)}; apply stopped midway, "
            f"so some operations were done and some not; {_FIX}, then re-run apply (it "
            "plans only what is left)"
        )
        failure.exit_code = 5
        return failure

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete event in the journal; a torn last line (a crash mid-write) is skipped."""
    events = []
    for raw in path.read_bytes().splitlines():
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            events.append(value)
    return events
