"""Several Mixpanel orgs in one repository: ``reconciler.yaml`` names each one.

Companies with separate billing orgs (or Shared SSO across orgs) keep one manifest
folder per org. Every command works on exactly one org, chosen with ``--org``, so a
mistake in one org's manifest can never block or touch another.

    version: 1
    orgs:
      - name: acme
        manifest: orgs/acme
        url: https://mixpanel.com/api/app/scim/v2
        token_env: MIXPANEL_SCIM_TOKEN_ACME
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError, field_validator

from reconciler.errors import ConfigError, ConfigFileError, Problem
from reconciler.files import MIB, ReadRefused, exists, read_bounded
from reconciler.manifest.explain import describe, explain
from reconciler.manifest.locations import Locations
from reconciler.manifest.tokens import find_tokens, redact
from reconciler.manifest.yamlsource import parse_yaml
from reconciler.settings import TOKEN_ENV

CONFIG_FILE = "reconciler.yaml"
# A config names a few orgs; the cap only stops `--config /dev/zero`-like reads.
CONFIG_MAX_BYTES = 1 * MIB
SUPPORTED_VERSIONS = (1,)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SEE = "see README, 'Several orgs in one repository'"
_SHAPE = "'version: 1' and a list 'orgs:' of orgs, each with a name and a manifest"


class Org(BaseModel):
    """One Mixpanel organization: where its manifest lives and how to reach it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    name: StrictStr
    manifest: StrictStr
    url: StrictStr | None = None
    token_env: StrictStr = TOKEN_ENV

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"org name {value!r} is not allowed; use lowercase letters, digits, - and _ "
                "(it becomes a CLI argument, a marker and a folder name)"
            )
        return value

    @field_validator("manifest")
    @classmethod
    def _manifest(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; name the org's manifest file or folder, e.g. orgs/us")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty; write the SCIM base URL or remove the key")
        return value

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an environment variable name; name the variable that "
                f"holds the token (e.g. {TOKEN_ENV}), never the token itself"
            )
        return value


