"""The plan as text for a terminal or a CI log, in the spirit of ``terraform plan``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from reconciler.plan import JsonScalar, Operation, OpKind, Plan, Summary
from reconciler.render.escape import terminal
from reconciler.render.style import Style

# symbol, colour, verb
_HEADLINE: dict[OpKind, tuple[str, str, str]] = {
    OpKind.REMOVE_MEMBERS: ("-", "red", "remove members"),
    OpKind.DEACTIVATE_USER: ("-", "red", "will be deactivated"),
    OpKind.DELETE_USER: ("-", "red", "will be DELETED (irreversible)"),
    OpKind.CREATE_USER: ("+", "green", "will be created"),
    OpKind.REACTIVATE_USER: ("~", "yellow", "will be reactivated"),
    OpKind.PATCH_USER: ("~", "yellow", "will be updated"),
    OpKind.CREATE_GROUP: ("+", "green", "will be created"),
    OpKind.RENAME_GROUP: ("~", "yellow", "will be renamed"),
    OpKind.ADD_MEMBERS: ("+", "green", "add members"),
}

NO_CHANGES = "No changes. Mixpanel matches the manifest."


def render_text(plan: Plan, style: Style | None = None, *, warnings: Sequence[str] = ()) -> str:
    """``warnings`` are the guard findings apply would refuse on, shown before the total."""
    style = style or Style(False)
    lines = [
        style(f"Mixpanel SCIM plan for {terminal(plan.target)}", "bold"),
        style(
            f"live {plan.live_fingerprint[:19]}  manifest {plan.manifest_digest[:19]}  "
            f"as of {plan.as_of.isoformat()}",
            "dim",
        ),
        "",
    ]
    for op in plan.operations:
        lines.extend(_operation(op, style))
    if plan.notices:
        lines.append("Notices:")
        lines.extend(f"  ! {terminal(notice)}" for notice in plan.notices)
        lines.append("")
    for warning in warnings:
        lines.append(style(f"Warning: apply will refuse this plan: {terminal(warning)}", "red"))
    lines.append(style(summary_line(plan.summary), "bold"))
    return "\n".join(lines) + "\n"


def summary_line(summary: Summary) -> str:
    if summary.total == 0:
        return NO_CHANGES
    parts = [f"{summary.create} to create", f"{summary.change} to change"]
    parts.append(f"{summary.deactivate} to deactivate")
    if summary.delete:
        parts.append(f"{summary.delete} to delete")
    changes = summary.membership_changes
    parts.append(f"{changes} membership change{'s' if changes != 1 else ''}")
    return "Plan: " + ", ".join(parts) + "."


def _operation(op: Operation, style: Style) -> list[str]:
    symbol, colour, verb = _HEADLINE[op.op]
    key = terminal(op.key)
    noun = f"user {key}" if op.is_user_op else f'team "{key}"'
    if op.op in (OpKind.ADD_MEMBERS, OpKind.REMOVE_MEMBERS):
        head = f"  {symbol} {noun}: {verb} ({len(op.members)})"
    else:
        head = f"  {symbol} {noun} {verb}"
    reason = f"  ({terminal(op.reason)})" if op.reason and op.op not in _SELF_EXPLAINED else ""
    lines = [style(head, colour) + style(reason, "dim")]
    for member in op.members:
        why = style(f"  ({terminal(member.reason)})", "dim") if member.reason else ""
        lines.append(style(f"      {symbol} {terminal(member.email)}", colour) + why)
    lines.extend(_attribute_lines(op, style))
    lines.append("")
    return lines


_SELF_EXPLAINED = frozenset({OpKind.ADD_MEMBERS, OpKind.REMOVE_MEMBERS})


def _attribute_lines(op: Operation, style: Style) -> list[str]:
    lines = []
    for name in sorted(op.before.keys() | op.after.keys()):
        if name not in op.after:
            continue
        after = op.after[name]
        if name in op.before and op.before[name] != after:
            text = f"      ~ {name}: {_show(op.before[name])} -> {_show(after)}"
            lines.append(style(text, "yellow"))
        elif name not in op.before:
            lines.append(style(f"      + {name}: {_show(after)}", "green"))
    return lines


def _show(value: JsonScalar) -> str:
    """A value as JSON (quotes show surrounding spaces), with invisibles escaped."""
    return terminal(json.dumps(value, ensure_ascii=False))
