"""The access audit as data: who has access to what, and what needs a look. Pure.

Answers the questions an auditor asks, from the live org (the truth about access)
and, when given, the manifest (the truth about intent): which team each person is
in, accounts that are deactivated, accounts nobody declared (e.g. created by SSO
just-in-time provisioning), access that ends soon, and people in no team.

Not a plan: it never says what apply would do, and nothing here is used to decide
a change. Renderers live in ``reconciler.render.report``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from reconciler.identity import lookalike_reason, match_key, spelled
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest.models import (
    Manifest,
    User,
    as_instant,
    days_left,
    expiry_instant,
    is_expired,
    time_left,
)


@dataclass(frozen=True)
class UserRow:
    """One live account. ``in_manifest`` is None when no manifest was given."""

    email: str
    active: bool
    teams: tuple[str, ...]
    in_manifest: bool | None
    expires: date | None


@dataclass(frozen=True)
class TeamRow:
    name: str
    members: tuple[str, ...]  # emails, sorted case-insensitively
    in_manifest: bool | None


@dataclass(frozen=True)
class Expiring:
    """Access that ends within the window: a user (``team`` None) or one membership."""

    email: str
    team: str | None
    expires: date
    days_left: int
    # How long, in words (``models.time_left``): "in 5 hours", "in 3 days"; shown, not
    # compared (it follows from expires and the clock).
    left: str = field(default="", compare=False)


@dataclass(frozen=True)
class AccessReport:
    """Everything the renderers show; built only by ``build_report``."""

    as_of: date
    expiring_days: int
    claimed_domains: tuple[str, ...]
    with_manifest: bool
    users: tuple[UserRow, ...]
    teams: tuple[TeamRow, ...]
    inactive: tuple[str, ...]
    orphaned: tuple[str, ...]
    expiring: tuple[Expiring, ...]
    no_team: tuple[str, ...]
    # Live userNames that look like another address (``reconciler.identity``): never
    # matched to the manifest, never changed automatically; the reason follows a colon.
    lookalikes: tuple[str, ...] = ()
    # Live team names of that kind, ``"<name>" (id <id>): <why>``: never matched to a
    # manifest team, never changed automatically.
    lookalike_teams: tuple[str, ...] = ()


def build_report(
    manifest: Manifest | None, live: LiveState, *, today: date, expiring_days: int
) -> AccessReport:
    """The audit of ``live``, judged against ``manifest`` where one is given."""
    teams_of = _teams_by_user(live)
    declared = _declared(manifest, live)
    users = tuple(_user_row(u, teams_of, declared, manifest) for u in live.users)
    return AccessReport(
        as_of=as_instant(today).date(),
        expiring_days=expiring_days,
        claimed_domains=manifest.organization.claimed_domains if manifest else (),
        with_manifest=manifest is not None,
        users=users,
        teams=_team_rows(live, manifest),
        inactive=tuple(r.email for r in users if not r.active),
        orphaned=_orphaned(manifest, live, declared),
        expiring=_expiring(manifest, live, today, expiring_days) if manifest else (),
        no_team=tuple(r.email for r in users if r.active and not r.teams),
        lookalikes=lookalike_lines(live.users),
        lookalike_teams=lookalike_team_lines(live.groups),
    )


def lookalike_lines(users: Iterable[LiveUser]) -> tuple[str, ...]:
    """``"<userName>: <why>"`` for each look-alike live account; escape before showing."""
    found = ((u.user_name, lookalike_reason(u.user_name)) for u in users)
    return tuple(f"{name}: {why}" for name, why in found if why is not None)


def lookalike_team_lines(groups: Iterable[LiveGroup]) -> tuple[str, ...]:
    """``'"<name>" (id <id>): <why>'`` for each live team whose name is a look-alike,
    the name spelled out (``\\u0415ng``), as plan's notices name it."""
    found = ((g, lookalike_reason(g.display_name)) for g in groups)
    return tuple(
        f'"{spelled(g.display_name)}" (id {g.id}): {why}' for g, why in found if why is not None
    )


def _teams_by_user(live: LiveState) -> dict[str, tuple[str, ...]]:
    teams: dict[str, list[str]] = {}
    for group in live.groups:
        for key in live.member_keys(group):
            teams.setdefault(key, []).append(group.display_name)
    return {key: tuple(sorted(names)) for key, names in teams.items()}


def _declared(manifest: Manifest | None, live: LiveState) -> dict[str, User]:
    """Live user key -> the manifest user it is, following ``previous_emails`` like diff."""
    if manifest is None:
        return {}
    found: dict[str, User] = {}
    for user in manifest.users:
        for email in (user.email, *user.previous_emails):
            key = match_key(email)
            if key in live.users_by_key:
                found.setdefault(key, user)
    return found


def _user_row(
    user: LiveUser,
    teams_of: dict[str, tuple[str, ...]],
    declared: dict[str, User],
    manifest: Manifest | None,
) -> UserRow:
    desired = declared.get(user.key)
    return UserRow(
        email=user.user_name,
        active=user.active,
        teams=teams_of.get(user.key, ()),
        in_manifest=None if manifest is None else desired is not None,
        expires=desired.expires if desired else None,
    )


def _team_rows(live: LiveState, manifest: Manifest | None) -> tuple[TeamRow, ...]:
    listed = set()
    if manifest is not None:
        listed = {name for t in manifest.teams for name in (t.name, *t.previous_names)}
    rows = []
    for group in live.groups:
        emails = (live.users_by_id[i].user_name for i in group.member_ids if i in live.users_by_id)
        members = tuple(sorted(emails, key=str.lower))
        in_manifest = None if manifest is None else group.display_name in listed
        rows.append(TeamRow(group.display_name, members, in_manifest))
    return tuple(rows)


def _orphaned(
    manifest: Manifest | None, live: LiveState, declared: dict[str, User]
) -> tuple[str, ...]:
    """Live accounts in a claimed domain that no manifest lists (only with a manifest)."""
    if manifest is None:
        return ()
    domains = set(manifest.organization.claimed_domains)
    return tuple(u.user_name for u in live.users if u.domain in domains and u.key not in declared)


def _expiring(manifest: Manifest, live: LiveState, today: date, days: int) -> tuple[Expiring, ...]:
    """Users and memberships whose ``expires`` falls within ``days`` from today.

    Dates already past are listed too while the access is still live (apply has not
    run since): those are the most urgent lines of the audit.
    """
    found: list[Expiring] = []
    for user in manifest.users:
        if user.active and _due(user.expires, today, days, _is_live(live, user.key)):
            assert user.expires is not None
            left = days_left(user.expires, today)
            words = time_left(user.expires, today) if left >= 0 else ""
            found.append(Expiring(user.email, None, user.expires, left, words))
    for team in manifest.teams:
        group = live.groups_by_name.get(team.name)
        members = live.member_keys(group) if group else frozenset()
        for member in team.member_list:
            if _due(member.expires, today, days, member.key in members):
                assert member.expires is not None
                left = days_left(member.expires, today)
                words = time_left(member.expires, today) if left >= 0 else ""
                found.append(Expiring(member.email, team.name, member.expires, left, words))
    return tuple(
        sorted(found, key=lambda e: (expiry_instant(e.expires), match_key(e.email), e.team or ""))
    )


def _due(expires: date | None, today: date, days: int, still_live: bool) -> bool:
    if expires is None:
        return False
    if is_expired(expires, today):
        return still_live
    return days_left(expires, today) <= days


def _is_live(live: LiveState, key: str) -> bool:
    user = live.users_by_key.get(key)
    return user is not None and user.active
