"""Crash-safe file replacement, shared by everything that writes a file users rely on.

Plan files, imported manifests and the sandbox's state are written to a temporary
file beside the target, fsynced, renamed over it, and the folder fsynced: a crash
leaves either the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reconciler.errors import SecretInOutputError
from reconciler.redact import contains_secret


def refuse_secret(path: Path, text: str) -> None:
    """Raise SecretInOutputError when ``text``, meant for ``path``, holds a secret.

    Callers writing several files check them all first, so none is written.
    """
    if contains_secret(text):
        raise SecretInOutputError(
            f"refusing to write {path}: it would contain the SCIM token. A value read "
            "from Mixpanel (shown as *** in the output) holds it: remove it in Mixpanel, "
            "and generate a new token, since the old one must be taken as leaked"
        )


def write_atomically(path: Path, data: bytes | str, *, refuse_secrets: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8).

    Raises SecretInOutputError, writing nothing, when the text holds a registered
    secret in any encoding (``reconciler.redact``): plan files carry a digest and
    imported manifests are written back to Mixpanel, so masking a value would make
    a file that silently says something else; refusing is the only honest choice.
    ``refuse_secrets=False`` is for the sandbox's state: the server's own data, not
    output of the reconciler.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if refuse_secrets:
        refuse_secret(path, payload.decode("utf-8", "replace"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
