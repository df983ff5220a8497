"""Evidence beyond the listings: proof of absence and cross-checked member lists.

A listing is a claim. Before a plan rests on "this user is not there" or "this
team has these members", the claim is checked where it matters:

- A team member id that no listed user has is looked up with ``GET /Users/{id}``.
- A user the manifest wants inactive (or expired) that the listing lacks is looked
  up with ``filter=userName eq "..."`` (``confirm_absences``, called by the workflow
  because only it knows the manifest).
- A team the manifest has that no listed team matches (one the plan would create)
  is looked up with ``filter=displayName eq "..."``; a find proves the listing of
  teams incomplete, and the read fails closed (a second team would be created
  beside one that keeps members nobody reviewed).

A lookup that finds an **active** user proves that the listing hides users who
have access: the read fails closed and nothing is planned. A lookup that finds an
**inactive** user is what servers that hide deactivated users from listings do;
that user is taken into the live state from the lookup (so offboarding stays one
line on such servers) and the plan says so in a notice.

Member lists are cross-checked against users' ``groups`` attribute when the
server fills it (``check_member_lists``); see its docstring for the exact rule.
Only these few lookups cost requests ("confirm" in ``RequestStats.by_purpose``);
an honest server needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from reconciler.errors import LiveStateError
from reconciler.grammar import count
from reconciler.identity import match_key, name_fold
from reconciler.livestate import LiveGroup, LiveState, LiveUser, MembersRead
from reconciler.manifest.models import Manifest, User, is_expired
from reconciler.plan import OpKind, Plan
from reconciler.profile import PRODUCT
from reconciler.scim.errors import ScimError
from reconciler.scim.protocols import ScimReader

INCOMPLETE = (
    "the server's listing is incomplete (capped or hiding users), so nothing is planned. "
    "Fix: make GET /Users list every user (check the server's paging and any filter on "
    "its SCIM app), then re-run; `reconciler doctor` shows how the server pages"
)
UNKNOWN = (
    "its membership is unknown, not empty, so nothing is planned. Fix: make the server "
    "return complete member lists for GET /Groups/{id} (some servers cut or leave them "
    "out for big teams), then re-run"
)
_SHOWN = 5
LOOKUPS_IN_FLIGHT = 4  # like the reader's team reads: lookups are independent round trips

A = TypeVar("A")
B = TypeVar("B")


def _each(lookup: Callable[[A], B], items: Sequence[A]) -> list[B]:
    """``lookup`` over ``items`` with a few in flight, results in input order.

    The first failure (in input order) is raised and the lookups still queued are
    cancelled, so an error is reported as a sequential run would report it.
    """
    if len(items) <= 1:
        return [lookup(item) for item in items]
    workers = min(LOOKUPS_IN_FLIGHT, len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="confirm") as pool:
        futures = [pool.submit(lookup, item) for item in items]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()


@dataclass(frozen=True)
class Hidden:
    """Users a listing left out that a lookup found, with their ``groups`` ids."""

    users: tuple[LiveUser, ...] = ()
    groups_of: Mapping[str, frozenset[str]] | None = None
    notices: tuple[str, ...] = ()


def resolve_unlisted_members(
    client: ScimReader, users: Sequence[LiveUser], groups: Sequence[LiveGroup]
) -> Hidden:
    """Look up every team member id that matches no listed user (``GET /Users/{id}``).

    Raises LiveStateError when an id points nowhere (404), names a team (nested
    teams are not supported) or finds an active user the listing omitted.
    """
    user_ids = {u.id for u in users}
    group_names = {g.id: g.display_name for g in groups}
    unlisted: dict[str, str] = {}
    for group in groups:
        for member in sorted(group.member_ids - user_ids):
            if member in group_names:
                raise _inconsistent(
                    f"team {group.display_name!r} has the team {group_names[member]!r} as a "
                    "member; nested teams are not supported"
                )
            unlisted.setdefault(member, group.display_name)
    found: list[LiveUser] = []
    groups_of: dict[str, frozenset[str]] = {}
    answers = _each(lambda member: _lookup_id(client, member), list(unlisted))
    for (member, team), answer in zip(unlisted.items(), answers, strict=True):
        if answer is None:
            raise LiveStateError(
                f"the live state read is inconsistent: team {team!r} has member id "
                f"{member!r} that matches no user (GET /Users/{{id}} answers 404: a member "
                "left behind by a deleted user); nothing was planned, and re-running reads "
                f"the same. Fix: remove that member from team {team!r} in "
                f"{PRODUCT} (a server should drop a deleted user's memberships; if it "
                "does not, tell its vendor), then re-run"
            )
        user, member_of = answer
        _accept_inactive(user, f"a member of team {team!r} that GET /Users/{{id}} found")
        found.append(user)
        if member_of is not None:
            groups_of[user.id] = member_of
    return Hidden(tuple(found), groups_of, _taken(found, "GET /Users/{id}"))


_SHOWN = 20  # teams a notice names, after the complete count


def check_member_lists(
    groups: Sequence[LiveGroup],
    groups_of: Mapping[str, frozenset[str] | None],
    users: Sequence[LiveUser],
    derived: Mapping[str, set[str]] | None = None,
) -> tuple[str, ...]:
    """Fail closed on any team whose member list cannot be trusted.

    ``groups_of`` maps every user id read (listed or looked up) to the ids in its
    ``groups`` attribute (None: absent); ``users`` are those users (an error names
    them by userName). ``derived`` may pass ``MemberTrust.derived`` when ``groups_of``
    has not changed since: it is used only when it covers exactly ``groups``' ids.
    The server *fills* ``groups`` when at least one user carries a non-empty one.

    - It fills them: each team's member ids must equal the users whose ``groups``
      name the team. A team answered without ``members`` is empty when no user
      names it (RFC 7643 §2.5: an empty attribute may be left out), else unknown.
    - It does not: there is no second source. A team answered without ``members``
      is taken as empty, as RFC 7643 §2.5 allows a server to leave an empty
      attribute out (scim2-server does), and a cut list cannot be detected;
      ``reconciler doctor`` warns about such a server. Apply's verify-after-write
      still catches a server that never returns members: members it adds do not
      read back.

    Returns the names of the teams answered without ``members`` when there is no
    second source (a guess the plan states, ``unvouched_notice``), else ().
    Raises LiveStateError naming the first untrusted team and what the server did.
    """
    if any(ids for ids in groups_of.values() if ids):
        if derived is None or derived.keys() != {g.id for g in groups}:
            derived = _derived(groups, groups_of)
        _cross_check(groups, derived, users)
        return ()
    return tuple(g.display_name for g in groups if not g.members_listed)


def unvouched_notice(names: Sequence[str]) -> str | None:
    """The plan notice for teams answered without ``members`` that nothing vouches for
    (``check_member_lists``'s result), naming at most 20; None when there are none."""
    if not names:
        return None
    shown = ", ".join(repr(name) for name in names[:_SHOWN])
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return (
        f"{count(len(names), 'team')} ({shown}{more}) answered without a `members` "
        f"attribute and the server does not fill users' `groups`, so nothing can vouch "
        f"for {'it' if len(names) == 1 else 'them'}: taken as empty (RFC 7643 §2.5); "
        "if the server leaves out members it has, members the manifest drops stay and "
        "the members it adds do not read back (apply fails them, exit 5); `reconciler "
        "doctor` says how this server answers"
    )


@dataclass(frozen=True)
class MemberTrust:
    """Which teams' members may be taken from the Groups listing (``listed_members_trusted``).

    ``trusted``: ids of those teams. ``canary``: the trusted team with the most
    members, which the reader reads anyway to test the listing (None when no trusted
    team has a member). ``reasons``: why the other teams are read one by one.
    ``derived``: team id -> ids of the users whose ``groups`` name it, when it was
    computed, so ``check_member_lists`` need not compute it again (read-only).
    """

    trusted: frozenset[str] = frozenset()
    canary: str | None = None
    reasons: tuple[str, ...] = ()
    derived: Mapping[str, set[str]] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def none(cls, reason: str) -> MemberTrust:
        """No team's listed members are taken, for ``reason``."""
        return cls(reasons=(reason,))

    def refuted(self, listed: LiveGroup, read: LiveGroup) -> MemberTrust:
        """The canary read back otherwise than listed: no listed member list is taken."""
        got = (
            count(len(read.member_ids), "member")
            if read.members_listed
            else "no `members` attribute"
        )
        return MemberTrust.none(
            f"team {listed.display_name!r} was listed with "
            f"{count(len(listed.member_ids), 'member')} but GET /Groups/{{id}} answered "
            f"{got}: the server's listing cannot be trusted for members"
        )

    def summary(self, teams: int, reads: int) -> MembersRead:
        """What the LiveState records: ``teams`` in all, ``reads`` GET /Groups/{id} made."""
        from_pages = len(self.trusted)
        return MembersRead(from_pages, teams - from_pages, reads, "; ".join(self.reasons))


def listed_members_trusted(
    groups: Sequence[LiveGroup], groups_of: Mapping[str, frozenset[str] | None]
) -> MemberTrust:
    """The teams whose members, as the Groups listing gave them, need no ``GET /Groups/{id}``.

    ``groups`` are the listed teams (``members_listed`` False when the listing left
    ``members`` out); ``groups_of`` maps each listed user's id to the ids in its
    ``groups`` attribute (None: absent). A listing's member list is taken only when a
    second, independent source agrees with it exactly:

    - the server fills ``groups`` (at least one user names a team) for *every* user:
      one user without the attribute could be a member that both sources leave out,
      so then no team is taken from the listing;
    - the team was listed with a ``members`` attribute (``[]`` counts; an absent one
      does not, since RFC 7643 §2.5 lets a server leave out what it did not send);
    - its member ids equal the users whose ``groups`` name it, no more and no fewer
      (an id no listed user has, a user the listing cut: the team is read).
    - every id in users' ``groups`` is a listed team's id: ``groups`` that name teams
      otherwise (by displayName, an id in another case or with spaces, a team deleted
      since) would name no team, so every team would look corroborated as listed,
      empty ones included, and a listing that empties member lists would pass with no
      team read; then no team is taken from the listing.

    Every other team is read by itself, and all teams are cross-checked afterwards
    (``check_member_lists``). Pure: no I/O.
    """
    if not groups:
        return MemberTrust()
    if not any(groups_of.values()):
        return MemberTrust.none(
            "the server does not fill users' `groups`, the second source that listed "
            "members are checked against"
        )
    absent = sum(1 for ids in groups_of.values() if ids is None)
    if absent:
        return MemberTrust.none(
            f"{count(absent, 'user')} listed without a `groups` attribute, so a member "
            "that the listing and `groups` both leave out could not be seen"
        )
    known = {g.id for g in groups}
    unknown = sorted({t for ids in groups_of.values() if ids for t in ids} - known)
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:3])
        return MemberTrust.none(
            f"users' `groups` name {count(len(unknown), 'team id')} the Groups listing does "
            f"not have ({shown}{', ...' if len(unknown) > 3 else ''}): `groups` that do "
            "not name teams by their ids cannot vouch for listed members"
        )
    derived = _derived(groups, groups_of)
    trusted = [g for g in groups if g.members_listed and g.member_ids == derived[g.id]]
    reasons = []
    unlisted = sum(1 for g in groups if not g.members_listed)
    if unlisted:
        reasons.append(f"{count(unlisted, 'team')} listed without `members`")
    disagree = len(groups) - unlisted - len(trusted)
    if disagree:
        reasons.append(
            f"{count(disagree, 'team')} whose listed members differ from users' `groups`"
        )
    canary = max(trusted, key=lambda g: len(g.member_ids), default=None)
    return MemberTrust(
        frozenset(g.id for g in trusted),
        canary.id if canary is not None and canary.member_ids else None,
        tuple(reasons),
        derived,
    )


