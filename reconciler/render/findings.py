"""Words for the findings the pure layers return as values (``staleness.Drift``,
``guards.GuardFinding``).

The pure layers decide *what* changed and hand back small frozen values; the words
(and the product's name, from the profile) are chosen here, once, so the error that
refuses a stale plan and any other view say the same thing. Returns strings; the
caller escapes them for its sink.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from reconciler.grammar import count, quoted
from reconciler.livestate import LiveState
from reconciler.plan import Plan
from reconciler.profile import PRODUCT
from reconciler.staleness import Drift, drift_findings

if TYPE_CHECKING:
    from reconciler.guards import GuardFinding


def drift_line(drift: Drift) -> str:
    """One line for one finding, e.g. ``ada@acme.io: created in Mixpanel since the plan``."""
    team = f'team "{drift.key}"'
    if drift.what == "done":
        done = drift.kind.spec.done if drift.kind is not None else "done"
        subject = f"user {drift.key}" if drift.subject == "user" else team
        return f"{subject}: {done} since the plan was made"
    # Drift of a user is named by its email alone; a team's by "team" and its name.
    subject = drift.key if drift.subject == "user" else team
    if drift.what == "created" and drift.attribute:
        return (
            f"{subject}: created in {PRODUCT} since the plan, with {drift.attribute} "
            f"{quoted(drift.after)} where the plan has {quoted(drift.before)}"
        )
    if drift.what == "created":
        return f"{subject}: created in {PRODUCT} since the plan"
    if drift.what == "deleted":
        return f"{subject}: deleted from {PRODUCT} since the plan"
    if drift.what == "changed":
        change = f"{quoted(drift.before)} -> {quoted(drift.after)}"
        return f"{subject}: {drift.attribute} changed {change} since the plan"
    if drift.what == "renamed":
        return (
            f'team "{drift.before}" (this plan renames it to "{drift.key}"): renamed to '
            f'"{drift.after}" in {PRODUCT} since the plan'
        )
    verb = "removed" if drift.what == "member_removed" else "added"
    return f"{subject}: {drift.member} was {verb} since the plan"


def drift_lines(findings: Iterable[Drift]) -> list[str]:
    """The lines of ``findings`` in order, each once."""
    return list(dict.fromkeys(map(drift_line, findings)))


def drift_since_plan(plan: Plan, live: LiveState) -> list[str]:
    """Every change to an object the plan depends on, as one readable line each
    (``staleness.drift_findings``, worded)."""
    return drift_lines(drift_findings(plan, live))


# What each guard refuses, and what its percentage is of (``guards.GuardFinding.guard``).
_GUARDS = {
    "deprovision": ("deprovision users", "active users"),
    "membership_removals": ("remove team memberships", "memberships"),
    "teams_emptied": ("leave teams empty", ""),
}


def guard_line(finding: GuardFinding) -> str:
    """E.g. ``refusing to deprovision users: 11 is over the limit of 10
    (policy.max_deprovision). If this is intended, re-run with --allow-deprovision 11``."""
    what, noun = _GUARDS[finding.guard]
    name = f"policy.max_{finding.guard}"
    if finding.of is None:
        limit = f"{finding.limit} ({name})"
    else:
        limit = f"{finding.limit:g}% of {finding.of} {noun} ({name}_percent)"
    return (
        f"refusing to {what}: {finding.count} is over the limit of {limit}. "
        f"If this is intended, re-run with {finding.flag} {finding.count}"
    )


def guard_refusal(findings: Sequence[GuardFinding]) -> str:
    """The UnsafePlanError message: every guard tripped, then what to do."""
    lines = "\n".join(f"  - {guard_line(f)}" for f in findings)
    return (
        f"the plan is over {count(len(findings), 'safety threshold')} set in the policy:\n"
        f"{lines}\n"
        "Review the plan; raise the thresholds under policy: in the manifest, or pass the "
        "override naming the exact count."
    )
