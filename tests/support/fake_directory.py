"""A stateful in-memory SCIM directory implementing the executor's writer interface.

Fakes over mocks: it keeps real state with real integrity rules, so executor tests
can assert "apply, then plan again is empty" without a server.
"""

from __future__ import annotations

import itertools
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.scim.client import Creation, Origin
from reconciler.scim.errors import ScimConflict, ScimNotFound, ScimPayloadTooLarge


class FakeDirectory:
    def __init__(
        self,
        users: list[LiveUser] | None = None,
        groups: list[LiveGroup] | None = None,
        *,
        fail_create: set[str] | None = None,
        max_members_per_patch: int | None = None,
    ) -> None:
        self.users: dict[str, LiveUser] = {u.id: u for u in users or []}
        self.groups: dict[str, tuple[str, set[str]]] = {
            g.id: (g.display_name, set(g.member_ids)) for g in groups or []
        }
        self.fail_create = {e.lower() for e in fail_create or set()}
        self.max_members = max_members_per_patch
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count(1000)

    def live(self) -> LiveState:
        groups = [LiveGroup(gid, name, frozenset(m)) for gid, (name, m) in self.groups.items()]
        return LiveState.of(self.users.values(), groups)

    # -- writer interface ----------------------------------------------------
    def create_or_adopt_user(self, resource: dict[str, Any]) -> Creation[LiveUser]:
        """Like the client: a taken userName is adopted (409, then a lookup)."""
        name = resource["userName"].lower()
        existing = [u for u in self.users.values() if u.key == name]
        if existing and name not in self.fail_create:
            self.calls.append(("create_user", resource["userName"]))
            return Creation(existing[0], Origin.ADOPTED)
        return Creation(self.create_user(resource), Origin.CREATED)

    def create_or_adopt_group(self, resource: dict[str, Any]) -> Creation[LiveGroup]:
        return Creation(self.create_group(resource), Origin.CREATED)

    def get_user(self, user_id: str, *, purpose: str = "") -> LiveUser:
        self.calls.append(("get_user", user_id))
        if user_id not in self.users:
            raise ScimNotFound(f"User {user_id} not found", status=404)
        return self.users[user_id]

    def get_group(self, group_id: str, *, purpose: str = "") -> LiveGroup:
        self.calls.append(("get_group", group_id))
        if group_id not in self.groups:
            raise ScimNotFound(f"Group {group_id} not found", status=404)
        name, members = self.groups[group_id]
        return LiveGroup(group_id, name, frozenset(members))

    def create_user(self, resource: dict[str, Any]) -> LiveUser:
        self.calls.append(("create_user", resource["userName"]))
        name = resource["userName"].lower()
        if name in self.fail_create:
            raise ScimConflict(
                f"{name} already has a Mixpanel account outside this org", status=409
            )
        if any(u.key == name for u in self.users.values()):
            raise ScimConflict("userName taken", status=409, scim_type="uniqueness")
        user = LiveUser(
            id=f"u{next(self._ids)}",
            user_name=resource["userName"],
            given_name=resource.get("name", {}).get("givenName"),
            family_name=resource.get("name", {}).get("familyName"),
            display_name=resource.get("displayName"),
            active=resource.get("active", True),
        )
        self.users[user.id] = user
        return user

    def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None:
        self.calls.append(("patch_user", user_id))
        user = self.users[user_id]
        fields = {
            "active": "active",
            "userName": "user_name",
            "name.givenName": "given_name",
            "name.familyName": "family_name",
            "displayName": "display_name",
        }
        changes: dict[str, Any] = {}
        for op in patch["Operations"]:
            if op["path"] in fields:
                changes[fields[op["path"]]] = op.get("value") if op["op"] == "replace" else None
        current = {
            "user_name": user.user_name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "display_name": user.display_name,
            "active": user.active,
        }
        current.update(changes)
        self.users[user_id] = LiveUser(id=user_id, **current)
        return self.users[user_id]

    def delete_user(self, user_id: str) -> None:
        self.calls.append(("delete_user", user_id))
        del self.users[user_id]
        for _, members in self.groups.values():
            members.discard(user_id)

    def delete_group(self, group_id: str) -> None:
        self.calls.append(("delete_group", group_id))
        del self.groups[group_id]

    def create_group(self, resource: dict[str, Any]) -> LiveGroup:
        self.calls.append(("create_group", resource["displayName"]))
        gid = f"g{next(self._ids)}"
        self.groups[gid] = (resource["displayName"], set())
        return LiveGroup(gid, resource["displayName"])

    def patch_group(self, group_id: str, patch: dict[str, Any]) -> None:
        self.calls.append(("patch_group", group_id))
        name, members = self.groups[group_id]
        operations = patch["Operations"]
        added = [v["value"] for op in operations if op["op"] == "add" for v in op["value"]]
        removed = [op for op in operations if op["op"] == "remove"]
        if self.max_members is not None and max(len(added), len(removed)) > self.max_members:
            raise ScimPayloadTooLarge("too many members", status=413)
        for value in added:
            if value not in self.users:
                raise ReconcilerError(f"no such user {value}")
            members.add(value)
        for op in removed:
            members.discard(op["path"].split('"')[1])
        for op in operations:
            if op["op"] == "replace" and op["path"] == "displayName":
                name = op["value"]
        self.groups[group_id] = (name, members)
