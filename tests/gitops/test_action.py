"""The composite action (action.yml): every documented input, run as GitHub runs it.

The action's shell step is executed with bash and the REAL ``reconciler`` against
the sandbox on 127.0.0.1, so what its inputs document is what the CLI accepts.
Usage errors exit 64 and never set ``has-changes`` (issue 12, item 10).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import build_parser, main
from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, write_manifest

ROOT = Path(__file__).resolve().parents[2]
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
BASH = shutil.which("bash")
RECONCILER = Path(sys.executable).with_name("reconciler")
pytestmark = pytest.mark.skipif(
    BASH is None or not RECONCILER.exists(), reason="needs bash and the installed CLI"
)


def documented_formats() -> dict[str, set[str]]:
    """``{command: formats}`` as the ``format`` input's description lists them."""
    text = ACTION["inputs"]["format"]["description"]
    found = re.findall(r"(\w+): ([a-z, ]+?(?: or [a-z]+)?)(?:;|\.)", text)
    return {cmd: set(re.split(r", | or ", formats)) for cmd, formats in found}


def parser_formats(command: str) -> set[str]:
    sub = build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    (action,) = [a for a in sub._actions if "--format" in a.option_strings]
    return set(action.choices)


def documented_commands() -> list[str]:
    text = ACTION["inputs"]["command"]["description"]
    listed = text.split(":", 1)[1].split(".", 1)[0]
    return re.findall(r"\b(validate|plan|apply|doctor|report|[a-z]+)\b", listed)


# Records its argv (NUL-separated) and exits with $FAKE_CODE: the step's own logic, fast.
SHIM = """#!/usr/bin/env bash
printf '%s\\0' "$@" > "$CALLS"
exit "${FAKE_CODE:-0}"
"""


