"""Protected accounts and expiry: the rules about who must keep or lose access.

Protected accounts are never deprovisioned, so a manifest that says otherwise is
an error rather than a plan the guards would have to catch. Past expiry dates are
legal (time-bound access is the point) and become notices for the reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from reconciler.identity import match_key
from reconciler.manifest.entries import At, Findings, TeamAt, UserAt
from reconciler.manifest.models import (
    Policy,
    Team,
    email_domain,
    expiry_instant,
    is_expired,
    show_expiry,
)

_NEVER_DEPROVISIONED = (
    "protected accounts are never deprovisioned; remove it from policy.protected first"
)


def check_protected(
    at: At,
    policy: Policy,
    *,
    declared: dict[str, UserAt],
    domains: tuple[str, ...] | None,
    today: date,
    found: Findings,
) -> frozenset[str]:
    """Protected accounts are in a claimed domain and never declared to lose access."""
    for index, email in enumerate(policy.protected):
        if domains is not None and email_domain(email) not in domains:
            message = (
                f"protected account '{email}' is not in a claimed domain ({', '.join(domains)}); "
                "fix the address or add the domain to organization.claimed_domains"
            )
            found.problems.append(at.problem(message, "protected", index))
        user = declared.get(match_key(email))
        if user is not None:
            _protected_user(user, (at, index), today, found)
    return frozenset(match_key(e) for e in policy.protected)


def _protected_user(entry: UserAt, listed: tuple[At, int], today: date, found: Findings) -> None:
    user = entry.user
    # Located only when a message needs it: a valid file's positions are never computed.
    refused = not user.active or is_expired(user.expires, today)
    noticed = user.expires is not None and found.wants_notices
    where = listed[0].ref("protected", listed[1]) if refused or noticed else ""
    if not user.active:
        message = f"'{user.email}' is protected ({where}) but declared active: false; "
        found.problems.append(entry.at.problem(message + _NEVER_DEPROVISIONED, "active"))
    if is_expired(user.expires, today):
        message = f"'{user.email}' is protected ({where}) but expired on {_shown(user.expires)}; "
        found.problems.append(entry.at.problem(message + _NEVER_DEPROVISIONED, "expires"))
    elif noticed and user.expires is not None:
        message = (
            f"protected user '{user.email}' expires {_shown(user.expires)}; validation will "
            f"fail from {_from_when(user.expires)} until it is removed from policy.protected"
        )
        found.notices.append(entry.at.problem(message, "expires"))


def expiry_notices(
    users: Sequence[UserAt],
    teams: Sequence[TeamAt],
    *,
    declared: dict[str, UserAt],
    protected: frozenset[str],
    today: date,
    found: Findings,
) -> None:
    """Past dates are legal (that is how access ends) but worth a line in the PR."""
    for entry in users:
        user = entry.user
        if user.expires is None:  # most users: skip the calls below (once per user)
            continue
        if user.active and user.key not in protected and is_expired(user.expires, today):
            message = (
                f"expires {_shown(user.expires)} is in the past: this user ({user.email}) "
                "will be deprovisioned at the next apply"
            )
            located = entry.at.problem(message, "expires")
            found.notices.append(replace(located, while_access=(user.key, None)))
    for team in teams:
        for index, member in enumerate(team.team.member_list):
            if member.expires is None:  # no notice without an expiry (_membership_notice)
                continue
            notice = _membership_notice(team.team, member.email, member.expires, declared, today)
            if notice:
                problem = team.at.problem(notice, "members", index, "expires")
                if is_expired(member.expires, today):
                    problem = replace(problem, while_access=(member.key, team.team.name))
                found.notices.append(problem)


def _membership_notice(
    team: Team, email: str, expires: date | None, declared: dict[str, UserAt], today: date
) -> str | None:
    if expires is None:
        return None
    if is_expired(expires, today):
        return (
            f"expires {_shown(expires)} is in the past: {email} will be removed from team "
            f"'{team.name}' at the next apply"
        )
    user = declared.get(match_key(email))
    own = user.user.expires if user is not None else None
    if user is not None and own is not None and expiry_instant(expires) > expiry_instant(own):
        return (
            f"membership expires {_shown(expires)}, after the user's own expiry {_shown(own)} "
            f"({user.at.ref('expires')}); {email} loses all access after {_shown(own)}"
        )
    return None


def _shown(expires: date | None) -> str:
    return show_expiry(expires) if expires is not None else ""


def _from_when(expires: date) -> str:
    return "then on" if isinstance(expires, datetime) else "the next day"
