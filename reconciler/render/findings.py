"""Words for the findings the pure layers return as values (``staleness.Drift``).

The pure layers decide *what* changed and hand back small frozen values; the words
(and the product's name, from the profile) are chosen here, once, so the error that
refuses a stale plan and any other view say the same thing. Returns strings; the
caller escapes them for its sink.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.grammar import quoted
from reconciler.livestate import LiveState
from reconciler.plan import Plan
from reconciler.profile import PRODUCT
from reconciler.staleness import Drift, drift_findings


def drift_line(drift: Drift) -> str:
    """One line for one finding, e.g. ``ada@acme.io: created in Mixpanel since the plan``."""
    team = f'team "{drift.key}"'
    if drift.what == "done":
        done = drift.kind.spec.done if drift.kind is not None else "done"
        subject = f"user {drift.key}" if drift.subject == "user" else team
        return f"{subject}: {done} since the plan was made"
    # Drift of a user is named by its email alone; a team's by "team" and its name.
    subject = drift.key if drift.subject == "user" else team
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
