"""RFC 7644 §3.5.2 PatchOp, applied to drafts of a User or a Group.

Pure: the functions take a copy of the resource's writable attributes and return
the patched copy, raising ``ScimFailure`` on the first bad operation. The store
validates the result as a whole and commits it only then, which is what makes
every PATCH atomic. Op names are matched case-insensitively ("Replace", "ADD")
because real clients (Azure AD among them) send them that way.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scim_sandbox.failure import ScimFailure, invalid_path, invalid_syntax, invalid_value

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_OPS = ("add", "replace", "remove")
_MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]$', re.IGNORECASE)
_READ_ONLY = {"id", "meta", "groups", "roles"}


@dataclass(frozen=True, slots=True)
class Operation:
    """One PatchOp operation; ``op`` is lower-cased, ``path`` is None for the no-path form."""

    op: str
    path: str | None
    value: Any


@dataclass(slots=True)
class UserDraft:
    """The writable attributes of a User, as a PATCH or PUT may change them."""

    user_name: str
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    emails: list[dict[str, Any]] = field(default_factory=list)
    active: bool = True
    external_id: str | None = None


@dataclass(slots=True)
class GroupDraft:
    """The writable attributes of a Group; ``members`` is an ordered set of user ids."""

    display_name: str
    external_id: str | None = None
    members: dict[str, None] = field(default_factory=dict)


def parse_operations(body: Any) -> list[Operation]:
    """Check the PatchOp envelope and return its operations (400 invalidSyntax if malformed)."""
    if not isinstance(body, Mapping):
        raise invalid_syntax("a PATCH body must be a PatchOp JSON object")
    schemas = body.get("schemas", [PATCH_SCHEMA])
    if not isinstance(schemas, list) or PATCH_SCHEMA not in schemas:
        raise invalid_syntax(f"a PATCH body must declare the schema {PATCH_SCHEMA}")
    raw = body.get("Operations", body.get("operations"))
    if not isinstance(raw, list) or not raw:
        raise invalid_syntax("a PATCH body needs a non-empty 'Operations' list")
    return [_operation(item) for item in raw]


def _operation(item: Any) -> Operation:
    if not isinstance(item, Mapping):
        raise invalid_syntax("each PATCH operation must be an object")
    op = item.get("op")
    if not isinstance(op, str) or op.lower() not in _OPS:
        raise invalid_syntax(f"unsupported PATCH op {op!r} (add, replace or remove)")
    path = item.get("path")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise invalid_path(f"bad PATCH path {path!r}")
    if path is None and op.lower() != "remove" and not isinstance(item.get("value"), Mapping):
        raise invalid_value("an operation without a path needs an object value")
    if path is None and op.lower() == "remove":
        raise ScimFailure(400, "a remove operation needs a path", "noTarget")
    return Operation(op.lower(), _strip_schema(path) if path else None, item.get("value"))


def _strip_schema(path: str) -> str:
    """``urn:ietf:params:scim:schemas:core:2.0:User:name.givenName`` -> ``name.givenName``."""
    path = path.strip()
    if path.lower().startswith("urn:") and not path.lower().startswith("urn:ietf:params:scim:api"):
        prefix, _, attribute = path.rpartition(":")
        return attribute if prefix else path
    return path


# ---- Users -----------------------------------------------------------------------


def apply_user_patch(draft: UserDraft, operations: list[Operation]) -> UserDraft:
    """Return a patched copy of ``draft``; the input is left untouched."""
    patched = copy.deepcopy(draft)
    for operation in operations:
        if operation.path is None:
            for key, value in operation.value.items():
                if key != "schemas":
                    _set_user(patched, _strip_schema(key), value, operation.op)
        elif operation.op == "remove":
            _remove_user(patched, operation.path)
        else:
            _set_user(patched, operation.path, operation.value, operation.op)
    return patched


def _set_user(draft: UserDraft, path: str, value: Any, op: str) -> None:
    name = path.lower()
    if name == "username":
        draft.user_name = _string(value, "userName")
    elif name == "displayname":
        draft.display_name = _optional_string(value, "displayName")
    elif name == "active":
        draft.active = _boolean(value)
    elif name == "externalid":
        draft.external_id = _optional_string(value, "externalId")
    elif name == "name":
        if not isinstance(value, Mapping):
            raise invalid_value("'name' must be an object")
        for key, sub_value in value.items():
            _set_user(draft, f"name.{key}", sub_value, op)
    elif name == "name.givenname":
        draft.given_name = _optional_string(value, "name.givenName")
    elif name == "name.familyname":
        draft.family_name = _optional_string(value, "name.familyName")
    elif name == "name.formatted":
        _optional_string(value, "name.formatted")  # accepted, derived, not stored
    elif name == "emails":
        emails = emails_value(value)
        draft.emails = _merge_emails(draft.emails, emails) if op == "add" else emails
    else:
        raise _unsupported(path)


def _remove_user(draft: UserDraft, path: str) -> None:
    name = path.lower()
    if name in {"username", "active"}:
        raise ScimFailure(400, f"'{path}' is required and cannot be removed", "mutability")
    if name in {"displayname", "externalid", "name.givenname", "name.familyname"}:
        attribute = {
            "displayname": "display_name",
            "externalid": "external_id",
            "name.givenname": "given_name",
            "name.familyname": "family_name",
        }[name]
        setattr(draft, attribute, None)
    elif name == "name":
        draft.given_name = draft.family_name = None
    elif name == "emails":
        draft.emails = []
    else:
        raise _unsupported(path)


def emails_value(value: Any) -> list[dict[str, Any]]:
    """Validate a SCIM ``emails`` value: a list of objects with a string ``value``."""
    if not isinstance(value, list) or not all(
        isinstance(item, Mapping) and isinstance(item.get("value"), str) for item in value
    ):
        raise invalid_value("'emails' must be a list of objects with a string 'value'")
    allowed = {"value", "type", "primary", "display"}
    return [{k: v for k, v in item.items() if k in allowed} for item in value]


def _merge_emails(
    current: list[dict[str, Any]], added: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_value = {item["value"].lower(): item for item in current}
    for item in added:
        by_value[item["value"].lower()] = item
    return list(by_value.values())


# ---- Groups ----------------------------------------------------------------------


def apply_group_patch(draft: GroupDraft, operations: list[Operation]) -> GroupDraft:
    """Return a patched copy of ``draft``; member ids are checked to exist by the store."""
    patched = GroupDraft(draft.display_name, draft.external_id, dict(draft.members))
    for operation in operations:
        if operation.path is None:
            for key, value in operation.value.items():
                if key != "schemas":
                    _set_group(patched, _strip_schema(key), value, operation.op)
        elif operation.op == "remove":
            _remove_group(patched, operation.path, operation.value)
        else:
            _set_group(patched, operation.path, operation.value, operation.op)
    return patched


def count_member_values(operations: list[Operation]) -> int:
    """How many member values a PATCH carries (what ``max_members_per_patch`` limits)."""
    total = 0
    for operation in operations:
        if operation.path is None:
            value = {k.lower(): v for k, v in operation.value.items()}.get("members")
        elif _MEMBER_FILTER.match(operation.path):
            total += 1
            continue
        elif operation.path.lower() == "members":
            value = operation.value
        else:
            continue
        total += len(value) if isinstance(value, list) else int(value is not None)
    return total


def _set_group(draft: GroupDraft, path: str, value: Any, op: str) -> None:
    name = path.lower()
    if name == "displayname":
        draft.display_name = _string(value, "displayName")
    elif name == "externalid":
        draft.external_id = _optional_string(value, "externalId")
    elif name == "members":
        ids = member_ids(value)
        if op == "replace":
            draft.members = dict.fromkeys(ids)
        else:
            draft.members.update(dict.fromkeys(ids))
    else:
        raise _unsupported(path)


def _remove_group(draft: GroupDraft, path: str, value: Any) -> None:
    name = path.lower()
    match = _MEMBER_FILTER.match(path)
    if match is not None:
        draft.members.pop(json.loads(match.group(1)), None)
    elif name == "members" and value is None:
        draft.members.clear()
    elif name == "members":
        for member_id in member_ids(value):
            draft.members.pop(member_id, None)
    elif name == "externalid":
        draft.external_id = None
    elif name == "displayname":
        raise ScimFailure(400, "'displayName' is required and cannot be removed", "mutability")
    else:
        raise _unsupported(path)


def member_ids(value: Any) -> list[str]:
    """Validate a ``members`` value (a list of ``{"value": id}``, or one such object)."""
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list) or not all(
        isinstance(item, Mapping) and isinstance(item.get("value"), str) for item in items
    ):
        raise invalid_value("'members' must be a list of objects with a string 'value'")
    return [item["value"] for item in items]


# ---- Values ----------------------------------------------------------------------


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid_value(f"'{name}' must be a non-empty string")
    return value


def _optional_string(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid_value(f"'{name}' must be a string")
    return value


def _boolean(value: Any) -> bool:
    """A boolean; the strings "True"/"false" are accepted because Azure AD sends them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise invalid_value("'active' must be a boolean")


