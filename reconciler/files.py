"""Local files: crash-safe replacement, and bounded reads that cannot hang or exhaust memory.

Plan files, imported manifests and the sandbox's state are written to a temporary
file beside the target, fsynced, renamed over it, and the folder fsynced: a crash
leaves either the old file or the new one, never half of either. Only a new path or a
regular file is ever replaced: a device, a FIFO, a socket, a folder or a symbolic
link is refused and left as it is (``refuse_special``). A set of files
(``import``) is staged completely before the first rename, so a name the file
system refuses leaves nothing written.

Every local file the tool reads (token file, ``reconciler.yaml``, manifests, plan
files) goes through ``read_bounded``: a regular file or a pipe, never a device or a
socket (``/dev/zero`` would be read forever, a FIFO nobody writes to would block
forever), at most ``limit`` bytes, and a pipe only until a deadline.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import ConfigError, ReconcilerError, SecretInOutputError
from reconciler.profile import PRODUCT
from reconciler.redact import contains_secret

KIB = 1024
MIB = 1024 * KIB
PIPE_TIMEOUT_S = 5.0
NAME_MAX = 255  # bytes per path component on Linux, macOS and Windows file systems
_CHUNK = 64 * KIB


class FileWriteError(ReconcilerError):
    """A file the user asked for could not be written; names the path, the reason and the fix."""


class ReadRefused(Exception):
    """Why a local file was not read; ``reason`` is a short phrase for the caller's message.

    Not a ReconcilerError: each caller knows what the file was for and what to suggest
    (the loader turns it into a manifest problem, settings into a ConfigError).
    """

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


def exists(path: Path) -> bool:
    """False only when ``path`` is certainly absent (no such entry on its way).

    Unlike ``Path.exists`` this never raises: a name too long or a folder that
    cannot be searched counts as present, so that reading it names the real reason.
    """
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError):
        return True
    return True


def is_folder(path: Path) -> bool:
    """True when ``path`` is (or links to) a folder; never raises."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def is_regular_file(path: Path) -> bool:
    """True when ``path`` is (or links to) a regular file; never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def size_text(limit: int) -> str:
    """``limit`` bytes in the unit people write: ``16 KiB``, ``5 MiB``, ``1.5 MiB``."""
    for unit, name in ((MIB, "MiB"), (KIB, "KiB")):
        if limit >= unit:
            return f"{limit / unit:g} {name}"
    return f"{limit} bytes"


def read_bounded(path: Path, limit: int, *, pipe_timeout_s: float | None = None) -> bytes:
    """The bytes of ``path``: a regular file or a pipe, at most ``limit`` bytes.

    Opened non-blocking, so a FIFO without a writer never blocks; a pipe (``<(cmd)``,
    ``/dev/stdin``) is read until end of file or ``pipe_timeout_s`` seconds
    (default PIPE_TIMEOUT_S).
    Raises ReadRefused for a missing or unreadable file, a directory, a device or a
    socket, more than ``limit`` bytes, or a pipe that stays silent past the deadline.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise ReadRefused(_reason(error)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            return _read_file(fd, limit)
        if stat.S_ISFIFO(mode):
            timeout = PIPE_TIMEOUT_S if pipe_timeout_s is None else pipe_timeout_s
            return _read_pipe(fd, limit, timeout)
        raise ReadRefused(f"not a regular file (it is {_kind(mode)})")
    except OSError as error:
        raise ReadRefused(_reason(error)) from None
    finally:
        os.close(fd)


def read_text(path: Path, limit: int, *, what: str, fix: str) -> str:
    """The UTF-8 text of ``path``, read as ``read_bounded`` reads (a BOM is dropped).

    ``what`` names the file ("token file"), ``fix`` says what to do. Raises
    ConfigError naming the path, the reason (or the first byte that is not UTF-8)
    and the fix.
    """
    try:
        raw = read_bounded(path, limit)
    except ReadRefused as refused:
        raise ConfigError(f"cannot read {what} {path}: {refused.reason}; {fix}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
            f"{error.start}); {fix}"
        ) from None


def _read_file(fd: int, limit: int) -> bytes:
    if os.fstat(fd).st_size > limit:
        raise ReadRefused(f"larger than {size_text(limit)}", too_large=True)
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, min(_CHUNK, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:  # the file grew since fstat
            raise ReadRefused(f"larger than {size_text(limit)}", too_large=True)
    return b"".join(chunks)


def _read_pipe(fd: int, limit: int, timeout_s: float) -> bytes:
    """Read a non-blocking pipe to end of file; a FIFO without a writer is at end of file."""
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    total = 0
    while True:
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:  # a writer is attached but has not written (yet)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadRefused(
                    f"a pipe that sent no end of file within {timeout_s:g} s"
                ) from None
            select.select([fd], [], [], remaining)
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise ReadRefused(f"larger than {size_text(limit)}", too_large=True)


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISFIFO, "a pipe"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def refuse_secret(path: Path, text: str) -> None:
    """Raise SecretInOutputError when ``text``, meant for ``path``, holds a secret.

    Callers writing several files check them all first, so none is written.
    """
    if contains_secret(text):
        raise SecretInOutputError(
            f"refusing to write {path}: it would contain the SCIM token. A value read "
            f"from {PRODUCT} (shown as *** in the output) holds it: remove it in {PRODUCT}, "
            "and generate a new token, since the old one must be taken as leaked"
        )


def refuse_special(path: Path) -> None:
    """Raise OSError unless ``path`` is a new path or a regular file (not a link to one).

    Every writer calls this first: renaming over a device, a FIFO or a symbolic link
    would replace it with a regular file (as root, ``/dev/null`` itself), and
    appending to one would write somewhere the user did not name.
    """
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except ValueError as error:  # a NUL byte in the name
        raise OSError(errno.EINVAL, str(error), str(path)) from None
    if stat.S_ISREG(mode):
        return
    kind = "a symbolic link" if stat.S_ISLNK(mode) else _kind(mode)
    raise OSError(errno.EEXIST, f"it is {kind}, not a regular file", str(path))


def open_append(path: Path) -> int:
    """A descriptor appending to ``path`` (created 0600), which must be a regular file.

    Opened without following a symbolic link and without blocking on a FIFO, then
    checked: anything but a regular file is refused with OSError (see ``refuse_special``).
    """
    refuse_special(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
    fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0), 0o600)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # swapped in since the check
        os.close(fd)
        raise OSError(errno.EEXIST, f"it is {_kind(mode)}, not a regular file", str(path))
    os.set_blocking(fd, True)
    return fd


