"""Load the manifest: read files, validate each, check them together, merge.

The only module of the manifest package that does I/O, and it only reads. Every
problem in every file is collected before anything is raised, so one run of
``reconciler validate`` shows the whole list.

Limits (per file size, file count) keep a mistaken ``-m /`` or a hostile file from
exhausting memory; YAML-level limits (aliases, depth) live in ``yamlsource``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from reconciler.errors import ManifestError, Problem
from reconciler.manifest.document import FileResult, check_file
from reconciler.manifest.locations import Locations
from reconciler.manifest.models import Manifest, Policy
from reconciler.manifest.validate import check_manifest

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES = 1000
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


def load_manifest(path: str | os.PathLike[str], *, today: date) -> LoadedManifest:
    """Load one file, or every ``*.yaml``/``*.yml`` below a folder (hidden ones skipped).

    Raises ManifestError with every problem found in every file.
    """
    root = Path(path)
    files = _discover(root)
    results = [_check_path(file) for file in files]
    return _finish(results, today)


def load_manifest_text(text: str, *, filename: str, today: date) -> LoadedManifest:
    """Validate one in-memory document as if it were the file ``filename``."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_FILE_BYTES:
        return _finish([_unreadable(filename, _too_big(filename))], today)
    return _finish([check_file(text, filename)], today)


def manifest_digest(manifest: Manifest) -> str:
    """``sha256:<hex>`` of the canonical JSON of the manifest (sorted keys, compact).

    The same bytes as ``json.dumps(manifest.model_dump(mode="json"), sort_keys=True,
    separators=(",", ":"))``, hashed entry by entry: a 100k-user manifest never
    exists as one dict tree and one string at once (tens of MB at the peak).
    """
    digest = hashlib.sha256(b"{")
    for number, name in enumerate(sorted(type(manifest).model_fields)):
        value = getattr(manifest, name)
        digest.update(f"{',' if number else ''}{_canonical(name)}:".encode())
        if isinstance(value, tuple) and all(isinstance(item, BaseModel) for item in value):
            digest.update(b"[")
            for index, item in enumerate(value):
                piece = _canonical(item.model_dump(mode="json"))
                digest.update(f"{',' if index else ''}{piece}".encode())
            digest.update(b"]")
        else:
            whole = manifest.model_dump(mode="json", include={name})[name]
            digest.update(_canonical(whole).encode())
    digest.update(b"}")
    return "sha256:" + digest.hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _finish(results: Sequence[FileResult], today: date) -> LoadedManifest:
    sources = tuple(r.locations.filename for r in results)
    findings = check_manifest(results, today)
    problems = [p for r in results for p in r.problems] + findings.problems
    if problems:
        raise ManifestError(_in_order(problems, sources))
    manifest = _merge(results)
    notices = tuple(_in_order(findings.notices, sources))
    return LoadedManifest(manifest, manifest_digest(manifest), tuple(sorted(sources)), notices)


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


def _discover(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.exists():
        message = "no such file or directory; pass a manifest file or folder with -m"
        raise ManifestError([Problem(str(root), 1, 1, message)])
    if not root.is_dir():
        raise ManifestError([Problem(str(root), 1, 1, "not a regular file or a directory")])
    found: list[Path] = []
    for file in _walk(root):
        found.append(file)
        if len(found) > MAX_FILES:
            message = (
                f"more than {MAX_FILES} manifest files below this folder; is it the right one?"
            )
            raise ManifestError([Problem(str(root), 1, 1, message)])
    if not found:
        message = "no *.yaml or *.yml files in this folder (hidden files and folders are skipped)"
        raise ManifestError([Problem(str(root), 1, 1, message)])
    return sorted(found, key=lambda f: f.relative_to(root).parts)


def _walk(root: Path) -> Iterator[Path]:
    """Manifest files below ``root``: symlinked folders are not followed, hidden ones pruned."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            file = Path(folder, name)
            if not name.startswith(".") and name.lower().endswith(SUFFIXES) and file.is_file():
                yield file


def _check_path(file: Path) -> FileResult:
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return _unreadable(str(file), Problem(str(file), 1, 1, f"cannot read: {error.strerror}"))
    if len(raw) > MAX_FILE_BYTES:
        return _unreadable(str(file), _too_big(str(file)))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return _unreadable(str(file), _not_utf8(raw, error, str(file)))
    return check_file(text, str(file))


def _unreadable(filename: str, problem: Problem) -> FileResult:
    return FileResult(Locations(filename), (problem,))


def _too_big(filename: str) -> Problem:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    message = f"file is larger than {limit} MiB; split it into several files"
    return Problem(filename, 1, 1, message)


def _not_utf8(raw: bytes, error: UnicodeDecodeError, filename: str) -> Problem:
    """Point at the first bad byte; editors show the line and column of it."""
    before = raw[: error.start]
    line = before.count(b"\n") + 1
    col = error.start - (before.rfind(b"\n") + 1) + 1
    byte = raw[error.start]
    return Problem(filename, line, col, f"not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8")
