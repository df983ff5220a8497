"""Desired vs live, under the policy: what has to change for each user and team. Pure.

The diff decides *what* differs and *why*; the planner decides the order and the
operation shapes. Nothing here does I/O or knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from itertools import compress, repeat
from operator import attrgetter, itemgetter, methodcaller, not_

from reconciler.attributes import FROM_MANIFEST
from reconciler.grammar import count, plural
from reconciler.identity import ascii_lower, lookalike_reason, match_key, name_fold, spelled
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest.models import (
    Deprovision,
    Manifest,
    Team,
    UnmanagedUsers,
    User,
    as_instant,
    days_left,
    expiry_instant,
    is_expired,
    show_expiry,
    time_left,
)
from reconciler.plan import JsonScalar
from reconciler.profile import PRODUCT


class UserAction(StrEnum):
    CREATE = "create"
    REACTIVATE = "reactivate"
    PATCH = "patch"
    DEACTIVATE = "deactivate"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class AttributeChange:
    """One managed attribute: manifest name, live value, desired value."""

    name: str
    before: JsonScalar
    after: JsonScalar


@dataclass(frozen=True, slots=True)
class UserChange:
    action: UserAction
    email: str  # the manifest's spelling when the user is listed, else the live userName
    live: LiveUser | None
    attributes: tuple[AttributeChange, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MemberChange:
    email: str
    scim_id: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TeamChange:
    """Create or rename a team, and the membership changes that follow."""

    name: str
    live: LiveGroup | None
    create: bool = False
    rename_from: str | None = None
    add: tuple[MemberChange, ...] = ()
    remove: tuple[MemberChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.rename_from or self.add or self.remove)


@dataclass(frozen=True)
class Changes:
    users: tuple[UserChange, ...] = ()
    teams: tuple[TeamChange, ...] = ()
    notices: tuple[str, ...] = field(default_factory=tuple)


def diff(manifest: Manifest, live: LiveState, today: date, *, fast: bool = True) -> Changes:
    """Everything that must change for live to match the manifest.

    ``fast=False`` compares every user and every membership one by one: the
    straightforward reference that the fast path (unchanged users and teams settled
    in bulk) is tested against; both give equal ``Changes``.
    """
    ctx = _Context(manifest, live, today, fast=fast)
    ctx.flag_lookalikes()
    users = ctx.user_changes()
    teams = ctx.team_changes(users)
    notices = (*ctx.notices, *expiring_soon(manifest, today))
    return Changes(users=users, teams=teams, notices=notices)


def expiring_soon(manifest: Manifest, today: date) -> list[str]:
    """Access that ends within ``policy.expiry_warning_days``: a nudge to extend or accept."""
    horizon = manifest.policy.expiry_warning_days
    now = as_instant(today)
    found: list[tuple[datetime, str]] = []
    users = manifest.users
    for user in [u for u in users if u.expires is not None]:  # only those with an expiry
        if user.active and _soon(user.expires, now, horizon):
            assert user.expires is not None
            text = f"{user.email}: access expires on {show_expiry(user.expires)}"
            found.append((expiry_instant(user.expires), text))
    for team in manifest.teams:
        members = team.member_list
        for member in compress(members, map(_EXPIRES, members)):
            if _soon(member.expires, now, horizon):
                assert member.expires is not None
                text = (
                    f"{member.email}: membership of team {team.name!r} expires on "
                    f"{show_expiry(member.expires)}"
                )
                found.append((expiry_instant(member.expires), text))
    return [f"{text} ({time_left(when, now)})" for when, text in sorted(found)]


def _soon(expires: date | None, now: date, horizon: int) -> bool:
    """Not yet expired, and ending within ``horizon`` days."""
    return (
        expires is not None and not is_expired(expires, now) and days_left(expires, now) <= horizon
    )


class _Context:
    """Indexes shared by the user and team passes; kept private to this module."""

    def __init__(self, manifest: Manifest, live: LiveState, today: date, fast: bool = True) -> None:
        self.fast = fast
        self.manifest = manifest
        self.live = live
        self.today = as_instant(today)  # an aware UTC instant, computed once
        self.policy = manifest.policy
        self.domains = frozenset(manifest.organization.claimed_domains)
        self.protected = frozenset(match_key(e) for e in manifest.policy.protected)
        self.notices: list[str] = []
        # Indexes built once: per-team or per-member scans of every user or every
        # membership made the diff quadratic (minutes at 100k users, 2k teams).
        self._keys = [user.key for user in manifest.users]
        self.desired_by_key = dict(zip(self._keys, manifest.users, strict=True))
        # Live user id -> desired User, after following previous_emails, and the
        # desired key of that User (kept in step). The one-by-one pass fills them as it
        # goes; the fast pass keeps ``_lives`` (the match of each manifest user) and
        # builds them only if asked (``matched``).
        self._matched: dict[str, User] | None = None if fast else {}
        self._matched_by_key: dict[str, str] = {}
        self._lives: list[LiveUser | None] = []
        # True when every manifest user matched the live user of its own key (no
        # previous_emails match) and keys and ids are unique on both sides: then the
        # match of a live user is simply ``desired_by_key.get(live.key)``.
        self._simple = False
        self._unmatched_keys: set[str] = set()
        self._matched_ids: dict[str, str] | None = None
        self._expired_memberships: dict[str, date] | None = None
        self._inactive_keys: frozenset[str] | None = None
        self._folded_groups: dict[str, list[LiveGroup]] | None = None
        self._bulk_claimed: Callable[[str], bool] | None = None
        self._bulk_tried = False
        # Look-alike live users that the policy does not name: never changed (ids).
        self.untouchable: frozenset[str] = frozenset()

    # -- look-alikes -------------------------------------------------------
    def flag_lookalikes(self) -> None:
        """One notice per look-alike live userName; remember those nothing may change.

        Their keys are their exact text (``LiveUser.key``), so they never match a
        manifest user; here they are also kept out of unmanaged_users and out of
        membership removals unless ``policy.lookalike_users`` names them exactly.
        """
        named = frozenset(self.policy.lookalike_users)
        untouchable = set()
        users = self.live.users
        if self.fast:  # all printable ASCII together, so each one is: none to look at
            joined = "".join([user.user_name for user in users])
            # isprintable() for ASCII, read in bytes: several times faster.
            if joined.isascii() and not joined.encode().translate(None, _PRINTABLE_ASCII):
                users = ()
        for user in users:
            name = user.user_name
            if name.isascii() and name.isprintable():
                continue  # the usual case, inlined: never a look-alike
            reason = lookalike_reason(name)
            if reason is None:
                continue
            if user.user_name in named:
                self.notices.append(
                    f"{user.user_name}: look-alike userName ({reason}), named in "
                    "policy.lookalike_users: managed like any unlisted account"
                )
                continue
            untouchable.add(user.id)
            self.notices.append(
                f"{user.user_name}: look-alike userName ({reason}); it matches no manifest "
                "user and is never changed automatically; check who owns it, and name it "
                "exactly in policy.lookalike_users to let the policy manage it"
            )
        self.untouchable = frozenset(untouchable)
        self._flag_lookalike_teams()

    def _flag_lookalike_teams(self) -> None:
        """One notice per live team whose name is a look-alike the manifest does not name.

        Such a team is never matched to the manifest team it resembles (matching is
        by exact name, or ASCII case and surrounding spaces), so it is left alone like
        any unlisted team; the notice shows its name spelled out so it cannot pass for
        the team it imitates.
        """
        wanted = {team.name for team in self.manifest.teams}
        for group in self.live.groups:
            name = group.display_name
            if (name.isascii() and name.isprintable()) or name in wanted:
                continue
            reason = lookalike_reason(name)
            if reason is None:
                continue
            self.notices.append(
                f'team "{spelled(name)}" (id {group.id}): look-alike team name ({reason}); it '
                "matches no manifest team and is never changed automatically (only members "
                "being deprovisioned leave it); check who made it, then rename or delete it "
                f"in {PRODUCT}"
            )

    # -- users -------------------------------------------------------------
    def user_changes(self) -> tuple[UserChange, ...]:
        if not self.fast:
            return self._user_changes_one_by_one()
        users, keys, by_key = self.manifest.users, self._keys, self.live.users_by_key
        # The usual case is settled in one plain loop (``_settle``); everything else
        # takes the general path below, in manifest order.
        lives: list[LiveUser | None] = list(map(by_key.get, keys))
        unsettled, inactive = _settle(users, keys, lives)
        changes: list[UserChange] = []
        renamed = False
        missing = 0
        for i in unsettled:
            user, key, current = users[i], keys[i], lives[i]
            if current is None:
                missing += 1
            elif current.active and _unchanged(user, current):
                continue  # equal as ``_same`` compares them (e.g. a userName in another case)
            live_user = self._match_user(user, key) if user.previous_emails else current
            if live_user is not current:
                renamed = True
                lives[i] = live_user
            if not self.desired_active(user):
                inactive.append(key)
            change = self._user_change(user, live_user, key)
            if change is not None:
                changes.append(change)
        self._lives = lives
        self._inactive_keys = frozenset(inactive)
        count = len(self.live.users)
        self._simple = (
            not renamed
            and len(by_key) == count
            and len(self.live.users_by_id) == count
            and len(self.desired_by_key) == len(keys)
        )
        # The keys of the live users no manifest user matched. With ``_simple`` each
        # manifest user matched a different live user, so when as many matched as are
        # live, there are none (the usual case: no pass over every key).
        if self._simple and len(keys) - missing != count:
            self._unmatched_keys = by_key.keys() - self.desired_by_key.keys()  # in C
        changes.extend(self._unlisted_user_changes())
        return tuple(changes)

    @property
    def matched(self) -> dict[str, User]:
        """Live user id -> the desired User matched to it (the later one if two are)."""
        if self._matched is None:
            lives, ids = self._lives, list(map(_ID, compress(self._lives, self._lives)))
            self._matched = dict(zip(ids, compress(self.manifest.users, lives), strict=True))
            self._matched_by_key = dict(zip(ids, compress(self._keys, lives), strict=True))
        return self._matched

    @property
    def _matched_keys(self) -> dict[str, str]:
        """Live user id -> the desired key of the User in ``matched``."""
        self.matched  # noqa: B018 (builds both)
        return self._matched_by_key

    def _desired_of(self, live_user: LiveUser, key: str | None = None) -> User | None:
        """The manifest user matched to ``live_user``, if any (``key``: its key, if known)."""
        if self._simple:
            return self.desired_by_key.get(live_user.key if key is None else key)
        return self.matched.get(live_user.id)

    def _user_changes_one_by_one(self) -> tuple[UserChange, ...]:
        """The reference for ``user_changes``: every user compared in turn."""
        changes: list[UserChange] = []
        by_key, today = self.live.users_by_key, self.today
        for user, key in zip(self.manifest.users, self._keys, strict=True):
            live_user = self._match_user(user, key) if user.previous_emails else by_key.get(key)
            if live_user is not None:
                self.matched[live_user.id] = user
                self._matched_by_key[live_user.id] = key
                if (  # the usual case, inlined: active on both sides and nothing differs
                    live_user.active
                    and user.active
                    and not is_expired(user.expires, today)
                    and _same(user, live_user, key)
                ):
                    continue
            change = self._user_change(user, live_user, key)
            if change is not None:
                changes.append(change)
        changes.extend(self._unlisted_user_changes())
        return tuple(changes)

    def _match_user(self, user: User, key: str) -> LiveUser | None:
        by_key = self.live.users_by_key
        current = by_key.get(key)
        for previous in user.previous_emails:
            old = by_key.get(match_key(previous))
            if old is None:
                continue
            if current is None:
                return old
            self.notices.append(
                f"{user.email}: both it and its previous email {old.user_name} exist in "
                f"{PRODUCT}; {old.user_name} is treated as an unlisted user"
            )
        return current

    def desired_active(self, user: User) -> bool:
        return user.active and not is_expired(user.expires, self.today)

    def _inactive_reason(self, user: User) -> str:
        if user.active and user.expires is not None:
            return f"expired on {show_expiry(user.expires)}"
        return "active: false in the manifest"

    def _user_change(self, user: User, live_user: LiveUser | None, key: str) -> UserChange | None:
        active = self.desired_active(user)
        if live_user is None:
            if not active:
                return None
            attrs = _attributes(user, None, key)
            return UserChange(UserAction.CREATE, user.email, None, attrs, "listed in the manifest")
        if active and live_user.active and _same(user, live_user, key):
            return None  # the usual case: nothing to do
        attrs = _attributes(user, live_user, key)
        if active and not live_user.active:
            return UserChange(
                UserAction.REACTIVATE, user.email, live_user, attrs, "listed as active"
            )
        if not active and live_user.active:
            reason = self._inactive_reason(user)
            return self._deprovision(user.email, live_user, reason, attrs)
        if attrs:
            return UserChange(UserAction.PATCH, user.email, live_user, attrs, "attributes differ")
        return None

    def _deprovision(
        self,
        email: str,
        live_user: LiveUser,
        reason: str,
        attrs: tuple[AttributeChange, ...] = (),
    ) -> UserChange | None:
        if live_user.key in self.protected:
            self.notices.append(f"{live_user.user_name} is protected; not deprovisioned ({reason})")
            return None
        action = (
            UserAction.DELETE
            if self.policy.deprovision is Deprovision.DELETE
            else UserAction.DEACTIVATE
        )
        return UserChange(action, email, live_user, attrs, reason)

    def _unlisted_user_changes(self) -> list[UserChange]:
        unlisted = [
            u
            for u in self._unmatched()
            if u.domain in self.domains and u.active and u.id not in self.untouchable
        ]
        policy = self.policy.unmanaged_users
        if policy is UnmanagedUsers.IGNORE or not unlisted:
            return []
        if policy is UnmanagedUsers.REPORT:
            names = listed_names([u.user_name for u in unlisted])
            self.notices.append(
                f"{count(len(unlisted), 'active user')} in claimed domains "
                f"{plural('is', len(unlisted))} not in the manifest "
                f"(policy unmanaged_users: report): {names}"
            )
            return []
        changes = []
        for live_user in unlisted:
            if live_user.key in self.protected:
                self.notices.append(
                    f"{live_user.user_name} is protected; left active though unlisted"
                )
                continue
            reason = "not in the manifest (policy unmanaged_users: deactivate)"
            changes.append(
                UserChange(UserAction.DEACTIVATE, live_user.user_name, live_user, (), reason)
            )
        return changes

    def _unmatched(self) -> Iterable[LiveUser]:
        """Live users no manifest user matched, in live order."""
        users = self.live.users
        if not self._simple:
            matched = self.matched
            return [u for u in users if u.id not in matched]
        by_key, gone = self.live.users_by_key, self._unmatched_keys
        if not gone:
            return ()
        ids = {by_key[k].id for k in gone}
        return compress(users, map(ids.__contains__, map(_ID, users)))

    # -- teams -------------------------------------------------------------
    def team_changes(self, users: tuple[UserChange, ...]) -> tuple[TeamChange, ...]:
        leaving = {
            c.live.id: c
            for c in users
            if c.live is not None and c.action in (UserAction.DEACTIVATE, UserAction.DELETE)
        }
        listed: set[str] = set()
        changes: list[TeamChange] = []
        for team in self.manifest.teams:
            live_group = self._match_team(team)
            if live_group is not None:
                listed.add(live_group.id)
            change = self._team_change(team, live_group, leaving)
            if not change.is_empty:
                changes.append(change)
        changes.extend(self._unlisted_team_changes(listed, leaving))
        return tuple(changes)

    def _match_team(self, team: Team) -> LiveGroup | None:
        by_name = self.live.groups_by_name
        current = by_name.get(team.name)
        for previous in team.previous_names:
            old = by_name.get(previous)
            if old is None:
                continue
            if current is None:
                return old
            self.notices.append(
                f'team "{team.name}": both it and its previous name "{previous}" exist in '
                f'{PRODUCT}; "{previous}" is left alone'
            )
        return current if current is not None else self._case_twin(team.name)

    def _case_twin(self, name: str) -> LiveGroup | None:
        """A live team whose name differs only in ASCII case or surrounding whitespace
        (``name_fold``): renamed in place, not duplicated.

        Servers compare displayName case-insensitively (RFC 7643 caseExact=false), so
        creating "Data Science" next to "data science" would be refused or adopted,
        and the plan would never converge.
        """
        if self._folded_groups is None:
            folded: dict[str, list[LiveGroup]] = {}
            for group in self.live.groups:
                folded.setdefault(name_fold(group.display_name), []).append(group)
            self._folded_groups = folded
        twins = self._folded_groups.get(name_fold(name), [])
        return twins[0] if len(twins) == 1 else None

    def _team_change(
        self, team: Team, group: LiveGroup | None, leaving: dict[str, UserChange]
    ) -> TeamChange:
        rename_from = None
        if group is not None and group.display_name != team.name:
            rename_from = group.display_name
        if team.members is None:
            remove = self._leaving_members(group, leaving)
            return TeamChange(team.name, group, group is None, rename_from, (), remove)
        if self.fast:
            bulk = self._bulk()
            if bulk is not None:
                found = self._bulk_members_change(team, group, leaving, bulk)
                if found is not None:
                    add, remove = found
                    return TeamChange(team.name, group, group is None, rename_from, add, remove)
        wanted = self._wanted_members(team)
        have = self._live_members(group)
        add = tuple(
            MemberChange(wanted[k][0], self._live_id(k), wanted[k][1])
            for k in sorted(wanted.keys() - have.keys())
        )
        # An inactive (or expired) user still listed in the team: its membership goes
        # when the user is deprovisioned (``leaving``), is never added, and an already
        # inactive account's membership is left as the org has it (it grants nothing),
        # so `import` can write any org and plan nothing against it.
        kept = {
            k
            for k in self._listed_inactive(team) & have.keys()
            if have[k].id not in leaving and not have[k].active
        }
        remove = tuple(
            MemberChange(have[k].user_name, have[k].id, self._removal_reason(have[k], leaving))
            for k in sorted(have.keys() - wanted.keys() - kept)
        )
        return TeamChange(team.name, group, group is None, rename_from, add, remove)

    def _bulk(self) -> Callable[[str], bool] | None:
        """The claimed-domain test of the bulk membership pass, made once; None when
        that pass cannot be used.

        Only when every match was by key and keys and ids are unique (``_simple``):
        then a live user and its key are one-to-one, and ``_live_members`` and
        ``_wanted_members`` could not disagree with the sets of the bulk pass.
        Otherwise every team is compared member by member.
        """
        if not self._bulk_tried:
            self._bulk_tried = True
            domains = self.domains
            if self._simple and self._inactive_keys is not None and "@" not in "".join(domains):
                # ``_live_members``'s filter, key.rpartition("@")[2] in domains, for a key
                # that has an "@" (a key without one that equals a domain fails this test,
                # and its team takes the one-by-one path).
                self._bulk_claimed = methodcaller("endswith", tuple("@" + d for d in domains))
        return self._bulk_claimed

    def _bulk_members_change(
        self,
        team: Team,
        group: LiveGroup | None,
        leaving: dict[str, UserChange],
        claimed: Callable[[str], bool],
    ) -> tuple[tuple[MemberChange, ...], tuple[MemberChange, ...]] | None:
        """``_team_change``'s additions and removals from set operations on keys and ids.

        The listed keys that are wanted are mapped to live ids (C loops over the team's
        members only, never over every live user); members the team has live but does
        not want are looked at one by one. None when the team is not this simple case
        (a membership expires, a listed key outside the claimed domains, a wanted live
        user that is an untouchable look-alike): then it is compared one by one.
        """
        members = team.member_list
        keys = [member.key for member in members if member.expires is None]
        if len(keys) != len(members):
            return None  # a membership expires
        listed = frozenset(keys)
        if not all(map(claimed, listed)):
            return None
        inactive = self._inactive_keys or frozenset()
        team_ids = group.member_ids if group is not None else frozenset()
        if _NOBODY.id in team_ids:
            return None
        # Listed, in the manifest and wanted active (``_wanted_members``), for the keys
        # of live members: a live key is in the manifest unless its user is unmatched.
        # Keys that are not live are looked up in the manifest only when added.
        wanted = list(listed - inactive - self._unmatched_keys)
        wanted_ids = [user.id for user in map(self.live.users_by_key.get, wanted, repeat(_NOBODY))]
        present = list(map(team_ids.__contains__, wanted_ids))
        if self.untouchable and not self.untouchable.isdisjoint(compress(wanted_ids, present)):
            return None
        reason = f"listed in team {team.name!r}"
        emails = self.desired_by_key
        add = tuple(
            MemberChange(emails[k].email, self._live_id(k), reason)
            for k in sorted(compress(wanted, map(not_, present)))
            if k in emails
        )
        gone = self._unwanted_members(team_ids.difference(wanted_ids), listed, leaving)
        remove = tuple(
            MemberChange(u.user_name, u.id, self._removal_reason(u, leaving, key))
            for key, u in gone
        )
        return add, remove

    def _unwanted_members(
        self, ids: Iterable[str], listed: frozenset[str], leaving: dict[str, UserChange]
    ) -> list[tuple[str, LiveUser]]:
        """(key, live user) of a team's live members that are not wanted and that the diff
        may remove, by key: live, in the claimed domains, not an untouchable look-alike,
        and not an inactive listed member whose membership stays (see ``_team_change``).
        """
        by_id, domains, untouchable = self.live.users_by_id, self.domains, self.untouchable
        inactive = self._inactive_keys or frozenset()
        gone = []
        for live_id in ids:
            user = by_id.get(live_id)
            if user is None or live_id in untouchable:
                continue
            key = user.key
            if key.rpartition("@")[2] not in domains:
                continue
            if key in listed and key in inactive and live_id not in leaving and not user.active:
                continue  # kept: inactive, still listed, and not being deprovisioned
            gone.append((key, user))
        gone.sort(key=_FIRST)  # keys are unique (``_simple``)
        return gone

    def _wanted_members(self, team: Team) -> dict[str, tuple[str, str]]:
        users = self.desired_by_key
        reason = f"listed in team {team.name!r}"
        wanted: dict[str, tuple[str, str]] = {}
        for member in team.member_list:
            user = users.get(member.key)
            if user is None or not self.desired_active(user):
                continue
            if is_expired(member.expires, self.today):
                continue
            wanted[member.key] = (user.email, reason)
        return wanted

    def _listed_inactive(self, team: Team) -> set[str]:
        """Keys of the team's listed members whose user the manifest wants inactive."""
        if self._inactive_keys is None:  # computed once: most manifests have few or none
            self._inactive_keys = frozenset(
                u.key for u in self.manifest.users if not self.desired_active(u)
            )
        if not self._inactive_keys:
            return set()
        inactive = self._inactive_keys
        return {
            m.key
            for m in team.member_list
            if m.key in inactive and not is_expired(m.expires, self.today)
        }

    def _live_members(self, group: LiveGroup | None) -> dict[str, LiveUser]:
        if group is None:
            return {}
        by_id, domains = self.live.users_by_id, self.domains
        # Live id -> desired key; with only matches by key (``_simple``) it is the own key.
        desired = {} if self._simple else self._matched_keys
        have: dict[str, LiveUser] = {}
        for member_id in group.member_ids:
            user = by_id.get(member_id)
            if user is None or member_id in self.untouchable:
                continue  # a look-alike stays where it is (flagged in the notices)
            key = user.key
            # Users outside the claimed domains are never touched, memberships included.
            if key.rpartition("@")[2] in domains:  # user.domain
                # A user renamed through previous_emails is keyed by its new email.
                have[desired.get(user.id, key)] = user
        return have

    def _live_id(self, key: str) -> str | None:
        live_user = self.live.users_by_key.get(key)
        if live_user is not None:
            return live_user.id
        if self._simple:
            return None  # only a user matched through previous_emails has another key
        if self._matched_ids is None:  # only asked once every user has been matched
            self._matched_ids = {}
            for live_id, desired_key in self._matched_keys.items():
                self._matched_ids.setdefault(desired_key, live_id)
        return self._matched_ids.get(key)

    def _removal_reason(
        self, user: LiveUser, leaving: dict[str, UserChange], key: str | None = None
    ) -> str:
        """Why a membership goes; ``key`` is ``user.key`` when the caller has it."""
        if user.id in leaving:
            return f"deprovisioned: {leaving[user.id].reason}"
        desired = self._desired_of(user, key)
        if desired is not None and not self.desired_active(desired):
            return f"deprovisioned: {self._inactive_reason(desired)}"
        if desired is not None:
            return self._membership_gone_reason(desired)
        return "not a listed member"

    def _membership_gone_reason(self, user: User) -> str:
        if self._expired_memberships is None:
            # The first expired membership of each user, in manifest order.
            self._expired_memberships = {}
            for team in self.manifest.teams:
                members = team.member_list
                for member in compress(members, map(_EXPIRES, members)):  # those that expire
                    if member.expires is not None and is_expired(member.expires, self.today):
                        self._expired_memberships.setdefault(member.key, member.expires)
        expires = self._expired_memberships.get(user.key)
        if expires is not None:
            return f"membership expired on {show_expiry(expires)}"
        return "not a listed member"

    def _leaving_members(
        self, group: LiveGroup | None, leaving: dict[str, UserChange]
    ) -> tuple[MemberChange, ...]:
        if group is None:
            return ()
        by_id = self.live.users_by_id
        ids = sorted(group.member_ids & leaving.keys(), key=lambda i: by_id[i].key)
        return tuple(
            MemberChange(by_id[i].user_name, i, f"deprovisioned: {leaving[i].reason}") for i in ids
        )

    def _unlisted_team_changes(
        self, listed: set[str], leaving: dict[str, UserChange]
    ) -> list[TeamChange]:
        changes = []
        unlisted = [g for g in self.live.groups if g.id not in listed]
        for group in unlisted:
            remove = self._leaving_members(group, leaving)
            if remove:
                changes.append(TeamChange(group.display_name, group, remove=remove))
        if unlisted:
            names = listed_names([f'"{_team_shown(g.display_name)}"' for g in unlisted])
            # A deprovisioned user leaves these teams too: say so, or "left alone" is untrue.
            them = "it" if len(unlisted) == 1 else "them"
            leavers = f"; only users being deprovisioned are removed from {them}"
            self.notices.append(
                f"{count(len(unlisted), 'team')} in {PRODUCT} {plural('is', len(unlisted))} "
                f"not in the manifest and {plural('is', len(unlisted))} left alone: {names}"
                + (leavers if changes else "")
            )
        return changes


