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

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.errors import ConfigError
from reconciler.files import MIB, exists, read_text
from reconciler.settings import TOKEN_ENV

CONFIG_FILE = "reconciler.yaml"
# A config names a few orgs; the cap only stops `--config /dev/zero`-like reads.
CONFIG_MAX_BYTES = 1 * MIB
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Org(BaseModel):
    """One Mixpanel organization: where its manifest lives and how to reach it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    manifest: str
    url: str | None = None
    token_env: str = TOKEN_ENV

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use lowercase letters, digits, - and _")
        return value

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV.match(value):
            raise ValueError(f"{value!r} is not an environment variable name (e.g. MY_TOKEN)")
        return value


class OrgsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1, le=1)
    orgs: tuple[Org, ...] = Field(min_length=1)

    def get(self, name: str) -> Org:
        for org in self.orgs:
            if org.name == name:
                return org
        names = ", ".join(o.name for o in self.orgs)
        raise ConfigError(f"no org named {name!r} in {CONFIG_FILE}; configured: {names}")


def load_orgs(path: Path) -> OrgsConfig:
    """The orgs of ``path``; ConfigError naming the file and the fix for anything wrong.

    At most CONFIG_MAX_BYTES of a regular file or a pipe are read (see files.read_bounded).
    """
    try:
        document = yaml.safe_load(_config_text(path))
        config = OrgsConfig.model_validate(document)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    names = [o.name for o in config.orgs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: org names must be unique; repeated: {', '.join(duplicates)}")
    return config


def _config_text(path: Path) -> str:
    fix = "pass --config the orgs file (see README, 'Several orgs in one repository')"
    return read_text(path, CONFIG_MAX_BYTES, what="orgs config", fix=fix)


def select_org(config_path: str | None, name: str | None) -> Org | None:
    """The org a command works on; None means single-org mode (no config file)."""
    path = Path(config_path or CONFIG_FILE)
    if not exists(path):
        if config_path is not None or name is not None:
            raise ConfigError(
                f"{path} not found: --org needs a {CONFIG_FILE} naming the orgs "
                "(see README, 'Several orgs in one repository')"
            )
        return None
    config = load_orgs(path)
    if name is not None:
        return config.get(name)
    if len(config.orgs) == 1:
        return config.orgs[0]
    names = ", ".join(o.name for o in config.orgs)
    raise ConfigError(f"{path} configures several orgs; pass --org with one of: {names}")
