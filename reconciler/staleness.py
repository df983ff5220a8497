"""Is a saved plan still true? Compare what it was based on with the live state now.

Like Terraform's "Saved plan is stale": a plan reviewed yesterday must not be
applied to an org that changed since. Only what the plan touches is compared, so a
user created by SSO elsewhere in the org does not invalidate a reviewed plan, but a
hand-made change to any object in it does. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from reconciler.grammar import count
from reconciler.identity import match_key
from reconciler.kinds import Staleness
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.plan import JsonScalar, Operation, OpKind, Plan, not_covered
from reconciler.planner import live_snapshot

DriftWhat = Literal[
    "done", "created", "deleted", "changed", "renamed", "member_removed", "member_added"
]


@dataclass(frozen=True, slots=True)
class Drift:
    """One change to an object a saved plan depends on; ``render.findings`` words it.

    ``what``: ``done`` (the operation's effect already holds: ``kind`` says which),
    ``created``/``deleted`` (the user or team appeared or vanished; a user created with
    an ``attribute`` whose value ``after`` is not the plan's ``before``), ``changed`` (the
    user's ``attribute`` went from ``before`` to ``after``), ``renamed`` (the team
    named ``before`` is now named ``after``; the plan renames it to ``key``) or
    ``member_removed``/``member_added`` (``member``, an email, left or joined the team).
    ``subject`` is "user" or "team"; ``key`` the plan's userName or team name.
    """

    what: Literal[
        "done", "created", "deleted", "changed", "renamed", "member_removed", "member_added"
    ]
    subject: Literal["user", "team"]
    key: str
    kind: OpKind | None = None
    attribute: str = ""
    before: JsonScalar = None
    after: JsonScalar = None
    member: str = ""


def drift_findings(plan: Plan, live: LiveState) -> list[Drift]:
    """Every change to an object the plan depends on, in plan order, each once.

    An operation whose effect already holds live (the plan, or part of it, was
    applied since) is ``done``, never drift in the opposite sense. Empty when the
    live fingerprint is the plan's.
    """
    if live.fingerprint == plan.live_fingerprint:
        return []
    found: list[Drift] = []
    for op in plan.operations:
        if operation_done(op, live):
            found.append(Drift("done", _subject(op), op.key, kind=op.op))
        else:
            found.extend(_drift(op, live))
    return list(dict.fromkeys(found))


def already_applied(plan: Plan, live: LiveState) -> bool:
    """True when the live state moved since the plan and every operation's effect holds:
    the plan was applied already (re-applying it would do nothing)."""
    if not plan.has_changes or live.fingerprint == plan.live_fingerprint:
        return False
    return all(operation_done(op, live) for op in plan.operations)


def done_count(plan: Plan, live: LiveState) -> str:
    """How many operations already hold live, as "2 of 5 operations"."""
    done = sum(operation_done(op, live) for op in plan.operations)
    return f"{done} of {count(len(plan.operations), 'operation')}"


def operation_done(op: Operation, live: LiveState) -> bool:
    """Whether ``op``'s intended state already holds in ``live`` (its kind's staleness rule)."""
    return _DONE_RULES[op.op.spec.staleness](op, live)


def _user_created(op: Operation, live: LiveState) -> bool:
    return _holds(op, live.users_by_key.get(match_key(op.key)))


def _gone(op: Operation, live: LiveState) -> bool:
    if op.is_user_op:
        gone = live.users_by_id.get(op.scim_id or "") is None
        return gone and match_key(op.key) not in live.users_by_key
    return _group(op, live) is None and op.key not in live.groups_by_name


def _user_attributes(op: Operation, live: LiveState) -> bool:
    return _holds(op, live.users_by_id.get(op.scim_id or ""))


def _group_exists(op: Operation, live: LiveState) -> bool:
    return _group(op, live) is not None


def _group_named(op: Operation, live: LiveState) -> bool:
    group = _group(op, live)
    return group is not None and group.display_name == op.after.get("name")


def _members_present(op: Operation, live: LiveState) -> bool:
    group = _group(op, live)
    if group is None:
        return False
    ids = {_member_id(m.email, m.scim_id, live) for m in op.members}
    return None not in ids and ids <= group.member_ids


def _members_absent(op: Operation, live: LiveState) -> bool:
    group = _group(op, live)
    if group is None:
        return False
    ids = {_member_id(m.email, m.scim_id, live) for m in op.members}
    return not ids & group.member_ids


_DONE_RULES: dict[Staleness, Callable[[Operation, LiveState], bool]] = {
    Staleness.USER_CREATED: _user_created,
    Staleness.GONE: _gone,
    Staleness.USER_ATTRIBUTES: _user_attributes,
    Staleness.GROUP_EXISTS: _group_exists,
    Staleness.GROUP_NAMED: _group_named,
    Staleness.MEMBERS_PRESENT: _members_present,
    Staleness.MEMBERS_ABSENT: _members_absent,
}


def _holds(op: Operation, user: LiveUser | None) -> bool:
    if user is None:
        return False
    now = live_snapshot(user)
    return all(now[name] == value for name, value in op.after.items() if name in now)


def _group(op: Operation, live: LiveState) -> LiveGroup | None:
    if op.scim_id is not None:
        return live.groups_by_id.get(op.scim_id)
    return live.groups_by_name.get(op.key)


def _member_id(email: str, scim_id: str | None, live: LiveState) -> str | None:
    if scim_id is not None:
        return scim_id
    user = live.users_by_key.get(match_key(email))  # created by this plan: known by its email
    return user.id if user is not None else None


def _subject(op: Operation) -> Literal["user", "team"]:
    return "user" if op.is_user_op else "team"


def _drift(op: Operation, live: LiveState) -> list[Drift]:
    if op.op is OpKind.CREATE_USER:
        user = live.users_by_key.get(match_key(op.key))
        if user is None:
            return []
        # Created since with the plan's exact userName (by this plan's apply, say), yet not
        # as the plan makes it: say what differs, so the plan's own create does not read
        # as someone else's. Another spelling of the userName was made by someone else.
        now = live_snapshot(user)
        if now.get("user_name") != op.after.get("user_name"):
            return [Drift("created", "user", op.key)]
        differs = [
            Drift("created", "user", op.key, attribute=name, before=value, after=now[name])
            for name, value in op.after.items()
            if name in now and now[name] != value
        ]
        return differs or [Drift("created", "user", op.key)]
    if op.is_user_op:
        return _user_drift(op, live)
    if op.op is OpKind.CREATE_GROUP:
        created = op.key in live.groups_by_name
        return [Drift("created", "team", op.key)] if created else []
    return _team_drift(op, live)


def _user_drift(op: Operation, live: LiveState) -> list[Drift]:
    user = live.users_by_id.get(op.scim_id or "")
    if user is None:
        return [Drift("deleted", "user", op.key)]
    now = live_snapshot(user)
    return [
        Drift("changed", "user", op.key, attribute=name, before=op.before[name], after=value)
        for name, value in now.items()
        if name in op.before and op.before[name] != value
    ]


def _team_drift(op: Operation, live: LiveState) -> list[Drift]:
    if op.scim_id is None:
        group = live.groups_by_name.get(op.key)
        return [] if group is None else [Drift("created", "team", op.key)]
    group = live.groups_by_id.get(op.scim_id)
    if group is None:
        return [Drift("deleted", "team", op.key)]
    old = op.before.get("name")
    if op.op is OpKind.RENAME_GROUP and group.display_name != old:
        # Renamed to neither the old name nor the plan's (that would be "already renamed").
        return [Drift("renamed", "team", op.key, before=old, after=group.display_name)]
    found = []
    for member in op.members:
        present = member.scim_id in group.member_ids
        if op.op is OpKind.REMOVE_MEMBERS and not present:
            found.append(Drift("member_removed", "team", op.key, member=member.email))
        if op.op is OpKind.ADD_MEMBERS and member.scim_id is not None and present:
            found.append(Drift("member_added", "team", op.key, member=member.email))
    return found


def not_a_remainder(fresh: Plan, reviewed: Plan) -> list[str]:
    """Why ``fresh`` is not what is left of ``reviewed`` after a partial apply; [] if it is.

    A remainder is made for the same target and org, from the same manifest (digest,
    so the same policy), and each of its operations is part of a reviewed one: it
    grants, changes or removes nothing the reviewers did not see. One line per
    difference, naming what is new. Pure.
    """
    found = []
    if fresh.target != reviewed.target or fresh.org != reviewed.org:
        found.append(
            f"target: made for {fresh.target} ({fresh.org or 'no org identity'}), "
            f"reviewed for {reviewed.target} ({reviewed.org or 'no org identity'})"
        )
    if fresh.manifest_digest != reviewed.manifest_digest:
        found.append(
            f"manifest: {fresh.manifest_digest[:19]}, reviewed {reviewed.manifest_digest[:19]}"
        )
    found.extend(not_covered(fresh.operations, reviewed.operations))
    return found
