"""Load the manifest: read files, validate each, check them together, merge.

The only module of the manifest package that does I/O, and it only reads. Every
problem in every file is collected before anything is raised, so one run of
``reconciler validate`` shows the whole list.

Limits (per file size, total size, file and folder count) keep a mistaken ``-m /``
or a hostile folder from exhausting memory or time; YAML-level limits (aliases,
depth) live in ``yamlsource``. Nothing below a folder is skipped silently: what is
ignored is ignored by a rule (hidden names, other suffixes), and anything else that
cannot be read (a broken symlink, a symlinked or unreadable folder) is a problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from reconciler.errors import ConfigError, ManifestError, Problem
from reconciler.files import MIB, ReadRefused, read_bounded, size_text
from reconciler.gcpolicy import bulk_phase
from reconciler.manifest.document import FileResult, check_file
from reconciler.manifest.locations import Locations
from reconciler.manifest.models import Entry, Manifest, Policy, User
from reconciler.manifest.validate import check_manifest
from reconciler.render.escape import quoted

MAX_FILE_BYTES = 5 * MIB
# All files together: about 230k users. Parsing dominates (~1.5 s per MiB), so a
# mistaken -m or a hostile folder is refused before it costs minutes and gigabytes.
MAX_TOTAL_BYTES = 64 * MIB  # room for an import of about 460k users (300k: 37 MB)
TOTAL_CAP_ENV = "RECONCILER_MANIFEST_MAX_MIB"
# Files below -m: `import --split-teams` writes one per team, so an org of thousands
# of teams needs room; the total byte cap above bounds what they may hold.
MAX_FILES = 10_000
FILES_CAP_ENV = "RECONCILER_MANIFEST_MAX_FILES"
MAX_FOLDERS = 1000
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedManifest:
    """A validated, merged manifest and what it was made from.

    ``digest`` identifies the desired state, not the text: reformatting or
    commenting the YAML keeps it, so a saved plan stays valid across such edits.
    """

    manifest: Manifest
    digest: str
    sources: tuple[str, ...]
    notices: tuple[Problem, ...]


def load_manifest(
    path: str | os.PathLike[str], *, today: date, notices: bool = True
) -> LoadedManifest:
    """Load one file, or every ``*.yaml``/``*.yml`` below a folder (hidden ones skipped).

    Raises ManifestError with every problem found in every file (and every entry of
    the folder that cannot be read), and ConfigError for a malformed
    ``RECONCILER_MANIFEST_MAX_MIB``.

    ``notices=False``: skip the notices (``LoadedManifest.notices`` is empty), and with
    them the positions a valid file's notices would need; for a caller that only
    asks whether the manifest is valid (``import`` checking what it wrote).
    """
    return load_read_manifest(read_manifest(path), today=today, notices=notices)


def read_manifest(path: str | os.PathLike[str]) -> list[tuple[str, bytes | Problem]]:
    """The manifest's files as bytes (or why each cannot be read), nothing parsed.

    The disk half of ``load_manifest``: raises ManifestError or ConfigError for the
    folder as a whole (missing, over the caps), so a caller can stop before any
    network request.
    """
    return _read_all(Path(path))


def load_read_manifest(
    files: Sequence[tuple[str, bytes | Problem]], *, today: date, notices: bool = True
) -> LoadedManifest:
    """The parsing half of ``load_manifest``, on what ``read_manifest`` returned.

    Runs with cyclic garbage collection paused (``gcpolicy.bulk_phase``): the load
    builds millions of objects and no cycles, and the collector's passes over them
    cost ~0.8 s CPU at 100k users for nothing.
    """
    with bulk_phase(freeze=False):
        results = [_check_read(name, raw) for name, raw in files]
        return _finish(results, today, notices=notices)


def load_manifest_text(text: str, *, filename: str, today: date) -> LoadedManifest:
    """Validate one in-memory document as if it were the file ``filename``."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_FILE_BYTES:
        return _finish([_unreadable(filename, _too_big(filename))], today)
    with bulk_phase(freeze=False):
        return _finish([check_file(text, filename)], today)


