"""The state file: the sandbox's directory on disk, so it survives restarts.

Two files: ``<state>`` is a checkpoint (the same SCIM resources the server
returns, plus the store version) and ``<state>.wal`` a write-ahead journal of the
mutations since, one JSON line each. A write appends its journal line and fsyncs
before the response is sent, so an acknowledged write is never lost, and costs
O(change) rather than O(directory) - rewriting a 100k-user file per PATCH would
dominate any benchmark. Concurrent writers share one append+fsync (group commit).
The journal is folded into a new checkpoint when it grows large and on stop;
checkpoints are written atomically (temp file, fsync, ``os.replace``).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO, Any

from reconciler.errors import ConfigError
from reconciler.files import open_append, refuse_special, write_atomically
from scim_sandbox.resources import GroupRecord, UserRecord, now
from scim_sandbox.store import STATE_FORMAT, Store

MIN_JOURNAL_BYTES = 16 * 1024 * 1024


def journal_path(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".wal")


class Persister:
    """Keeps a store's state file (checkpoint + journal) up to date, version by version."""

    def __init__(self, store: Store, path: Path) -> None:
        self._store = store
        self._path = path
        self._journal_path = journal_path(path)
        self._lock = threading.Lock()
        self._saved_version = -1
        self._journal: IO[bytes] | None = None
        self._checkpoint_bytes = 0
        store.start_journal()

    def persist(self, version: int) -> None:
        """Return once every mutation up to ``version`` is on disk (journal appended + fsync)."""
        with self._lock:
            if self._saved_version >= version:
                return
            latest, entries = self._store.drain_journal()
            journal = self._open_journal()
            journal.write(b"".join(entry + b"\n" for entry in entries))
            journal.flush()
            os.fsync(journal.fileno())
            self._saved_version = latest
            if journal.tell() > max(MIN_JOURNAL_BYTES, self._checkpoint_bytes // 2):
                self._checkpoint()

    def checkpoint(self) -> None:
        """Write a full checkpoint and empty the journal (at start, on stop)."""
        with self._lock:
            self._checkpoint()

    def close(self) -> None:
        with self._lock:
            self._checkpoint()
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def _checkpoint(self) -> None:
        version, document = self._store.checkpoint()
        write_atomically(self._path, document, refuse_secrets=False)
        self._checkpoint_bytes = len(document)
        # Entries up to ``version`` are in the checkpoint; a crash before this
        # truncation is harmless because loading skips entries it already holds.
        self._truncate_journal()
        self._saved_version = version

    def _open_journal(self) -> IO[bytes]:
        if self._journal is None:
            self._journal = os.fdopen(open_append(self._journal_path), "ab")
        return self._journal

    def _truncate_journal(self) -> None:
        """Empty the journal; the handle is kept only while requests are being journaled."""
        if self._journal is not None:
            self._journal.truncate(0)
            os.fsync(self._journal.fileno())
        elif self._journal_path.exists():
            refuse_special(self._journal_path)
            with self._journal_path.open("wb") as handle:
                os.fsync(handle.fileno())


def read_state(path: Path) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]] | None:
    """(version, user resources, group resources) from checkpoint + journal; None if absent."""
    checkpoint = _read_checkpoint(path)
    lines = _read_journal(journal_path(path))
    if checkpoint is None and not lines:
        return None
    version, users, groups = checkpoint or (0, {}, {})
    for line in lines:
        entry = json.loads(line)
        if entry["v"] <= version:
            continue  # already in the checkpoint
        version = entry["v"]
        table = users if entry.get("put", entry.get("delete")) == "User" else groups
        if "put" in entry:
            table[entry["resource"]["id"]] = entry["resource"]
        else:
            table.pop(entry["id"], None)
    for group in groups.values():  # deleted users leave their groups
        group["members"] = [m for m in group.get("members") or [] if m["value"] in users]
    return version, list(users.values()), list(groups.values())


def _read_checkpoint(
    path: Path,
) -> tuple[int, dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.strip():
        return None
    document = json.loads(raw)
    if document.get("format") != STATE_FORMAT:
        raise ValueError(f"unknown format {document.get('format')!r}")
    users = {item["id"]: item for item in document["users"]}
    groups = {item["id"]: item for item in document["groups"]}
    return int(document.get("version", 0)), users, groups


def _read_journal(path: Path) -> list[bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = raw.split(b"\n")
    # A crash mid-append can leave a torn last line; it was never acknowledged.
    return [line for line in lines[:-1] if line.strip()] + _complete(lines[-1])


def _complete(last: bytes) -> list[bytes]:
    try:
        json.loads(last)
    except ValueError:
        return []
    return [last]


def load_state(store: Store, path: Path) -> bool:
    """Load ``path`` (and its journal) into an empty store; False when there is nothing.

    A state file that is a device, pipe or folder is refused unread (``--state
    /dev/zero`` would otherwise be read forever); so is one that cannot be read.
    """
    for file in (path, journal_path(path)):
        try:
            refuse_special(file)  # it is written back: a symbolic link is refused too
        except OSError:
            raise ConfigError(
                f"sandbox state file {file} is not a regular file; pass --state a file path"
            ) from None
    try:
        state = read_state(path)
        if state is None:
            return False
        version, users, groups = state
        store.load([_user(item) for item in users], [_group(item) for item in groups], version)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(
            f"sandbox state file {path} is unreadable ({error}); move it away to start afresh"
        ) from error
    except OSError as error:
        raise ConfigError(
            f"cannot read sandbox state file {error.filename or path}: {error.strerror}; "
            "pass --state a readable file path"
        ) from None
    return True


def _user(item: dict[str, Any]) -> UserRecord:
    name = item.get("name") or {}
    meta = item.get("meta") or {}
    stamp = now()
    return UserRecord(
        id=str(item["id"]),
        user_name=str(item["userName"]),
        given_name=name.get("givenName"),
        family_name=name.get("familyName"),
        display_name=item.get("displayName"),
        emails=list(item.get("emails") or []),
        active=bool(item.get("active", True)),
        external_id=item.get("externalId"),
        created=meta.get("created", stamp),
        last_modified=meta.get("lastModified", stamp),
    )


def _group(item: dict[str, Any]) -> GroupRecord:
    meta = item.get("meta") or {}
    stamp = now()
    return GroupRecord(
        id=str(item["id"]),
        display_name=str(item["displayName"]),
        external_id=item.get("externalId"),
        created=meta.get("created", stamp),
        last_modified=meta.get("lastModified", stamp),
        members=dict.fromkeys(str(m["value"]) for m in item.get("members") or []),
    )
