"""Bad server answers fail closed with a clear error; the token never appears anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest
from tests.support.bad_server import BROKEN_HTTP_MODES, DEEP_MODES, MODES, bad_server

USERS = [person("ada@acme.io"), person("bob@acme.io", active=False)]


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_answer_gives_a_clear_error_exit_1_and_writes_nothing(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [])
    with bad_server(mode) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        code = run("plan", "-m", str(manifest), "--out", "plan.json", "--max-attempts", "1")
        apply_code = run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1")
    captured = capsys.readouterr()
    assert code == 1 and apply_code == 1
    assert not (tmp_path / "plan.json").exists()
    assert not (tmp_path / ".reconciler").exists()  # apply never started
    assert "Traceback" not in captured.err
    assert captured.err.startswith("error: ")
    assert TOKEN not in captured.out + captured.err


@pytest.mark.parametrize("mode", BROKEN_HTTP_MODES)
def test_an_answer_that_is_not_valid_http_is_named_so_not_a_dropped_connection(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [])
    with bad_server(mode) as url:
        code = run("plan", "-m", str(manifest), "--url", url, "--max-attempts", "2")
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "is not valid HTTP (got more than" in err
    assert "the server or a proxy in front of it is broken" in err
    assert "connection failed or dropped" not in err


@pytest.mark.parametrize("mode", DEEP_MODES)
def test_json_nested_too_deeply_is_a_malformed_answer_not_a_bug(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python's JSON decoder raises RecursionError (not ValueError) past ~1000 levels.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [])
    with bad_server(mode) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        code = run("plan", "-m", str(manifest), "--max-attempts", "1")
    err = capsys.readouterr().err
    assert code == 1
    assert "this is a bug" not in err and "RecursionError" not in err
    assert err.startswith("error: could not read the live state: SCIM GET /Users failed")
    assert "nothing was planned" in err
    if mode != "deep-error":
        assert "answer is not valid JSON (nested too deeply" in err


def test_a_plan_file_nested_too_deeply_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    plan = tmp_path / "plan.json"
    plan.write_text('{"format_version": 1, "operations": ' + "[" * 50_000 + "]" * 50_000 + "}")
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        code = run("apply", str(plan), "--auto-approve")
    err = capsys.readouterr().err
    assert code == 1
    assert "this is a bug" not in err
    assert f"{plan} is not a plan file made by `reconciler plan --out` (nested too deeply" in err


def run_cli(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_token_never_appears_in_any_output_file_or_error(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path / "org.yaml", USERS, [{"name": "T", "members": ["ada@acme.io"]}]
    )
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    outputs: list[str] = []
    with Sandbox(token=TOKEN) as box:
        env = {
            **os.environ,
            "MIXPANEL_SCIM_URL": box.base_url,
            "MIXPANEL_SCIM_TOKEN": TOKEN,
            "RECONCILER_TODAY": TODAY,
        }
        commands = [
            ("validate", "-m", str(manifest)),
            ("plan", "-m", str(manifest), "--out", "plan.json"),
            ("plan", "-m", str(manifest), "--format", "markdown"),
            ("plan", "-m", str(manifest), "--format", "json"),
            ("apply", "plan.json", "-m", str(manifest)),
            ("apply", "-m", str(manifest), "--auto-approve", "--token-file", str(token_file)),
            ("import", "--out", "imported"),
        ]
        for argv in commands:
            result = run_cli(*argv, env=env, cwd=tmp_path)
            assert result.returncode == 0, (argv, result.stderr)
            outputs += [result.stdout, result.stderr]
        wrong = {**env, "MIXPANEL_SCIM_TOKEN": TOKEN + "-revoked"}
        refused = run_cli("plan", "-m", str(manifest), env=wrong, cwd=tmp_path)
        assert refused.returncode == 1
        assert "generate a new token" in refused.stderr
        outputs += [refused.stdout, refused.stderr]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != token_file]
    assert any(p.name == "journal.jsonl" for p in files)
    outputs += [p.read_text(errors="replace") for p in files]
    assert not [text for text in outputs if TOKEN in text]


def test_a_world_readable_token_file_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [])
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o644)
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        assert run("plan", "-m", str(manifest), "--token-file", str(token_file)) == 0
    err = capsys.readouterr().err
    assert f"chmod 600 {token_file}" in err
    assert TOKEN not in err
