"""The records the store keeps, and their SCIM JSON shapes (RFC 7643 §4).

Records hold only what is stored; derived attributes (a user's ``groups``, member
``display``, ``meta.location``) are filled in when a resource is rendered, so the
store has a single source of truth for memberships.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# Mixpanel puts every SCIM-provisioned user in the organization with the member role;
# roles are not settable through SCIM, so the value is constant and read-only.
MEMBER_ROLE: list[dict[str, Any]] = [{"value": "member", "display": "Member", "primary": True}]


def now() -> str:
    """The current time as RFC 3339 UTC with milliseconds, as SCIM ``meta`` uses it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class UserRecord:
    """A stored user. ``user_name`` is the email; compare it case-insensitively."""

    id: str
    user_name: str
    given_name: str | None
    family_name: str | None
    display_name: str | None
    emails: list[dict[str, Any]]
    active: bool
    external_id: str | None
    created: str
    last_modified: str

    @property
    def label(self) -> str:
        """What a group's member ``display`` shows for this user."""
        return self.display_name or self.user_name


@dataclass(slots=True)
class GroupRecord:
    """A stored group (a Mixpanel Team); ``members`` is an ordered set of user ids."""

    id: str
    display_name: str
    external_id: str | None
    created: str
    last_modified: str
    members: dict[str, None] = field(default_factory=dict)


def encode(document: Any) -> bytes:
    """Compact JSON bytes; list pages are built by joining these."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def user_resource(user: UserRecord, groups: list[GroupRecord], base_url: str) -> dict[str, Any]:
    location = f"{base_url}/Users/{user.id}"
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": user.id}
    if user.external_id is not None:
        resource["externalId"] = user.external_id
    resource["userName"] = user.user_name
    name = {
        key: value
        for key, value in (("givenName", user.given_name), ("familyName", user.family_name))
        if value is not None
    }
    if name:
        resource["name"] = name
    if user.display_name is not None:
        resource["displayName"] = user.display_name
    resource["emails"] = user.emails
    resource["active"] = user.active
    resource["roles"] = MEMBER_ROLE
    resource["groups"] = [
        {"value": g.id, "display": g.display_name, "$ref": f"{base_url}/Groups/{g.id}"}
        for g in groups
    ]
    resource["meta"] = _meta("User", user.created, user.last_modified, location)
    return resource


def group_resource(
    group: GroupRecord, members: list[UserRecord] | None, base_url: str
) -> dict[str, Any]:
    """The Group resource; ``members=None`` renders it without the members attribute."""
    location = f"{base_url}/Groups/{group.id}"
    resource: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": group.id}
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    resource["displayName"] = group.display_name
    if members is not None:
        resource["members"] = [
            {
                "value": user.id,
                "display": user.label,
                "type": "User",
                "$ref": f"{base_url}/Users/{user.id}",
            }
            for user in members
        ]
    resource["meta"] = _meta("Group", group.created, group.last_modified, location)
    return resource


def _meta(kind: str, created: str, last_modified: str, location: str) -> dict[str, str]:
    return {
        "resourceType": kind,
        "created": created,
        "lastModified": last_modified,
        "location": location,
    }


def list_body(total: int, start_index: int, items: list[bytes]) -> bytes:
    """A ListResponse built from already-encoded resources (no re-serialisation)."""
    head = (
        f'{{"schemas":["{LIST_SCHEMA}"],"totalResults":{total},'
        f'"startIndex":{start_index},"itemsPerPage":{len(items)},"Resources":['
    )
    return b"".join((head.encode(), b",".join(items), b"]}"))