def confirm_absences(
    client: ScimReader, manifest: Manifest, live: LiveState, today: date
) -> LiveState:
    """Prove absent every user the manifest wants inactive (or expired) that live lacks,
    and every team the plan would create (``displayName eq``).

    Each such user (and its ``previous_emails``) is looked up by ``userName eq``.
    Raises LiveStateError (nothing is planned) when one is found active; users
    found inactive are added to the returned LiveState with a notice. Once this
    read has shown that the listing hides inactive users (such a find, or a team
    member found by id), the users the plan would create are looked up too, so a
    hidden rehire is planned as a reactivation rather than a create. A team the
    plan would create that a lookup finds raises LiveStateError: creating it would
    duplicate a team whose members nobody reviewed (it keeps them), so, as for an
    active user the listing hid, nothing is planned.
    """
    _confirm_team_absences(client, manifest, live)
    unlisted = _unlisted(manifest, live)
    leavers = [u for u in unlisted if not _wanted_active(u, today)]
    found = _look_up(client, leavers)
    if found or live.evidence:
        found += _look_up(client, [u for u in unlisted if _wanted_active(u, today)])
    if not found:
        return live
    notices = (*live.evidence, *_taken(found, "a userName lookup"))
    return LiveState.of((*live.users, *found), live.groups, notices, live.members_read)


