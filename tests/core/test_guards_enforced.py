"""The blast-radius guards are enforced by apply_plan itself, where the writes happen.

Before, the executor ran any plan it was given and only the callers checked the
guards (three evaluations per apply). Now apply_plan refuses, before the journal
is created and before any write, a plan over a threshold for the live state it was
checked against; the override naming the count lets it run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.errors import UnsafePlanError
from reconciler.executor import apply_plan
from reconciler.guards import Overrides
from reconciler.journal import Journal
from reconciler.livestate import LiveUser
from tests.core.test_executor import plan_for
from tests.core.test_planner import manifest, person
from tests.support.fake_directory import FakeDirectory

LEAVERS = [f"u{i}@acme.io" for i in range(3)]


def _directory() -> FakeDirectory:
    return FakeDirectory([LiveUser(str(i), email, "G", "F") for i, email in enumerate(LEAVERS)])


def test_apply_plan_refuses_a_plan_over_a_guard_before_the_journal_or_any_write(
    tmp_path: Path,
) -> None:
    directory = _directory()
    desired = manifest([person(e, active=False) for e in LEAVERS], max_deprovision=2)
    plan = plan_for(desired, directory)
    journal_path = tmp_path / "journal.jsonl"

    with (
        pytest.raises(UnsafePlanError, match="--allow-deprovision 3"),
        Journal(journal_path, run_id="r") as journal,
    ):
        apply_plan(plan, directory, journal=journal, live=directory.live())

    assert all(u.active for u in directory.live().users)  # nothing was written
    assert not journal_path.exists()  # a refused run leaves no journal behind


def test_apply_plan_runs_the_plan_when_the_override_names_the_count(tmp_path: Path) -> None:
    directory = _directory()
    desired = manifest([person(e, active=False) for e in LEAVERS], max_deprovision=2)
    plan = plan_for(desired, directory)
    journal_path = tmp_path / "journal.jsonl"

    with Journal(journal_path, run_id="r") as journal:
        result = apply_plan(
            plan, directory, journal=journal, live=directory.live(), overrides=Overrides(3)
        )

    assert result.complete
    assert not any(u.active for u in directory.live().users)
    events = [json.loads(line)["event"] for line in journal_path.read_text().splitlines()]
    assert events[0] == "apply_start" and events[-1] == "apply_end"
