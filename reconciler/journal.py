"""An append-only record of every apply outcome, written so a crash cannot corrupt it.

Each event is one JSON line, written with a single ``write`` on an ``O_APPEND``
descriptor and fsynced before the next operation starts. A crash can at worst leave
a torn last line, which ``read_journal`` skips; every earlier line is intact.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.redact import redact


class Journal:
    """Thread-safe JSON Lines writer; ``Journal(None)`` records nothing (for tests)."""

    def __init__(self, path: Path | None, *, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(self, event: str, fields: Mapping[str, Any]) -> None:
        if self._fd is None:
            return
        entry = {"ts": datetime.now(UTC).isoformat(), "run_id": self.run_id, "event": event}
        entry.update(fields)
        # Redacted as text after encoding to JSON, like every other output channel.
        text = redact(json.dumps(entry, sort_keys=True, ensure_ascii=False))
        line = (text + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