def confirm_plan_targets(client: ScimReader, plan: Plan, live: LiveState) -> LiveState:
    """For a saved plan: look up by id each user it touches that the listing lacks.

    The plan may rest on users a lookup found (hidden inactive users); without
    this, ``apply plan.json`` would call them deleted and refuse a good plan as
    stale. Found inactive: added to the LiveState; found active: LiveStateError
    (the listing is incomplete); not found: left out, so the drift check reports it.
    Each team the plan creates is looked up by displayName, as at plan time.
    """
    creates = [op.key for op in plan.operations if op.op is OpKind.CREATE_GROUP]
    _confirm_teams_absent(client, creates, live)
    wanted = {op.scim_id for op in plan.operations if op.is_user_op and op.scim_id}
    missing = sorted(wanted - set(live.users_by_id))
    found = []
    for answer in _each(lambda user_id: _lookup_id(client, user_id), missing):
        if answer is not None:
            _accept_inactive(answer[0], "a user the plan touches that GET /Users/{id} found")
            found.append(answer[0])
    if not found:
        return live
    notices = (*live.evidence, *_taken(found, "GET /Users/{id}"))
    return LiveState.of((*live.users, *found), live.groups, notices, live.members_read)


def _confirm_team_absences(client: ScimReader, manifest: Manifest, live: LiveState) -> None:
    """Look up each manifest team that no live team matches (the teams the plan creates)."""
    names = {g.display_name for g in live.groups}
    folded = {name_fold(name) for name in names}
    missing = [
        team.name
        for team in manifest.teams
        if team.name not in names
        and name_fold(team.name) not in folded
        and not any(previous in names for previous in team.previous_names)
    ]
    _confirm_teams_absent(client, missing, live)


