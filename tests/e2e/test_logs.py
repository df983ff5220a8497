"""Operator logs: -v levels, text or JSON lines, a run id on each, never the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, write_manifest


def cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_debug_logs_show_every_request_with_a_run_id_and_no_token(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])
    with Sandbox(token=TOKEN, seed="demo") as box:
        env = {
            **os.environ,
            "MIXPANEL_SCIM_URL": box.base_url,
            "MIXPANEL_SCIM_TOKEN": TOKEN,
            "RECONCILER_TODAY": TODAY,
        }
        text = cli("-vv", "plan", "-m", str(manifest), env=env)
        as_json = cli("-vv", "--log-format", "json", "plan", "-m", str(manifest), env=env)
        quiet = cli("-q", "plan", "-m", str(manifest), env=env)
    lines = text.stderr.splitlines()
    assert any("GET /Users -> 200" in line for line in lines)
    run_ids = {line.split("run=")[1].split()[0] for line in lines}
    assert len(run_ids) == 1
    records = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert {r["level"] for r in records} >= {"debug", "info"}
    assert len({r["run_id"] for r in records}) == 1
    http = [r["http"] for r in records if "http" in r]
    assert http and set(http[0]) == {"method", "path", "status", "duration_ms", "retry"}
    assert all("?" not in h["path"] for h in http)  # query strings (emails) are never logged
    assert "\x1b[" not in text.stdout  # no colour codes off a TTY
    assert quiet.stderr == ""
    assert TOKEN not in text.stderr + as_json.stderr + text.stdout
