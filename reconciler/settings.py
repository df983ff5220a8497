"""Where to connect and with which token: environment, flags and the token file.

The token is wrapped in ``Token`` as soon as it is read so it cannot reach a log,
a repr or an error message by accident.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.files import KIB, read_text
from reconciler.profile import MIXPANEL, TargetProfile
from reconciler.redact import register_secret
from reconciler.render.escape import quoted
from reconciler.scim.secret import Token
from reconciler.scim.url import normalise_base_url

TOKEN_ENV = MIXPANEL.token_env
URL_ENV = MIXPANEL.url_env
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
    profile: TargetProfile = MIXPANEL  # the service: names, defaults and advice

    @property
    def org_identity(self) -> str:
        """Which org this target reaches: a one-way hash of (token, URL), see Token.identity."""
        return self.token.identity(self.base_url)


def resolve_target(
    url: str | None,
    token_file: str | None,
    env: Mapping[str, str],
    *,
    token_env: str | None = None,
    max_attempts: int = 6,
    limits: Limits = Limits(),
    profile: TargetProfile = MIXPANEL,
    url_source: str = "--url",
) -> Target:
    """The base URL (flag, then env, then the profile's) and the token (file, then env).

    ``token_env`` (an org's own variable, from reconciler.yaml) overrides the profile's.
    ``url_source`` names where ``url`` came from ("--url", an org of reconciler.yaml),
    so a refused URL says which setting to fix.
    """
    token_env = token_env or profile.token_env
    chosen = url or env.get(profile.url_env) or None
    source = url_source if url else profile.url_env
    try:
        base_url = normalise_base_url(chosen, default=profile.default_url)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    if token_file is not None:
        token, warnings = read_token_file(Path(token_file))
        return Target(base_url, token, warnings, max_attempts, limits, profile)
    value = env.get(token_env, "").strip()
    if not value and token_env in env:  # set, but empty: a CI secret that is not there
        raise ConfigError(
            f"no SCIM token: {token_env} is set but empty (in GitHub Actions: the secret is "
            "missing, misspelled, or not given to this job, e.g. a pull request from a fork); "
            f"set it to the token or pass --token-file FILE ({profile.missing_token_fix})"
        )
    if not value:
        raise ConfigError(
            f"no SCIM token: set {token_env} or pass --token-file FILE "
            f"({profile.missing_token_fix})"
        )
    token = _loaded(value, source=f"the environment variable {token_env}", label=token_env)
    return Target(base_url, token, max_attempts=max_attempts, limits=limits, profile=profile)


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


NOW_ENVS = ("RECONCILER_NOW", "RECONCILER_TODAY")


def now() -> datetime:
    """The instant expiry is judged at, in UTC; tests and replays pin it.

    ``RECONCILER_NOW`` (or ``RECONCILER_TODAY``) holds a date (the start of that day,
    UTC) or an RFC 3339 timestamp with an explicit offset. Raises ConfigError, naming
    the variable and the fix, for anything else.
    """
    for name in NOW_ENVS:
        pinned = os.environ.get(name, "").strip()
        if pinned:
            return _pinned_instant(name, pinned)
    return datetime.now(UTC)


def _pinned_instant(name: str, text: str) -> datetime:
    from reconciler.manifest.models import as_instant, parse_expires

    try:
        return as_instant(parse_expires(text))
    except ValueError:
        raise ConfigError(
            f"{name}={quoted(text)} is not a date or a timestamp with an offset; write it like "
            "2026-12-01 or 2026-12-01T18:00:00Z, or unset it to use the clock"
        ) from None


def today() -> datetime:
    """The instant expiry is judged at (see ``now``); kept for the commands' callers.

    Every expiry comparison takes a date or an instant (``models.is_expired``), so the
    commands pass this instant where they used to pass the UTC date.
    """
    return now()
