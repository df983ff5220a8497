"""The executor against a stateful fake: order, dependencies, batching, partial failure."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from reconciler.executor import ApplyOptions, Status, apply_plan
from reconciler.journal import Journal, read_journal
from reconciler.livestate import LiveGroup, LiveUser
from reconciler.planner import make_plan
from tests.core.test_planner import manifest, person
from tests.support.fake_directory import FakeDirectory

TODAY = date(2026, 11, 22)


def plan_for(desired, directory):  # type: ignore[no-untyped-def]
    return make_plan(
        desired, directory.live(), today=TODAY, target="https://x", manifest_digest="d"
    )


def test_apply_then_plan_again_is_empty() -> None:
    desired = manifest(
        [
            person("ada@acme.io"),
            person("bob@acme.io", family="New"),
            person("cy@acme.io", active=False),
        ],
        [
            {
                "name": "Data",
                "previous_names": ["Old Data"],
                "members": ["ada@acme.io", "bob@acme.io"],
            },
            {"name": "Growth", "members": ["bob@acme.io"]},
        ],
    )
    directory = FakeDirectory(
        [LiveUser("1", "bob@acme.io", "Given", "Family"), LiveUser("2", "cy@acme.io", "C", "Y")],
        [LiveGroup("g1", "Old Data", frozenset({"2"}))],
    )
    result = apply_plan(plan_for(desired, directory), directory, journal=Journal(None, run_id="t"))
    assert result.complete
    assert not plan_for(desired, directory).has_changes


def test_a_failed_create_skips_only_that_member_and_the_rest_goes_on() -> None:
    desired = manifest(
        [person("ada@acme.io"), person("out@acme.io")],
        [{"name": "Data", "members": ["ada@acme.io", "out@acme.io"]}],
    )
    directory = FakeDirectory(fail_create={"out@acme.io"})
    result = apply_plan(plan_for(desired, directory), directory, journal=Journal(None, run_id="t"))
    statuses = {r.op_id: r.status for r in result.results}
    assert statuses["create_user:out@acme.io"] is Status.FAILED
    assert "outside this org" in next(r.detail for r in result.results if r.status is Status.FAILED)
    assert statuses["add_members:Data"] is Status.PARTIAL
    live = directory.live()
    (group,) = live.groups
    assert live.member_keys(group) == {"ada@acme.io"}
    # A re-run plans only what is left: the create that failed.
    again = plan_for(desired, directory)
    assert [op.id for op in again.operations] == ["create_user:out@acme.io", "add_members:Data"]


def test_membership_changes_are_batched_by_chunk_size() -> None:
    users = [person(f"u{i:03}@acme.io") for i in range(250)]
    desired = manifest(users, [{"name": "Big", "members": [u["email"] for u in users]}])
    directory = FakeDirectory(
        [LiveUser(f"{i}", f"u{i:03}@acme.io", "Given", "Family") for i in range(250)],
        [LiveGroup("g", "Big")],
    )
    apply_plan(
        plan_for(desired, directory),
        directory,
        journal=Journal(None, run_id="t"),
        options=ApplyOptions(chunk_size=100),
    )
    assert [c for c in directory.calls if c[0] == "patch_group"] == [("patch_group", "g")] * 3


def test_a_413_halves_the_batch_until_the_server_accepts_it() -> None:
    users = [person(f"u{i:03}@acme.io") for i in range(100)]
    desired = manifest(users, [{"name": "Big", "members": [u["email"] for u in users]}])
    directory = FakeDirectory(
        [LiveUser(f"{i}", f"u{i:03}@acme.io", "Given", "Family") for i in range(100)],
        [LiveGroup("g", "Big")],
        max_members_per_patch=30,
    )
    result = apply_plan(
        plan_for(desired, directory),
        directory,
        journal=Journal(None, run_id="t"),
        options=ApplyOptions(chunk_size=100),
    )
    assert result.complete
    assert len(directory.live().groups[0].member_ids) == 100


def test_concurrent_apply_reports_results_in_plan_order(tmp_path: Path) -> None:
    desired = manifest([person(f"u{i:02}@acme.io") for i in range(40)])
    directory = FakeDirectory()
    plan = plan_for(desired, directory)
    seen: list[str] = []
    apply_plan(
        plan,
        directory,
        journal=Journal(None, run_id="t"),
        options=ApplyOptions(concurrency=8),
        on_result=lambda r: seen.append(r.op_id),
    )
    assert seen == [op.id for op in plan.operations]


def test_every_outcome_is_journaled_and_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    desired = manifest([person("ada@acme.io"), person("bob@acme.io")])
    directory = FakeDirectory()
    path = tmp_path / "journal.jsonl"
    with Journal(path, run_id="r1") as journal:
        apply_plan(plan_for(desired, directory), directory, journal=journal)
    with path.open("a") as handle:
        handle.write('{"event": "operation", "id": "torn')  # a crash mid-write
    events = read_journal(path)
    assert [e["event"] for e in events] == [
        "apply_start",
        "operation",
        "operation",
        "verification",
        "apply_end",
    ]
    assert {e["id"] for e in events if e["event"] == "operation"} == {
        "create_user:ada@acme.io",
        "create_user:bob@acme.io",
    }
    assert all(e["run_id"] == "r1" for e in events)


def test_fail_fast_skips_everything_after_the_first_failure() -> None:
    desired = manifest([person("a@acme.io"), person("b@acme.io"), person("c@acme.io")])
    directory = FakeDirectory(fail_create={"a@acme.io"})
    result = apply_plan(
        plan_for(desired, directory),
        directory,
        journal=Journal(None, run_id="t"),
        options=ApplyOptions(fail_fast=True),
    )
    assert [r.status for r in result.results] == [Status.FAILED, Status.SKIPPED, Status.SKIPPED]
