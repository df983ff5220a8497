"""The plan as text for a terminal or a CI log, in the spirit of ``terraform plan``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from reconciler.grammar import count, quoted
from reconciler.plan import JsonScalar, Operation, OpKind, Plan, Summary, grant_count
from reconciler.profile import PRODUCT
from reconciler.render import SUMMARY_SHOWN
from reconciler.render.escape import terminal
from reconciler.render.style import Style

NO_CHANGES = f"No changes. {PRODUCT} matches the manifest."
DEFAULT_SHOWN = SUMMARY_SHOWN  # `--detail full` passes shown=None
FULL_HINT = "`--detail full` shows all; `--out plan.json` saves every operation"


def render_text(
    plan: Plan,
    style: Style | None = None,
    *,
    warnings: Sequence[str] = (),
    shown: int | None = DEFAULT_SHOWN,
) -> str:
    """``warnings`` are the guard findings apply would refuse on, shown before the total.

    ``shown`` caps the operations shown per kind and the members shown per operation
    (a plan touching 5,000 users stays readable); None shows everything.
    """
    style = style or Style(False)
    lines = [
        style(f"{PRODUCT} SCIM plan for {terminal(plan.target)}", "bold"),
        style(
            f"live {plan.live_fingerprint[:19]}  manifest {plan.manifest_digest[:19]}  "
            f"as of {plan.as_of.isoformat()}",
            "dim",
        ),
        "",
    ]
    seen: Counter[OpKind] = Counter()
    totals = Counter(op.op for op in plan.operations)
    for op in plan.operations:
        seen[op.op] += 1
        if shown is None or seen[op.op] <= shown:
            lines.extend(_operation(op, style, shown))
        elif seen[op.op] == shown + 1:
            hidden = totals[op.op] - shown
            lines += [style(f"  ... and {count(hidden, f'more {op.op.value} operation')}", "dim")]
            lines.append("")
    if shown is not None and any(n > shown for n in totals.values()):
        lines.extend(_counts_by_kind(totals, shown))
    if plan.notices:
        lines.append("Notices:")
        lines.extend(f"  ! {terminal(notice)}" for notice in plan.notices)
        lines.append("")
    for warning in warnings:
        lines.append(style(f"Warning: apply will refuse this plan: {terminal(warning)}", "red"))
    if plan.held_back:
        lines.append(style(held_back_line(plan), "yellow"))
    summary = summary_line(plan.summary)
    if plan.held_back and plan.summary.total == 0:
        summary = NOTHING_TO_REVOKE
    lines.append(style(summary, "bold"))
    return "\n".join(lines) + "\n"


NOTHING_TO_REVOKE = "Nothing to revoke: every removal of access the manifest asks for is done."


def held_back_line(plan: Plan) -> str:
    """What a revoke-only plan leaves for a reviewed merge, e.g. "3 grants wait ..."."""
    grants = grant_count(plan.held_back)
    verb = "waits" if grants == 1 else "wait"
    return (
        f"Held back: {count(grants, 'grant')} {verb} for a reviewed merge "
        f"({_held_back_parts(plan)}; revoke-only runs only removals of access)."
    )


def _held_back_parts(plan: Plan) -> str:
    """ "1 user to create, 2 members to add": the held-back grants by kind, in plan order."""
    counts: dict[OpKind, int] = {}
    for op in plan.held_back:
        counts[op.op] = counts.get(op.op, 0) + grant_count((op,))
    parts = []
    for kind, number in counts.items():
        noun, _, rest = (kind.spec.held_back or f"{kind.value} operation").partition(" ")
        parts.append(f"{count(number, noun)} {rest}".rstrip())
    return ", ".join(parts)


def summary_line(summary: Summary) -> str:
    if summary.total == 0:
        return NO_CHANGES
    parts = [f"{summary.create} to create", f"{summary.change} to change"]
    parts.append(f"{summary.deactivate} to deactivate")
    if summary.delete:
        parts.append(f"{summary.delete} to delete")
    changes = summary.membership_changes
    parts.append(count(changes, "membership change"))
    return "Plan: " + ", ".join(parts) + "."


def _counts_by_kind(totals: Counter[OpKind], shown: int) -> list[str]:
    """The summary view's table: every kind with its count, in plan order."""
    lines = [f"Operations by kind (at most {shown} of each shown above; {FULL_HINT}):"]
    width = max(len(kind.value) for kind in totals)
    lines += [f"  {kind.value:<{width}}  {totals[kind]:>7,}" for kind in OpKind if kind in totals]
    return [*lines, ""]


def _operation(op: Operation, style: Style, shown: int | None = None) -> list[str]:
    spec = op.op.spec
    symbol, colour, verb = spec.symbol, spec.colour, spec.text_verb
    key = terminal(op.key)
    noun = f"user {key}" if op.is_user_op else f'team "{key}"'
    if spec.membership:
        head = f"  {symbol} {noun}: {verb} ({len(op.members)})"
    else:
        head = f"  {symbol} {noun} {verb}"
    reason = f"  ({terminal(op.reason)})" if op.reason and not spec.membership else ""
    lines = [style(head, colour) + style(reason, "dim")]
    members = op.members if shown is None else op.members[:shown]
    for member in members:
        why = style(f"  ({terminal(member.reason)})", "dim") if member.reason else ""
        lines.append(style(f"      {symbol} {terminal(member.email)}", colour) + why)
    if len(members) < len(op.members):
        more = count(len(op.members) - len(members), "more member")
        lines.append(style(f"      ... and {more} ({FULL_HINT})", "dim"))
    lines.extend(_attribute_lines(op, style))
    lines.append("")
    return lines


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
    """A value quoted as in every message, with invisibles escaped for the terminal."""
    return terminal(quoted(value))
