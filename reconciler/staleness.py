"""Is a saved plan still true? Compare what it was based on with the live state now.

Like Terraform's "Saved plan is stale": a plan reviewed yesterday must not be
applied to an org that changed since. Only what the plan touches is compared, so a
user created by SSO elsewhere in the org does not invalidate a reviewed plan, but a
hand-made change to any object in it does. Pure.
"""

from __future__ import annotations

import json

from reconciler.identity import match_key
from reconciler.livestate import LiveState
from reconciler.plan import JsonScalar, Operation, OpKind, Plan
from reconciler.planner import live_snapshot


def drift_since_plan(plan: Plan, live: LiveState) -> list[str]:
    """Every change to an object the plan depends on, as one readable line each."""
    if live.fingerprint == plan.live_fingerprint:
        return []
    found: list[str] = []
    for op in plan.operations:
        found.extend(_drift(op, live))
    return list(dict.fromkeys(found))


def _drift(op: Operation, live: LiveState) -> list[str]:
    if op.op is OpKind.CREATE_USER:
        created = match_key(op.key) in live.users_by_key
        return [f"{op.key}: created in Mixpanel since the plan"] if created else []
    if op.is_user_op:
        return _user_drift(op, live)
    if op.op is OpKind.CREATE_GROUP:
        created = op.key in live.groups_by_name
        return [f'team "{op.key}": created in Mixpanel since the plan'] if created else []
    return _team_drift(op, live)


def _user_drift(op: Operation, live: LiveState) -> list[str]:
    user = live.users_by_id.get(op.scim_id or "")
    if user is None:
        return [f"{op.key}: deleted from Mixpanel since the plan"]
    now = live_snapshot(user)
    return [
        f"{op.key}: {name} changed {_show(op.before[name])} -> {_show(value)} since the plan"
        for name, value in now.items()
        if name in op.before and op.before[name] != value
    ]


def _team_drift(op: Operation, live: LiveState) -> list[str]:
    if op.scim_id is None:
        group = live.groups_by_name.get(op.key)
        return [] if group is None else [f'team "{op.key}": created in Mixpanel since the plan']
    group = live.groups_by_id.get(op.scim_id)
    if group is None:
        return [f'team "{op.key}": deleted from Mixpanel since the plan']
    if op.op is OpKind.RENAME_GROUP and group.display_name != op.before.get("name"):
        return [f'team "{op.key}": renamed to "{group.display_name}" since the plan']
    found = []
    for member in op.members:
        present = member.scim_id in group.member_ids
        if op.op is OpKind.REMOVE_MEMBERS and not present:
            found.append(f'team "{op.key}": {member.email} was removed since the plan')
        if op.op is OpKind.ADD_MEMBERS and member.scim_id is not None and present:
            found.append(f'team "{op.key}": {member.email} was added since the plan')
    return found


def _show(value: JsonScalar) -> str:
    return json.dumps(value, ensure_ascii=False)