def manifest_digest(manifest: Manifest) -> str:
    """``sha256:<hex>`` of the canonical JSON of the manifest (sorted keys, compact).

    The same bytes as ``json.dumps(manifest.model_dump(mode="json"), sort_keys=True,
    separators=(",", ":"))``, hashed a few thousand entries at a time: a 100k-user
    manifest never exists as one dict tree and one string at once (tens of MB at the
    peak), and one serializer call and one ``json.dumps`` per chunk cost a third of
    one per entry. A list's canonical JSON is ``[`` + its items joined by ``,`` + ``]``,
    so the chunks joined by ``,`` are exactly the whole list's bytes.
    """
    digest = hashlib.sha256(b"{")
    for number, name in enumerate(sorted(type(manifest).model_fields)):
        value = getattr(manifest, name)
        digest.update(f"{',' if number else ''}{_canonical(name)}:".encode())
        model = _model_of(value)
        if model is not None:
            digest.update(b"[")
            adapter = _list_adapter(model)
            for start in range(0, len(value), DIGEST_CHUNK):
                entries = value[start : start + DIGEST_CHUNK]
                text = _users_json(entries) if model is User else None
                text = text if text is not None else _plain_records(entries)
                if text is None:  # a value of another kind (a date, say): pydantic's dump
                    text = _canonical(adapter.dump_python(list(entries), mode="json"))[1:-1]
                digest.update(f"{',' if start else ''}{text}".encode())
            digest.update(b"]")
        else:
            whole = manifest.model_dump(mode="json", include={name})[name]
            digest.update(_canonical(whole).encode())
    digest.update(b"}")
    return "sha256:" + digest.hexdigest()


DIGEST_CHUNK = 2000

_quoted: Callable[[str], str] = json.encoder.encode_basestring_ascii  # json.dumps's own (C)
_HEADS: dict[type[object], tuple[tuple[str, str], ...]] = {}


# The field names ``_users_json`` spells out, sorted: a field added to ``User`` turns
# it off (``_plain_records`` then writes users too) until it is spelled out here.
_USER_FIELDS = (
    "active",
    "display_name",
    "email",
    "expires",
    "family_name",
    "given_name",
    "previous_emails",
)


def _users_json(users: Sequence[User]) -> str | None:
    """``_plain_records(users)`` in one comprehension, or None for ``_plain_records``.

    The per-field appends cost about half of the digest at 100k users; this writes each
    user's canonical JSON inline, for the usual values (text, None, a bool ``active``,
    a tuple of text): any other value makes the string encoder raise TypeError (a date
    in ``expires``, say), and the whole chunk goes to ``_plain_records``.
    """
    if not _USERS_INLINE:
        return None
    q = _quoted
    try:
        return ",".join(
            [
                f'{{"active":{"true" if (a := u.active) is True else "false" if a is False else q(a)},'  # noqa: E501
                f'"display_name":{"null" if (d := u.display_name) is None else q(d)},'
                f'"email":{q(u.email)},'
                f'"expires":{"null" if (e := u.expires) is None else q(e)},'  # type: ignore[arg-type]
                f'"family_name":{q(u.family_name)},"given_name":{q(u.given_name)},'
                f'"previous_emails":[{",".join(map(q, u.previous_emails))}]}}'
                for u in users
            ]
        )
    except TypeError:
        return None


def _plain_records(records: Sequence[object]) -> str | None:
    """The canonical JSON of ``records`` joined by ``,``, or None for pydantic's dump.

    The bytes ``json.dumps(dump, sort_keys=True, separators=(",", ":"))`` gives for the
    models' JSON dump, written directly (a third less time at 100k users) while every
    value is text, a boolean, null, or a tuple of text or of such records: their JSON
    dump is the value itself (no field of these models has a serializer for them).
    Any other value (a date: its serializer decides), or a class whose dump is not
    just its fields by name (an alias, an excluded or a computed field), returns None.
    """
    parts: list[str] = []
    for record in records:
        if not _plain_record(record, parts):
            return None
        parts.append(",")
    return "".join(parts[:-1])


