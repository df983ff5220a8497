"""Ctrl-C during apply shows every operation that finished, over real HTTP (sandbox).

Operations in flight when the signal comes are let finish and journaled. The progress
lines are printed in plan order, so an operation that finished out of order around
the interrupt used to be journaled but never shown, and a run whose last operations
all finished still said "re-run to finish".
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.journal import read_journal
from reconciler.scim.client import ScimClient
from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest

pytestmark = pytest.mark.usefixtures("real_ctrl_c")  # the tests send real SIGINTs

CREATE = "create_or_adopt_user" if hasattr(ScimClient, "create_or_adopt_user") else "create_user"


def _first_creates_finish_after_the_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first three creates (of four in flight) wait until the fourth sent a SIGINT.

    The fourth waits a moment before letting them go, so the CLI has stopped the run
    (nothing new starts) when the first three finish: exactly four are done.
    """
    original = getattr(ScimClient, CREATE)
    released = threading.Event()

    def create_user(self: ScimClient, resource: Any) -> Any:
        name = resource["userName"]
        if name in ("a0@acme.io", "a1@acme.io", "a2@acme.io"):
            released.wait(5)  # bounded: the test never hangs
        created = original(self, resource)
        if name == "a3@acme.io":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)  # the main thread takes the signal and stops the run
            released.set()
        return created

    monkeypatch.setattr(ScimClient, CREATE, create_user)


@pytest.mark.parametrize(("users", "left"), [(6, True), (4, False)])
def test_every_operation_finished_around_a_ctrl_c_is_shown_and_the_summary_is_true(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    users: int,
    left: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    manifest = write_manifest(
        tmp_path / "org.yaml", [person(f"a{i}@acme.io") for i in range(users)], []
    )
    _first_creates_finish_after_the_interrupt(monkeypatch)
    with Sandbox(token=TOKEN, claimed_domains=("acme.io", "acmelabs.io")) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        code = run("apply", "-m", str(manifest), "--auto-approve", "--concurrency", "4")

    out, err = capsys.readouterr()
    assert code == 130
    events = read_journal(tmp_path / ".reconciler" / "journal.jsonl")
    journaled = sorted(e["key"] for e in events if e.get("event") == "operation")
    shown = sorted(re.findall(r"^\[\d+/\d+\] ✓ \w+ (\S+): created$", out, re.MULTILINE))
    assert "a0@acme.io" in journaled  # it finished after the signal
    assert shown == journaled  # nothing that happened is missing from the screen
    done = events[-1]["done"]
    assert f"Apply interrupted: {done} of {users} done" in out
    assert done == 4  # the four in flight, none started after the signal
    if left:
        assert "re-run to finish" in out and "re-run to finish" in err
    else:
        assert "nothing is left" in out and "re-run to finish" not in out + err


def _a_second_ctrl_c_while_the_run_drains(monkeypatch: pytest.MonkeyPatch) -> None:
    """As above, and an impatient second Ctrl-C while three creates are still in flight."""
    original = getattr(ScimClient, CREATE)
    released = threading.Event()

    def create_user(self: ScimClient, resource: Any) -> Any:
        name = resource["userName"]
        if name in ("a0@acme.io", "a1@acme.io", "a2@acme.io"):
            released.wait(5)  # bounded: the test never hangs
        created = original(self, resource)
        if name == "a3@acme.io":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)  # the main thread takes it and waits for those in flight
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)
            released.set()
        return created

    monkeypatch.setattr(ScimClient, CREATE, create_user)


def test_a_second_ctrl_c_while_in_flight_operations_finish_loses_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    manifest = write_manifest(
        tmp_path / "org.yaml", [person(f"a{i}@acme.io") for i in range(6)], []
    )
    _a_second_ctrl_c_while_the_run_drains(monkeypatch)
    with Sandbox(token=TOKEN, claimed_domains=("acme.io",)) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        code = run("apply", "-m", str(manifest), "--auto-approve", "--concurrency", "4")
        live = {user["userName"] for user in sandbox.store.users()}

    out, err = capsys.readouterr()
    assert code == 130
    events = read_journal(tmp_path / ".reconciler" / "journal.jsonl")
    assert events[-1]["event"] == "interrupted"  # the last record, after every outcome
    journaled = sorted(e["key"] for e in events if e.get("event") == "operation")
    assert journaled == ["a0@acme.io", "a1@acme.io", "a2@acme.io", "a3@acme.io"]
    assert events[-1]["done"] == 4
    assert "Apply interrupted: 4 of 6 done" in out
    assert "interrupted again: still waiting for the operations in flight" in err
    assert live == set(journaled)  # what the journal says is what happened


