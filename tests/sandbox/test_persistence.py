"""State survives restarts, and the ``reconciler sandbox`` command runs and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.errors import ConfigError
from scim_sandbox import Sandbox
from scim_sandbox.persistence import journal_path, read_state
from tests.sandbox.conftest import TOKEN, patch_body

LISTENING = "Sandbox SCIM server listening on "


def comparable(sandbox: Sandbox) -> tuple[Any, Any]:
    def strip(resource: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in resource.items() if k not in {"meta", "groups", "members"}}
        kept["created"] = resource["meta"]["created"]
        kept["links"] = sorted(
            m["value"] for m in resource.get("groups", resource.get("members", []))
        )
        return kept

    return [strip(u) for u in sandbox.store.users()], [strip(g) for g in sandbox.store.groups()]


def test_state_survives_a_restart(
    make_sandbox: Callable[..., Sandbox], session: requests.Session, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = make_sandbox(state_file=state, seed="random:120")
    user = session.post(f"{first.base_url}/Users", json={"userName": "new@acme.io"}).json()
    group = first.store.groups()[0]
    add = patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
    assert session.patch(f"{first.base_url}/Groups/{group['id']}", json=add).status_code == 200
    deactivate = patch_body({"op": "replace", "path": "active", "value": False})
    session.patch(f"{first.base_url}/Users/{user['id']}", json=deactivate)
    before = comparable(first)
    first.stop()
    second = make_sandbox(state_file=state, seed="random:5")  # the seed must not apply again
    assert second.loaded
    assert comparable(second) == before
    again = session.get(f"{second.base_url}/Users/{user['id']}").json()
    assert again["active"] is False
    assert again["meta"]["location"].startswith(second.base_url)


def test_every_acknowledged_write_is_on_disk_before_the_response(
    session: requests.Session, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    with Sandbox(token=TOKEN, state_file=state) as live:
        user = session.post(f"{live.base_url}/Users", json={"userName": "ada@acme.io"}).json()
        team = {"displayName": "T", "members": [{"value": user["id"]}]}
        assert session.post(f"{live.base_url}/Groups", json=team).status_code == 201
        on_disk = read_state(state)
        assert on_disk is not None
        _, users, groups = on_disk
        assert [u["userName"] for u in users] == ["ada@acme.io"]
        assert [m["value"] for m in groups[0]["members"]] == [user["id"]]
        session.delete(f"{live.base_url}/Users/{user['id']}")
        on_disk = read_state(state)
        assert on_disk is not None
        assert (on_disk[1], on_disk[2][0]["members"]) == ([], [])
    assert json.loads(state.read_text())["users"] == []  # stop folds the journal in
    assert journal_path(state).read_bytes() == b""
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_torn_last_journal_line_is_ignored(session: requests.Session, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Sandbox(token=TOKEN, state_file=state) as live:
        session.post(f"{live.base_url}/Users", json={"userName": "ada@acme.io"})
        saved = journal_path(state).read_bytes()
        state_before = state.read_bytes()
    state.write_bytes(state_before)  # as if the process died before its checkpoint on stop
    journal_path(state).write_bytes(saved + b'{"v":99,"put":"User","resou')
    restarted = Sandbox(token=TOKEN, state_file=state)
    assert [u["userName"] for u in restarted.store.users()] == ["ada@acme.io"]


def test_a_corrupt_state_file_is_a_config_error(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(ConfigError, match="move it away"):
        Sandbox(token=TOKEN, state_file=state)


def test_the_cli_serves_until_sigterm_and_saves_its_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0"]
    command += ["--state", str(state), "--seed", "demo", "--token", TOKEN]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith(LISTENING), line
            base_url = line.removeprefix(LISTENING)
            assert base_url.startswith("http://127.0.0.1:")
            assert base_url.endswith("/api/app/scim/v2")
            headers = {"Authorization": f"Bearer {TOKEN}"}
            users = requests.get(f"{base_url}/Users", headers=headers, timeout=5).json()
            assert users["totalResults"] > 0
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
    saved = json.loads(state.read_text())
    assert len(saved["users"]) == users["totalResults"]
