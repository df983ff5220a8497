"""`--seed` with a state file that already holds a directory is reported, not dropped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from scim_sandbox import Sandbox

TOKEN = "seed-notice-token"


def test_the_sandbox_knows_when_its_seed_was_ignored(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert Sandbox(token=TOKEN, state_file=state, seed="demo").seed_ignored is False
    again = Sandbox(token=TOKEN, state_file=state, seed="random:5")
    assert again.seed_ignored is True
    assert Sandbox(token=TOKEN, state_file=state).seed_ignored is False  # no seed asked


def _first_lines(args: list[str], count: int) -> list[str]:
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--token", TOKEN]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command + args, stdout=subprocess.PIPE, text=True, env=env) as process:
        watchdog = threading.Timer(60, process.kill)  # a line that never comes: no hang
        watchdog.start()
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(count)]
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0  # a clean stop saves the state (fsync)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
    return lines


def test_the_sandbox_command_prints_a_notice_when_the_seed_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    Sandbox(token=TOKEN, state_file=state, seed="random:3")  # a state file holding 3 users
    lines = _first_lines(["--state", str(state), "--seed", "demo"], 3)
    notice = next(line for line in lines if line.startswith("notice:"))
    assert "--seed demo ignored" in notice
    assert str(state) in notice and "delete the file or pass another --state" in notice
    from tests.ux.golden import check_message

    check_message("seed_ignored", notice, {str(tmp_path): "{tmp}"})


def test_an_explicit_seed_empty_on_a_full_state_gets_the_notice_and_no_seed_gets_none(
    tmp_path: Path,
) -> None:
    # `--seed empty` asks for a fresh start: ignored, it is said; left out, nothing is.
    state = tmp_path / "state.json"
    Sandbox(token=TOKEN, state_file=state, seed="random:2")
    lines = _first_lines(["--state", str(state), "--seed", "empty"], 3)
    assert any(line.startswith("notice: --seed empty ignored") for line in lines), lines
    assert Sandbox(token=TOKEN, state_file=state, seed="empty").seed_ignored is True
    quiet = _first_lines(["--state", str(state)], 2)
    assert not any(line.startswith("notice:") for line in quiet), quiet
    assert quiet[1].startswith("2 users, ")  # the state as it was
