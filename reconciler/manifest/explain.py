"""Turn pydantic's validation errors into located problems a person can act on.

Pydantic says "Input should be a valid string"; a reviewer needs "users[2].given_name:
expected text, found false (a boolean); quote it: 'No'" at the right line. Each
message names the object (its JSON path in the file), what was expected, and the fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from reconciler.errors import Problem
from reconciler.manifest.locations import JsonPath, Locations, prefixed, shorten
from reconciler.manifest.models import (
    Entry,
    ManifestFile,
    Member,
    Organization,
    Policy,
    Team,
    User,
)
from reconciler.profile import PRODUCT

SCIM_CANNOT = (
    f"{PRODUCT}'s SCIM API cannot set organization roles or project access; "
    f"manage them in {PRODUCT}'s UI"
)
# Keys people reach for when they expect the manifest to grant roles or projects.
_UNMANAGEABLE = frozenset(
    {
        "role",
        "roles",
        "org_role",
        "organization_role",
        "project",
        "projects",
        "project_access",
        "project_role",
        "project_roles",
        "permissions",
    }
)

Schema = type[BaseModel] | type[Entry]
"""A manifest model, or one of the slotted per-entry dataclasses (``User``, ``Member``)."""

# Which model a mapping at a given path is, with "*" standing for any list index.
_MODELS: dict[tuple[str, ...], Schema] = {
    (): ManifestFile,
    ("organization",): Organization,
    ("policy",): Policy,
    ("users", "*"): User,
    ("teams", "*"): Team,
    ("teams", "*", "members", "*"): Member,
}

_EXPECTED = {
    "string_type": "text",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "date_type": "a date like 2027-03-31",
    "date_parsing": "a date like 2027-03-31",
    "date_from_datetime_parsing": "a date like 2027-03-31",
    "date_from_datetime_inexact": "a date like 2027-03-31 (no time of day)",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "dataclass_type": "a mapping",  # User and Member are slotted dataclasses (models.py)
    "model_attributes_type": "a mapping",
}


def explain(
    errors: Iterable[ErrorDetails],
    locations: Locations,
    skip: frozenset[JsonPath],
    *,
    models: Mapping[tuple[str, ...], Schema] | None = None,
) -> Iterator[Problem]:
    """One problem per error, except where the YAML reader already reported the value.

    ``models`` maps a path pattern ("*" for any list index) to the model found there,
    for the valid keys an unknown key is compared with; default: the manifest file's.
    Another YAML file (``reconciler.yaml``) passes its own and gets the same messages.
    """
    for error in errors:
        path = tuple(error["loc"])
        if path in skip:
            continue
        kind = error["type"]
        if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # a model, a dataclass
            yield locations.problem(path, _unknown_key(path, models), on_key=True)
        elif kind == "missing":
            yield locations.problem(path, prefixed(path[:-1], f"missing required key '{path[-1]}'"))
        else:
            where = locations.closest(path) if kind == "value_error" else path
            yield locations.problem(path, prefixed(where, _message(error, path, locations)))


def model_at(
    path: JsonPath, models: Mapping[tuple[str, ...], Schema] | None = None
) -> Schema | None:
    """The model of the mapping at ``path``, if the path is one the schema defines."""
    return (models or _MODELS).get(tuple("*" if isinstance(p, int) else p for p in path))


def _unknown_key(path: JsonPath, models: Mapping[tuple[str, ...], Schema] | None) -> str:
    parent, key = path[:-1], str(path[-1])
    if models is None and key.lower().replace("-", "_") in _UNMANAGEABLE:
        return prefixed(parent, f"key '{key}' is not supported: {SCIM_CANNOT}")
    model = model_at(parent, models)
    valid = list(model.model_fields) if model else []
    close = difflib.get_close_matches(key.lower(), valid, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys are {', '.join(valid)}"
    return prefixed(parent, f"unknown key '{shorten(key)}'; {hint}")


def _message(error: ErrorDetails, path: JsonPath, locations: Locations) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error["input"]
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("model_type", "dataclass_type") and ctx.get("class_name") == "Member":
        return f"expected an email address or a mapping with 'email', found {describe(value)}"
    if kind in _EXPECTED:
        return _expected(_EXPECTED[kind], value, locations.plain.get(path))
    if kind in ("enum", "literal_error"):
        return f"expected one of {ctx.get('expected')}, found {describe(value)}"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty" if kind == "string_too_short" else "must not be an empty list"
    if kind == "greater_than_equal":
        return f"must be at least {_number(ctx.get('ge'))}, found {describe(value)}"
    if kind == "less_than_equal":
        return f"must be at most {_number(ctx.get('le'))}, found {describe(value)}"
    return str(error["msg"])


def _expected(expected: str, value: Any, plain: str | None) -> str:
    """'expected X, found Y', with a quoting hint when YAML read a word as another type."""
    message = f"expected {expected}, found {describe(value)}"
    if value is None:  # `key:` with nothing after it
        message += "; fill in a value or remove the key"
    elif expected == "text" and plain is not None:
        message += f"; quote it: '{plain}'"
    elif expected in ("a whole number", "a number") and isinstance(value, str):
        if _QUOTED_NUMBER.fullmatch(value.strip()):  # "5": a number in quotes
            message += "; write the number without quotes"
        else:  # 1e3, 0o17, 10%: YAML read a word, not a number
            example = "5" if expected == "a whole number" else "12.5"
            message += f"; write it in plain decimal digits, like {example}"
    return message


_QUOTED_NUMBER = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def describe(value: Any) -> str:
    """A short, type-revealing rendering of a YAML value for error messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"the number {shorten(str(value))}"
    if isinstance(value, str):
        return f"the text {shorten(value)!r}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
