"""The plan as Markdown for a pull-request comment, a job summary or a drift issue.

Built for review: the counts first, then one collapsible section per team and per
user so a 500-line plan stays scannable. The digest line lets the apply workflow
prove it applies what the reviewer saw.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from reconciler.grammar import count, quoted
from reconciler.plan import JsonScalar, Operation, OpKind, Plan
from reconciler.profile import MIXPANEL, PRODUCT
from reconciler.render.escape import markdown, markdown_code
from reconciler.render.text import (
    DEFAULT_SHOWN,
    FULL_HINT,
    NO_CHANGES,
    NOTHING_TO_REVOKE,
    held_back_line,
    summary_line,
)

MARKER = MIXPANEL.marker("plan")
# A member line's sign, from the kind's text symbol (``reconciler.kinds``).
_SIGNS = {"+": "➕", "-": "➖", "~": "✏️"}


def plan_marker(key: str | None = None) -> str:
    """The plan comment's marker; a key (an org's name) gives each org its own comment."""
    return MIXPANEL.marker("plan", key)


def render_markdown(
    plan: Plan,
    *,
    title: str = f"{PRODUCT} access plan",
    warnings: Sequence[str] = (),
    marker_key: str | None = None,
    shown: int | None = DEFAULT_SHOWN,
) -> str:
    """``marker_key`` (the org's name, several orgs per repository) keys the marker and
    names the org in the heading; without it the output is the single-org one.

    ``shown`` caps the team sections, the user sections and the members listed per
    operation (the summary view; None lists everything), so a plan of thousands of
    changes still fits one pull-request comment; the counts are always complete.
    """
    heading = title if marker_key is None else f"{title} ({marker_key})"
    lines = [plan_marker(marker_key), f"### {heading}", ""]
    for warning in warnings:
        lines += [f"> [!WARNING]\n> Apply will refuse this plan: {markdown(warning)}", ""]
    if plan.held_back:
        lines += [f"**{held_back_line(plan)}**", ""]
    if not plan.has_changes:
        lines += [f"**{NOTHING_TO_REVOKE if plan.held_back else NO_CHANGES}**", ""]
    else:
        lines += [*_counts_table(plan), ""]
        if _summarised(plan, shown):  # before the sections: a comment cut to fit keeps it
            lines += _counts_by_kind(plan)
        lines += _sections(plan, shown)
    if plan.notices:
        lines += ["<details><summary>Notices</summary>", ""]
        lines += [f"- {markdown(n)}" for n in plan.notices]
        lines += ["", "</details>", ""]
    lines.append(
        f"<sub>target {markdown_code(plan.target)} · live `{plan.live_fingerprint[:19]}` · "
        f"manifest `{plan.manifest_digest[:19]}` · as of {plan.as_of.isoformat()}</sub>"
    )
    lines.append(f"<sub>plan digest: `{plan.digest}`</sub>")
    return "\n".join(lines) + "\n"


def _counts_table(plan: Plan) -> list[str]:
    s = plan.summary
    return [
        summary_line(s),
        "",
        "| to create | to change | to deactivate | to delete | members added | members removed |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {s.create} | {s.change} | {s.deactivate} | {s.delete} | "
        f"{s.members_added} | {s.members_removed} |",
    ]


def _sections(plan: Plan, shown: int | None) -> list[str]:
    teams: dict[str, list[Operation]] = defaultdict(list)
    users: dict[str, list[Operation]] = defaultdict(list)
    for op in plan.operations:
        (users if op.is_user_op else teams)[op.key].append(op)
    names = _first_of_each_kind(teams, shown, key=str)
    emails = _first_of_each_kind(users, shown, key=str.lower)
    lines: list[str] = []
    for name in names:
        lines += _section(f"Team <b>{markdown(name)}</b>", teams[name], shown)
    lines += _more(len(teams), len(names), "team")
    for email in emails:
        lines += _section(f"User <b>{markdown(email)}</b>", users[email], shown)
    lines += _more(len(users), len(emails), "user")
    return lines


def _summarised(plan: Plan, shown: int | None) -> bool:
    """Whether the summary view leaves objects out (then the counts per kind are shown)."""
    if shown is None:
        return False
    users = {op.key for op in plan.operations if op.is_user_op}
    teams = {op.key for op in plan.operations if not op.is_user_op}
    return len(users) > shown or len(teams) > shown


def _first_of_each_kind(
    objects: dict[str, list[Operation]], shown: int | None, *, key: Callable[[str], str]
) -> list[str]:
    """The objects the summary view shows, in order: the first ``shown`` (in that order)
    touched by each operation kind, so no kind goes unseen behind another; all of them
    when ``shown`` is None."""
    ordered = sorted(objects, key=key)
    if shown is None or len(ordered) <= shown:
        return ordered
    chosen: set[str] = set()
    for kind in OpKind:
        having = [name for name in ordered if any(op.op is kind for op in objects[name])]
        chosen.update(having[:shown])
    return [name for name in ordered if name in chosen]


def _more(total: int, listed: int, noun: str) -> list[str]:
    if total <= listed:
        return []
    return [f"_... and {count(total - listed, f'more {noun}')} with changes ({FULL_HINT})._", ""]


def _counts_by_kind(plan: Plan) -> list[str]:
    totals = Counter(op.op for op in plan.operations)
    rows = [f"| `{kind.value}` | {totals[kind]:,} |" for kind in OpKind if kind in totals]
    return ["| operation | count |", "|---|---:|", *rows, ""]


def _section(heading: str, ops: list[Operation], shown: int | None = None) -> list[str]:
    verbs = ", ".join(op.op.spec.markdown_verb for op in ops)
    lines = [f"<details><summary>{heading}: {verbs}</summary>", ""]
    for op in ops:
        if op.reason:
            lines.append(f"- {op.op.spec.markdown_verb}: {markdown(op.reason)}")
        members = op.members if shown is None else op.members[:shown]
        for member in members:
            sign = _SIGNS[op.op.spec.symbol]
            why = f" — {markdown(member.reason)}" if member.reason else ""
            lines.append(f"  - {sign} {markdown_code(member.email)}{why}")
        if len(members) < len(op.members):
            more = count(len(op.members) - len(members), "more member")
            lines.append(f"  - _... and {more}_")
        for name in sorted(op.after):
            before = op.before.get(name)
            if name in op.before and before != op.after[name]:
                lines.append(
                    f"  - {markdown_code(name)}: {_value(before)} → {_value(op.after[name])}"
                )
            elif name not in op.before:
                lines.append(f"  - {markdown_code(name)}: {_value(op.after[name])}")
    lines += ["", "</details>", ""]
    return lines


def _value(value: JsonScalar) -> str:
    if value is None:
        return "_(unset)_"
    return markdown_code(quoted(value))
