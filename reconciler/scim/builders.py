"""Pure SCIM request bodies: dicts in, dicts out, no I/O.

Every body here is validated against scim2-models in the tests, so what we send is
RFC 7643/7644 conformant, and chosen in its most widely accepted form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# RFC 7644 §3.4.2.2 ABNF: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA,
# optionally with one ".subAttr". Anything else would let a caller inject filter syntax.
_ATTR_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)?")

# Manifest-side names -> SCIM attribute paths, in the order the operations are emitted.
_USER_PATHS: Mapping[str, str] = {
    "user_name": "userName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "display_name": "displayName",
    "active": "active",
}


def user_resource(
    user_name: str,
    given_name: str | None,
    family_name: str | None,
    display_name: str | None,
    active: bool,
) -> dict[str, Any]:
    """The POST /Users body; the email is the userName, as Mixpanel keys users by email."""
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": user_name}
    name = {
        key: value
        for key, value in (("givenName", given_name), ("familyName", family_name))
        if value is not None
    }
    if name:
        resource["name"] = name
    if display_name is not None:
        resource["displayName"] = display_name
    resource["emails"] = _work_emails(user_name)
    resource["active"] = active
    return resource


def group_resource(name: str) -> dict[str, Any]:
    """The POST /Groups body; members are added afterwards, in chunks, by PATCH."""
    return {"schemas": [GROUP_SCHEMA], "displayName": name}


def patch_op(operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap operations in a PatchOp message; an empty PATCH is a caller bug."""
    if not operations:
        raise ValueError("a PatchOp needs at least one operation")
    return {"schemas": [PATCH_SCHEMA], "Operations": operations}


def replace_user_attributes(changes: Mapping[str, object]) -> dict[str, Any]:
    """One PatchOp carrying every attribute change of one user (one request per user).

    Keys are among user_name, given_name, family_name, display_name, active. A None
    value for an optional string unassigns it with ``remove`` (a ``replace`` with null
    is refused by several servers). Changing userName also replaces the work email,
    since for Mixpanel both are the login email.
    """
    unknown = sorted(set(changes) - set(_USER_PATHS))
    if unknown:
        raise ValueError(f"not a managed user attribute: {', '.join(unknown)}")
    operations: list[dict[str, Any]] = []
    for key, path in _USER_PATHS.items():
        if key in changes:
            operations.extend(_user_operations(key, path, changes[key]))
    return patch_op(operations)


def _user_operations(key: str, path: str, value: object) -> list[dict[str, Any]]:
    if key == "active":
        if not isinstance(value, bool):
            raise ValueError(f"active must be a bool, got {value!r}")
        return [{"op": "replace", "path": path, "value": value}]
    if value is None:
        if key == "user_name":
            raise ValueError("user_name cannot be removed")
        return [{"op": "remove", "path": path}]
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    operations: list[dict[str, Any]] = [{"op": "replace", "path": path, "value": value}]
    if key == "user_name":
        operations.append({"op": "replace", "path": "emails", "value": _work_emails(value)})
    return operations


def add_members(ids: Sequence[str]) -> dict[str, Any]:
    """One ``add`` of several members (RFC 7644 §3.5.2.1); chunking is the caller's job."""
    unique = _unique_ids(ids)
    return patch_op([{"op": "add", "path": "members", "value": [{"value": i} for i in unique]}])


def remove_members(ids: Sequence[str]) -> dict[str, Any]:
    """One ``remove`` per member, each addressed by a value filter.

    ``path: members[value eq "id"]`` is the only form RFC 7644 §3.5.2.2 defines for
    removing some members, and the one Okta sends, so it is the most widely accepted.
    The Azure-style ``{"op": "remove", "path": "members", "value": [...]}`` is not in
    the RFC, and a server that follows the RFC literally reads ``remove members``
    without a filter as "remove ALL members": a dangerous misreading we never risk.
    """
    unique = _unique_ids(ids)
    return patch_op([{"op": "remove", "path": f"members[{eq_filter('value', i)}]"} for i in unique])


def rename_group(name: str) -> dict[str, Any]:
    """Rename a team in place, so its id and members are kept."""
    return patch_op([{"op": "replace", "path": "displayName", "value": name}])


def eq_filter(attribute: str, value: str) -> str:
    """``attribute eq "value"`` with the value quoted as the filter grammar requires.

    RFC 7644 §3.4.2.2 makes compValue a JSON string (RFC 7159), so JSON string
    escaping is exactly right: backslash, double quote and control characters.
    """
    if not _ATTR_PATH.fullmatch(attribute):
        raise ValueError(f"not a SCIM attribute path: {attribute!r}")
    return f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"


def _work_emails(address: str) -> list[dict[str, Any]]:
    return [{"value": address, "primary": True, "type": "work"}]


def _unique_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        raise TypeError("ids must be a sequence of ids, not one string")
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise ValueError("no member ids given")
    return unique
