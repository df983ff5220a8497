"""Revoke-only plans, one-line offboarding, the subset rule and true notices. Pure."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from reconciler.errors import Problem
from reconciler.livestate import LiveGroup, LiveState
from reconciler.plan import REVOKING, OpKind, Plan, grant_count, not_covered
from reconciler.planfile import TamperedPlanError
from reconciler.planner import make_plan
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from reconciler.scim.secret import Token
from reconciler.staleness import not_a_remainder
from reconciler.workflow import still_true
from tests.core.test_planner import TODAY, live_user, manifest, person


def plan_of(desired, live, today=TODAY):  # type: ignore[no-untyped-def]
    return make_plan(desired, live, today=today, target="https://x", manifest_digest="d")


def test_the_revoking_kinds_are_a_property_of_the_kind() -> None:
    assert (
        {k for k in OpKind if k.revokes}
        == REVOKING
        == {
            OpKind.REMOVE_MEMBERS,
            OpKind.DEACTIVATE_USER,
            OpKind.DELETE_USER,
        }
    )


def test_revocations_only_keeps_removals_and_holds_every_grant_back() -> None:
    desired = manifest(
        [person("ada@acme.io"), person("bob@acme.io", family="New", active=False),
         person("cy@acme.io")],
        [{"name": "Data", "members": ["ada@acme.io", "cy@acme.io"]}],
    )  # fmt: skip
    live = LiveState.of(
        [live_user("1", "ada@acme.io", family="Old"), live_user("2", "bob@acme.io")],
        [LiveGroup("g", "Data", frozenset({"1", "2"}))],
    )
    full = plan_of(desired, live)
    revoke = full.revocations_only()
    assert [(o.op, o.key) for o in revoke.operations] == [
        (OpKind.REMOVE_MEMBERS, "Data"),
        (OpKind.DEACTIVATE_USER, "bob@acme.io"),
    ]
    (deactivate,) = [o for o in revoke.operations if o.op is OpKind.DEACTIVATE_USER]
    assert deactivate.after == {"active": False}  # the family_name patch is a change: held
    assert {o.op for o in revoke.held_back} == {
        OpKind.CREATE_USER,
        OpKind.PATCH_USER,
        OpKind.ADD_MEMBERS,
    }
    assert grant_count(revoke.held_back) == 3  # create cy, patch ada, add cy
    assert revoke.summary.deactivate == 1 and revoke.summary.members_removed == 1
    text = render_text(revoke)
    assert "Held back: 3 grants wait for a reviewed merge" in text
    assert "1 grant waits" in render_text(
        revoke.model_copy(update={"held_back": revoke.held_back[:1]})
    )
    assert "Held back: 3 grants wait" in render_markdown(revoke)


def test_a_revoke_only_plan_with_nothing_to_revoke_does_not_claim_no_changes() -> None:
    desired = manifest([person("ada@acme.io")])
    revoke = plan_of(desired, LiveState()).revocations_only()
    assert not revoke.has_changes
    text = render_text(revoke)
    assert "No changes" not in text and "Nothing to revoke" in text


def test_active_false_alone_removes_every_membership_with_the_reason() -> None:
    teams = [{"name": "Data", "members": ["bob@acme.io"]}, {"name": "Ops"}]
    desired = manifest([person("bob@acme.io", active=False)], teams)
    live = LiveState.of(
        [live_user("2", "bob@acme.io")],
        [LiveGroup("g1", "Data", frozenset({"2"})), LiveGroup("g2", "Ops", frozenset({"2"}))],
    )
    plan = plan_of(desired, live)
    removals = [o for o in plan.operations if o.op is OpKind.REMOVE_MEMBERS]
    assert sorted(o.key for o in removals) == ["Data", "Ops"]
    for op in removals:
        assert op.members[0].reason == "deprovisioned: active: false in the manifest"


def test_an_already_inactive_listed_member_is_left_as_the_org_has_it() -> None:
    desired = manifest(
        [person("bob@acme.io", active=False), person("ada@acme.io")],
        [{"name": "Data", "members": ["bob@acme.io", "ada@acme.io"]}],
    )
    live = LiveState.of(
        [live_user("2", "bob@acme.io", active=False), live_user("1", "ada@acme.io")],
        [LiveGroup("g1", "Data", frozenset({"1", "2"}))],
    )
    assert plan_of(desired, live).operations == ()  # what import writes plans nothing
    absent = LiveState.of(
        [live_user("2", "bob@acme.io", active=False), live_user("1", "ada@acme.io")],
        [LiveGroup("g1", "Data", frozenset({"1"}))],
    )
    assert plan_of(desired, absent).operations == ()  # and is never added


def test_an_expired_membership_instant_is_removed_at_that_instant() -> None:
    desired = manifest(
        [person("bob@acme.io")],
        [
            {
                "name": "Data",
                "members": [{"email": "bob@acme.io", "expires": "2026-11-22T17:00:00Z"}],
            }
        ],
    )
    live = LiveState.of(
        [live_user("2", "bob@acme.io")], [LiveGroup("g1", "Data", frozenset({"2"}))]
    )
    before = datetime(2026, 11, 22, 16, 59, tzinfo=UTC)
    at = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert plan_of(desired, live, before).operations == ()
    (op,) = plan_of(desired, live, at).operations
    assert op.op is OpKind.REMOVE_MEMBERS
    assert op.members[0].reason == "membership expired on 2026-11-22T17:00:00Z"


def test_a_past_expiry_notice_stops_once_the_access_is_gone() -> None:
    user_notice = Problem("m.yaml", 3, 5, "expires ... bob", while_access=("bob@acme.io", None))
    member_notice = Problem("m.yaml", 7, 9, "expires ... T", while_access=("ada@acme.io", "T"))
    plain = Problem("m.yaml", 1, 1, "something else")
    notices = (user_notice, member_notice, plain)
    before = LiveState.of(
        [live_user("1", "ada@acme.io"), live_user("2", "bob@acme.io")],
        [LiveGroup("g", "T", frozenset({"1"}))],
    )
    assert still_true(notices, before) == notices
    after = LiveState.of(
        [live_user("1", "ada@acme.io"), live_user("2", "bob@acme.io", active=False)],
        [LiveGroup("g", "T", frozenset())],
    )
    assert still_true(notices, after) == (plain,)


def test_a_saved_plan_carries_its_digest_and_refuses_an_edit() -> None:
    plan = plan_of(manifest([person("ada@acme.io")]), LiveState())
    assert Plan.from_json(plan.to_json()) == plan
    edited = plan.to_json().replace('"ada@acme.io"', '"eve@acme.io"')
    with pytest.raises(TamperedPlanError):
        Plan.from_json(edited)
    odd = json.loads(plan.to_json())
    odd["digest"] = 12
    with pytest.raises(TamperedPlanError, match="recorded 12"):
        Plan.from_json(json.dumps(odd))
    without = json.loads(plan.to_json())
    del without["digest"]
    with pytest.raises(ValueError, match="no digest"):
        Plan.from_json(json.dumps(without))


def test_the_org_identity_is_one_way_and_differs_per_token() -> None:
    a = Token("token-A").identity("https://mixpanel.com/api/app/scim/v2")
    b = Token("token-B").identity("https://mixpanel.com/api/app/scim/v2")
    assert a != b and a.startswith("hmac-sha256:") and "token-A" not in a
    assert a == Token("token-A").identity("https://mixpanel.com/api/app/scim/v2")


def test_a_remainder_is_a_subset_of_the_reviewed_operations() -> None:
    desired = manifest(
        [person("ada@acme.io"), person("bob@acme.io")],
        [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io"]}],
    )
    reviewed = plan_of(desired, LiveState())
    # Ada was created and added before the run failed; the fresh plan is what is left.
    after_partial = LiveState.of(
        [live_user("1", "ada@acme.io")], [LiveGroup("g", "Data", frozenset({"1"}))]
    )
    fresh = plan_of(desired, after_partial)
    assert not_a_remainder(fresh, reviewed) == []
    grown = plan_of(
        manifest(
            [person("ada@acme.io"), person("bob@acme.io", given="Robert"), person("eve@acme.io")],
            [{"name": "Data", "members": ["ada@acme.io", "bob@acme.io", "eve@acme.io"]}],
        ),
        after_partial,
    )
    assert not_covered(grown.operations, reviewed.operations) == [
        'user bob@acme.io: create_user sets given_name to "Robert"',
        "user eve@acme.io: create_user is not in the reviewed plan",
        'team "Data": add_members eve@acme.io is new',
    ]
    other = fresh.model_copy(update={"manifest_digest": "e", "org": "hmac-sha256:other"})
    problems = not_a_remainder(other, reviewed)
    assert problems[0].startswith("target:") and problems[1].startswith("manifest:")


def test_a_reviewed_create_covers_reactivating_that_account_to_its_values() -> None:
    """A partial apply that found the account already there (adopted after a 409, then
    a failed reactivation) leaves a reactivate or a patch of it: nothing the reviewers
    did not grant, as long as it writes only what the reviewed create wrote."""
    desired = manifest([person("ada@acme.io", given="Ada")])
    reviewed = plan_of(desired, LiveState())
    found = LiveState.of([live_user("1", "ada@acme.io", given="Old", active=False)], [])
    fresh = plan_of(desired, found)
    assert [(op.op, op.after) for op in fresh.operations] == [
        (OpKind.REACTIVATE_USER, {"given_name": "Ada", "active": True})
    ]
    assert not_a_remainder(fresh, reviewed) == []
    # Other values than the reviewed create's, or another account: still new.
    renamed = plan_of(manifest([person("ada@acme.io", given="Mallory")]), found)
    assert any(
        'sets given_name to "Mallory"' in line
        for line in not_covered(renamed.operations, reviewed.operations)
    )
    other = plan_of(
        manifest([person("bob@acme.io")]),
        LiveState.of([live_user("2", "bob@acme.io", active=False)], []),
    )
    assert not_covered(other.operations, reviewed.operations) == [
        "user bob@acme.io: reactivate_user is not in the reviewed plan"
    ]


def test_renaming_another_account_to_a_user_the_reviewed_plan_creates_is_new() -> None:
    reviewed = plan_of(manifest([person("cyrus@acme.io")]), LiveState())
    moved = manifest([person("cyrus@acme.io", previous_emails=["cy@acme.io"])])
    fresh = plan_of(moved, LiveState.of([live_user("7", "cy@acme.io")], []))
    assert [op.op for op in fresh.operations] == [OpKind.PATCH_USER]
    assert not_covered(fresh.operations, reviewed.operations) == [
        "user cyrus@acme.io: patch_user is not in the reviewed plan"
    ]
