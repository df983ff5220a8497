"""The sandbox is its own top-level package: it runs without the reconciler's CLI, and
the runtime package holds no sandbox code (only an alias of the former import path)."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import reconciler
import scim_sandbox
from scim_sandbox.__main__ import main

TOKEN = "own-package-token-0123456789"
LISTENING = "Sandbox SCIM server listening on "


def test_python_m_scim_sandbox_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "scim_sandbox", "--port", "0", "--token", TOKEN]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith(LISTENING), line
            base_url = line.removeprefix(LISTENING)
            assert base_url.startswith("http://127.0.0.1:")
            headers = {"Authorization": f"Bearer {TOKEN}"}
            answer = requests.get(f"{base_url}/Users", headers=headers, timeout=5)
            assert answer.status_code == 200
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_an_error_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    assert main(["--port", "0", "--token", TOKEN, "--state", str(state)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_the_runtime_package_holds_no_sandbox_code() -> None:
    package = Path(reconciler.__file__).resolve().parent
    assert not (package / "sandbox").is_dir()
    alias = package / "sandbox.py"
    defined = [
        node.name
        for node in ast.parse(alias.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    ]
    assert defined == [], "the alias must not grow code of its own"


def test_the_former_import_path_gives_the_same_modules() -> None:
    from reconciler.sandbox.quirks import Quirks

    from reconciler.sandbox import Sandbox

    assert Sandbox is scim_sandbox.Sandbox
    assert Quirks is scim_sandbox.Quirks
    assert sys.modules["reconciler.sandbox.store"] is sys.modules["scim_sandbox.store"]
