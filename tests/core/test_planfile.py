"""The plan file: its version checked on read, files of earlier releases still read,
a digest over target, basis and operations but not reasons, its own policy snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler import planfile
from reconciler.manifest.models import Policy
from reconciler.plan import Plan, PolicySnapshot
from reconciler.planfile import PlanFileError, TamperedPlanError
from reconciler.render.json import render_json
from tests.core.test_render_golden import sample_plan

FIXTURES = Path(__file__).parent.parent / "fixtures" / "planfile"


def edited(plan: Plan, change: Any) -> str:
    body = json.loads(planfile.dumps(plan))
    change(body)
    return json.dumps(body)


def test_a_plan_round_trips_byte_for_byte() -> None:
    plan = sample_plan()
    text = planfile.dumps(plan)
    assert planfile.loads(text) == plan
    assert planfile.dumps(planfile.loads(text)) == text
    assert json.loads(text)["format_version"] == planfile.FORMAT_VERSION


def test_a_plan_file_written_by_the_previous_release_still_reads() -> None:
    # Written before reasons were left out of the digest: same format, older digest rule.
    text = (FIXTURES / "v1-digest-with-reasons.json").read_text(encoding="utf-8")
    recorded = json.loads(text)["digest"]
    plan = planfile.loads(text)
    resaved = json.loads(planfile.dumps(plan))
    assert resaved["digest"] != recorded  # re-saved, it carries today's digest
    assert {**resaved, "digest": recorded} == json.loads(text)  # and nothing else moved
    edit = json.loads(text)
    edit["operations"][0]["key"] = "eve@acme.io"
    with pytest.raises(TamperedPlanError):
        planfile.loads(json.dumps(edit))


@pytest.mark.parametrize(
    ("version", "said"),
    [
        (2, "written by a newer reconciler"),
        (99, "written by a newer reconciler"),
        (0, "written by an unknown writer"),
        ("1", "written by an unknown writer"),
        (True, "written by an unknown writer"),
        (1.0, "written by an unknown writer"),
    ],
)
def test_a_format_version_this_release_does_not_read_is_refused(version: Any, said: str) -> None:
    text = edited(sample_plan(), lambda body: body.update(format_version=version))
    with pytest.raises(PlanFileError, match=said) as caught:
        planfile.loads(text)
    assert "reads format_version 1" in str(caught.value)
    assert "reconciler plan --out" in str(caught.value)


def test_a_file_without_a_format_version_is_refused() -> None:
    text = edited(sample_plan(), lambda body: body.pop("format_version"))
    with pytest.raises(PlanFileError, match="no format_version"):
        planfile.loads(text)


@pytest.mark.parametrize("text", ["[]", '"plan"', "3", "null"])
def test_json_that_is_not_an_object_is_refused(text: str) -> None:
    with pytest.raises(PlanFileError, match="not an object"):
        planfile.loads(text)


def _reword(body: dict[str, Any]) -> None:
    for op in body["operations"]:
        op["reason"] = "reworded " + op["reason"]
        for member in op["members"]:
            member["reason"] = "because"


def test_rewording_reasons_keeps_the_digest_and_the_file_reads() -> None:
    plan = sample_plan()
    text = edited(plan, _reword)
    reread = planfile.loads(text)
    assert reread.digest == plan.digest
    assert reread.operations[0].reason.startswith("reworded ")


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.update(target="https://other.example/scim/v2"),
        lambda b: b.update(manifest_digest="sha256:" + "1" * 64),
        lambda b: b.update(live_fingerprint="sha256:" + "2" * 64),
        lambda b: b.update(org="other-org"),
        lambda b: b.update(claimed_domains=["evil.io"]),
        lambda b: b["policy"].update(max_deprovision=1000),
        lambda b: b["operations"][0].update(key="eve@acme.io"),
        lambda b: b["operations"][-1]["members"][0].update(email="eve@acme.io"),
        lambda b: b["operations"].pop(),
    ],
    ids=[
        "target",
        "manifest",
        "live",
        "org",
        "domains",
        "limits",
        "operation",
        "member",
        "dropped operation",
    ],
)
def test_an_edit_to_target_basis_or_operations_is_refused(change: Any) -> None:
    with pytest.raises(TamperedPlanError):
        planfile.loads(edited(sample_plan(), change))


def test_the_plan_keeps_its_own_snapshot_of_the_policy() -> None:
    policy = Policy(max_deprovision=3, protected=("owner@acme.io",))
    snapshot = PolicySnapshot.model_validate(policy.model_dump(mode="json"))
    assert not isinstance(sample_plan().policy, Policy)
    assert isinstance(sample_plan().policy, PolicySnapshot)
    assert snapshot.max_deprovision == 3
    assert snapshot.model_dump(mode="json") == policy.model_dump(mode="json")


def test_every_policy_field_is_in_the_snapshot() -> None:
    assert set(PolicySnapshot.model_fields) == set(Policy.model_fields)


def test_the_json_view_is_the_plan_file() -> None:
    plan = sample_plan()
    assert render_json(plan) == planfile.dumps(plan)
    assert planfile.loads(render_json(plan)) == plan
