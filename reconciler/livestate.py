"""The live state of a Mixpanel org as read over SCIM: immutable, indexed, fingerprinted.

Built only by the reader (``reconciler.reader``) from a complete read; a partial
read never produces a LiveState, so "absent here" always means "absent live".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring_ascii
from types import MappingProxyType
from typing import Any

from reconciler.attributes import USER_ATTRIBUTES
from reconciler.identity import is_lookalike, match_key


@dataclass(frozen=True, slots=True)
class LiveUser:
    """A SCIM User as far as this tool manages it."""

    id: str
    user_name: str
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    active: bool = True
    # The match key (``reconciler.identity.match_key``: ASCII case folded), computed once
    # at construction. A look-alike userName is keyed by its exact text instead, which
    # no manifest email (ASCII, printable) can equal: it is never matched to a manifest
    # user, and it never collides with the real account it imitates. A read uses it
    # three times a user (the reader's uniqueness check, LiveState's sort and its key
    # index) and the diff again. A key equal to the userName (the usual case) is that
    # same string, so keeping it costs no memory beyond the slot.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = self.user_name
        if name.isascii() and name.isprintable():
            key = match_key(name)  # the usual case, never a look-alike
        else:
            key = name if is_lookalike(name) else match_key(name)
        object.__setattr__(self, "key", name if key == name else key)

    @property
    def lookalike(self) -> bool:
        """True for a userName that prints like another address: never matched or changed."""
        return is_lookalike(self.user_name)

    @property
    def domain(self) -> str:
        return self.key.rpartition("@")[2]

    def canonical(self) -> dict[str, Any]:
        """What the fingerprint hashes: the id and every managed attribute, by SCIM name."""
        managed = {a.scim_key: getattr(self, a.name) for a in USER_ATTRIBUTES}
        return {"id": self.id, **managed}


@dataclass(frozen=True, slots=True)
class LiveGroup:
    """A SCIM Group (Mixpanel Team) with the ids of its member users.

    ``members_listed`` is False when the answer it was parsed from had no
    ``members`` attribute at all (as opposed to ``"members": []``): the reader then
    decides from other evidence whether the team is empty or its members unknown.
    """

    id: str
    display_name: str
    member_ids: frozenset[str] = frozenset()
    members_listed: bool = field(default=True, compare=False)

    @property
    def key(self) -> str:
        return self.display_name

    def canonical(self) -> dict[str, Any]:
        return {"id": self.id, "displayName": self.display_name, "members": sorted(self.member_ids)}


@dataclass(frozen=True, slots=True)
class MembersRead:
    """How the reader got the teams' members (``reconciler doctor`` and the bench show it).

    ``from_pages``: teams whose members the Groups listing gave and users' ``groups``
    corroborated; ``read_each``: teams read with ``GET /Groups/{id}`` because they
    could not be; ``requests``: the GET /Groups/{id} made (``read_each`` plus the
    canary read that tests the listing); ``why``: why teams were read one by one.
    """

    from_pages: int = 0
    read_each: int = 0
    requests: int = 0
    why: str = ""
    # Teams answered without ``members`` that no second source vouches for (users'
    # ``groups`` not filled): taken as empty, a guess the plan names in a notice.
    unvouched: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveState:
    """Everything the planner may know about the org, indexed by the match keys.

    Users are keyed by ``LiveUser.key`` (ASCII case folded), teams by displayName
    (exact; Mixpanel team names are case-sensitive labels).
    """

    users: tuple[LiveUser, ...] = ()
    groups: tuple[LiveGroup, ...] = ()
    # What the reader learned beyond the listings (e.g. users a listing omitted and a
    # lookup found inactive), shown as plan notices; not part of the fingerprint.
    evidence: tuple[str, ...] = field(default=(), compare=False)
    # How the teams' members were read (None: not by the reader); not fingerprinted.
    members_read: MembersRead | None = field(default=None, compare=False)
    _by_key: Mapping[str, LiveUser] = field(init=False, repr=False, compare=False)
    _by_id: Mapping[str, LiveUser] = field(init=False, repr=False, compare=False)
    _groups_by_name: Mapping[str, LiveGroup] = field(init=False, repr=False, compare=False)
    _groups_by_id: Mapping[str, LiveGroup] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key = MappingProxyType({u.key: u for u in self.users})
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_by_id", MappingProxyType({u.id: u for u in self.users}))
        groups = MappingProxyType({g.display_name: g for g in self.groups})
        object.__setattr__(self, "_groups_by_name", groups)
        by_id = MappingProxyType({g.id: g for g in self.groups})
        object.__setattr__(self, "_groups_by_id", by_id)

    @classmethod
    def of(
        cls,
        users: Iterable[LiveUser],
        groups: Iterable[LiveGroup],
        evidence: Iterable[str] = (),
        members_read: MembersRead | None = None,
    ) -> LiveState:
        """Build with a canonical order so equal orgs give equal values and fingerprints."""
        return cls(
            users=tuple(sorted(users, key=lambda u: (u.key, u.id))),
            groups=tuple(sorted(groups, key=lambda g: (g.display_name, g.id))),
            evidence=tuple(evidence),
            members_read=members_read,
        )

    @property
    def users_by_key(self) -> Mapping[str, LiveUser]:
        return self._by_key

    @property
    def users_by_id(self) -> Mapping[str, LiveUser]:
        return self._by_id

    @property
    def groups_by_name(self) -> Mapping[str, LiveGroup]:
        return self._groups_by_name

    @property
    def groups_by_id(self) -> Mapping[str, LiveGroup]:
        return self._groups_by_id

    def member_keys(self, group: LiveGroup) -> frozenset[str]:
        """Match keys of a group's members (ids that point nowhere are dropped)."""
        return frozenset(self._by_id[i].key for i in group.member_ids if i in self._by_id)

    def _content_hash(self) -> str:
        """Canonical content hash: equal live orgs give equal fingerprints."""
        digest = hashlib.sha256()
        digest.update(_users_text(self.users).encode())
        digest.update(b"\x00groups\x00")
        digest.update("".join(map(_group_line, self.groups)).encode())
        return "sha256:" + digest.hexdigest()

    # What a saved plan records to detect that Mixpanel moved; computed once.
    fingerprint = cached_property(_content_hash)


