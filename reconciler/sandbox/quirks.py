"""Quirk modes: the sandbox misbehaving on purpose, the way real SCIM servers do.

Faults (``faults.py``) are random and transient; quirks are deterministic and
lasting: a server that always answers a certain way. They let users rehearse
their own server's behaviour and let the tests prove that the reconciler acts on
evidence, not on a server's word. One ``Quirks`` value holds every mode; the CLI
builds it from repeatable ``--quirk NAME[=VALUE]`` flags (``parse_quirks``).

Write quirks (what a write answer can claim that is not so):

- ``forbid-user=EMAIL[:DETAIL]`` / ``forbid-team=NAME[:DETAIL]``: every write to that
  one user or team (POST, PUT, PATCH, DELETE) gets HTTP 403 with DETAIL, like an
  organization owner that cannot be deactivated. Other resources are unaffected.
- ``conflict-without-scimtype``: every 409 leaves out ``scimType``, so the client
  cannot tell a taken userName from an account outside the organization.
- ``patch-returns-other``: a PATCH is applied, but the 200 answer carries another
  resource of the same type.
- ``ignore-writes[=KEY]``: POST, PUT, PATCH and DELETE answer success without doing
  anything (POST invents an id that does not exist), for the user or team KEY, or
  for every resource when no KEY is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

ALL = "*"
DEFAULT_FORBIDDEN_DETAIL = "the organization owner cannot be deactivated"


@dataclass(frozen=True)
class Quirks:
    """How the sandbox deviates from a well-behaved SCIM server; the default: not at all.

    Keys are lowercased userNames for users and exact displayNames for teams;
    ``forbidden`` maps a key to the 403 detail; ``ignored_writes`` holds keys or
    ``"*"`` (every resource).
    """

    forbidden_users: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    forbidden_teams: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    conflict_without_scim_type: bool = False
    patch_returns_other: bool = False
    ignored_writes: frozenset[str] = frozenset()

    def forbidden(self, kind: str, key: str) -> str | None:
        """The 403 detail for a write to this user or team, or None when it is allowed."""
        if kind == "Users":
            return self.forbidden_users.get(key.lower())
        return self.forbidden_teams.get(key)

    def ignores(self, kind: str, key: str) -> bool:
        """True when writes to this user or team are answered but not done."""
        wanted = key.lower() if kind == "Users" else key
        return ALL in self.ignored_writes or wanted in self.ignored_writes


# name -> (needs a value, help text); the README's sandbox section lists the same.
QUIRK_HELP: Mapping[str, tuple[bool, str]] = MappingProxyType(
    {
        "forbid-user": (True, "EMAIL[:DETAIL]: every write to that user gets 403 with DETAIL"),
        "forbid-team": (True, "NAME[:DETAIL]: every write to that team gets 403 with DETAIL"),
        "conflict-without-scimtype": (False, "409 answers leave out scimType"),
        "patch-returns-other": (False, "PATCH applies, but answers with another resource"),
        "ignore-writes": (False, "[=KEY]: writes answer success without doing anything"),
    }
)


def parse_quirks(specs: Iterable[str], base: Quirks | None = None) -> Quirks:
    """Fold ``NAME[=VALUE]`` specs into a Quirks value.

    Raises ValueError naming the spec and the known quirk names for anything else.
    """
    quirks = base or Quirks()
    for spec in specs:
        quirks = _parse_one(spec.strip(), quirks)
    return quirks


def _parse_one(spec: str, quirks: Quirks) -> Quirks:
    name, has_value, value = spec.partition("=")
    name = name.strip().lower()
    if name not in QUIRK_HELP:
        known = ", ".join(sorted(QUIRK_HELP))
        raise ValueError(f"unknown quirk {name!r}; known quirks: {known}")
    needs_value = QUIRK_HELP[name][0]
    if needs_value and not value.strip():
        raise ValueError(f"quirk {name!r} needs a value: {name}={QUIRK_HELP[name][1]}")
    if name in ("forbid-user", "forbid-team"):
        return _forbid(quirks, name, value)
    if name == "ignore-writes":
        key = value.strip() if has_value and value.strip() else ALL
        key = key.lower() if "@" in key else key
        return replace(quirks, ignored_writes=quirks.ignored_writes | {key})
    if has_value:
        raise ValueError(f"quirk {name!r} takes no value")
    if name == "conflict-without-scimtype":
        return replace(quirks, conflict_without_scim_type=True)
    return replace(quirks, patch_returns_other=True)


def _forbid(quirks: Quirks, name: str, value: str) -> Quirks:
    key, _, detail = value.partition(":")
    detail = detail.strip() or DEFAULT_FORBIDDEN_DETAIL
    if name == "forbid-user":
        users = {**quirks.forbidden_users, key.strip().lower(): detail}
        return replace(quirks, forbidden_users=MappingProxyType(users))
    teams = {**quirks.forbidden_teams, key.strip(): detail}
    return replace(quirks, forbidden_teams=MappingProxyType(teams))
