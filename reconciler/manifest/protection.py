"""Protected accounts and expiry: the rules about who must keep or lose access.

Protected accounts are never deprovisioned, so a manifest that says otherwise is
an error rather than a plan the guards would have to catch. Past expiry dates are
legal (time-bound access is the point) and become notices for the reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from reconciler.identity import match_key
from reconciler.manifest.entries import At, Findings, TeamAt, UserAt
from reconciler.manifest.models import Policy, Team, email_domain, is_expired

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
    where = "" if user.active and user.expires is None else listed[0].ref("protected", listed[1])
    if not user.active:
        message = f"'{user.email}' is protected ({where}) but declared active: false; "
        found.problems.append(entry.at.problem(message + _NEVER_DEPROVISIONED, "active"))
    if is_expired(user.expires, today):
        message = f"'{user.email}' is protected ({where}) but expired on {user.expires}; "
        found.problems.append(entry.at.problem(message + _NEVER_DEPROVISIONED, "expires"))
    elif user.expires is not None:
        message = (
            f"protected user '{user.email}' expires {user.expires}; validation will fail "
            "from the next day until it is removed from policy.protected"
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
        if user.active and user.key not in protected and is_expired(user.expires, today):
            message = (
                f"expires {user.expires} is in the past: this user ({user.email}) "
                "will be deprovisioned at the next apply"
            )
            found.notices.append(entry.at.problem(message, "expires"))
    for team in teams:
        for index, member in enumerate(team.team.member_list):
            notice = _membership_notice(team.team, member.email, member.expires, declared, today)
            if notice:
                found.notices.append(team.at.problem(notice, "members", index, "expires"))


def _membership_notice(
    team: Team, email: str, expires: date | None, declared: dict[str, UserAt], today: date
) -> str | None:
    if expires is None:
        return None
    if is_expired(expires, today):
        return (
            f"expires {expires} is in the past: {email} will be removed from team "
            f"'{team.name}' at the next apply"
        )
    user = declared.get(match_key(email))
    if user is not None and user.user.expires is not None and expires > user.user.expires:
        return (
            f"membership expires {expires}, after the user's own expiry {user.user.expires} "
            f"({user.at.ref('expires')}); {email} loses all access after {user.user.expires}"
        )
    return None
