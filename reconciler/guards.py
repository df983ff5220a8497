"""Blast-radius guards: refuse a plan that removes more access than the policy allows.

A mistake in a manifest (a deleted file, a bad merge) must not offboard half the
company. Each class of revocation has an absolute and, where it makes sense, a
percentage threshold. The override names the count it accepts, so an approval for
"12 deprovisions" can never approve a plan that deprovisions 40.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import UnsafePlanError
from reconciler.kinds import Guard
from reconciler.livestate import LiveState
from reconciler.plan import OpKind, Plan

# Below this many live objects a percentage says little (1 of 4 is 25%), so only the
# absolute threshold applies; octodns uses the same idea for its update guard.
PERCENT_MIN_BASE = 20


@dataclass(frozen=True)
class Overrides:
    """Counts a person accepted explicitly (``--allow-deprovision 12``)."""

    deprovision: int | None = None
    membership_removals: int | None = None
    teams_emptied: int | None = None


@dataclass(frozen=True)
class GuardFinding:
    """One guard the plan trips; ``render.findings.guard_line`` words it.

    ``guard`` names the threshold (``policy.max_<guard>``, overridden by
    ``--allow-<guard>``); ``count`` is what the plan would do; ``limit`` the
    absolute maximum it is over, or, when ``of`` is set, the percentage (of ``of``
    live objects, ``policy.max_<guard>_percent``) it is over.
    """

    guard: Guard
    count: int
    limit: float
    of: int | None = None

    @property
    def flag(self) -> str:
        """The override that accepts this count (``--allow-deprovision``)."""
        return "--allow-" + self.guard.replace("_", "-")

    def __str__(self) -> str:
        from reconciler.render.findings import guard_line  # the words live with the renderers

        return guard_line(self)


def check_guards(plan: Plan, live: LiveState, overrides: Overrides = Overrides()) -> None:
    """Raise UnsafePlanError naming every guard the plan trips and its override."""
    refuse_if_any(guard_findings(plan, live, overrides))


def refuse_if_any(findings: Sequence[GuardFinding]) -> None:
    """Raise UnsafePlanError for findings already evaluated (``guard_findings``); else None."""
    if findings:
        from reconciler.render.findings import guard_refusal

        raise UnsafePlanError(guard_refusal(findings))


def guard_findings(plan: Plan, live: LiveState, overrides: Overrides) -> list[GuardFinding]:
    policy = plan.policy
    domains = set(plan.claimed_domains)
    findings: list[GuardFinding] = []

    # Each kind names the guard that counts it (``KindSpec.guard``).
    deprovisions = sum(1 for op in plan.operations if op.op.spec.guard == "deprovision")
    removals = sum(
        len(op.members) for op in plan.operations if op.op.spec.guard == "membership_removals"
    )
    active = sum(1 for u in live.users if u.active and u.domain in domains)
    deprovision = _Threshold("deprovision", policy.max_deprovision, policy.max_deprovision_percent)
    memberships = _Threshold(
        "membership_removals",
        policy.max_membership_removals,
        policy.max_membership_removals_percent,
    )
    total_memberships = sum(len(g.member_ids) for g in live.groups)
    for threshold, count, base, accepted in (
        (deprovision, deprovisions, active, overrides.deprovision),
        (
            memberships,
            removals,
            total_memberships,
            overrides.membership_removals,
        ),
    ):
        finding = threshold.check(count, base, accepted)
        if finding is not None:
            findings.append(finding)

    emptied = len(teams_emptied(plan, live))
    if emptied > policy.max_teams_emptied and not _accepted(emptied, overrides.teams_emptied):
        findings.append(GuardFinding("teams_emptied", emptied, policy.max_teams_emptied))
    return findings


def teams_emptied(plan: Plan, live: LiveState) -> list[str]:
    """Teams that have members now and would have none after the plan."""
    removed: dict[str, int] = {}
    added: set[str] = set()
    by_id = live.groups_by_id
    for op in plan.operations:
        if op.op is OpKind.REMOVE_MEMBERS and op.scim_id is not None:
            removed[op.scim_id] = removed.get(op.scim_id, 0) + len(op.members)
        elif op.op is OpKind.ADD_MEMBERS and op.members:
            added.add(op.scim_id or op.key)
        elif op.op.spec.guard == "teams_emptied" and op.scim_id is not None:
            # A kind that takes every member at once (a team's deletion, say).
            group = by_id.get(op.scim_id)
            removed[op.scim_id] = len(group.member_ids) if group is not None else 0
    return sorted(
        by_id[gid].display_name
        for gid, count in removed.items()
        if gid in by_id
        and by_id[gid].member_ids
        and count >= len(by_id[gid].member_ids)
        and gid not in added
    )


@dataclass(frozen=True)
class _Threshold:
    guard: Guard
    maximum: int
    percent: float

    def check(self, count: int, base: int, accepted: int | None) -> GuardFinding | None:
        if count == 0 or _accepted(count, accepted):
            return None
        if count > self.maximum:
            return GuardFinding(self.guard, count, self.maximum)
        if base >= PERCENT_MIN_BASE and count * 100 > self.percent * base:
            return GuardFinding(self.guard, count, self.percent, of=base)
        return None


def _accepted(count: int, accepted: int | None) -> bool:
    return accepted is not None and count <= accepted
