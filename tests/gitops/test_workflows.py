"""Our own rules for the workflow recipe, beyond what check-jsonschema and zizmor know.

The two tools run in `make check-workflows` (a dependency of `make test`, the one
entry point CI and people share), not from pytest: running them here too would run
them twice per `make test` and make pytest depend on two CLIs. What only this
project knows is checked here, fast and offline: every secret stays out of fork
PRs, the apply job never cancels midway, and every workflow calls only commands
that exist.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.commands import github_cmd

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` as true
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_the_four_workflows_exist() -> None:
    assert [p.name for p in FILES] == ["apply.yml", "ci.yml", "drift.yml", "plan.yml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_job_is_least_privilege_and_time_bounded(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "timeout-minutes" in job
        assert set(job["permissions"]) <= {"contents", "pull-requests", "issues"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_and_checkout_keeps_no_credentials(path: Path) -> None:
    for step in steps(load(path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_shell_script(path: Path) -> None:
    for step in steps(load(path)):
        assert "${{" not in step.get("run", ""), f"{step.get('name')}: pass it via env"


def test_no_workflow_runs_untrusted_code_with_secrets() -> None:
    for path in FILES:
        assert "pull_request_target" not in load(path)["on"]
    plan = load(WORKFLOWS / "plan.yml")
    secret_jobs = [n for n, j in plan["jobs"].items() if "secrets." in yaml.safe_dump(j)]
    assert secret_jobs == ["plan"]
    expected = "github.event.pull_request.head.repo.full_name == github.repository"
    assert plan["jobs"]["plan"]["if"] == expected


def test_apply_runs_one_at_a_time_and_is_never_cancelled_midway() -> None:
    apply = load(WORKFLOWS / "apply.yml")
    assert apply["concurrency"] == {"group": "mixpanel-apply", "cancel-in-progress": False}
    assert set(apply["on"]) == {"push", "workflow_dispatch"}


def github_calls() -> list[list[str]]:
    """Every `reconciler github ...` invocation in the workflows, as argv lists."""
    found = []
    for path in FILES:
        for step in steps(load(path)):
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                words = shlex.split(line.strip(), comments=True)
                for i in range(len(words) - 1):
                    if words[i : i + 2] == ["reconciler", "github"]:
                        found.append(words[i + 2 :])
    return found


def test_every_github_step_in_the_workflows_parses_with_the_real_arguments() -> None:
    parser = argparse.ArgumentParser()
    github_cmd.add_arguments(parser)
    calls = github_calls()
    assert {c[0] for c in calls} == {"comment", "verify-plan", "drift-issue", "explain"}
    for argv in calls:
        parser.parse_args([_sample(w) for w in argv[: _end(argv)]])


def _sample(word: str) -> str:
    """A value for a shell variable: "1" parses as a PR number, an exit code or a SHA."""
    if not word.startswith("$"):
        return word
    return "apply" if word == "$stage" else "1"


def _end(argv: list[str]) -> int:
    """Drop shell redirections at the end of a command line."""
    for i, word in enumerate(argv):
        if word.startswith((">", "2>")):
            return i
    return len(argv)


def test_the_pre_commit_hook_validates_the_manifest_folder_as_a_whole() -> None:
    hooks = yaml.safe_load((WORKFLOWS.parents[1] / ".pre-commit-hooks.yaml").read_text())
    assert hooks == [
        {
            "id": "reconciler-validate",
            "name": "reconciler validate",
            "description": hooks[0]["description"],
            "entry": "reconciler validate",
            "language": "python",
            "files": r"^manifests/.*\.ya?ml$",
            "pass_filenames": False,
        }
    ]