def _confirm_teams_absent(client: ScimReader, missing: Sequence[str], live: LiveState) -> None:
    """LiveStateError when a lookup finds one of the ``missing`` teams outside the listing."""
    listed = {g.id for g in live.groups}
    for name, found in zip(missing, _each(lambda n: _lookup_team(client, n), missing), strict=True):
        if found is not None and found.id not in listed:
            raise LiveStateError(
                f"the listing of /Groups omitted team {found.display_name!r} (id {found.id!r}), "
                f"which a displayName lookup for the manifest's team {name!r} found; creating "
                "it would make a second team beside one whose members nobody reviewed. The "
                "server's listing of teams is incomplete, so nothing is planned. Fix: make "
                "GET /Groups list every team (check the server's paging and any filter on its "
                "SCIM app), then re-run; `reconciler doctor` shows how the server pages"
            )


def _lookup_team(client: ScimReader, name: str) -> LiveGroup | None:
    try:
        return client.confirm_group_name(name)
    except ScimError as error:
        if _no_filter(error):
            raise LiveStateError(
                f"could not confirm that team {name!r}, which the listing of /Groups lacks, "
                f"is really absent: {error}. The server does not support the displayName eq "
                "filter (filtering is optional in SCIM, RFC 7644 §3.4.2.2), and this tool "
                "creates a team only when a lookup proves it absent; nothing was planned. "
                f"Fix: create the team {name!r} by hand in {PRODUCT} (the next run finds it "
                "in the listing and manages its members), or ask the vendor for filters"
            ) from error
        raise LiveStateError(
            f"could not confirm that team {name!r}, which the listing of /Groups lacks, is "
            f"really absent: {error}; nothing was planned, re-run when it is resolved"
        ) from error


def _look_up(client: ScimReader, users: Sequence[User]) -> list[LiveUser]:
    found = [match for match in _each(lambda user: _first(client, user), users) if match]
    for match in found:
        _accept_inactive(match, "which a userName lookup found")
    return found


def _first(client: ScimReader, user: User) -> LiveUser | None:
    """The live account of a manifest user, by its email or else a former one."""
    for email in (user.email, *user.previous_emails):
        match = _lookup_name(client, email)
        if match is not None:
            return match
    return None


def _wanted_active(user: User, today: date) -> bool:
    return user.active and not is_expired(user.expires, today)  # the one expiry rule


def _unlisted(manifest: Manifest, live: LiveState) -> list[User]:
    """Manifest users in claimed domains that the live state lacks (by email or a former one)."""
    by_key = live.users_by_key
    domains = frozenset(manifest.organization.claimed_domains)
    return [
        user
        for user in manifest.users
        if user.key.rpartition("@")[2] in domains
        and user.key not in by_key
        and not any(match_key(p) in by_key for p in user.previous_emails)
    ]


