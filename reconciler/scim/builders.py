"""Pure SCIM request bodies: dicts in, dicts out, no I/O.

Every body here is validated against scim2-models in the tests, so what we send is
RFC 7643/7644 conformant, and chosen in its most widely accepted form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.attributes import BY_NAME, USER_ATTRIBUTES

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# RFC 7644 §3.4.2.2 ABNF: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA,
# optionally with one ".subAttr". Anything else would let a caller inject filter syntax.
_ATTR_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)?")

# Plan names -> SCIM attribute paths, in the order the operations are emitted; from
# the one table of managed attributes.
_USER_PATHS: Mapping[str, str] = {a.name: a.scim_path for a in USER_ATTRIBUTES if a.on_patch}


def user_resource(
    user_name: str,
    given_name: str | None,
    family_name: str | None,
    display_name: str | None,
    active: bool,
) -> dict[str, Any]:
    """The POST /Users body; the email is the userName, as Mixpanel keys users by email."""
    return new_user_resource(
        {
            "user_name": user_name,
            "given_name": given_name,
            "family_name": family_name,
            "display_name": display_name,
            "active": active,
        }
    )


def new_user_resource(values: Mapping[str, object]) -> dict[str, Any]:
    """The POST /Users body from plan-named values (``reconciler.attributes``).

    Every attribute whose row says ``on_create`` is carried when its value is not
    None; ``user_name`` is required, and is also written as the primary work email
    (for Mixpanel both are the login). Raises ValueError for an unknown name, a
    missing user_name, or a value of the wrong type.
    """
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise ValueError(f"not a managed user attribute: {', '.join(unknown)}")
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA]}
    login: str | None = None
    for attribute in USER_ATTRIBUTES:
        value = values.get(attribute.name)
        if attribute.kind == "login" and not isinstance(value, str):
            raise ValueError(f"{attribute.name} must be a string, got {value!r}")
        if not attribute.on_create or value is None:
            continue
        _check_type(attribute.name, value)
        parent, _, leaf = attribute.scim_path.rpartition(".")
        (resource.setdefault(parent, {}) if parent else resource)[leaf] = value
        if attribute.kind == "login":
            login = str(value)
    if login is not None:
        resource["emails"] = _work_emails(login)
    return resource


def _check_type(key: str, value: object) -> None:
    if BY_NAME[key].kind == "flag":
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be a bool, got {value!r}")
    elif not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")


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

    Keys are plan names from ``reconciler.attributes`` whose row says ``on_patch``. A None
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
    if value is None:
        if BY_NAME[key].kind != "text":
            raise ValueError(f"{key} cannot be removed")
        return [{"op": "remove", "path": path}]
    _check_type(key, value)
    operations: list[dict[str, Any]] = [{"op": "replace", "path": path, "value": value}]
    if BY_NAME[key].kind == "login":
        operations.append({"op": "replace", "path": "emails", "value": _work_emails(str(value))})
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