def write_atomically(path: Path, data: bytes | str, *, refuse_secrets: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8). Raises OSError.

    ``path`` must be new or a regular file: a device, FIFO, socket, folder or symbolic
    link is refused with OSError and left untouched (``refuse_special``). Its folder
    must exist (OSError otherwise): no folder is created.

    Raises SecretInOutputError, writing nothing, when the text holds a registered
    secret in any encoding (``reconciler.redact``): plan files carry a digest and
    imported manifests are written back to Mixpanel, so masking a value would make
    a file that silently says something else; refusing is the only honest choice.
    ``refuse_secrets=False`` is for the sandbox's state: the server's own data, not
    output of the reconciler.
    """
    payload = _encoded(data)
    if refuse_secrets:
        refuse_secret(path, payload.decode("utf-8", "replace"))
    refuse_special(path)
    temp = _stage(path, payload)  # no folder is created: see check_parent_folder
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _encoded(data: bytes | str) -> bytes:
    # A lone surrogate (a JSON "\\udc80" from the server) is written escaped, not a crash.
    return data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data


def _stage(path: Path, payload: bytes) -> Path:
    """``payload`` in a fsynced temporary file beside ``path``."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(temp)


def _fsync_folder(folder: Path) -> None:
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def check_parent_folder(path: Path, *, what: str, fix: str) -> None:
    """Refuse to write ``path`` unless the folder it goes in exists and is writable.

    The one rule for every option naming something to write (``plan --out``,
    ``import --out``, ``apply --journal``, ``sandbox --state``): the tool creates the
    file or folder you name, never the folders above it, so a mistyped path fails at
    once (before any network access) instead of leaving files somewhere unexpected.
    ``what`` names the file ("the plan file"), ``fix`` says what to pass instead
    ("pass --out a file path in a writable folder"). Raises FileWriteError naming the
    path, what is wrong with its folder and the fix (``mkdir -p`` for a missing one).
    """
    import shlex

    parent = path.parent
    if is_folder(parent):
        if os.access(parent, os.W_OK | os.X_OK):
            return
        reason = f"the folder {parent} is not writable"
    elif exists(parent):
        reason = f"{parent} is not a folder"
    elif (blocking := _file_above(parent)) is not None:
        # mkdir -p would fail on it: name the file instead of suggesting that.
        reason = f"{blocking}, above its folder {parent}, is a file, not a folder"
    else:
        reason = f"its folder {parent} does not exist (no folder is created for you)"
        fix = f"create it first (mkdir -p {shlex.quote(str(parent))}) or {fix}"
    raise FileWriteError(f"cannot write {what} {path}: {reason}; {fix}")


