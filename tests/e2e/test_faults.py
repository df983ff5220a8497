"""Faults over real HTTP against the sandbox: retries, lost responses, failed reads, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.journal import read_journal
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from scim_sandbox import Faults, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest

USERS = [person(f"user{i:02}@acme.io", "User", f"N{i}") for i in range(12)]
TEAMS = [{"name": "All", "members": [u["email"] for u in USERS]}]


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        yield box


def live_users(box: Sandbox) -> list[str]:
    client = ScimClient.connect(box.base_url, Token(TOKEN))
    return [u.key for u in read_live_state(client).users]


def test_429_storms_and_5xx_bursts_are_retried_to_completion(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    sandbox.set_faults(Faults(rate_429=0.15, retry_after_s=0.01, rate_5xx=0.1, seed=7))
    assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "8") == 0
    injected = sandbox.stats.faults()
    assert injected.get("429", 0) > 0 and injected.get("5xx", 0) > 0
    sandbox.set_faults(Faults())
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_a_post_whose_response_was_lost_never_creates_a_duplicate(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [])
    sandbox.set_faults(Faults(lost_response_rate=1.0, only=frozenset({"POST /Users"}), seed=1))
    run("apply", "-m", str(manifest), "--auto-approve")
    sandbox.set_faults(Faults())
    names = live_users(sandbox)
    assert sorted(names) == sorted(u["email"] for u in USERS)
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_a_read_that_cannot_complete_never_leads_to_deprovisioning(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    # Page 2 of the users cannot be read: with unmanaged_users: deactivate, a reader that
    # took "missing" for "absent" would deprovision everyone on the pages it never saw.
    write_manifest(manifest, USERS, TEAMS, unmanaged_users="deactivate")
    sandbox.set_faults(Faults(rate_5xx=1.0, only=frozenset({"GET /Users"}), max_page_size=5))
    capsys.readouterr()
    code = run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "2")
    assert code == 1
    assert "error:" in capsys.readouterr().err
    sandbox.set_faults(Faults())
    client = ScimClient.connect(sandbox.base_url, Token(TOKEN))
    live = read_live_state(client)
    assert all(u.active for u in live.users)
    assert len(live.groups[0].member_ids) == len(USERS)


def test_sigkill_in_the_middle_of_apply_then_rerun_converges(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    users = [person(f"k{i:02}@acme.io", "K", f"N{i}") for i in range(40)]
    manifest = write_manifest(
        tmp_path / "org.yaml", users, [{"name": "K", "members": [u["email"] for u in users]}]
    )
    sandbox.set_faults(Faults(latency_ms=40))
    journal = tmp_path / "journal.jsonl"
    env = {**os.environ, "MIXPANEL_SCIM_URL": sandbox.base_url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            "-m",
            str(manifest),
            "--auto-approve",
            "--concurrency",
            "1",
            "--journal",
            str(journal),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (
                journal.exists()
                and sum(e["event"] == "operation" for e in read_journal(journal)) >= 10
            ):
                break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    events = read_journal(journal)  # every complete line parses; no apply_end
    assert events[0]["event"] == "apply_start" and events[-1]["event"] != "apply_end"
    done_before = len(live_users(sandbox))
    assert 0 < done_before < len(users)
    sandbox.set_faults(Faults())
    assert run("apply", "-m", str(manifest), "--auto-approve", "--journal", str(journal)) == 0
    names = live_users(sandbox)
    assert sorted(names) == sorted(u["email"] for u in users)  # nothing duplicated or lost
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_per_user_failures_are_explained_and_do_not_abort_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    users = [person("ok@acme.io"), person("taken@acme.io"), person("new@acmelabs.io")]
    manifest = write_manifest(
        tmp_path / "org.yaml",
        users,
        [{"name": "T", "members": ["ok@acme.io", "taken@acme.io", "new@acmelabs.io"]}],
    )
    # Mixpanel has only acme.io claimed, and taken@acme.io already has an account elsewhere.
    with Sandbox(
        token=TOKEN, claimed_domains=("acme.io",), outside_org_emails=("taken@acme.io",)
    ) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        assert run("apply", "-m", str(manifest), "--auto-approve") == 5
        out = capsys.readouterr().out
        assert live_users(box) == ["ok@acme.io"]
    assert "taken@acme.io already has a Mixpanel account outside this organization" in out
    assert "invite the user by hand in Mixpanel" in out
    assert "claim the email's domain in Mixpanel" in out
    assert "~ add_members T: added 1; skipped" in out