def _team_shown(name: str) -> str:
    """A team name for a notice: spelled out (``\\u0415ng``) when it is a look-alike."""
    if name.isascii() and name.isprintable():
        return name
    return spelled(name) if lookalike_reason(name) else name


# (name, manifest field, optional, case-insensitive) of every attribute the manifest sets,
# read from the one table (``reconciler.attributes``), unpacked once for the hot loop.
_DIFFED = tuple(
    (a.name, a.manifest or a.name, a.optional, a.case_insensitive) for a in FROM_MANIFEST
)


def _attributes(user: User, live: LiveUser | None, key: str) -> tuple[AttributeChange, ...]:
    """Managed attributes that differ; an omitted optional field is not managed.

    ``key`` is ``user.key``, computed once by the caller.
    """
    if live is not None and _same(user, live, key):
        return ()  # fast path: most users are unchanged
    changes = []
    for name, field_name, optional, case_insensitive in _DIFFED:
        after: JsonScalar = getattr(user, field_name)
        if optional and after is None:
            continue  # omitted: not managed
        before: JsonScalar = getattr(live, name) if live is not None else None
        if (
            case_insensitive
            and isinstance(before, str)
            and isinstance(after, str)
            and ascii_lower(before) == ascii_lower(after)
        ):
            continue  # userName is case-insensitive: an A-Z case difference is no change
        if before != after:
            changes.append(AttributeChange(name, before, after))
    return tuple(changes)