def _file_above(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` when it is not a folder, else None."""
    for above in folder.parents:
        if exists(above):
            return None if is_folder(above) else above
    return None


def write_output(path: Path, data: bytes | str, *, what: str, fix: str) -> None:
    """``write_atomically`` for a file the user named: any failure is a FileWriteError.

    ``what`` names the file ("the plan file"), ``fix`` says what to do instead
    ("pass --out a file path in a writable folder").
    """
    if is_folder(path):
        raise FileWriteError(f"cannot write {what} {path}: it is a folder; {fix}")
    check_parent_folder(path, what=what, fix=fix)  # the folder may have gone since the start
    try:
        write_atomically(path, data)
    except OSError as error:
        raise FileWriteError(f"cannot write {what} {path}: {_reason(error)}; {fix}") from None


def write_file_set(root: Path, files: Mapping[str, bytes | str], *, what: str, fix: str) -> None:
    """Write ``files`` (relative path -> content) below ``root`` as one set.

    Every file is checked for secrets (see ``refuse_secret``) and staged (temporary
    file, fsync) before the first one is renamed into place, so a secret, a refused
    name, a full disk or a path that is not a folder leaves no file written (folders
    created on the way are removed again). Raises SecretInOutputError or FileWriteError.
    """
    payloads = {name: _encoded(data) for name, data in files.items()}
    for name, payload in sorted(payloads.items()):  # every file checked before any is written
        refuse_secret(root / name, payload.decode("utf-8", "replace"))
    created: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    try:
        if exists(root) and not is_folder(root):
            raise NotADirectoryError(20, "it is a file, not a folder", str(root))
        for name, payload in sorted(payloads.items()):
            target = root / name
            _check_name_lengths(target)
            created += _make_folders(target.parent)
            refuse_special(target)
            staged.append((_stage(target, payload), target))
    except OSError as error:
        _undo(staged, created)
        where = error.filename or root
        raise FileWriteError(f"cannot write {what} {where}: {_reason(error)}; {fix}") from None
    except BaseException:
        _undo(staged, created)
        raise
    for temp, target in staged:
        os.replace(temp, target)
    for folder in sorted({target.parent for _, target in staged}):
        _fsync_folder(folder)


def _check_name_lengths(path: Path) -> None:
    """Refuse a name the file system would refuse, before anything is written."""
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise OSError(errno.ENAMETOOLONG, f"a name longer than {NAME_MAX} bytes", str(path))


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, outermost first."""
    missing: list[Path] = []
    current = folder
    while not exists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir()
    return list(reversed(missing))


def _undo(staged: list[tuple[Path, Path]], created: list[Path]) -> None:
    for temp, _ in staged:
        temp.unlink(missing_ok=True)
    for folder in reversed(created):
        # Not empty (someone else wrote there) or already gone: leave it.
        with contextlib.suppress(OSError):
            folder.rmdir()
