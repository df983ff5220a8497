"""Every operation kind declares every part of its spec, and every consumer can use it.

A new kind that lacks a phase, a summary bucket, wording, a staleness rule or an
executor handler fails here, not as a KeyError in the middle of an apply.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from reconciler import executor, staleness
from reconciler.kinds import SPECS, KindSpec, OpKind, Staleness
from reconciler.plan import Summary
from reconciler.render import markdown
from reconciler.scim.protocols import ScimWriter

ALL_KINDS = list(OpKind)


def test_every_kind_has_a_spec_and_no_spec_lacks_a_kind() -> None:
    assert set(SPECS) == set(OpKind)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_every_part_of_the_spec_is_filled_in(kind: OpKind) -> None:
    spec = SPECS[kind]
    assert isinstance(spec, KindSpec)
    for part in dataclasses.fields(KindSpec):
        value = getattr(spec, part.name)
        if part.name == "held_back" and spec.revokes:
            assert value is None, f"{kind}: a revoking kind is never held back"
            continue
        if part.name == "guard" and not spec.revokes:
            assert value is None, f"{kind}: only a kind that revokes is counted by a guard"
            continue
        assert value not in (None, ""), f"{kind}: spec part {part.name!r} is empty"


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_the_summary_bucket_is_a_field_of_the_summary(kind: OpKind) -> None:
    assert SPECS[kind].bucket in Summary.model_fields


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_the_executor_has_the_named_handler(kind: OpKind) -> None:
    handler = getattr(executor._Runner, SPECS[kind].handler, None)
    assert callable(handler), f"{kind}: executor has no method {SPECS[kind].handler!r}"


@pytest.mark.parametrize("rule", list(Staleness), ids=str)
def test_every_staleness_rule_is_implemented(rule: Staleness) -> None:
    assert rule in staleness._DONE_RULES


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_the_flags_agree_with_each_other(kind: OpKind) -> None:
    spec = SPECS[kind]
    if spec.deprovision:
        assert spec.revokes and spec.subject == "user"
    if spec.membership:
        assert spec.subject == "team"
        assert spec.bucket in ("members_added", "members_removed")
    assert spec.revokes == (spec.held_back is None)


def test_revoking_kinds_run_before_every_grant() -> None:
    last_revoke = max(s.phase for s in SPECS.values() if s.revokes)
    first_grant = min(s.phase for s in SPECS.values() if not s.revokes)
    assert last_revoke < first_grant


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_a_kind_that_revokes_is_counted_by_a_blast_radius_guard(kind: OpKind) -> None:
    spec = SPECS[kind]
    # A revoking kind that no guard counts would slip past every --allow-* override.
    assert (spec.guard is not None) == spec.revokes, f"{kind}: revokes, but no guard counts it"
    assert (spec.guard == "deprovision") == spec.deprovision
    if spec.guard == "membership_removals":
        assert spec.membership and spec.bucket == "members_removed"
    if spec.guard == "teams_emptied":
        assert spec.subject == "team"


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_the_markdown_plan_has_a_sign_for_the_kinds_symbol(kind: OpKind) -> None:
    assert SPECS[kind].symbol in markdown._SIGNS


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_the_generic_delete_handler_has_a_writer_call_for_the_kinds_subject(kind: OpKind) -> None:
    spec = SPECS[kind]
    if spec.handler == "_delete":
        call = "delete_user" if spec.subject == "user" else "delete_group"
        assert callable(getattr(ScimWriter, call, None)), f"{kind}: the writer has no {call}"


def test_the_guards_count_each_kind_by_the_guard_its_spec_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A new kind (a team's deletion, say) is counted by naming a guard in its spec and
    # nothing else: simulated by giving an existing team kind the `teams_emptied` guard.
    from reconciler import kinds
    from reconciler.guards import Overrides, guard_findings, teams_emptied
    from reconciler.livestate import LiveGroup, LiveState, LiveUser
    from reconciler.plan import Operation, Plan, PolicySnapshot

    spec = dataclasses.replace(SPECS[OpKind.RENAME_GROUP], revokes=True, guard="teams_emptied")
    monkeypatch.setattr(kinds, "SPECS", {**SPECS, OpKind.RENAME_GROUP: spec})
    live = LiveState.of(
        [LiveUser("u1", "a@acme.io"), LiveUser("u2", "b@acme.io")],
        [LiveGroup("g1", "Full", frozenset({"u1", "u2"})), LiveGroup("g2", "Empty")],
    )
    ops = tuple(
        Operation(id=f"x:{name}", op=OpKind.RENAME_GROUP, key=name, scim_id=gid)
        for gid, name in (("g1", "Full"), ("g2", "Empty"))
    )
    plan = Plan(
        target="https://x",
        manifest_digest="d",
        live_fingerprint="f",
        as_of=date(2026, 11, 22),
        claimed_domains=("acme.io",),
        policy=PolicySnapshot(max_teams_emptied=0),
        operations=ops,
    )
    assert teams_emptied(plan, live) == ["Full"]  # the empty team empties nothing
    (finding,) = guard_findings(plan, live, Overrides())
    assert (finding.guard, finding.count) == ("teams_emptied", 1)
    assert guard_findings(plan, live, Overrides(teams_emptied=1)) == []