def _plain_record(record: object, parts: list[str]) -> bool:
    kind = type(record)
    heads = _HEADS.get(kind)
    if heads is None:
        fields = getattr(kind, "model_fields", None)
        if not isinstance(fields, dict) or not _dumps_its_fields(kind, fields):
            return False
        names = enumerate(sorted(fields))
        heads = tuple((f"{',' if n else '{'}{_quoted(name)}:", name) for n, name in names)
        _HEADS[kind] = heads
    for head, name in heads:
        parts.append(head)
        value = getattr(record, name)
        if type(value) is str:
            parts.append(_quoted(value))
        elif value is None:
            parts.append("null")
        elif value is True:
            parts.append("true")
        elif value is False:
            parts.append("false")
        elif type(value) is tuple:
            parts.append("[")
            for number, item in enumerate(value):
                if number:
                    parts.append(",")
                if type(item) is str:
                    parts.append(_quoted(item))
                elif not isinstance(item, BaseModel | Entry) or not _plain_record(item, parts):
                    return False
            parts.append("]")
        else:
            return False
    parts.append("}" if heads else "{}")
    return True


def _dumps_its_fields(kind: type[object], fields: dict[str, Any]) -> bool:
    """Is the JSON dump of ``kind`` exactly its fields by name (no alias, exclusion, extra)?"""
    if getattr(kind, "__pydantic_computed_fields__", None):
        return False
    return all(
        isinstance(f, FieldInfo) and f.serialization_alias is None and not f.exclude
        for f in fields.values()
    )


_USERS_INLINE = tuple(sorted(User.model_fields)) == _USER_FIELDS and _dumps_its_fields(
    User, User.model_fields
)


def _model_of(value: object) -> type[object] | None:
    """The model class of a non-empty tuple whose items all are exactly that class.

    A model, or a pydantic dataclass (``User``, ``Member``); pydantic serializes both.
    """
    if not isinstance(value, tuple) or not value:
        return None
    if not isinstance(value[0], BaseModel | Entry):
        return None
    kind = type(value[0])
    return kind if all(type(item) is kind for item in value) else None


_ADAPTERS: dict[type[object], TypeAdapter[list[Any]]] = {}


def _list_adapter(model: type[object]) -> TypeAdapter[list[Any]]:
    """A serializer for a list of ``model``: the model's own serializer, once per list."""
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]  # a runtime class
    return _ADAPTERS[model]


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _finish(results: Sequence[FileResult], today: date, *, notices: bool = True) -> LoadedManifest:
    sources = tuple(r.locations.filename for r in results)
    findings = check_manifest(results, today, notices=notices)
    problems = [p for r in results for p in r.problems] + findings.problems
    if problems:
        raise ManifestError(_in_order(problems, sources))
    manifest = _merge(results)
    shown = tuple(_in_order(findings.notices, sources))
    return LoadedManifest(manifest, manifest_digest(manifest), tuple(sorted(sources)), shown)


def _merge(results: Sequence[FileResult]) -> Manifest:
    """Concatenate users and teams in file order; take the one organization and policy."""
    organization = next(r.organization for r in results if r.organization)
    policy = next((r.policy for r in results if r.policy), Policy())
    return Manifest(
        version=1,
        organization=organization,
        policy=policy,
        users=tuple(user for r in results for _, user in r.users),
        teams=tuple(team for r in results for _, team in r.teams),
    )


def _in_order(problems: Sequence[Problem], sources: Sequence[str]) -> list[Problem]:
    """Deterministic: by file (in load order), then line, column and message."""
    rank = {source: index for index, source in enumerate(sources)}
    unique = set(problems)
    return sorted(unique, key=lambda p: (rank.get(p.path, -1), p.line, p.col, p.message))


def _read_all(root: Path) -> list[tuple[str, bytes | Problem]]:
    """Every manifest file's bytes (or why it could not be read), before any is parsed.

    Reading is cheap and parsing is not, so the total cap is checked on bytes read.
    """
    files = _discover(root)
    cap = total_cap()
    total = 0
    read: list[tuple[str, bytes | Problem]] = []
    for file in files:
        raw = _read_path(file)
        if isinstance(raw, bytes):
            total += len(raw)
            if total > cap:
                raise ManifestError([_over_total(root, cap)])
        read.append((str(file), raw))
    return read


