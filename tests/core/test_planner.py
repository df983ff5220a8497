"""Table-driven planner tests: (live, desired) -> the exact operations, in order."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest.models import Manifest
from reconciler.planner import make_plan

TODAY = date(2026, 11, 22)


def manifest(
    users: list[dict[str, Any]], teams: list[dict[str, Any]] | None = None, **policy: Any
) -> Manifest:
    return Manifest.model_validate(
        {
            "version": 1,
            "organization": {"claimed_domains": ["acme.io"]},
            "policy": policy,
            "users": users,
            "teams": teams or [],
        }
    )


def person(
    email: str, given: str = "Given", family: str = "Family", **extra: Any
) -> dict[str, Any]:
    return {"email": email, "given_name": given, "family_name": family, **extra}


def live_user(
    uid: str, email: str, given: str = "Given", family: str = "Family", active: bool = True
) -> LiveUser:
    return LiveUser(uid, email, given, family, None, active)


def plan_ops(desired: Manifest, live: LiveState) -> list[tuple[str, str]]:
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    return [(op.op.value, op.key) for op in plan.operations]


CASES: list[tuple[str, Manifest, LiveState, list[tuple[str, str]]]] = [
    (
        "an empty org gets its users created",
        manifest([person("ada@acme.io")]),
        LiveState(),
        [("create_user", "ada@acme.io")],
    ),
    (
        "a matching org needs nothing",
        manifest([person("ada@acme.io")]),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [],
    ),
    (
        "userName is matched case-insensitively and a case-only difference is no change",
        manifest([person("Ada@ACME.io")]),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [],
    ),
    (
        "a changed family name is one patch",
        manifest([person("ada@acme.io", family="Byron")]),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [("patch_user", "ada@acme.io")],
    ),
    (
        "an inactive live user listed as active is reactivated",
        manifest([person("ada@acme.io")]),
        LiveState.of([live_user("1", "ada@acme.io", active=False)], []),
        [("reactivate_user", "ada@acme.io")],
    ),
    (
        "active: false deactivates",
        manifest([person("ada@acme.io", active=False)]),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [("deactivate_user", "ada@acme.io")],
    ),
    (
        "deprovision: delete deletes instead",
        manifest([person("ada@acme.io", active=False)], deprovision="delete"),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [("delete_user", "ada@acme.io")],
    ),
    (
        "an inactive user absent live is not created",
        manifest([person("ada@acme.io", active=False)]),
        LiveState(),
        [],
    ),
    (
        "an expired user is deactivated",
        manifest([person("ada@acme.io", expires="2026-11-01")]),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [("deactivate_user", "ada@acme.io")],
    ),
    (
        "access lasts through its expiry date",
        manifest([person("ada@acme.io", expires="2026-11-22")]),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [],
    ),
    (
        "a rename through previous_emails is a patch of the same user",
        manifest([person("ada.l@acme.io", previous_emails=["ada@acme.io"])]),
        LiveState.of([live_user("1", "ada@acme.io")], []),
        [("patch_user", "ada.l@acme.io")],
    ),
    (
        "unlisted users are only reported by default",
        manifest([]),
        LiveState.of([live_user("1", "stray@acme.io")], []),
        [],
    ),
    (
        "unlisted users are deactivated when the policy says so",
        manifest([], unmanaged_users="deactivate"),
        LiveState.of([live_user("1", "stray@acme.io")], []),
        [("deactivate_user", "stray@acme.io")],
    ),
    (
        "users outside the claimed domains are never touched",
        manifest([], unmanaged_users="deactivate"),
        LiveState.of([live_user("1", "guest@partner.com")], []),
        [],
    ),
    (
        "protected accounts are never deprovisioned, even when unlisted",
        manifest([], unmanaged_users="deactivate", protected=["owner@acme.io"]),
        LiveState.of([live_user("1", "owner@acme.io")], []),
        [],
    ),
    (
        "a new team is created and its new member added after the user is created",
        manifest([person("ada@acme.io")], [{"name": "Data", "members": ["ada@acme.io"]}]),
        LiveState(),
        [("create_user", "ada@acme.io"), ("create_group", "Data"), ("add_members", "Data")],
    ),
    (
        "a team rename through previous_names keeps the group",
        manifest([], [{"name": "Data Science", "previous_names": ["Data"]}]),
        LiveState.of([], [LiveGroup("g", "Data")]),
        [("rename_group", "Data Science")],
    ),
    (
        "teams without members: are created but their membership is not managed",
        manifest([person("ada@acme.io")], [{"name": "Data"}]),
        LiveState.of([live_user("1", "ada@acme.io")], [LiveGroup("g", "Data", frozenset({"1"}))]),
        [],
    ),
    (
        "an expired membership is removed, the user stays",
        manifest(
            [person("ada@acme.io")],
            [{"name": "Data", "members": [{"email": "ada@acme.io", "expires": "2026-11-01"}]}],
        ),
        LiveState.of([live_user("1", "ada@acme.io")], [LiveGroup("g", "Data", frozenset({"1"}))]),
        [("remove_members", "Data")],
    ),
    (
        "revoke first: removals and deactivations precede creates and grants",
        manifest(
            [person("new@acme.io"), person("old@acme.io", active=False)],
            [{"name": "Data", "members": ["new@acme.io"]}],
        ),
        LiveState.of([live_user("1", "old@acme.io")], [LiveGroup("g", "Data", frozenset({"1"}))]),
        [
            ("remove_members", "Data"),
            ("deactivate_user", "old@acme.io"),
            ("create_user", "new@acme.io"),
            ("add_members", "Data"),
        ],
    ),
    (
        "a deprovisioned user also leaves teams the manifest does not list",
        manifest([person("old@acme.io", active=False)]),
        LiveState.of([live_user("1", "old@acme.io")], [LiveGroup("g", "Other", frozenset({"1"}))]),
        [("remove_members", "Other"), ("deactivate_user", "old@acme.io")],
    ),
    (
        "members outside the claimed domains are left in their teams",
        manifest([], [{"name": "Data", "members": []}]),
        LiveState.of(
            [live_user("1", "guest@partner.com")], [LiveGroup("g", "Data", frozenset({"1"}))]
        ),
        [],
    ),
]


@pytest.mark.parametrize(
    ("desired", "live", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_planner_table(desired: Manifest, live: LiveState, expected: list[tuple[str, str]]) -> None:
    assert plan_ops(desired, live) == expected


def test_add_members_depends_on_the_create_of_each_new_member_and_the_team() -> None:
    desired = manifest([person("ada@acme.io")], [{"name": "Data", "members": ["ada@acme.io"]}])
    plan = make_plan(desired, LiveState(), today=TODAY, target="https://x", manifest_digest="d")
    add = plan.operation("add_members:Data")
    assert set(add.depends_on) == {"create_group:Data", "create_user:ada@acme.io"}


def test_the_same_inputs_give_a_byte_identical_plan() -> None:
    desired = manifest(
        [person(f"u{i}@acme.io") for i in range(30)],
        [
            {"name": f"T{i}", "members": [f"u{j}@acme.io" for j in range(i, 30, 3)]}
            for i in range(5)
        ],
    )
    users = [live_user(str(i), f"u{i}@acme.io", family="Old") for i in range(0, 30, 2)]
    live_a = LiveState.of(users, [LiveGroup("g1", "T1", frozenset({"0", "2"}))])
    live_b = LiveState.of(list(reversed(users)), [LiveGroup("g1", "T1", frozenset({"2", "0"}))])
    plan_a = make_plan(desired, live_a, today=TODAY, target="https://x", manifest_digest="d")
    plan_b = make_plan(desired, live_b, today=TODAY, target="https://x", manifest_digest="d")
    assert plan_a.to_json() == plan_b.to_json()


def test_deprovision_reason_says_when_access_expired() -> None:
    desired = manifest([person("ada@acme.io", expires="2026-11-01")])
    live = LiveState.of([live_user("1", "ada@acme.io")], [])
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    assert plan.operations[0].reason == "expired on 2026-11-01"


def test_a_patch_carries_every_changed_attribute_in_one_operation() -> None:
    desired = manifest([person("ada@acme.io", given="Augusta", family="King", display_name="AK")])
    live = LiveState.of([live_user("1", "ada@acme.io")], [])
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    (op,) = plan.operations
    assert op.after == {"given_name": "Augusta", "family_name": "King", "display_name": "AK"}
    assert op.before["given_name"] == "Given"


def test_the_plan_round_trips_through_json_losslessly() -> None:
    desired = manifest(
        [person("ada@acme.io"), person("bob@acme.io", active=False)],
        [{"name": "Data", "members": ["ada@acme.io"]}],
    )
    live = LiveState.of([live_user("1", "bob@acme.io")], [LiveGroup("g", "Data", frozenset({"1"}))])
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    from reconciler.plan import Plan

    again = Plan.from_json(plan.to_json())
    assert again == plan
    assert again.to_json() == plan.to_json()
    assert again.digest == plan.digest


def test_access_expiring_within_the_warning_window_is_a_notice() -> None:
    desired = manifest(
        [person("ada@acme.io", expires="2026-11-30"), person("bob@acme.io", expires="2027-06-01")],
        [{"name": "Data", "members": [{"email": "bob@acme.io", "expires": "2026-11-23"}]}],
        expiry_warning_days=14,
    )
    plan = make_plan(desired, LiveState(), today=TODAY, target="https://x", manifest_digest="d")
    assert plan.notices == (
        "bob@acme.io: membership of team 'Data' expires on 2026-11-23 (in 1 day)",
        "ada@acme.io: access expires on 2026-11-30 (in 8 days)",
    )


def test_a_team_whose_live_name_differs_only_in_case_is_renamed_not_duplicated() -> None:
    desired = manifest([], [{"name": "Data Science"}])
    live = LiveState.of([], [LiveGroup("g", "data science")])
    assert plan_ops(desired, live) == [("rename_group", "Data Science")]
