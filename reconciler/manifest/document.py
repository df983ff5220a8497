"""Validate one manifest file on its own: YAML, ``version``, schema, secrets.

Each file is checked against ``ManifestFile`` separately so every error is located
in its own file. The valid parts of a broken file are still returned, so the
cross-file checks can run without cascading ("ada is not a declared user" just
because Ada's entry has a typo elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.errors import Problem
from reconciler.identity import match_key
from reconciler.manifest.explain import describe, explain
from reconciler.manifest.locations import Locations
from reconciler.manifest.models import (
    SUPPORTED_VERSIONS,
    Entry,
    ManifestFile,
    Organization,
    Policy,
    Team,
    User,
)
from reconciler.manifest.tokens import find_tokens, has_token_runs, redact
from reconciler.manifest.yamlsource import ParsedYaml, parse_plain, parse_positions, parse_yaml

_M = TypeVar("_M", bound=BaseModel | Entry)
# Values that repeat across entries in a real org: one string each in memory (the
# models keep the parsed strings as they are). Display names are mostly unique.
SHARED_VALUES = frozenset({"given_name", "family_name"})
_SECTIONS = "version, organization, policy, users, teams"


@dataclass(frozen=True)
class FileResult:
    """What one file contributes: its valid parts, where they are, and its problems.

    ``users`` and ``teams`` keep each entry's index in the file for locating later
    problems. ``unchecked_emails`` are emails of user entries that failed the schema:
    the cross-file checks treat them as declared to avoid follow-on errors. A file
    that is not ``readable`` (unparseable, not a mapping, unknown version) may hide
    anything, so checks that need every file ("is Ada declared?") are skipped.
    """

    locations: Locations
    problems: tuple[Problem, ...] = ()
    organization: Organization | None = None
    policy: Policy | None = None
    users: tuple[tuple[int, User], ...] = ()
    teams: tuple[tuple[int, Team], ...] = ()
    has_organization: bool = False
    has_policy: bool = False
    unchecked_emails: frozenset[str] = frozenset()
    readable: bool = False


def check_file(
    text: str, filename: str, *, text_again: Callable[[], str] | None = None
) -> FileResult:
    """Everything that can be said about one file without looking at the others.

    A valid file takes the fast path: plain data, one schema validation, and
    positions computed only if a later check (or a notice) asks for one. Anything
    else takes the full path, which collects positions up front and explains every
    problem; both paths give the same result for the same text.

    ``text_again`` gives ``text`` once more if positions are needed later (e.g. by
    decoding bytes the caller keeps anyway), so the result does not hold ``text``.
    """
    fast = _check_fast(text, filename)
    if fast is None:
        return check_file_fully(text, filename)
    if text_again is not None:
        return replace(fast, locations=_lazy_locations(text_again, filename))
    return fast


def _lazy_locations(text: Callable[[], str], filename: str) -> Locations:
    """Positions computed on first use, by parsing ``text()`` with positions."""
    return Locations(filename, source=lambda: _positions(text(), filename))


def _positions(text: str, filename: str) -> Locations:
    """Positions only, from the events; the full parse when the events pass is unsure."""
    return parse_positions(text, filename) or parse_yaml(text, filename).locations


def _check_fast(text: str, filename: str) -> FileResult | None:
    """The result for a file with no problem of its own; None when there is any doubt."""
    data = parse_plain(text, shared=SHARED_VALUES)
    if type(data) is not dict or has_token_runs(text):
        return None
    version = data.get("version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        return None
    try:
        parsed = ManifestFile.model_validate({**data, "version": 1})
    except ValidationError:
        return None
    return FileResult(
        locations=_lazy_locations(lambda: text, filename),
        organization=parsed.organization,
        policy=parsed.policy,
        users=tuple(enumerate(parsed.users)),
        teams=tuple(enumerate(parsed.teams)),
        has_organization="organization" in data,
        has_policy="policy" in data,
        readable=True,
    )


def check_file_fully(text: str, filename: str) -> FileResult:
    """``check_file`` on the full path: positions collected up front, every problem explained."""
    parsed = parse_yaml(text, filename)
    problems = list(parsed.problems)
    problems += find_tokens(text, parsed.strings, parsed.locations)
    result = _check_data(parsed, problems)
    return replace(result, problems=tuple(redact(p) for p in [*problems, *result.problems]))


def _check_data(parsed: ParsedYaml, problems: list[Problem]) -> FileResult:
    data, locations = parsed.data, parsed.locations
    if problems and data is None:
        return FileResult(locations)
    if data is None:
        message = "file is empty; a manifest file needs at least 'version: 1'"
        return FileResult(locations, (locations.problem((), message),))
    if not isinstance(data, dict):
        message = f"the top level must be a mapping of {_SECTIONS}; found {describe(data)}"
        return FileResult(locations, (locations.problem((), message),))
    version_problem, known_version = _check_version(data, locations)
    if not known_version:
        return FileResult(locations, (version_problem,) if version_problem else ())
    data = {**data, "version": 1}
    own = [version_problem] if version_problem else []
    try:
        ManifestFile.model_validate(data)
    except ValidationError as error:
        own += explain(error.errors(), locations, parsed.bad_paths)
    return _salvage(data, locations, tuple(own))


def _check_version(data: dict[str, Any], locations: Locations) -> tuple[Problem | None, bool]:
    """(problem, whether the rest can be read as v1). An unknown version stops the file."""
    supported = ", ".join(map(str, SUPPORTED_VERSIONS))
    if "version" not in data:
        message = "missing 'version: 1'; every manifest file starts with it"
        return locations.problem((), message), True
    value = data["version"]
    if type(value) is int and value in SUPPORTED_VERSIONS:
        return None, True
    if type(value) is int:
        message = f"unsupported version {value}; supported versions: {supported}"
        return locations.problem(("version",), message), False
    message = f"version: expected the number 1 (unquoted), found {describe(value)}"
    return locations.problem(("version",), message), True


def _salvage(
    data: dict[str, Any], locations: Locations, problems: tuple[Problem, ...]
) -> FileResult:
    """Keep every section and entry that is valid on its own."""
    users, teams, unchecked = [], [], set()
    for index, item in _items(data.get("users")):
        user = _valid(User, item)
        if user:
            users.append((index, user))
        elif isinstance(item, dict) and isinstance(item.get("email"), str):
            unchecked.add(match_key(item["email"]))
    for index, item in _items(data.get("teams")):
        team = _valid(Team, item)
        if team:
            teams.append((index, team))
    return FileResult(
        locations=locations,
        problems=problems,
        organization=_valid(Organization, data.get("organization")),
        policy=_valid(Policy, data.get("policy")),
        users=tuple(users),
        teams=tuple(teams),
        has_organization="organization" in data,
        has_policy="policy" in data,
        unchecked_emails=frozenset(unchecked),
        readable=True,
    )


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _valid(model: type[_M], value: Any) -> _M | None:
    if value is None:
        return None
    try:
        valid: _M = model.model_validate(value)  # type: ignore[assignment]  # Self of _M's bound
    except ValidationError:
        return None
    return valid