def total_cap() -> int:
    """The cap on all manifest files together, in bytes: MAX_TOTAL_BYTES or the env's MiB."""
    value = os.environ.get(TOTAL_CAP_ENV, "").strip()
    if not value:
        return MAX_TOTAL_BYTES
    digits = value.isascii() and value.isdigit() and len(value) <= 7
    if not digits or not 1 <= int(value) <= 1024 * 1024:
        raise ConfigError(
            f"{TOTAL_CAP_ENV}={quoted(value)} is not a whole number of MiB between 1 and 1048576; "
            f"fix it, or unset it for the default ({size_text(MAX_TOTAL_BYTES)})"
        )
    return int(value) * MIB


def files_cap() -> int:
    """The cap on the number of manifest files below -m: MAX_FILES or the env's count.

    Raises ConfigError naming the variable when it is not a whole number from 1 to
    10,000,000.
    """
    value = os.environ.get(FILES_CAP_ENV, "").strip()
    if not value:
        return MAX_FILES
    digits = value.isascii() and value.isdigit() and len(value) <= 8
    if not digits or not 1 <= int(value) <= 10_000_000:
        raise ConfigError(
            f"{FILES_CAP_ENV}={quoted(value)} is not a whole number of files between 1 and "
            f"10000000; fix it, or unset it for the default ({MAX_FILES})"
        )
    return int(value)


def _over_total(root: Path, cap: int) -> Problem:
    message = (
        f"the manifest files below this folder hold more than {size_text(cap)} together; "
        f"is it the right folder? A larger org can raise the cap with {TOTAL_CAP_ENV}=N (MiB)"
    )
    return Problem(str(root), 1, 1, message)


def _discover(root: Path) -> list[Path]:
    """``root`` itself (any kind of file: reading says what is wrong), or its manifest files."""
    try:
        info = root.stat()  # follows a symlink: -m may name a link to the manifest
    except FileNotFoundError:
        message = "no such file or directory; pass a manifest file or folder with -m"
        raise ManifestError([Problem(str(root), 1, 1, message)]) from None
    except OSError as error:
        message = f"cannot read: {_reason(error)}; pass a manifest file or folder with -m"
        raise ManifestError([Problem(str(root), 1, 1, message)]) from None
    if not stat.S_ISDIR(info.st_mode):
        return [root]
    found, problems = _walk(root)
    if problems:
        raise ManifestError(sorted(problems, key=lambda p: p.path))
    if not found:
        message = "no *.yaml or *.yml files in this folder (hidden files and folders are skipped)"
        raise ManifestError([Problem(str(root), 1, 1, message)])
    return sorted(found, key=lambda f: f.relative_to(root).parts)


def _walk(root: Path) -> tuple[list[Path], list[Problem]]:
    """Manifest files below ``root``, and every entry that would otherwise be skipped unread.

    Ignored by rule (README, "Manifest reference"): names starting with ``.`` and
    files whose names do not end in ``.yaml``/``.yml``. Anything else that cannot be
    read as a manifest file is a problem naming its path: an unreadable folder, a
    broken symlink, a symlinked folder (not followed), a ``*.yaml`` that is not a
    regular file. Silently skipping any of these would drop its users from the
    desired state, and ``unmanaged_users: deactivate`` would then deprovision them.
    """
    found: list[Path] = []
    problems: list[Problem] = []
    folders = [root]
    visited = 0
    files = files_cap()
    while folders:
        folder = folders.pop()
        visited += 1
        if visited > MAX_FOLDERS:
            message = f"more than {MAX_FOLDERS} folders below this folder; is it the right one?"
            raise ManifestError([Problem(str(root), 1, 1, message)])
        for entry in _entries(folder, problems):
            kind = _kind(entry, problems)
            if kind == "folder":
                folders.append(Path(entry.path))
            elif kind == "manifest":
                found.append(Path(entry.path))
                if len(found) > files:
                    message = (
                        f"more than {files} manifest files below this folder; is it the "
                        f"right one? A larger org can raise the cap with {FILES_CAP_ENV}=N"
                    )
                    raise ManifestError([Problem(str(root), 1, 1, message)])
    return found, problems


