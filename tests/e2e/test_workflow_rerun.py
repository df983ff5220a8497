"""apply.yml's own script, run as GitHub runs it, with the real CLI against the sandbox.

The apply job is stopped midway (SIGTERM, as a cancelled or timed-out job is), then
re-run: the kept reviewed plan lets the fresh plan through as a remainder of it
(the subset rule), and the apply finishes with no new review. A re-run after the
manifest moved is refused, naming what is new. Over real HTTP on 127.0.0.1; the
GitHub cache that keeps ``reviewed-plan.json`` between attempts is the job's
working folder here, which is what the cache restores.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.journal import read_journal
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from scim_sandbox import Faults, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, write_manifest
from tests.gitops.test_workflow_scripts import APPLY, script

BASH = shutil.which("bash")
CLI = Path(sys.executable).parent / "reconciler"
pytestmark = pytest.mark.skipif(
    BASH is None or not CLI.exists(), reason="needs bash and the reconciler console script"
)

USERS = [person(f"u{i:02}@acme.io") for i in range(8)]
TEAMS = [{"name": "Data", "members": [u["email"] for u in USERS]}]
# The CLI started by the script, through this wrapper, leaves its pid for the test.
WRAPPER = '#!/usr/bin/env bash\necho $$ > "$CLI_PID"\nexec "$REAL_CLI" "$@"\n'
WAIT_S = 20.0  # bound on every wait below; each normally takes well under a second


def _env(tmp_path: Path, base_url: str, digest: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "reconciler"
    wrapper.write_text(WRAPPER, encoding="utf-8")
    wrapper.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "REAL_CLI": str(CLI),
        "CLI_PID": str(tmp_path / "cli.pid"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_REF_NAME": "main",
        "DEFAULT_BRANCH": "main",
        "GITHUB_SHA": "c" * 40,
        "EVENT": "workflow_dispatch",  # confirm_digest: no GitHub API needed
        "CONFIRM_DIGEST": digest,
        "MIXPANEL_SCIM_URL": base_url,
        "MIXPANEL_SCIM_TOKEN": TOKEN,
        "RECONCILER_TODAY": TODAY,
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _start(job: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    Path(env["GITHUB_STEP_SUMMARY"]).write_text("", encoding="utf-8")
    argv = [str(BASH), "--noprofile", "--norc", "-eo", "pipefail", "-c", script("apply.yml", APPLY)]
    return subprocess.Popen(argv, cwd=job, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    try:
        out, err = process.communicate(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, (out + err).decode("utf-8", errors="replace")


def _stop_the_apply_midway(job: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the script; SIGTERM the `reconciler apply` it runs once an operation finished."""
    process = _start(job, env)
    try:
        journal = job / ".reconciler" / "journal.jsonl"
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and process.poll() is None:
            done = read_journal(journal) if journal.exists() else []
            if any(event.get("event") == "operation" for event in done):
                os.kill(int(Path(env["CLI_PID"]).read_text(encoding="utf-8")), signal.SIGTERM)
                break
            time.sleep(0.02)
        return _finish(process)
    finally:
        if process.poll() is None:  # only when an assertion above failed
            process.kill()
            process.communicate()


def _client(base_url: str) -> ScimClient:
    return ScimClient.connect(base_url, Token(TOKEN))


def test_a_cancelled_apply_job_is_finished_by_a_rerun_under_the_subset_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = tmp_path / "job"
    (job / "manifests").mkdir(parents=True)
    manifest = write_manifest(job / "manifests" / "org.yaml", USERS, TEAMS)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    with Sandbox(token=TOKEN, faults=Faults(latency_ms=100)) as sandbox:
        from tests.e2e.conftest import run

        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        reviewed = tmp_path / "reviewed.json"  # what the PR's plan job showed
        assert run("plan", "-m", str(manifest), "--out", str(reviewed)) == 0
        digest = json.loads(reviewed.read_text(encoding="utf-8"))["digest"]
        env = _env(tmp_path, sandbox.base_url, digest)

        # Attempt 1: cancelled midway.
        code, output = _stop_the_apply_midway(job, env)
        assert code == 130, output
        assert "re-run to finish" in output
        summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
        assert "exit 130, interrupted" in summary and "subset of the reviewed plan" in summary
        events = read_journal(job / ".reconciler" / "journal.jsonl")
        assert events[-1]["event"] == "interrupted"
        assert 0 < events[-1]["done"] < events[-1]["operations"]
        done = {e["key"] for e in events if e.get("event") == "operation" and e["status"] == "done"}
        live = read_live_state(_client(sandbox.base_url))
        assert {u.key for u in live.users} == done - {"Data"}  # journaled = what happened
        assert json.loads((job / "reviewed-plan.json").read_text())["digest"] == digest

        # Attempt 2, after someone pushed a new line: refused, naming what is new.
        write_manifest(manifest, [*USERS, person("new@acme.io")], TEAMS)
        code, output = _finish(_start(job, env))
        assert code == 3, output
        assert "nor what is left of it" in output and "manifest: sha256:" in output
        assert "user new@acme.io: create_user is not in the reviewed plan" in output
        write_manifest(manifest, USERS, TEAMS)

        # Attempt 3, the plain re-run: a remainder of the reviewed plan, applied.
        code, output = _finish(_start(job, env))
        assert code == 0, output
        assert "a remainder of the plan reviewed in the confirm_digest input" in output
        assert "### Applied" in (tmp_path / "summary.md").read_text(encoding="utf-8")
        live = read_live_state(_client(sandbox.base_url))
        assert {u.key for u in live.users} == {u["email"] for u in USERS}
        assert set(live.member_keys(live.groups_by_name["Data"])) == {u["email"] for u in USERS}
        assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
