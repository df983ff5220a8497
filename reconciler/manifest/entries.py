"""Manifest entries paired with where they are, and the findings of the checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.errors import Problem
from reconciler.manifest.locations import JsonPath, Locations, prefixed
from reconciler.manifest.models import Team, User


@dataclass(frozen=True)
class At:
    """A place in one file: the entry at ``path`` and anything below it."""

    locations: Locations
    path: JsonPath

    def problem(self, message: str, *sub: str | int, on_key: bool = False) -> Problem:
        full = (*self.path, *sub)
        return self.locations.problem(full, prefixed(full, message), on_key=on_key)

    def ref(self, *sub: str | int) -> str:
        return self.locations.ref((*self.path, *sub))


@dataclass(frozen=True)
class UserAt:
    """A declared user and its entry in ``users:``."""

    user: User
    at: At


@dataclass(frozen=True)
class TeamAt:
    """A declared team and its entry in ``teams:``."""

    team: Team
    at: At


@dataclass
class Findings:
    """Errors (the manifest is refused) and notices (it is valid, but read this)."""

    problems: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