def _entries(folder: Path, problems: list[Problem]) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` not hidden by name; an unreadable folder is a problem."""
    try:
        with os.scandir(folder) as scan:
            return sorted((e for e in scan if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as error:
        message = (
            f"cannot read this folder ({_reason(error)}), so its manifest files would be "
            "skipped; make it readable, or move it out of the manifest folder"
        )
        problems.append(Problem(str(folder), 1, 1, message))
        return []


def _kind(entry: os.DirEntry[str], problems: list[Problem]) -> str:
    """``folder``, ``manifest`` or ``ignored``; anything else is recorded as a problem."""
    is_manifest = entry.name.lower().endswith(SUFFIXES)
    try:
        if entry.is_symlink():
            return _link_kind(entry, is_manifest, problems)
        if entry.is_dir(follow_symlinks=False):
            return "folder"
        if not is_manifest:
            return "ignored"
        if entry.is_file(follow_symlinks=False):
            return "manifest"
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as error:
        message = f"cannot inspect ({_reason(error)}); make it readable or remove it"
        problems.append(Problem(entry.path, 1, 1, message))
        return "ignored"
    problems.append(Problem(entry.path, 1, 1, _not_regular(mode)))
    return "ignored"


def _link_kind(entry: os.DirEntry[str], is_manifest: bool, problems: list[Problem]) -> str:
    try:
        mode = os.stat(entry.path).st_mode
    except FileNotFoundError:
        target = _readlink(entry.path)
        message = (
            f"broken symlink (it points to {target}, which does not exist), so a manifest "
            "file may be missing; fix the link or remove it"
        )
        problems.append(Problem(entry.path, 1, 1, message))
        return "ignored"
    if stat.S_ISDIR(mode):
        message = (
            "symlinked folder: not followed, so its manifest files would be skipped; "
            "move the folder here, or remove the link"
        )
        problems.append(Problem(entry.path, 1, 1, message))
        return "ignored"
    if not is_manifest:
        return "ignored"
    if stat.S_ISREG(mode):
        return "manifest"  # a link to a file is read like the file
    problems.append(Problem(entry.path, 1, 1, _not_regular(mode)))
    return "ignored"


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "an unreadable target"


def _not_regular(mode: int) -> str:
    kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
    return f"not a regular file (it is {kind}); a manifest file must be a plain file"


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _read_path(file: Path) -> bytes | Problem:
    try:
        return read_bounded(file, MAX_FILE_BYTES)
    except ReadRefused as refused:
        if refused.too_large:
            return _too_big(str(file))
        return Problem(str(file), 1, 1, f"cannot read: {refused.reason}")


def _check_read(filename: str, raw: bytes | Problem) -> FileResult:
    if isinstance(raw, Problem):
        return _unreadable(filename, raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return _unreadable(filename, _not_utf8(raw, error, filename))
    # Positions, if ever needed, decode the caller's bytes again: the result does not
    # keep a second copy of every file's text alive until the load ends.
    return check_file(text, filename, text_again=lambda: raw.decode("utf-8-sig"))


def _unreadable(filename: str, problem: Problem) -> FileResult:
    return FileResult(Locations(filename), (problem,))


def _too_big(filename: str) -> Problem:
    message = f"file is larger than {size_text(MAX_FILE_BYTES)}; split it into several files"
    return Problem(filename, 1, 1, message)


def _not_utf8(raw: bytes, error: UnicodeDecodeError, filename: str) -> Problem:
    """Point at the first bad byte; editors show the line and column of it."""
    before = raw[: error.start]
    line = before.count(b"\n") + 1
    col = error.start - (before.rfind(b"\n") + 1) + 1
    byte = raw[error.start]
    return Problem(filename, line, col, f"not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8")