_WANTED = attrgetter(*(field_name for _, field_name, _, _ in _DIFFED))
_HAVE = attrgetter(*(name for name, _, _, _ in _DIFFED))
# ``_settle`` spells out the attributes of the table; a row added to it (or changed)
# turns that pass off (correct, slower: every user takes the general path) until the
# row is spelled out there too.
_SETTLED_ROWS = (
    ("user_name", "email", False, True),
    ("given_name", "given_name", False, False),
    ("family_name", "family_name", False, False),
    ("display_name", "display_name", True, False),
)
_FAST_SETTLE = _DIFFED == _SETTLED_ROWS
# Stands for "no live user" in the bulk membership pass; its id is no live id.
_NOBODY = LiveUser(id="", user_name="", active=False)
_ID = attrgetter("id")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_FIRST = itemgetter(0)
_EXPIRES = attrgetter("expires")


def _settle(
    users: tuple[User, ...], keys: list[str], lives: list[LiveUser | None]
) -> tuple[list[int], list[str]]:
    """The positions of the manifest users that are not settled, in order, and the keys
    of the settled users that are inactive. ``lives[i]`` is the live user of
    ``users[i]`` (None when not live), ``keys[i]`` its key.

    Settled means nothing is to be done: the same ``active`` on both sides, every
    managed attribute exactly equal (an omitted optional one aside, as ``_same``
    reads it), no expiry and no previous emails. A plain loop with the attributes
    spelled out: CPython specialises each attribute read at its site, which makes
    this about twice as fast as ``operator.attrgetter`` tuples compared in C. Not
    settled is not a verdict: such users take the general path, which compares them
    one by one.
    """
    if not _FAST_SETTLE:
        return list(range(len(users))), []
    rest: list[int] = []
    inactive: list[str] = []
    for i, (user, live) in enumerate(zip(users, lives, strict=True)):
        if (
            live is not None
            and user.email == live.user_name
            and user.given_name == live.given_name
            and user.family_name == live.family_name
            and (user.display_name == live.display_name or user.display_name is None)
            and user.active == live.active
            and user.expires is None
            and not user.previous_emails
        ):
            if not user.active:
                inactive.append(keys[i])
        else:
            rest.append(i)
    return rest, inactive