class OrgsConfig(BaseModel):
    """The whole ``reconciler.yaml``: its format version and at least one org."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    version: StrictInt
    orgs: tuple[Org, ...]

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value not in SUPPORTED_VERSIONS:
            supported = ", ".join(map(str, SUPPORTED_VERSIONS))
            raise ValueError(f"unsupported version {value}; write 'version: {supported}'")
        return value

    @field_validator("orgs")
    @classmethod
    def _some(cls, value: tuple[Org, ...]) -> tuple[Org, ...]:
        if not value:
            raise ValueError("lists no org; add one with a name and a manifest")
        return value

    def get(self, name: str) -> Org:
        for org in self.orgs:
            if org.name == name:
                return org
        names = ", ".join(o.name for o in self.orgs)
        raise ConfigError(
            f"no org named {name!r} in {CONFIG_FILE}; configured: {names}; pass --org with one "
            f"of them, or add {name} to {CONFIG_FILE}"
        )


# Which model a mapping at a path is ("*": any list index), for "did you mean" hints.
_MODELS: dict[tuple[str, ...], type[BaseModel]] = {(): OrgsConfig, ("orgs", "*"): Org}


def load_orgs(path: Path) -> OrgsConfig:
    """The orgs of ``path``; ConfigFileError listing every problem as ``path:line:col``.

    Problems are found and worded like a manifest's (the same YAML reader, the same
    explanations): YAML syntax, anchors, duplicate keys, a pasted token, unknown or
    missing keys, wrong types, bad names, repeated org names. At most
    CONFIG_MAX_BYTES of a regular file or a pipe are read (see files.read_bounded).
    """
    text = _config_text(path)
    if isinstance(text, Problem):
        raise ConfigFileError(str(path), [text])
    parsed = parse_yaml(text, str(path))
    locations = parsed.locations
    problems = [*parsed.problems, *find_tokens(text, parsed.strings, locations)]
    config: OrgsConfig | None = None
    data: Any = parsed.data
    if data is None and not parsed.problems:
        problems.append(locations.problem((), f"file is empty; it needs {_SHAPE} ({_SEE})"))
    elif data is not None and not isinstance(data, dict):
        message = f"the top level must be a mapping with {_SHAPE}; found {describe(data)}"
        problems.append(locations.problem((), message))
    elif data is not None:
        try:
            config = OrgsConfig.model_validate(data)
        except ValidationError as error:
            problems += explain(error.errors(), locations, parsed.bad_paths, models=_MODELS)
        problems += _repeated_names(data, locations)
        problems += _shared_targets(data, locations)
    if problems or config is None:
        in_order = sorted(problems, key=lambda p: (p.line, p.col))  # stable: same place, same order
        raise ConfigFileError(str(path), [redact(p) for p in in_order])
    return config


def _repeated_names(data: dict[str, Any], locations: Locations) -> list[Problem]:
    """A problem at each org name used before in the file (names must be unique)."""
    orgs = data.get("orgs")
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for index, org in enumerate(orgs if isinstance(orgs, list) else []):
        name = org.get("name") if isinstance(org, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            line = locations.position(("orgs", first[name], "name")).line
            message = (
                f"orgs[{index}].name: org name {name!r} is used twice (first at line {line}); "
                "names must be unique: rename or remove one"
            )
            problems.append(locations.problem(("orgs", index, "name"), message))
        first.setdefault(name, index)
    return problems


def _shared_targets(data: dict[str, Any], locations: Locations) -> list[Problem]:
    """A problem at each org that reaches what an earlier org reaches.

    A manifest that is, or lies inside or around, an earlier org's (paths compared
    normalized and case-folded: ``orgs/us``, ``./orgs/us/`` and ``orgs/US`` are one
    folder on some file systems, and ``plan -m orgs/us`` reads ``orgs/us/eu`` too),
    or the same SCIM ``url`` with the same ``token_env``: one org's people would be
    planned into the other's organization, and with ``unmanaged_users: deactivate``
    everyone else there would be deprovisioned. Orgs without a ``url`` are not
    compared by it (each job may set the URL in its environment).
    """
    orgs = data.get("orgs")
    entries = [
        (index, org)
        for index, org in enumerate(orgs if isinstance(orgs, list) else [])
        if isinstance(org, dict)
    ]
    problems: list[Problem] = []
    for position, (index, org) in enumerate(entries):
        for first, earlier in entries[:position]:
            kind = _shared(earlier, org)
            if kind is None or earlier.get("name") == org.get("name"):
                continue  # a repeated name is its own problem (_repeated_names)
            what = "manifest" if kind == "manifest" else "url and token_env"
            line = locations.position(("orgs", first, kind)).line
            message = (
                f"orgs[{index}].{kind}: org {org.get('name')!r} reaches the same {what} as "
                f"org {earlier.get('name')!r} (line {line}): one org's people would be "
                "planned into the other's organization; give each org its own manifest "
                "folder (not one inside another), and its own url or token_env"
            )
            problems.append(locations.problem(("orgs", index, kind), message))
            break
    return problems


def _shared(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """``manifest`` or ``url`` when orgs ``a`` and ``b`` reach the same one, else None."""
    one, other = _folded_path(a.get("manifest")), _folded_path(b.get("manifest"))
    if one is not None and other is not None:
        inner, outer = (one, other) if len(one) >= len(other) else (other, one)
        if outer in (inner, ".") or inner.startswith(outer.rstrip("/") + "/"):
            return "manifest"
    urls = [_target(o) for o in (a, b)]
    if urls[0] is not None and urls[0] == urls[1]:
        return "url"
    return None


def _folded_path(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return os.path.normpath(value.strip().replace("\\", "/")).replace("\\", "/").casefold()


def _target(org: dict[str, Any]) -> tuple[str, object] | None:
    url = org.get("url")
    if not isinstance(url, str) or not url.strip():
        return None
    return (url.strip().rstrip("/").lower(), org.get("token_env", TOKEN_ENV))


def _config_text(path: Path) -> str | Problem:
    """The text of the config, or the problem at its first byte that is not UTF-8.

    A file that cannot be read at all (missing, a device, a symlink loop, over the
    cap) has no line to point at: ConfigError, one line naming the path and the fix.
    """
    fix = f"pass --config the orgs file ({_SEE})"
    try:
        raw = read_bounded(path, CONFIG_MAX_BYTES)
    except ReadRefused as refused:
        if refused.too_large:  # a config names a few orgs: this is some other file
            fix = f"check that {path} is the orgs config ({_SEE}); it names a few orgs"
        raise ConfigError(f"cannot read orgs config {path}: {refused.reason}; {fix}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        col = error.start - (before.rfind(b"\n") + 1) + 1
        message = f"not UTF-8 text (byte 0x{raw[error.start]:02x}); save it as UTF-8"
        return Problem(str(path), line, col, message)


def select_org(config_path: str | None, name: str | None) -> Org | None:
    """The org a command works on; None means single-org mode (no config file)."""
    path = Path(config_path or CONFIG_FILE)
    if not exists(path):
        if config_path is not None:
            raise ConfigError(
                f"{path} not found: --config names the orgs config; check the path ({_SEE})"
            )
        if name is not None:
            raise ConfigError(
                f"{path} not found: --org needs a {CONFIG_FILE} naming the orgs "
                "(see README, 'Several orgs in one repository'); run from the folder that "
                "holds it, or pass --config"
            )
        return None
    config = load_orgs(path)
    if name is not None:
        return config.get(name)
    if len(config.orgs) == 1:
        return config.orgs[0]
    names = ", ".join(o.name for o in config.orgs)
    raise ConfigError(f"{path} configures several orgs; pass --org with one of: {names}")
