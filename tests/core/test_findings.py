"""Pure layers return findings as values; ``render.findings`` alone words them.

A stale saved plan's drift is a list of ``staleness.Drift`` values (what happened,
to which user or team, with the fields), so a view can count, filter or re-word
them; the lines people read come from one renderer and stay as they were.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from reconciler.kinds import OpKind
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.planner import make_plan
from reconciler.render.findings import drift_line, drift_lines
from reconciler.staleness import Drift, drift_findings
from tests.core.test_planner import manifest, person

TODAY = date(2026, 11, 22)
ADA = LiveUser("1", "ada@acme.io", "Ada", "Old")
BOB = LiveUser("2", "bob@acme.io", "Bob", "B")


def _plan(live: LiveState) -> object:
    desired = manifest(
        [person("ada@acme.io", "Ada", "New"), person("bob@acme.io", "Bob", "B")],
        [{"name": "Data", "previous_names": ["Old data"], "members": ["bob@acme.io"]}],
    )
    return make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")


def test_drift_is_a_list_of_frozen_values_with_the_fields_of_each_change() -> None:
    before = LiveState.of([ADA, BOB], [LiveGroup("g1", "Old data")])
    plan = _plan(before)
    now = LiveState.of(
        [dataclasses.replace(ADA, given_name="Adele"), BOB], [LiveGroup("g1", "Elsewhere")]
    )
    found = drift_findings(plan, now)  # type: ignore[arg-type]
    assert (
        Drift("changed", "user", "ada@acme.io", attribute="given_name", before="Ada", after="Adele")
        in found
    )
    assert Drift("renamed", "team", "Data", before="Old data", after="Elsewhere") in found
    assert all(dataclasses.is_dataclass(f) for f in found)
    try:
        found[0].key = "x"  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:  # pragma: no cover - the assertion below says why
        raise AssertionError("a finding must be frozen")


def test_the_renderer_words_every_kind_of_finding() -> None:
    assert [
        drift_line(Drift("done", "user", "a@acme.io", kind=OpKind.DEACTIVATE_USER)),
        drift_line(Drift("done", "team", "T", kind=OpKind.CREATE_GROUP)),
        drift_line(Drift("created", "user", "a@acme.io")),
        drift_line(Drift("created", "team", "T")),
        drift_line(Drift("deleted", "user", "a@acme.io")),
        drift_line(Drift("deleted", "team", "T")),
        drift_line(
            Drift("changed", "user", "a@acme.io", attribute="active", before=True, after=False)
        ),
        drift_line(Drift("renamed", "team", "New", before="Old", after="Other")),
        drift_line(Drift("member_removed", "team", "T", member="b@acme.io")),
        drift_line(Drift("member_added", "team", "T", member="b@acme.io")),
    ] == [
        "user a@acme.io: already deactivated since the plan was made",
        'team "T": already created since the plan was made',
        "a@acme.io: created in Mixpanel since the plan",
        'team "T": created in Mixpanel since the plan',
        "a@acme.io: deleted from Mixpanel since the plan",
        'team "T": deleted from Mixpanel since the plan',
        "a@acme.io: active changed true -> false since the plan",
        'team "Old" (this plan renames it to "New"): renamed to "Other" in Mixpanel since the plan',
        'team "T": b@acme.io was removed since the plan',
        'team "T": b@acme.io was added since the plan',
    ]


def test_the_lines_keep_plan_order_and_say_each_thing_once() -> None:
    twice = [
        Drift("deleted", "team", "T"),
        Drift("created", "user", "a"),
        Drift("deleted", "team", "T"),
    ]
    assert drift_lines(twice) == [
        'team "T": deleted from Mixpanel since the plan',
        "a: created in Mixpanel since the plan",
    ]


def test_guard_findings_are_values_and_the_renderer_words_them() -> None:
    from reconciler.guards import GuardFinding
    from reconciler.render.findings import guard_line, guard_refusal

    absolute = GuardFinding("deprovision", 11, 10)
    share = GuardFinding("membership_removals", 30, 10.0, of=200)
    emptied = GuardFinding("teams_emptied", 3, 1)
    assert (absolute.flag, share.flag, emptied.flag) == (
        "--allow-deprovision",
        "--allow-membership-removals",
        "--allow-teams-emptied",
    )
    assert guard_line(absolute) == (
        "refusing to deprovision users: 11 is over the limit of 10 (policy.max_deprovision). "
        "If this is intended, re-run with --allow-deprovision 11"
    )
    assert guard_line(share) == (
        "refusing to remove team memberships: 30 is over the limit of 10% of 200 memberships "
        "(policy.max_membership_removals_percent). If this is intended, re-run with "
        "--allow-membership-removals 30"
    )
    assert (
        str(emptied)
        == guard_line(emptied)
        == (
            "refusing to leave teams empty: 3 is over the limit of 1 (policy.max_teams_emptied). "
            "If this is intended, re-run with --allow-teams-emptied 3"
        )
    )
    assert guard_refusal([absolute, emptied]).splitlines() == [
        "the plan is over 2 safety thresholds set in the policy:",
        f"  - {guard_line(absolute)}",
        f"  - {guard_line(emptied)}",
        "Review the plan; raise the thresholds under policy: in the manifest, or pass the "
        "override naming the exact count.",
    ]