def _lookup_name(client: ScimReader, email: str) -> LiveUser | None:
    try:
        return client.confirm_user_name(email)
    except ScimError as error:
        if _no_filter(error):
            raise LiveStateError(
                f"could not confirm that {email}, which the listing of /Users lacks, is "
                f"really absent: {error}. The server does not support the userName eq filter "
                "(filtering is optional in SCIM, RFC 7644 §3.4.2.2), and this tool acts on an "
                "account missing from the listing only when a lookup proves it absent; "
                f"nothing was planned. Fix: create or find {email} by hand in {PRODUCT} so "
                "that the listing shows it, or ask the vendor for filters"
            ) from error
        raise LiveStateError(
            f"could not confirm that {email}, which the listing of /Users lacks, is really "
            f"absent: {error}; nothing was planned, re-run when it is resolved"
        ) from error


def _no_filter(error: ScimError) -> bool:
    """Whether ``error`` says the server does not filter (400 invalidFilter, 501), as
    opposed to a failure that a re-run may not meet again."""
    return error.status == 501 or (
        error.status == 400 and (error.scim_type or "").lower() == "invalidfilter"
    )


def _lookup_id(client: ScimReader, user_id: str) -> tuple[LiveUser, frozenset[str] | None] | None:
    try:
        return client.confirm_user_id(user_id)
    except ScimError as error:
        raise LiveStateError(
            f"could not look up team member {user_id!r}, which no listed user has: {error}; "
            "nothing was planned, re-run when it is resolved"
        ) from error


def _accept_inactive(user: LiveUser, how: str) -> None:
    if user.active:
        raise LiveStateError(
            f"the listing of /Users omitted {user.user_name}, {how} (active); {INCOMPLETE}"
        )


def _taken(users: Sequence[LiveUser], how: str) -> tuple[str, ...]:
    """One notice for the inactive users a lookup found (one line, however many)."""
    if not users:
        return ()
    if len(users) == 1:
        who = f"{users[0].user_name}, which is inactive ({how} found it)"
    else:
        shown = _names((u.id for u in users), {u.id: u.user_name for u in users})
        who = f"{len(users)} inactive users ({shown}; {how} found them)"
    return (
        f"the listing of /Users omitted {who}, as servers that hide inactive users from "
        "listings do; planned from the lookup, and the users this plan would create were "
        "looked up too",
    )


def _derived(
    groups: Sequence[LiveGroup], groups_of: Mapping[str, frozenset[str] | None]
) -> dict[str, set[str]]:
    derived: dict[str, set[str]] = {g.id: set() for g in groups}
    for user_id, member_of in groups_of.items():
        for group_id in member_of or ():
            if group_id in derived:
                derived[group_id].add(user_id)
    return derived


def _cross_check(
    groups: Sequence[LiveGroup], derived: Mapping[str, set[str]], users: Sequence[LiveUser]
) -> None:
    for group in groups:
        named = derived[group.id]
        if named == group.member_ids if group.members_listed else not named:
            continue  # the usual case: the two sources agree
        # Only an error names users: the id -> userName map is built for it alone.
        names = {u.id: u.user_name for u in users}
        if not group.members_listed:
            raise _unknown(
                group,
                "GET /Groups/{id} answered without a `members` attribute, while "
                f"{_count(named, 'user')} name the team in their `groups` "
                f"({_names(named, names)})",
            )
        missing, extra = named - group.member_ids, group.member_ids - named
        if missing:
            raise _unknown(
                group,
                f"GET /Groups/{{id}} lists {_count(group.member_ids, 'member')}, but "
                f"{_count(named, 'user')} "
                f"name the team in their `groups` ({_names(missing, names)} missing from the "
                "team's member list: the server cuts member lists)",
            )
        raise _unknown(
            group,
            f"GET /Groups/{{id}} lists {_names(extra, names)}, whose `groups` attribute "
            "does not name the team (the server's two answers disagree)",
        )


def _count(ids: Iterable[str], noun: str) -> str:
    n = len(list(ids))
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _names(ids: Iterable[str], names: Mapping[str, str]) -> str:
    shown = sorted(names.get(i, i) for i in ids)
    more = f" and {len(shown) - _SHOWN} more" if len(shown) > _SHOWN else ""
    return ", ".join(shown[:_SHOWN]) + more


def _unknown(group: LiveGroup, what: str) -> LiveStateError:
    return LiveStateError(f"team {group.display_name!r}: {what}; {UNKNOWN}")


def _inconsistent(reason: str) -> LiveStateError:
    return LiveStateError(
        f"the live state read is inconsistent: {reason}; nothing was planned, "
        "re-run when it is resolved"
    )
