"""Logging for operators: levels from -v/-q, text or JSON lines, a run id on every line.

Logs go to stderr so stdout stays the plan (pipeable into a PR comment). Nothing
secret is logged by design; every formatted line goes through the one redactor
(``reconciler.redact``), and ``_Redact`` also masks any bearer credential that might
reach a message anyway.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TextIO

from reconciler.redact import redact
from reconciler.render.escape import terminal

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class _RunId(logging.Filter):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = self.run_id
        return True


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _BEARER.search(message):
            record.msg, record.args = _BEARER.sub(r"\1***", message), None
        return True


class _RedactingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Every formatted line passes through the one redactor, whatever the format."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra=`` fields kept as fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "run_id": getattr(record, "run_id", None),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The text log line, with the message escaped for a terminal (it may quote live data)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = terminal(record.message)
        return super().formatMessage(record)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s run=%(run_id)s %(name)s: %(message)s"


def level_for(verbose: int, quiet: bool) -> int:
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


@contextmanager
def logging_configured(level: int, fmt: str, run_id: str, stream: TextIO) -> Iterator[None]:
    """Configure logging for one command and put the previous setup back afterwards.

    ``main`` runs many times in one process under tests and embedding tools; leaving
    our handler installed would leak one run's settings into the next.
    """
    root = logging.getLogger("reconciler")
    saved = (list(root.handlers), root.level, root.propagate)
    setup_logging(level, fmt, run_id, stream)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        handlers, old_level, propagate = saved
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(old_level)
        root.propagate = propagate


def setup_logging(level: int, fmt: str, run_id: str, stream: TextIO) -> None:
    """Configure the ``reconciler`` logger tree (idempotent)."""
    handler = _RedactingHandler(stream)
    handler.addFilter(_RunId(run_id))
    handler.addFilter(_Redact())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger("reconciler")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