def _unchanged(user: User, live: LiveUser) -> bool:
    """Active, never expiring, not renamed, and no managed attribute differs (``_same``)."""
    return (
        user.active is True
        and user.expires is None
        and not user.previous_emails
        and _same(user, live, user.key)
    )


def _same(user: User, live: LiveUser, key: str) -> bool:
    """True when no managed attribute differs (the usual case, so kept cheap).

    ``key`` is ``user.key``; a case-insensitive attribute compares ASCII-folded, without
    stripping (surrounding spaces in a live userName are a change).
    """
    if _WANTED(user) == _HAVE(live):
        return True  # every attribute managed and exactly equal: the usual case
    for name, field_name, optional, case_insensitive in _DIFFED:
        after = getattr(user, field_name)
        if optional and after is None:
            continue
        before = getattr(live, name)
        if case_insensitive and isinstance(before, str) and isinstance(after, str):
            if ascii_lower(before) != ascii_lower(after):
                return False
        elif before != after:
            return False
    return True


NOTICE_NAMES = 20  # names listed in one notice; the count before them is always complete


def listed_names(names: list[str], limit: int = NOTICE_NAMES) -> str:
    """``a, b, c`` for a notice, cut to ``limit`` names with "and N more" so a notice
    about 5,000 unlisted users stays one readable line."""
    shown = ", ".join(names[:limit])
    hidden = len(names) - limit
    return shown if hidden <= 0 else f"{shown} and {hidden} more"
