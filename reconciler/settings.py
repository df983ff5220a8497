"""Where to connect and with which token: environment, flags and the token file.

The token is wrapped in ``Token`` as soon as it is read so it cannot reach a log,
a repr or an error message by accident.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.files import KIB, read_text
from reconciler.redact import register_secret
from reconciler.scim.secret import Token
from reconciler.scim.url import normalise_base_url

TOKEN_ENV = "MIXPANEL_SCIM_TOKEN"  # noqa: S105 - the name of the variable, not a secret
URL_ENV = "MIXPANEL_SCIM_URL"
# A SCIM token is well under 1 KiB; the cap only stops `--token-file /dev/zero`-like reads.
TOKEN_FILE_MAX_BYTES = 16 * KIB


@dataclass(frozen=True)
class Limits:
    """The run's bounds (README, "Safety model", bounds table); each one has a flag.

    ``request_deadline``: wall-clock seconds for one HTTP attempt, body included.
    ``max_read_bytes``: bytes one whole live-state read may receive.
    ``retry_budget``: seconds of retry waiting the whole run may spend.
    ``max_connection_failures``: attempts in a row without an answer that stop the run.
    """

    request_deadline: float = 60.0
    max_read_bytes: int = 256 * 2**20
    retry_budget: float = 120.0
    max_connection_failures: int = 5


@dataclass(frozen=True)
class Target:
    base_url: str
    token: Token
    warnings: tuple[str, ...] = ()
    max_attempts: int = 6
    limits: Limits = Limits()


def resolve_target(
    url: str | None,
    token_file: str | None,
    env: Mapping[str, str],
    *,
    token_env: str = TOKEN_ENV,
    max_attempts: int = 6,
    limits: Limits = Limits(),
) -> Target:
    """The base URL (flag, then env, then Mixpanel's) and the token (file, then env)."""
    base_url = normalise_base_url(url or env.get(URL_ENV) or None)
    if token_file is not None:
        token, warnings = read_token_file(Path(token_file))
        return Target(base_url, token, warnings, max_attempts, limits)
    value = env.get(token_env, "").strip()
    if not value:
        raise ConfigError(
            f"no SCIM token: set {token_env} or pass --token-file FILE "
            "(generate one in Mixpanel: Organization Settings > Access Security > SCIM)"
        )
    token = _loaded(value, source=f"the environment variable {token_env}", label=token_env)
    return Target(base_url, token, max_attempts=max_attempts, limits=limits)


def read_token_file(path: Path) -> tuple[Token, tuple[str, ...]]:
    """The token on the first line of ``path``, and a warning if others may read the file.

    At most TOKEN_FILE_MAX_BYTES of a regular file or a pipe (``<(vault read ...)``);
    a device, a FIFO nobody writes to or a huge file is refused with a ConfigError.
    """
    fix = "pass --token-file a plain-text file holding only the SCIM token"
    text = read_text(path, TOKEN_FILE_MAX_BYTES, what="token file", fix=fix)
    value = text.strip()
    if not value:
        raise ConfigError(f"token file {path} is empty; put the SCIM token on its first line")
    first = value.splitlines()[0]
    token = _loaded(first, source=f"--token-file {path}", label=f"token file {path}")
    return token, _permission_warnings(path)


def _loaded(value: str, *, source: str, label: str) -> Token:
    """The token, registered with the one redactor before anything can echo it.

    A refusal (empty, non-ASCII, whitespace) names ``label``, where it was read.
    """
    try:
        token = Token(value, source=source)
    except ConfigError as error:
        raise ConfigError(f"{label}: {error}") from None
    register_secret(token.reveal())
    return token


def _permission_warnings(path: Path) -> tuple[str, ...]:
    try:
        mode = path.stat().st_mode
    except OSError:
        return ()
    if stat.S_ISREG(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (f"token file {path} is readable by group or others; run: chmod 600 {path}",)
    return ()


def environ() -> Mapping[str, str]:
    return os.environ


def today() -> date:
    """Expiry is judged by the UTC date; tests and replays pin it with RECONCILER_TODAY."""
    pinned = os.environ.get("RECONCILER_TODAY", "").strip()
    if not pinned:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(pinned)
    except ValueError:
        raise ConfigError(
            f"RECONCILER_TODAY={pinned!r} is not a date; write it like 2026-12-01, "
            "or unset it to use the clock"
        ) from None
