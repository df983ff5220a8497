"""Blast-radius guards and stale saved plans (pure parts)."""

from __future__ import annotations

from datetime import date

import pytest

from reconciler.errors import UnsafePlanError
from reconciler.guards import Overrides, check_guards, teams_emptied
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.planner import make_plan
from reconciler.render.findings import drift_since_plan
from tests.core.test_planner import manifest, person

TODAY = date(2026, 11, 22)


def org(n: int, *, groups: list[LiveGroup] | None = None) -> LiveState:
    return LiveState.of(
        [LiveUser(str(i), f"u{i:02}@acme.io", "Given", "Family") for i in range(n)], groups or []
    )


def offboard(n_total: int, n_leaving: int, **policy: object):  # type: ignore[no-untyped-def]
    users = [person(f"u{i:02}@acme.io", active=i >= n_leaving) for i in range(n_total)]
    live = org(n_total)
    desired = manifest(users, **policy)
    return make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d"), live


def test_deprovisions_under_the_threshold_pass() -> None:
    plan, live = offboard(100, 10)
    check_guards(plan, live)


def test_too_many_deprovisions_are_refused_with_the_numbers_and_the_override() -> None:
    plan, live = offboard(100, 11)
    with pytest.raises(UnsafePlanError) as error:
        check_guards(plan, live)
    assert error.value.exit_code == 4
    assert "deprovision users: 11 is over the limit of 10 (policy.max_deprovision)" in str(
        error.value
    )
    assert "--allow-deprovision 11" in str(error.value)


def test_the_override_accepts_the_named_count_and_never_a_bigger_plan() -> None:
    plan, live = offboard(100, 11)
    check_guards(plan, live, Overrides(deprovision=11))
    bigger, live = offboard(100, 12)
    with pytest.raises(UnsafePlanError):
        check_guards(bigger, live, Overrides(deprovision=11))


def test_the_percentage_threshold_applies_to_larger_orgs() -> None:
    plan, live = offboard(40, 5, max_deprovision=100, max_deprovision_percent=10)
    with pytest.raises(UnsafePlanError, match="10% of 40 active users"):
        check_guards(plan, live)


def test_the_percentage_threshold_ignores_tiny_orgs() -> None:
    plan, live = offboard(4, 1)
    check_guards(plan, live)


def test_emptying_more_teams_than_allowed_is_refused() -> None:
    groups = [LiveGroup(f"g{i}", f"T{i}", frozenset({str(i)})) for i in range(3)]
    live = org(3, groups=groups)
    desired = manifest(
        [person(f"u{i:02}@acme.io") for i in range(3)],
        [{"name": f"T{i}", "members": []} for i in range(3)],
        max_membership_removals=100,
    )
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    assert teams_emptied(plan, live) == ["T0", "T1", "T2"]
    with pytest.raises(UnsafePlanError, match="--allow-teams-emptied 3"):
        check_guards(plan, live)
    check_guards(plan, live, Overrides(teams_emptied=3))


def test_a_plan_is_fresh_when_nothing_it_touches_changed() -> None:
    plan, live = offboard(30, 1)
    assert drift_since_plan(plan, live) == []
    elsewhere = LiveState.of([*live.users, LiveUser("new", "jit@acme.io")], [])
    assert drift_since_plan(plan, elsewhere) == []


def test_a_touched_user_whose_planned_change_already_holds_reads_already_done() -> None:
    # Issue 15: a plan's own change is not drift ("active changed true -> false").
    plan, live = offboard(30, 1)
    moved = LiveState.of(
        [LiveUser("0", "u00@acme.io", "Given", "Family", None, False), *live.users[1:]], []
    )
    assert drift_since_plan(plan, moved) == [
        "user u00@acme.io: already deactivated since the plan was made"
    ]


def test_a_user_created_by_hand_since_the_plan_makes_its_create_stale() -> None:
    desired = manifest([person("ada@acme.io")])
    plan = make_plan(desired, LiveState(), today=TODAY, target="https://x", manifest_digest="d")
    now = LiveState.of([LiveUser("9", "ADA@acme.io")], [])
    assert drift_since_plan(plan, now) == ["ada@acme.io: created in Mixpanel since the plan"]