def test_a_ctrl_c_during_the_only_operation_of_a_phase_lets_it_finish_and_journals_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A phase with one operation ran it in the main thread, where the Ctrl-C landed
    inside it: the PATCH had deactivated Bob, and nothing said so (0 done, no record)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    users = [person("ada@acme.io"), person("bob@acme.io")]
    manifest = write_manifest(tmp_path / "org.yaml", users, [])
    with Sandbox(token=TOKEN, claimed_domains=("acme.io",)) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
        write_manifest(
            manifest, [users[0], {**users[1], "active": False}, person("cy@acme.io")], []
        )
        original = ScimClient.patch_user

        def patch_user(self: ScimClient, user_id: str, patch: Any) -> Any:
            answer = original(self, user_id, patch)  # Bob is deactivated on the server
            os.kill(os.getpid(), signal.SIGINT)  # and the Ctrl-C comes before the answer is used
            time.sleep(0.2)
            return answer

        monkeypatch.setattr(ScimClient, "patch_user", patch_user)
        capsys.readouterr()
        code = run("apply", "-m", str(manifest), "--auto-approve")
        bob = sandbox.store.user_by_name("bob@acme.io")

    out, _ = capsys.readouterr()
    assert code == 130
    assert bob is not None and bob["active"] is False
    events = read_journal(tmp_path / ".reconciler" / "journal.jsonl")
    events = [e for e in events if e["run_id"] == events[-1]["run_id"]]  # the second run
    operations = [e for e in events if e.get("event") == "operation"]
    assert [(e["op"], e["key"], e["status"]) for e in operations] == [
        ("deactivate_user", "bob@acme.io", "done")
    ]
    assert events[-1]["event"] == "interrupted" and events[-1]["done"] == 1
    assert "✓ deactivate_user bob@acme.io: deactivated" in out
    assert "Apply interrupted: 1 of 2 done" in out  # cy's create never started


def test_a_second_ctrl_c_while_the_interrupted_record_is_written_loses_neither_it_nor_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """r6: the run closes with its ``interrupted`` record and the summary of what was
    done even when a second Ctrl-C comes while that record is written (a double tap):
    it used to raise inside the journal write, so the record and the summary were lost
    and a finished deactivation was reported by nothing but the journal's earlier line."""
    from reconciler.journal import Journal

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    users = [person("ada@acme.io"), person("bob@acme.io")]
    manifest = write_manifest(tmp_path / "org.yaml", users, [])
    with Sandbox(token=TOKEN, claimed_domains=("acme.io",)) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
        write_manifest(
            manifest, [users[0], {**users[1], "active": False}, person("cy@acme.io")], []
        )
        original_patch = ScimClient.patch_user
        original_record = Journal.record

        def patch_user(self: ScimClient, user_id: str, patch: Any) -> Any:
            answer = original_patch(self, user_id, patch)
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C
            time.sleep(0.2)
            return answer

        def record(self: Journal, event: str, fields: Any) -> None:
            if event == "interrupted":
                os.kill(os.getpid(), signal.SIGINT)  # the second, as the run closes
                time.sleep(0.2)
            original_record(self, event, fields)

        monkeypatch.setattr(ScimClient, "patch_user", patch_user)
        monkeypatch.setattr(Journal, "record", record)
        capsys.readouterr()
        code = run("apply", "-m", str(manifest), "--auto-approve")

    out, _ = capsys.readouterr()
    assert code == 130
    events = read_journal(tmp_path / ".reconciler" / "journal.jsonl")
    events = [e for e in events if e["run_id"] == events[-1]["run_id"]]
    assert events[-1]["event"] == "interrupted" and events[-1]["done"] == 1, events
    assert "Apply interrupted: 1 of 2 done" in out, out


def test_a_ctrl_c_while_an_operation_waits_out_a_429_ends_the_wait_and_journals_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """r6: the operation in flight was waiting out a 429 (Retry-After 20 s: nothing was
    written) when Ctrl-C came; the run waited the whole Retry-After, and more retries
    up to the retry budget, before it could close: past `docker stop`'s 10 s grace,
    the ``interrupted`` record and the summary were lost to the SIGKILL. Now the wait
    ends at once: the operation fails (journaled, the server unchanged), the run closes."""
    from scim_sandbox.faults import Faults

    retry_after = 20.0
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    users = [person("ada@acme.io"), person("bob@acme.io")]
    manifest = write_manifest(tmp_path / "org.yaml", users, [])
    with Sandbox(token=TOKEN, claimed_domains=("acme.io",)) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
        write_manifest(manifest, [users[0], {**users[1], "active": False}], [])
        sandbox.set_faults(
            Faults(rate_429=1.0, retry_after_s=retry_after, only=frozenset({"PATCH /Users"}))
        )
        original = ScimClient.patch_user

        def patch_user(self: ScimClient, user_id: str, patch: Any) -> Any:
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
            return original(self, user_id, patch)  # a 429, then its Retry-After

        monkeypatch.setattr(ScimClient, "patch_user", patch_user)
        capsys.readouterr()
        started = time.monotonic()
        code = run("apply", "-m", str(manifest), "--auto-approve", "--retry-budget", "60")
        took = time.monotonic() - started
        bob = sandbox.store.user_by_name("bob@acme.io")

    out, _ = capsys.readouterr()
    assert code == 130
    assert took < retry_after, took  # the Retry-After was not waited out
    assert bob is not None and bob["active"] is True  # nothing was written
    events = read_journal(tmp_path / ".reconciler" / "journal.jsonl")
    events = [e for e in events if e["run_id"] == events[-1]["run_id"]]
    operations = [(e["op"], e["key"], e["status"]) for e in events if e["event"] == "operation"]
    assert operations == [("deactivate_user", "bob@acme.io", "failed")], events
    detail = next(e["detail"] for e in events if e["event"] == "operation")
    assert "HTTP 429" in detail and "attempts" not in detail, detail  # no early retry sent
    assert events[-1]["event"] == "interrupted" and events[-1]["done"] == 0
    assert "Apply interrupted: 0 of 1 done" in out, out