def run_step(
    tmp_path: Path, *, real: bool = True, fake_code: int = 0, **inputs: str
) -> tuple[int, dict[str, str], str]:
    """The action's "Run reconciler" step with ``inputs`` (defaults as action.yml sets).

    ``real`` runs the installed CLI; otherwise a shim records the arguments (see
    ``recorded``) and exits with ``fake_code``.
    """
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "run")
    env = dict(os.environ)
    for key, value in step["env"].items():
        name = re.match(r"\$\{\{ inputs\.([\w-]+) \}\}", value)
        assert name, value
        default = str(ACTION["inputs"][name.group(1)].get("default", ""))
        env[key] = inputs.get(name.group(1), default)
    output = tmp_path / "github_output"
    output.write_text("")
    env |= {"GITHUB_OUTPUT": str(output), "CALLS": str(tmp_path / "calls")}
    env["FAKE_CODE"] = str(fake_code)
    bin_dir = RECONCILER.parent if real else _shim(tmp_path)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    # GitHub's `shell: bash` for a composite step.
    argv = [str(BASH), "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    done = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done.returncode, outputs, done.stdout + done.stderr


def _shim(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "shim"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "reconciler"
    shim.write_text(SHIM)
    shim.chmod(0o755)
    return bin_dir


def recorded(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls").read_text().split("\0")[:-1]


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A sandbox org and a manifest (``manifests/``) that differs from it by one user."""
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "manifests").mkdir()
    write_manifest(tmp_path / "manifests" / "org.yaml", [person("ada@acme.io")], [])
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        yield tmp_path


def test_the_documented_formats_are_exactly_what_each_command_accepts() -> None:
    documented = documented_formats()

    assert set(documented) == {"validate", "plan", "doctor", "report"}
    for command, formats in documented.items():
        assert formats == parser_formats(command), command


def test_the_documented_commands_are_the_ones_the_step_runs() -> None:
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "run")
    accepted = re.search(r"^\s*([\w|]+)\) args\+=\(\"\$INPUT_COMMAND\"\)", step["run"], re.M)

    assert accepted is not None
    assert set(documented_commands()) == set(accepted.group(1).split("|"))


COMBINATIONS = [(c, f) for c, fs in sorted(documented_formats().items()) for f in sorted(fs)]


@pytest.mark.parametrize(
    ("command", "fmt"), COMBINATIONS, ids=[f"{c}-{f}" for c, f in COMBINATIONS]
)
def test_every_documented_command_and_format_is_accepted_by_the_real_cli(
    command: str,
    fmt: str,
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, log = run_step(tmp_path, real=False, command=command, format=fmt, manifest="manifests")
    assert code == 0, log
    argv = recorded(tmp_path)
    assert argv == [command, "-m", "manifests", "--format", fmt]

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 0, capsys.readouterr().err  # the arguments the step passes, run


@pytest.mark.parametrize(("code", "has_changes"), [(0, "false"), (2, "true"), (64, "false")])
def test_has_changes_is_true_only_for_exit_2_of_a_detailed_plan(
    code: int, has_changes: str, tmp_path: Path
) -> None:
    step_code, outputs, _ = run_step(
        tmp_path, real=False, fake_code=code, command="plan", **{"detailed-exitcode": "true"}
    )

    assert outputs == {"exit-code": str(code), "has-changes": has_changes}
    assert step_code == (0 if code in (0, 2) else code)
    assert recorded(tmp_path) == ["plan", "--format", "text", "--detailed-exitcode"]


@pytest.mark.parametrize("code", [1, 2, 3, 4, 5, 64, 130])
def test_a_failing_command_fails_the_step_with_its_code_and_still_sets_the_outputs(
    code: int, tmp_path: Path
) -> None:
    step_code, outputs, _ = run_step(tmp_path, real=False, fake_code=code, command="apply")

    assert step_code == code
    assert outputs == {"exit-code": str(code), "has-changes": "false"}


def test_plan_with_detailed_exitcode_sets_has_changes_and_saves_the_plan_for_apply(
    org: Path, tmp_path: Path
) -> None:
    code, outputs, log = run_step(
        tmp_path,
        command="plan",
        manifest="manifests",
        format="markdown",
        **{"detailed-exitcode": "true", "plan-file": "plan.json", "output-file": "plan.md"},
    )

    assert code == 0, log
    assert outputs == {"exit-code": "2", "has-changes": "true"}
    assert "ada@acme.io" in (tmp_path / "plan.md").read_text()
    assert (tmp_path / "plan.json").exists()

    code, outputs, log = run_step(tmp_path, command="apply", **{"plan-file": "plan.json"})

    assert code == 0, log
    assert outputs == {"exit-code": "0", "has-changes": "false"}


def test_apply_with_auto_approve_and_an_org_from_reconciler_yaml(org: Path, tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "version: 1\norgs:\n  - {name: acme, manifest: manifests}\n"
    )

    code, outputs, log = run_step(tmp_path, command="apply", org="acme", **{"auto-approve": "true"})

    assert code == 0, log
    assert outputs == {"exit-code": "0", "has-changes": "false"}
    assert "ada@acme.io" in log


def test_a_format_the_command_rejects_is_a_usage_error_never_has_changes(
    org: Path, tmp_path: Path
) -> None:
    code, outputs, log = run_step(
        tmp_path,
        command="plan",
        format="csv",
        manifest="manifests",
        **{"detailed-exitcode": "true"},
    )

    assert code == 64, log
    assert outputs == {"exit-code": "64", "has-changes": "false"}
    assert "invalid choice: 'csv'" in log and "Traceback" not in log


def test_an_unknown_command_fails_the_step_before_running_anything(tmp_path: Path) -> None:
    code, outputs, log = run_step(tmp_path, real=False, command="destroy")

    assert code == 64  # a usage error of the action, like the CLI's own
    assert "unknown command 'destroy'" in log
    assert outputs == {"exit-code": "64", "has-changes": "false"}
    assert not (tmp_path / "calls").exists()  # reconciler never ran


def test_python_version_reaches_setup_python() -> None:
    setup = next(s for s in ACTION["runs"]["steps"] if "setup-python" in s.get("uses", ""))

    assert setup["with"] == {"python-version": "${{ inputs.python-version }}"}
    assert ACTION["inputs"]["python-version"]["default"] == "3.11"


ALLOWED = "(validate, plan, apply, doctor, report)"


@pytest.mark.parametrize(
    "command", ["x\n::warning::forged", "x\r\n::add-mask::%41", "100%0Aforged"]
)
def test_an_unknown_command_cannot_forge_a_workflow_command_in_the_log(
    tmp_path: Path, command: str
) -> None:
    """The error line shows the input escaped as GitHub's workflow commands require
    (``%``, CR, LF): a command input holding a line break stays on the one error line."""
    code, outputs, log = run_step(tmp_path, real=False, command=command)

    assert code == 64
    assert outputs == {"exit-code": "64", "has-changes": "false"}
    commands = [line for line in log.splitlines() if line.lstrip().startswith("::")]
    shown = command.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    assert commands == [f"::error::unknown command '{shown}' {ALLOWED}"], log


def test_apply_of_a_saved_plan_without_a_manifest_warns_that_the_plan_goes_unchecked(
    tmp_path: Path,
) -> None:
    """r6: without ``-m``, ``apply PLAN_FILE`` checks the file's digest and staleness
    only, not that the manifest produces its operations: a plan artifact a pull
    request's job wrote by hand would pass. The step says so, and passes -m when given."""
    code, _, log = run_step(tmp_path, real=False, command="apply", **{"plan-file": "plan.json"})
    assert code == 0
    assert recorded(tmp_path) == ["apply", "plan.json"]
    warnings = [line for line in log.splitlines() if line.startswith("::warning::")]
    assert len(warnings) == 1 and "set the manifest input" in warnings[0], log

    code, _, log = run_step(
        tmp_path, real=False, command="apply", manifest="manifests", **{"plan-file": "plan.json"}
    )
    assert code == 0
    assert recorded(tmp_path) == ["-m", "manifests", "apply", "plan.json"] or recorded(
        tmp_path
    ) == ["apply", "-m", "manifests", "plan.json"]
    assert "::warning::" not in log
