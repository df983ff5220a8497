"""The in-memory directory behind the sandbox: users, groups and their memberships.

No HTTP here. Every public method takes one lock, so each mutation is atomic
(validate the whole result, then apply) and readers see consistent snapshots.
Rendered JSON is cached per resource and invalidated on change, so listing 100k
users is a matter of joining cached bytes rather than serialising.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reconciler.profile import MIXPANEL
from scim_sandbox.failure import ScimFailure, invalid_value, not_found
from scim_sandbox.filters import EqFilter
from scim_sandbox.patch import (
    GroupDraft,
    Operation,
    UserDraft,
    apply_group_patch,
    apply_user_patch,
    group_draft_from,
    user_draft_from,
)
from scim_sandbox.resources import (
    GroupRecord,
    UserRecord,
    encode,
    group_resource,
    now,
    user_resource,
)

DEFAULT_BASE_URL = f"http://127.0.0.1{MIXPANEL.scim_path}"
STATE_FORMAT = "reconciler-sandbox-state/1"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of a mutation: the store version it produced and the rendered resource."""

    version: int
    body: bytes


class Store:
    """A Mixpanel-like organization directory: claimed domains, unique userNames and team names.

    Use the snapshot accessors (``users()``, ``group_by_name()``...) in tests; they
    return fresh dicts, never live objects.
    """

    def __init__(
        self,
        *,
        claimed_domains: Iterable[str] = ("acme.io", "acmelabs.io"),
        outside_org_emails: Iterable[str] = (),
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self.claimed_domains = frozenset(d.lower() for d in claimed_domains)
        self.outside_org_emails = frozenset(e.lower() for e in outside_org_emails)
        self._base_url = base_url
        self._lock = threading.RLock()
        self._version = 0
        self._users: dict[str, UserRecord] = {}
        self._user_keys: dict[str, str] = {}
        self._user_groups: dict[str, dict[str, None]] = {}
        self._groups: dict[str, GroupRecord] = {}
        self._group_keys: dict[str, str] = {}
        self._user_cache: dict[str, bytes] = {}
        self._group_cache: dict[str, bytes] = {}
        self._brief_cache: dict[str, bytes] = {}
        self._user_order: list[str] | None = None
        self._group_order: list[str] | None = None
        self._journal: list[bytes] | None = None

    # ---- configuration and snapshots ----------------------------------------------

    @property
    def base_url(self) -> str:
        return self._base_url

    def set_base_url(self, base_url: str) -> None:
        """Where resources say they live (``meta.location``); known once the port is bound."""
        with self._lock:
            self._base_url = base_url
            self._user_cache.clear()
            self._group_cache.clear()
            self._brief_cache.clear()

    def warm(self) -> None:
        """Render every resource now, so the first full listing is as fast as the next ones."""
        with self._lock:
            for uid in self._users:
                self._user_json(uid)
            for gid in self._groups:
                self._group_json(gid, members=True)
                self._group_json(gid, members=False)

    @property
    def version(self) -> int:
        """Incremented by every committed mutation; persistence saves up to a version."""
        with self._lock:
            return self._version

    def is_empty(self) -> bool:
        with self._lock:
            return not self._users and not self._groups

    def users(self) -> list[dict[str, Any]]:
        """Every user as its SCIM resource, in creation order."""
        with self._lock:
            return [json.loads(self._user_json(uid)) for uid in self._users]

    def groups(self) -> list[dict[str, Any]]:
        """Every group as its SCIM resource with members, in creation order."""
        with self._lock:
            return [json.loads(self._group_json(gid, members=True)) for gid in self._groups]

    def key_of(self, kind: str, resource_id: str) -> str | None:
        """The userName (``kind`` "Users") or team name ("Groups") of an id; None if absent."""
        with self._lock:
            if kind == "Users":
                user = self._users.get(resource_id)
                return None if user is None else user.user_name
            group = self._groups.get(resource_id)
            return None if group is None else group.display_name

    def another_id(self, kind: str, resource_id: str) -> str | None:
        """Some other user's (or group's) id, for quirks that answer about the wrong one."""
        with self._lock:
            ids = self._users if kind == "Users" else self._groups
            return next((other for other in ids if other != resource_id), None)

    def user_by_name(self, user_name: str) -> dict[str, Any] | None:
        with self._lock:
            uid = self._user_keys.get(user_name.lower())
            return None if uid is None else json.loads(self._user_json(uid))

    def group_by_name(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            gid = self._group_keys.get(name.lower())
            return None if gid is None else json.loads(self._group_json(gid, members=True))

    def counts(self) -> tuple[int, int]:
        """(users, groups)."""
        with self._lock:
            return len(self._users), len(self._groups)

    def start_journal(self) -> None:
        """Record every mutation from now on, for ``drain_journal`` (persistence only)."""
        with self._lock:
            self._journal = []

    def drain_journal(self) -> tuple[int, list[bytes]]:
        """(current version, journal entries since the last drain or checkpoint), in order."""
        with self._lock:
            entries = self._journal or []
            if self._journal is not None:
                self._journal = []
            return self._version, entries

    def checkpoint(self) -> tuple[int, bytes]:
        """The whole directory as the state-file document, with the version it reflects.

        Journal entries not yet drained are covered by the document and are dropped.
        """
        with self._lock:
            users = b",".join(self._user_json(uid) for uid in self._users)
            groups = b",".join(self._group_json(gid, members=True) for gid in self._groups)
            head = f'{{"format":"{STATE_FORMAT}","version":{self._version},"users":['.encode()
            if self._journal is not None:
                self._journal = []
            return self._version, b"".join((head, users, b'],"groups":[', groups, b"]}"))

    # ---- reads for the HTTP layer ----------------------------------------------------

    def user_json(self, user_id: str) -> bytes:
        with self._lock:
            if user_id not in self._users:
                raise not_found("User", user_id)
            return self._user_json(user_id)

    def group_json(self, group_id: str, *, members: bool = True) -> bytes:
        with self._lock:
            if group_id not in self._groups:
                raise not_found("Group", group_id)
            return self._group_json(group_id, members=members)

    def list_users(
        self, flt: EqFilter | None, start_index: int, count: int, *, hide_inactive: bool = False
    ) -> tuple[int, list[bytes]]:
        """(totalResults, one page of encoded users); ``start_index`` is 1-based.

        ``hide_inactive`` (a quirk mode) leaves inactive users out of an unfiltered listing.
        """
        with self._lock:
            ids = self._matching_users(flt)
            if hide_inactive and flt is None:
                ids = [uid for uid in ids if self._users[uid].active]
            page = ids[start_index - 1 : start_index - 1 + count]
            return len(ids), [self._user_json(uid) for uid in page]

    def list_groups(
        self, flt: EqFilter | None, start_index: int, count: int, *, members: bool
    ) -> tuple[int, list[bytes]]:
        with self._lock:
            ids = self._matching_groups(flt)
            page = ids[start_index - 1 : start_index - 1 + count]
            return len(ids), [self._group_json(gid, members=members) for gid in page]

    def _matching_users(self, flt: EqFilter | None) -> list[str]:
        if flt is None:
            if self._user_order is None:
                self._user_order = list(self._users)
            return self._user_order
        if flt.attribute == "userName":
            uid = self._user_keys.get(flt.value.lower())
            return [] if uid is None else [uid]
        if flt.attribute == "id":
            return [flt.value] if flt.value in self._users else []
        wanted = flt.value.lower()  # emails.value
        return [
            uid
            for uid, user in self._users.items()
            if any(str(e.get("value", "")).lower() == wanted for e in user.emails)
        ]

    def _matching_groups(self, flt: EqFilter | None) -> list[str]:
        if flt is None:
            if self._group_order is None:
                self._group_order = list(self._groups)
            return self._group_order
        if flt.attribute == "displayName":
            gid = self._group_keys.get(flt.value.lower())
            return [] if gid is None else [gid]
        if flt.attribute == "id":
            return [flt.value] if flt.value in self._groups else []
        return list(self._user_groups.get(flt.value, {}))  # members.value

    # ---- user mutations ---------------------------------------------------------------

    def create_user(self, payload: Any) -> Written:
        """POST /Users: 409 on a taken userName or an outside-org email, 400 off-domain."""
        draft = user_draft_from(payload, UserDraft(user_name=""))
        with self._lock:
            self._check_user(draft, None)
            stamp = now()
            user = UserRecord(uuid.uuid4().hex, "", None, None, None, [], True, None, stamp, stamp)
            self._users[user.id] = user
            self._user_groups[user.id] = {}
            self._user_order = None
            return self._commit_user(user, draft)

    def replace_user(self, user_id: str, payload: Any) -> Written:
        """PUT: replaces the writable attributes; an omitted ``active`` keeps its value."""
        with self._lock:
            user = self._user(user_id)
            draft = user_draft_from(payload, UserDraft(user_name="", active=user.active))
            self._check_user(draft, user_id)
            return self._commit_user(user, draft)

    def patch_user(self, user_id: str, operations: list[Operation]) -> Written:
        with self._lock:
            user = self._user(user_id)
            draft = apply_user_patch(_user_draft(user), operations)
            self._check_user(draft, user_id)
            return self._commit_user(user, draft)

    def delete_user(self, user_id: str) -> int:
        """DELETE: removes the user and every membership it had (referential integrity)."""
        with self._lock:
            user = self._user(user_id)
            stamp = now()
            for gid in self._user_groups.pop(user_id):
                group = self._groups[gid]
                del group.members[user_id]
                group.last_modified = stamp
                self._forget_group(gid)
            del self._user_keys[user.user_name.lower()]
            del self._users[user_id]
            self._user_cache.pop(user_id, None)
            self._user_order = None
            return self._journaled_delete("User", user_id)

    def _user(self, user_id: str) -> UserRecord:
        user = self._users.get(user_id)
        if user is None:
            raise not_found("User", user_id)
        return user

    def _check_user(self, draft: UserDraft, user_id: str | None) -> None:
        name = draft.user_name
        if not _EMAIL.match(name):
            raise invalid_value(f"userName {name!r} is not an email address")
        owner = self._user_keys.get(name.lower())
        if owner is not None and owner != user_id:
            raise ScimFailure(409, f"a user with userName {name} already exists", "uniqueness")
        domain = name.rpartition("@")[2].lower()
        if domain not in self.claimed_domains:
            raise invalid_value(f"domain of {name} is not claimed by this organization")
        if name.lower() in self.outside_org_emails:
            raise ScimFailure(
                409, f"{name} already has a Mixpanel account outside this organization"
            )

    def _commit_user(self, user: UserRecord, draft: UserDraft) -> Written:
        old_key = user.user_name.lower()
        if old_key and old_key != draft.user_name.lower():
            del self._user_keys[old_key]
        self._user_keys[draft.user_name.lower()] = user.id
        relabelled = user.label != (draft.display_name or draft.user_name)
        user.user_name = draft.user_name
        user.given_name, user.family_name = draft.given_name, draft.family_name
        user.display_name, user.emails = draft.display_name, draft.emails
        user.active, user.external_id = draft.active, draft.external_id
        user.last_modified = now()
        self._user_cache.pop(user.id, None)
        if relabelled:
            for gid in self._user_groups[user.id]:
                self._group_cache.pop(gid, None)
        return self._journaled_put("User", self._user_json(user.id))

    # ---- group mutations --------------------------------------------------------------

    def create_group(self, payload: Any) -> Written:
        draft = group_draft_from(payload, GroupDraft(display_name=""))
        with self._lock:
            self._check_group(draft, None, {})
            stamp = now()
            group = GroupRecord(uuid.uuid4().hex, "", None, stamp, stamp)
            self._groups[group.id] = group
            self._group_order = None
            return self._commit_group(group, draft)

    def replace_group(self, group_id: str, payload: Any) -> Written:
        """PUT: an omitted ``members`` keeps the current members (defensive, like Mixpanel)."""
        with self._lock:
            group = self._group(group_id)
            base = GroupDraft(display_name="", members=dict(group.members))
            draft = group_draft_from(payload, base)
            self._check_group(draft, group_id, group.members)
            return self._commit_group(group, draft)

    def patch_group(self, group_id: str, operations: list[Operation]) -> Written:
        with self._lock:
            group = self._group(group_id)
            draft = apply_group_patch(_group_draft(group), operations)
            self._check_group(draft, group_id, group.members)
            return self._commit_group(group, draft)

    def delete_group(self, group_id: str) -> int:
        with self._lock:
            group = self._group(group_id)
            for uid in group.members:
                del self._user_groups[uid][group_id]
                self._user_cache.pop(uid, None)
            del self._group_keys[group.display_name.lower()]
            del self._groups[group_id]
            self._forget_group(group_id)
            self._group_order = None
            return self._journaled_delete("Group", group_id)

    def _group(self, group_id: str) -> GroupRecord:
        group = self._groups.get(group_id)
        if group is None:
            raise not_found("Group", group_id)
        return group

    def _check_group(
        self, draft: GroupDraft, group_id: str | None, current: dict[str, None]
    ) -> None:
        owner = self._group_keys.get(draft.display_name.lower())
        if owner is not None and owner != group_id:
            detail = f"a group with displayName {draft.display_name} already exists"
            raise ScimFailure(409, detail, "uniqueness")
        for uid in draft.members:
            if uid not in current and uid not in self._users:
                raise invalid_value(f"member {uid} is not a user of this organization")

    def _commit_group(self, group: GroupRecord, draft: GroupDraft) -> Written:
        old_key = group.display_name.lower()
        if old_key and old_key != draft.display_name.lower():
            del self._group_keys[old_key]
        self._group_keys[draft.display_name.lower()] = group.id
        renamed = group.display_name != draft.display_name
        before, after = group.members, draft.members
        touched = set(after) | set(before) if renamed else set(after) ^ set(before)
        for uid in before.keys() - after.keys():
            del self._user_groups[uid][group.id]
        for uid in after.keys() - before.keys():
            self._user_groups[uid][group.id] = None
        for uid in touched:
            self._user_cache.pop(uid, None)
        group.display_name, group.external_id = draft.display_name, draft.external_id
        group.members = draft.members
        group.last_modified = now()
        self._forget_group(group.id)
        return self._journaled_put("Group", self._group_json(group.id, members=True))

    def _forget_group(self, group_id: str) -> None:
        self._group_cache.pop(group_id, None)
        self._brief_cache.pop(group_id, None)

    # ---- bulk load (state file, seeds) ---------------------------------------------------

    def load(
        self, users: Iterable[UserRecord], groups: Iterable[GroupRecord], version: int = 0
    ) -> None:
        """Add records wholesale (no claimed-domain check: a state file is trusted as it is).

        Raises ValueError on a duplicate id or userName or a member that is not a user.
        """
        with self._lock:
            for user in users:
                key = user.user_name.lower()
                if user.id in self._users or key in self._user_keys:
                    raise ValueError(f"duplicate user {user.id} / {user.user_name}")
                self._users[user.id] = user
                self._user_keys[key] = user.id
                self._user_groups[user.id] = {}
            for group in groups:
                self._load_group(group)
            self._user_order = self._group_order = None
            self._user_cache.clear()
            self._version = max(self._version, version) + 1

    def _load_group(self, group: GroupRecord) -> None:
        key = group.display_name.lower()
        if group.id in self._groups or key in self._group_keys:
            raise ValueError(f"duplicate group {group.id} / {group.display_name}")
        for uid in group.members:
            if uid not in self._users:
                raise ValueError(f"group {group.display_name} has unknown member {uid}")
            self._user_groups[uid][group.id] = None
        self._groups[group.id] = group
        self._group_keys[key] = group.id

    # ---- rendering ------------------------------------------------------------------------

    def _bump(self) -> int:
        self._version += 1
        return self._version

    def _journaled_put(self, kind: str, body: bytes) -> Written:
        version = self._bump()
        if self._journal is not None:
            head = f'{{"v":{version},"put":"{kind}","resource":'.encode()
            self._journal.append(b"".join((head, body, b"}")))
        return Written(version, body)

    def _journaled_delete(self, kind: str, resource_id: str) -> int:
        version = self._bump()
        if self._journal is not None:
            entry = {"v": version, "delete": kind, "id": resource_id}
            self._journal.append(encode(entry))
        return version

    def _user_json(self, user_id: str) -> bytes:
        cached = self._user_cache.get(user_id)
        if cached is None:
            groups = [self._groups[gid] for gid in self._user_groups[user_id]]
            resource = user_resource(self._users[user_id], groups, self._base_url)
            cached = self._user_cache[user_id] = encode(resource)
        return cached

    def _group_json(self, group_id: str, *, members: bool) -> bytes:
        cache = self._group_cache if members else self._brief_cache
        cached = cache.get(group_id)
        if cached is None:
            group = self._groups[group_id]
            users = [self._users[uid] for uid in group.members] if members else None
            cached = cache[group_id] = encode(group_resource(group, users, self._base_url))
        return cached


def _user_draft(user: UserRecord) -> UserDraft:
    return UserDraft(
        user.user_name,
        user.given_name,
        user.family_name,
        user.display_name,
        [dict(e) for e in user.emails],
        user.active,
        user.external_id,
    )


def _group_draft(group: GroupRecord) -> GroupDraft:
    return GroupDraft(group.display_name, group.external_id, dict(group.members))
