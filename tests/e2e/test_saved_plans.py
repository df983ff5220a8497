"""Saved plans are self-checking, and a partial apply can be finished without a new review.

Over real HTTP on 127.0.0.1: a tampered plan file, a plan edited into something the
manifest would not produce, a plan taken to another org at the same URL, and a run
interrupted halfway that the workflow path (plan, verify-plan with the kept reviewed
plan, apply) completes under the subset rule.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.journal import read_journal
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from scim_sandbox import Sandbox
from tests.e2e.conftest import Server, person, run, write_manifest

pytestmark = pytest.mark.usefixtures("real_ctrl_c")  # the tests send real SIGINTs

# The client method apply creates users with (an adopting create, where it exists).
CREATE = "create_or_adopt_user" if hasattr(ScimClient, "create_or_adopt_user") else "create_user"
USERS = [person(f"u{i}@acme.io", f"U{i}", "Person") for i in range(6)]
TEAMS = [{"name": "Data", "members": [u["email"] for u in USERS]}]


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def test_a_tampered_plan_file_is_refused_before_anything_is_written(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS[:2], [])
    plan = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(plan)) == 0

    def swap_user(document: dict[str, Any]) -> None:
        document["operations"][0]["after"]["user_name"] = "mallory@acme.io"

    _edit(plan, swap_user)
    capsys.readouterr()
    assert run("apply", str(plan)) == 1
    err = capsys.readouterr().err
    assert "operations do not match its digest" in err and "edited" in err
    assert read_live_state(server.client()).users == ()


def test_with_the_manifest_a_plan_that_the_manifest_would_not_produce_is_refused(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS[:2], [])
    honest = tmp_path / "honest.json"
    assert run("plan", "-m", str(manifest), "--out", str(honest)) == 0
    forged = tmp_path / "forged.json"
    forged.write_text(honest.read_text(encoding="utf-8"), encoding="utf-8")

    def rename_and_rehash(document: dict[str, Any]) -> None:
        from reconciler.plan import Plan

        document["operations"][1]["after"]["given_name"] = "Mallory"
        document.pop("digest")
        document["digest"] = Plan.model_validate(document).digest  # a careful forger

    _edit(forged, rename_and_rehash)
    capsys.readouterr()
    assert run("apply", str(forged), "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "does not produce these operations" in err
    assert 'user u1@acme.io: create_user sets given_name to "Mallory"' in err
    assert read_live_state(server.client()).users == ()
    assert run("apply", str(honest), "-m", str(manifest)) == 0  # the real one still applies


def test_with_the_manifest_a_plan_pointed_at_other_scim_ids_is_refused(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Keys and values as the manifest produces them, ids swapped for another user's and
    another team's: the executor writes by id, so this would deactivate the wrong person."""
    admins = {"name": "Admins", "members": ["u0@acme.io"]}
    manifest = write_manifest(
        tmp_path / "org.yaml", USERS[:2], [admins, {"name": "Data", "members": ["u1@acme.io"]}]
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    live = read_live_state(server.client())
    victim, admins_id = live.users_by_key["u0@acme.io"].id, live.groups_by_name["Admins"].id
    offboard = [USERS[0], {**USERS[1], "active": False}]
    write_manifest(manifest, offboard, [admins, {"name": "Data", "members": []}])
    plan = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(plan)) == 0

    def retarget_and_rehash(document: dict[str, Any]) -> None:
        from reconciler.plan import Plan

        for op in document["operations"]:
            op["scim_id"] = admins_id if op["op"] == "remove_members" else victim
            for member in op.get("members", []):
                member["scim_id"] = victim
        document.pop("digest")
        document["digest"] = Plan.model_validate(document).digest

    _edit(plan, retarget_and_rehash)
    capsys.readouterr()
    assert run("apply", str(plan), "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "does not produce these operations" in err
    assert f"user u1@acme.io: deactivate_user targets SCIM id {victim!r}" in err
    assert f'team "Data": remove_members targets SCIM id {admins_id!r}' in err
    assert f"u1@acme.io is SCIM id {victim!r}" in err
    after = read_live_state(server.client())
    assert after.users_by_key["u0@acme.io"].active and after.users_by_key["u1@acme.io"].active
    assert set(after.member_keys(after.groups_by_name["Admins"])) == {"u0@acme.io"}


def test_a_plan_made_for_one_org_is_refused_on_another_org_at_the_same_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    manifest = write_manifest(tmp_path / "org.yaml", USERS[:2], [])
    plan = tmp_path / "plan.json"
    with Sandbox(token="token-of-org-A") as org_a:
        url, port = org_a.base_url, int(org_a.base_url.rsplit(":", 1)[1].split("/")[0])
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", "token-of-org-A")
        assert run("plan", "-m", str(manifest), "--out", str(plan)) == 0
    with Sandbox(token="token-of-org-B", port=port) as org_b:
        assert org_b.base_url == url  # the same URL, as every Mixpanel org has
        monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", "token-of-org-B")
        capsys.readouterr()
        assert run("apply", str(plan)) == 1
        err = capsys.readouterr().err
        assert "the plan was made for another org than this token reaches" in err
        assert "token-of-org" not in err  # never the token itself
        client = ScimClient.connect(org_b.base_url, Token("token-of-org-B"))
        assert read_live_state(client).users == ()


def test_an_interrupted_apply_is_finished_by_rerunning_the_workflow_path(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    reviewed = tmp_path / "reviewed-plan.json"  # what apply.yml keeps for a re-run
    assert run("plan", "-m", str(manifest), "--out", str(reviewed)) == 0
    digest = json.loads(reviewed.read_text(encoding="utf-8"))["digest"]
    original = getattr(ScimClient, CREATE)
    _interrupt_at_the_third_create(monkeypatch)
    capsys.readouterr()
    assert run("apply", str(reviewed), "-m", str(manifest), "--concurrency", "2") == 130
    out, err = capsys.readouterr()
    assert "Apply interrupted:" in out and "re-run to finish" in err
    events = read_journal(tmp_path / ".reconciler" / "journal.jsonl")
    assert events[-1]["event"] == "interrupted" and events[-1]["operations"] == 8
    monkeypatch.setattr(ScimClient, CREATE, original)

    # The job is re-run: a fresh plan, checked against the kept reviewed plan, applied.
    fresh = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(fresh)) == 0
    capsys.readouterr()
    verify = ["github", "verify-plan", "--plan", str(fresh), "--confirm-digest", digest]
    assert run(*verify, "--reviewed-plan", str(reviewed)) == 0
    assert "a remainder of the plan reviewed in the confirm_digest input" in (
        capsys.readouterr().out
    )
    assert run("apply", str(fresh), "-m", str(manifest)) == 0
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0

    # Anything new since the review is refused, and named.
    write_manifest(manifest, [*USERS, person("new@acme.io")], TEAMS)
    assert run("plan", "-m", str(manifest), "--out", str(fresh)) == 0
    capsys.readouterr()
    assert run(*verify, "--reviewed-plan", str(reviewed)) == 3
    assert "user new@acme.io: create_user is not in the reviewed plan" in capsys.readouterr().err


def _interrupt_at_the_third_create(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C arrives (a real SIGINT) while the third user is being created."""
    original = getattr(ScimClient, CREATE)
    lock, calls = threading.Lock(), [0]

    def create_user(self: ScimClient, resource: Any) -> Any:
        with lock:
            calls[0] += 1
            fire = calls[0] == 3
        created = original(self, resource)
        if fire:
            os.kill(os.getpid(), signal.SIGINT)
        return created

    monkeypatch.setattr(ScimClient, CREATE, create_user)


def test_a_rerun_may_reactivate_the_account_a_reviewed_create_found_already_there(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first attempt's create met the account (a 409, adopted) and stopped before
    reactivating it: the re-run's reactivation writes only what the reviewed create
    would have, so it is a remainder; anything beyond that still needs a review."""
    from reconciler.scim.builders import user_resource

    manifest = write_manifest(tmp_path / "org.yaml", USERS[:2], [])
    reviewed = tmp_path / "reviewed-plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(reviewed)) == 0
    digest = json.loads(reviewed.read_text(encoding="utf-8"))["digest"]
    first = USERS[0]
    server.client().create_user(  # what the stopped attempt left: there, not yet active
        user_resource(first["email"], first["given_name"], first["family_name"], None, False)
    )
    fresh = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(fresh)) == 0
    ops = json.loads(fresh.read_text(encoding="utf-8"))["operations"]
    assert sorted(op["op"] for op in ops) == ["create_user", "reactivate_user"]
    capsys.readouterr()
    verify = ["github", "verify-plan", "--plan", str(fresh), "--confirm-digest", digest]
    assert run(*verify, "--reviewed-plan", str(reviewed)) == 0
    assert "a remainder of the plan reviewed" in capsys.readouterr().out
    assert run("apply", str(fresh), "-m", str(manifest)) == 0
    assert all(user.active for user in read_live_state(server.client()).users)
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_with_the_manifest_a_plan_with_a_looser_policy_than_the_manifest_is_refused(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The guards check a saved plan against its own copy of the policy: raised in the
    file (digest recomputed), it let four deprovisions through a limit of one."""
    manifest = write_manifest(tmp_path / "org.yaml", USERS[:4], [])
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    leaving = [{**user, "active": False} for user in USERS[:4]]
    write_manifest(manifest, leaving, [], max_deprovision=1)
    plan = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(plan)) == 0

    def loosen_and_rehash(document: dict[str, Any]) -> None:
        from reconciler.plan import Plan

        document["policy"].update(max_deprovision=100, max_deprovision_percent=100)
        document["claimed_domains"].append("evil.example")
        document.pop("digest")
        document["digest"] = Plan.model_validate(document).digest

    _edit(plan, loosen_and_rehash)
    capsys.readouterr()
    assert run("apply", str(plan), "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "does not produce these operations" not in err
    assert "policy.max_deprovision: 100 in the plan, 1 in the manifest" in err
    assert "policy.max_deprovision_percent: 100.0 in the plan, 10.0 in the manifest" in err
    assert "claimed_domains: " in err and "evil.example" in err
    assert all(user.active for user in read_live_state(server.client()).users)
