"""Checks that need the whole manifest: across entries and across files.

Runs on the valid parts of every file (see ``document.py``), so a problem here is
never a side effect of a schema error elsewhere. Each problem is located at the
later of two conflicting places and names the earlier one, as ``file:line:col``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from operator import attrgetter

from reconciler.attributes import TEXT_NAMES
from reconciler.identity import ascii_lower, lookalike_fold, match_key, name_fold, spelled
from reconciler.manifest.document import FileResult
from reconciler.manifest.entries import At, Findings, TeamAt, UserAt
from reconciler.manifest.locations import JsonPath
from reconciler.manifest.models import Policy, email_domain
from reconciler.manifest.protection import check_protected, expiry_notices
from reconciler.profile import PRODUCT


def check_manifest(files: Sequence[FileResult], today: date, *, notices: bool = True) -> Findings:
    """All cross-entry and cross-file checks, plus the notices unless ``notices=False``."""
    found = Findings(wants_notices=notices)
    complete = all(f.readable for f in files)
    domains, policy = _sections(files, complete, found)
    users = [UserAt(u, f.locations, i) for f in files for i, u in f.users]
    teams = [TeamAt(t, f.locations, i) for f in files for i, t in f.teams]
    unchecked = frozenset().union(*(f.unchecked_emails for f in files))
    declared = _check_users(users, domains, found)
    _check_previous_emails(users, declared, found)
    _check_team_names(teams, found)
    _check_whitespace(users, teams, found)
    # Built once: per team it made validation grow with teams x users (minutes at 100k).
    previous = {match_key(p): u for u in declared.values() for p in u.user.previous_emails}
    for team in teams:
        _check_members(
            team,
            declared=declared,
            previous=previous,
            unchecked=unchecked,
            complete=complete,
            found=found,
        )
    protected: frozenset[str] = frozenset()
    if policy:
        protected = check_protected(
            *policy, declared=declared, domains=domains, today=today, found=found
        )
    if notices:
        expiry_notices(
            users, teams, declared=declared, protected=protected, today=today, found=found
        )
    return found


def _sections(
    files: Sequence[FileResult], complete: bool, found: Findings
) -> tuple[tuple[str, ...] | None, tuple[At, Policy] | None]:
    """The claimed domains and the policy, each from the one file that defines it."""
    org_file = _owner(files, "organization", found)
    policy_file = _owner(files, "policy", found)
    if org_file is None and files and complete:
        message = "no manifest file defines 'organization'; add it to one file, e.g. " + (
            "organization: {claimed_domains: [acme.io]}"
        )
        found.problems.append(files[0].locations.problem((), message))
    organization = org_file.organization if org_file else None
    domains = organization.claimed_domains if organization else None
    if policy_file is None or policy_file.policy is None:
        return domains, None
    return domains, (At(policy_file.locations, ("policy",)), policy_file.policy)


def _owner(files: Sequence[FileResult], section: str, found: Findings) -> FileResult | None:
    """The one file that defines ``section``; a definition in any later file is an error."""
    owner: FileResult | None = None
    for result in files:
        if not getattr(result, f"has_{section}"):
            continue
        if owner is None:
            owner = result
            continue
        first = owner.locations.ref((section,), on_key=True)
        message = f"{section} is already defined at {first}; define it in one file only"
        found.problems.append(result.locations.problem((section,), message, on_key=True))
    return owner


def _check_users(
    users: Sequence[UserAt], domains: tuple[str, ...] | None, found: Findings
) -> dict[str, UserAt]:
    """Claimed domains and case-insensitive uniqueness; returns the users by match key."""
    declared: dict[str, UserAt] = {}
    claimed = frozenset(domains or ())
    for entry in users:
        email = entry.user.email
        # email_domain(email), inlined: this loop runs once per user.
        if domains is not None and email.rpartition("@")[2].lower() not in claimed:
            found.problems.append(entry.at.problem(_unclaimed(email, domains), "email"))
        first = declared.setdefault(entry.user.key, entry)
        if first is not entry:
            message = (
                f"user '{email}' is declared twice (first at {first.at.ref('email')}; "
                "emails are case-insensitive); keep one entry"
            )
            found.problems.append(entry.at.problem(message, "email"))
    return declared


def _unclaimed(email: str, domains: tuple[str, ...]) -> str:
    return (
        f"domain '{email_domain(email)}' of '{email}' is not a claimed domain "
        f"({', '.join(domains)}); add the domain to organization.claimed_domains "
        "or fix the address"
    )


def _check_previous_emails(
    users: Sequence[UserAt], current: dict[str, UserAt], found: Findings
) -> None:
    """An old address identifies one user only, and is nobody's current address.

    ``current``: the first user of each match key (what ``_check_users`` returns).
    """
    claimed: dict[str, tuple[At, JsonPath]] = {}  # where, located only for a message
    for entry in users:
        if not entry.user.previous_emails:
            continue
        for index, previous in enumerate(entry.user.previous_emails):
            key, sub = match_key(previous), ("previous_emails", index)
            if key == entry.user.key:
                message = f"'{previous}' is this user's current email; remove it"
            elif key in current:
                other = current[key].at.ref("email")
                message = f"'{previous}' is the current email of another user ({other}); remove it"
            elif key in claimed:
                where, at = claimed[key]
                message = (
                    f"'{previous}' is already a previous email at {where.ref(*at)}; "
                    "an old address can belong to one user only"
                )
            else:
                claimed[key] = (entry.at, sub)
                continue
            found.problems.append(entry.at.problem(message, *sub))


def _check_whitespace(users: Sequence[UserAt], teams: Sequence[TeamAt], found: Findings) -> None:
    """Names keep surrounding whitespace exactly as written; say so where there is some.

    YAML only keeps such spaces inside quotes, so they were written on purpose (``import``
    writes Mixpanel's exact names). Not an error: the name must equal the live one,
    spaces included, or the plan renames it in place.
    """
    if not found.wants_notices:
        return
    if _any_edged(users):
        _user_whitespace(users, found)
    for team in teams:
        names: list[tuple[str, JsonPath]] = [(team.team.name, ("name",))]
        names += [(n, ("previous_names", i)) for i, n in enumerate(team.team.previous_names)]
        for value, sub in names:
            if value != value.strip():
                found.notices.append(team.at.problem(_spaces(value, "renames it in place"), *sub))


def _any_edged(users: Sequence[UserAt]) -> bool:
    """Whether any user's text name has surrounding whitespace (``_user_whitespace`` says
    which): each distinct value is checked once, and names repeat across an org."""
    plain = list(map(attrgetter("user"), users))
    for key in TEXT_NAMES:
        for value in set(map(attrgetter(key), plain)):
            if isinstance(value, str) and value != value.strip():
                return True
    return False


def _user_whitespace(users: Sequence[UserAt], found: Findings) -> None:
    """One notice per user text name with surrounding whitespace, in manifest order."""
    for entry in users:
        user = entry.user
        for key in TEXT_NAMES:
            value = getattr(user, key)
            if isinstance(value, str) and value != value.strip():
                found.notices.append(entry.at.problem(_spaces(value, "updates it"), key))


def _spaces(value: str, fix: str) -> str:
    where = (
        "leading and trailing"
        if value[:1].isspace() and value[-1:].isspace()
        else ("leading" if value[:1].isspace() else "trailing")
    )
    return (
        f"{value!r} has {where} whitespace, kept exactly as written: {PRODUCT} compares it "
        f"exactly; if it is a mistake write {value.strip()!r} and the plan {fix}"
    )


def _check_team_names(teams: Sequence[TeamAt], found: Findings) -> None:
    """Names and previous names are unique labels; case-only twins confuse reviewers."""
    labels: dict[str, tuple[str, str, At, JsonPath]] = {}  # located only for a message
    alike: dict[str, tuple[str, str, At, JsonPath]] = {}  # the same, by look-alike fold
    for entry in teams:
        names: list[tuple[str, JsonPath]] = [(entry.team.name, ("name",))]
        names += [(n, ("previous_names", i)) for i, n in enumerate(entry.team.previous_names)]
        for label, sub in names:
            kind = "team name" if sub == ("name",) else "previous name"
            message = _label_clash(entry.team.name, label, kind, labels)
            if message is None and not _renames_lookalike(entry.team.name, label, kind):
                message = _lookalike_clash(label, kind, alike)
            if message:
                found.problems.append(entry.at.problem(message, *sub))
            else:
                labels[name_fold(label)] = (label, kind, entry.at, sub)
                alike.setdefault(lookalike_fold(label), (label, kind, entry.at, sub))


def _renames_lookalike(name: str, label: str, kind: str) -> bool:
    """A previous name that prints like the team's own name is how a live look-alike
    team (fullwidth "\uff2f\uff30\uff33") is renamed to the plain name ("Ops")."""
    return kind == "previous name" and lookalike_fold(label) == lookalike_fold(name)


def _lookalike_clash(
    label: str, kind: str, alike: dict[str, tuple[str, str, At, JsonPath]]
) -> str | None:
    """Two names that print alike (fullwidth letters, ligatures, Unicode case) are refused
    as case-only twins are: a PR adding someone to one reads as adding them to the other."""
    clash = alike.get(lookalike_fold(label))
    if clash is None:
        return None
    other, other_kind, at, sub = clash
    return (
        f"{kind} '{spelled(label)}' differs only in look-alike characters from the "
        f"{other_kind} '{spelled(other)}' at {at.ref(*sub)} (they print alike); rename one "
        "so reviewers can tell them apart"
    )


def _label_clash(
    name: str, label: str, kind: str, labels: dict[str, tuple[str, str, At, JsonPath]]
) -> str | None:
    if kind == "previous name" and label == name:
        return f"team '{name}' lists its own name in previous_names; remove it"
    if name_fold(label) not in labels:
        return None
    other, other_kind, at, sub = labels[name_fold(label)]
    where = at.ref(*sub)
    if other == label:
        return (
            f"{kind} '{label}' is already used as a {other_kind} at {where}; "
            "team names and previous names must be unique"
        )
    return (
        f"{kind} '{label}' differs only in {_how(label, other)} from the {other_kind} "
        f"'{other}' at {where}; "
        "rename one so reviewers can tell them apart"
    )


def _how(label: str, other: str) -> str:
    if ascii_lower(label) == ascii_lower(other):
        return "case"
    if label.strip() == other.strip():
        return "surrounding whitespace"
    return "whitespace" if label.split() == other.split() else "case and whitespace"


def _check_members(
    entry: TeamAt,
    *,
    declared: dict[str, UserAt],
    previous: dict[str, UserAt],
    unchecked: frozenset[str],
    complete: bool,
    found: Findings,
) -> None:
    """Members are declared, active users, each listed once per team."""
    seen: dict[str, int] = {}
    name = entry.team.name
    for index, member in enumerate(entry.team.member_list):
        email, sub = member.email, ("members", index)
        user = declared.get(member.key)
        if member.key in seen:
            first = entry.at.ref("members", seen[member.key])
            message = f"'{email}' is listed twice in team '{name}' (first at {first}); remove one"
        elif user is None and member.key in previous:
            current = previous[member.key]
            message = (
                f"'{email}' is a previous email of '{current.user.email}' "
                f"({current.at.ref('email')}); use the current email"
            )
        elif user is None and complete and member.key not in unchecked:
            message = (
                f"'{email}' is not a declared user; declare {email} under users: "
                f"or remove it from team '{name}'"
            )
        elif user is not None and not user.user.active:
            # One-line offboarding: `active: false` alone is enough, so this is a notice.
            seen.setdefault(member.key, index)
            if not found.wants_notices:
                continue
            notice = (
                f"'{email}' is declared active: false ({user.at.ref('active')}) and still "
                f"listed in team '{name}': its membership is removed when it is deprovisioned "
                "and never added; remove the line when you tidy up"
            )
            found.notices.append(entry.at.problem(notice, *sub))
            continue
        else:
            seen.setdefault(member.key, index)
            continue
        seen.setdefault(member.key, index)
        found.problems.append(entry.at.problem(message, *sub))
