"""Turn the diff into the ordered, dependency-annotated operations of a Plan. Pure.

Ordering belongs to the operation kinds (``plan.PHASE``) and is applied once, here,
so the same inputs always give a byte-identical plan.
"""

from __future__ import annotations

from datetime import date

from reconciler.attributes import NAMES
from reconciler.diff import Changes, MemberChange, TeamChange, UserAction, UserChange, diff
from reconciler.grammar import count
from reconciler.identity import ascii_lower, match_key, name_fold
from reconciler.livestate import LiveState, LiveUser
from reconciler.manifest.models import Manifest, as_instant
from reconciler.plan import (
    PHASE,
    JsonScalar,
    MemberRef,
    Operation,
    OpKind,
    Plan,
    PolicySnapshot,
    summarise,
)

_USER_OP = {
    UserAction.CREATE: OpKind.CREATE_USER,
    UserAction.REACTIVATE: OpKind.REACTIVATE_USER,
    UserAction.PATCH: OpKind.PATCH_USER,
    UserAction.DEACTIVATE: OpKind.DEACTIVATE_USER,
    UserAction.DELETE: OpKind.DELETE_USER,
}


def make_plan(
    manifest: Manifest,
    live: LiveState,
    *,
    today: date,
    target: str,
    manifest_digest: str,
    extra_notices: tuple[str, ...] = (),
    org: str = "",
) -> Plan:
    """The complete plan for one org: what apply will do, and what it was made from."""
    changes = diff(manifest, live, today)
    operations = order(operations_for(changes))
    return Plan(
        target=target,
        manifest_digest=manifest_digest,
        org=org,
        live_fingerprint=live.fingerprint,
        as_of=as_instant(today).date(),
        claimed_domains=manifest.organization.claimed_domains,
        policy=PolicySnapshot.model_validate(manifest.policy.model_dump(mode="json")),
        operations=operations,
        notices=(*extra_notices, *changes.notices),
        summary=summarise(operations),
    )


def operations_for(changes: Changes) -> list[Operation]:
    ops = [_user_operation(change) for change in changes.users]
    created_users = {match_key(op.key): op.id for op in ops if op.op is OpKind.CREATE_USER}
    reactivated = {match_key(op.key): op.id for op in ops if op.op is OpKind.REACTIVATE_USER}
    for team in changes.teams:
        ops.extend(_team_operations(team, {**created_users, **reactivated}))
    return ops


def order(operations: list[Operation]) -> tuple[Operation, ...]:
    """Revoke first, then grant; inside a phase by kind, then by key (stable, total)."""
    kinds = list(OpKind)
    return tuple(
        sorted(operations, key=lambda op: (PHASE[op.op], kinds.index(op.op), op.key, op.id))
    )


def op_id(kind: OpKind, key: str) -> str:
    return f"{kind.value}:{key}"


def _user_operation(change: UserChange) -> Operation:
    """``before`` is the live snapshot (the basis for stale-plan checks); ``after`` the writes."""
    kind = _USER_OP[change.action]
    live = change.live
    before: dict[str, JsonScalar] = live_snapshot(live) if live is not None else {}
    after: dict[str, JsonScalar] = {a.name: a.after for a in change.attributes}
    if kind in (OpKind.CREATE_USER, OpKind.REACTIVATE_USER):
        after["active"] = True
    elif kind is OpKind.DEACTIVATE_USER:
        after["active"] = False  # with any attribute changes: one PATCH per user
    elif kind is OpKind.DELETE_USER:
        after = {}
    return Operation(
        id=op_id(kind, match_key(change.email)),
        op=kind,
        key=change.email,
        scim_id=live.id if live else None,
        before=before,
        after=after,
        reason=change.reason,
    )


def live_snapshot(user: LiveUser) -> dict[str, JsonScalar]:
    """The managed attributes of a live user (``reconciler.attributes``), by plan name."""
    return {name: getattr(user, name) for name in NAMES}


def _team_operations(team: TeamChange, granted: dict[str, str]) -> list[Operation]:
    ops: list[Operation] = []
    group_id = team.live.id if team.live else None
    team_dep: tuple[str, ...] = ()
    if team.create:
        create = Operation(
            id=op_id(OpKind.CREATE_GROUP, team.name),
            op=OpKind.CREATE_GROUP,
            key=team.name,
            after={"name": team.name},
            reason="listed in the manifest",
        )
        ops.append(create)
        team_dep = (create.id,)
    if team.rename_from is not None:
        ops.append(
            Operation(
                id=op_id(OpKind.RENAME_GROUP, team.name),
                op=OpKind.RENAME_GROUP,
                key=team.name,
                scim_id=group_id,
                before={"name": team.rename_from},
                after={"name": team.name},
                reason=_rename_reason(team.name, team.rename_from),
            )
        )
    if team.remove:
        ops.append(_membership_op(OpKind.REMOVE_MEMBERS, team, team.remove, group_id, ()))
    if team.add:
        member_deps = sorted(
            {granted[match_key(m.email)] for m in team.add if match_key(m.email) in granted}
        )
        deps = (*team_dep, *member_deps)
        ops.append(_membership_op(OpKind.ADD_MEMBERS, team, team.add, group_id, deps))
    return ops


def _membership_op(
    kind: OpKind,
    team: TeamChange,
    members: tuple[MemberChange, ...],
    group_id: str | None,
    depends_on: tuple[str, ...],
) -> Operation:
    verb = "add" if kind is OpKind.ADD_MEMBERS else "remove"
    return Operation(
        id=op_id(kind, team.name),
        op=kind,
        key=team.name,
        scim_id=group_id,
        members=tuple(
            MemberRef(email=m.email, scim_id=m.scim_id, reason=m.reason) for m in members
        ),
        depends_on=depends_on,
        reason=f"{count(len(members), 'member')} to {verb}",
    )


def _rename_reason(name: str, old: str) -> str:
    if ascii_lower(old) == ascii_lower(name):
        return "the live name differs only in case"
    if name_fold(old) == name_fold(name):
        where = "surrounding " if ascii_lower(old.strip()) == ascii_lower(name.strip()) else ""
        return f"the live name {old!r} differs only in {where}whitespace"
    return f"previous_names lists {old!r}"
