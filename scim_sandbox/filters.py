"""The small part of the RFC 7644 §3.4.2.2 filter grammar that Mixpanel is known to serve.

Only ``<attribute> eq "<string>"`` is accepted, on the attributes each resource
type lists; anything else is refused with ``invalidFilter`` rather than silently
ignored, because a client that believes it filtered but got the whole list would
draw wrong conclusions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from scim_sandbox.failure import ScimFailure

_EQ = re.compile(r'^\s*([A-Za-z][\w.$:-]*)\s+([A-Za-z]+)\s+("(?:[^"\\]|\\.)*")\s*$')

USER_FILTER_ATTRIBUTES = {"username": "userName", "emails.value": "emails.value", "id": "id"}
GROUP_FILTER_ATTRIBUTES = {
    "displayname": "displayName",
    "members.value": "members.value",
    "id": "id",
}


@dataclass(frozen=True, slots=True)
class EqFilter:
    """``attribute eq value``; ``attribute`` is the canonical spelling from the allowed map."""

    attribute: str
    value: str


def parse_filter(text: str, allowed: dict[str, str]) -> EqFilter:
    """Parse one ``eq`` comparison on an allowed attribute, or raise 400 invalidFilter."""
    match = _EQ.match(text)
    if match is None:
        raise _invalid(f"unsupported filter {text!r}: only 'attribute eq \"value\"' is served")
    attribute, operator, literal = match.groups()
    if operator.lower() != "eq":
        raise _invalid(f"unsupported filter operator {operator!r}: only 'eq' is served")
    canonical = allowed.get(_strip_schema(attribute).lower())
    if canonical is None:
        names = ", ".join(sorted(allowed.values()))
        raise _invalid(f"filtering on {attribute!r} is not supported (only {names})")
    try:
        value = json.loads(literal)
    except ValueError as error:
        raise _invalid(f"bad string literal in filter {text!r}") from error
    return EqFilter(canonical, value)


def _strip_schema(attribute: str) -> str:
    """``urn:...:User:userName`` -> ``userName`` (fully qualified names are allowed)."""
    if attribute.lower().startswith("urn:"):
        return attribute.rsplit(":", 1)[1]
    return attribute


def _invalid(detail: str) -> ScimFailure:
    return ScimFailure(400, detail, "invalidFilter")