def _unsupported(path: str) -> ScimFailure:
    if path.lower() in _READ_ONLY:
        return ScimFailure(400, f"'{path}' is read-only", "mutability")
    return invalid_path(f"attribute path '{path}' is not supported")


# ---- Whole-resource payloads (POST and PUT) ----------------------------------------

_USER_KEYS = {"username", "name", "displayname", "emails", "active", "externalid"}
_GROUP_KEYS = {"displayname", "members", "externalid"}


def user_draft_from(payload: Any, base: UserDraft) -> UserDraft:
    """A draft from a POST/PUT body laid over ``base``; unknown attributes are ignored.

    Ignoring (rather than refusing) attributes such as ``password`` or extension
    schemas is what lenient real servers do and what IdPs expect.
    """
    if not isinstance(payload, Mapping):
        raise invalid_syntax("the body must be a JSON object")
    draft = copy.deepcopy(base)
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() in _USER_KEYS:
            _set_user(draft, key, value, "replace")
    if not draft.user_name:
        raise invalid_value("'userName' is required")
    if "emails" not in {str(key).lower() for key in payload}:
        draft.emails = [{"value": draft.user_name, "type": "work", "primary": True}]
    return draft


def group_draft_from(payload: Any, base: GroupDraft) -> GroupDraft:
    """A draft from a POST/PUT Group body laid over ``base``; unknown attributes ignored."""
    if not isinstance(payload, Mapping):
        raise invalid_syntax("the body must be a JSON object")
    draft = GroupDraft(base.display_name, base.external_id, dict(base.members))
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() in _GROUP_KEYS:
            _set_group(draft, key, value, "replace")
    if not draft.display_name:
        raise invalid_value("'displayName' is required")
    return draft