def _canonical_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode() + b"\n"


# The fingerprint hashes each object's canonical JSON (sorted keys, compact, ASCII).
# json.dumps costs ~10 us an object, a tenth of a second per 10k users, so the usual
# shapes are written out directly, byte-identical to json.dumps (the same C string
# encoder); anything unusual takes the generic path.
_quote = encode_basestring_ascii


def _text(value: str | None) -> str:
    return "null" if value is None else _quote(value)


# The fast path below spells out these SCIM keys; a row added to the attribute table
# turns it off (correct, slower) until the row is spelled out here too.
_FAST_KEYS = ("active", "displayName", "familyName", "givenName", "userName")
_FAST = tuple(sorted(a.scim_key for a in USER_ATTRIBUTES)) == _FAST_KEYS


def _user_line(user: LiveUser) -> str:
    """One user's canonical line (the reference the bulk ``_users_text`` must equal)."""
    if not _FAST or type(user.active) is not bool:
        return _canonical_bytes(user.canonical()).decode()
    try:  # the string encoder raises TypeError for anything but a string
        return (
            f'{{"active":{"true" if user.active else "false"},'
            f'"displayName":{_text(user.display_name)},"familyName":{_text(user.family_name)},'
            f'"givenName":{_text(user.given_name)},"id":{_quote(user.id)},'
            f'"userName":{_quote(user.user_name)}}}\n'
        )
    except TypeError:
        return _canonical_bytes(user.canonical()).decode()


def _users_text(users: tuple[LiveUser, ...]) -> str:
    """Every user's canonical line, joined: ``_user_line`` for each, in one comprehension.

    The per-user function calls cost about a third of the fingerprint at 100k users,
    so the usual shapes (strings or None, ``active`` a bool) are written inline; a
    value of any other type makes the string encoder raise TypeError (``active`` is
    passed to it when it is not a bool) and every line takes ``_user_line``.
    """
    if not _FAST:
        return "".join(map(_user_line, users))
    q = _quote
    try:
        return "".join(
            [
                f'{{"active":'
                f"{'true' if (a := u.active) is True else 'false' if a is False else q(a)},"
                f'"displayName":{"null" if (d := u.display_name) is None else q(d)},'
                f'"familyName":{"null" if (f := u.family_name) is None else q(f)},'
                f'"givenName":{"null" if (g := u.given_name) is None else q(g)},'
                f'"id":{q(u.id)},"userName":{q(u.user_name)}}}\n'
                for u in users
            ]
        )
    except TypeError:
        return "".join(map(_user_line, users))


def _group_line(group: LiveGroup) -> str:
    try:
        members = ",".join(map(_quote, sorted(group.member_ids)))
        return (
            f'{{"displayName":{_quote(group.display_name)},"id":{_quote(group.id)},'
            f'"members":[{members}]}}\n'
        )
    except TypeError:  # not strings (or not sortable together): the generic path
        return _canonical_bytes(group.canonical()).decode()
