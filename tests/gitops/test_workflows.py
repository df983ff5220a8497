"""Our own rules for the workflow recipe, beyond what check-jsonschema and zizmor know.

The two tools run in `make check-workflows` (a dependency of `make test`, the one
entry point CI and people share), not from pytest: running them here too would run
them twice per `make test` and make pytest depend on two CLIs. What only this
project knows is checked here, fast and offline: every secret stays out of fork
PRs, the apply job never cancels midway, and every workflow calls only commands
that exist. The several-orgs recipe in examples/multi-org/ follows the same rules,
plus its own: one matrix job per org, none waiting on another org, each org's token
only through its own environment.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import build_parser
from reconciler.commands import github_cmd

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
EXAMPLE = ROOT / "examples" / "multi-org"
EXAMPLES = sorted((EXAMPLE / ".github" / "workflows").glob("*.yml"))
ALL = FILES + EXAMPLES
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w.-]+)?@[0-9a-f]{40}$")  # owner/repo[/path]@sha


def load(path: Path) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` as true
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_the_five_workflows_exist() -> None:
    names = [p.name for p in FILES]
    assert names == ["apply.yml", "ci.yml", "drift.yml", "enforce.yml", "plan.yml"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_job_is_least_privilege_and_time_bounded(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "timeout-minutes" in job
        assert set(job["permissions"]) <= {"contents", "pull-requests", "issues"}


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_actions_are_pinned_and_checkout_keeps_no_credentials(path: Path) -> None:
    for step in steps(load(path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expression_is_expanded_inside_a_shell_script(path: Path) -> None:
    for step in steps(load(path)):
        assert "${{" not in step.get("run", ""), f"{step.get('name')}: pass it via env"


@pytest.mark.parametrize("folder", [WORKFLOWS, EXAMPLES[0].parent], ids=["main", "multi-org"])
def test_no_workflow_runs_untrusted_code_with_secrets(folder: Path) -> None:
    for path in folder.glob("*.yml"):
        assert "pull_request_target" not in load(path)["on"]
    plan = load(folder / "plan.yml")
    secret_jobs = [n for n, j in plan["jobs"].items() if "secrets." in yaml.safe_dump(j)]
    assert secret_jobs == ["plan"]
    expected = "github.event.pull_request.head.repo.full_name == github.repository"
    assert plan["jobs"]["plan"]["if"] == expected


def test_apply_runs_one_at_a_time_and_is_never_cancelled_midway() -> None:
    apply = load(WORKFLOWS / "apply.yml")
    assert apply["concurrency"] == {"group": "mixpanel-apply", "cancel-in-progress": False}
    assert set(apply["on"]) == {"push", "workflow_dispatch"}


def test_enforce_runs_hourly_off_the_hour_serialized_with_apply_and_never_cancelled() -> None:
    enforce = load(WORKFLOWS / "enforce.yml")
    apply = load(WORKFLOWS / "apply.yml")
    assert enforce["concurrency"] == apply["concurrency"]
    assert enforce["concurrency"]["cancel-in-progress"] is False
    (cron,) = [entry["cron"] for entry in enforce["on"]["schedule"]]
    minute, hour, *rest = cron.split()
    assert hour == "*" and rest == ["*", "*", "*"]  # every hour
    assert minute.isdigit() and 0 < int(minute) < 60  # at a fixed minute, not :00
    assert set(enforce["on"]) == {"schedule", "workflow_dispatch"}  # never on a PR


def test_enforce_only_revokes_from_the_default_branch_with_read_only_permissions() -> None:
    enforce = load(WORKFLOWS / "enforce.yml")
    (job,) = enforce["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    calls = reconciler_calls([WORKFLOWS / "enforce.yml"])
    applies = [c for c in calls if c[:1] == ["apply"]]
    assert applies == [
        [
            "apply",
            "--revoke-only",
            "-m",
            "manifests",
            "2>",
            "stderr.log",
            "|",
            "tee",
            "stdout.log",
            "||",
            "code=$?",
        ]
    ]
    assert not any("--auto-approve" in c or any(w.startswith("--allow") for w in c) for c in calls)
    script = next(s["run"] for s in job["steps"] if "reconciler apply" in s.get("run", ""))
    assert '"$GITHUB_REF_NAME" != "$DEFAULT_BRANCH"' in script


def test_apply_keeps_the_reviewed_plan_for_a_rerun_of_the_same_run() -> None:
    for path in (WORKFLOWS / "apply.yml", EXAMPLE / ".github" / "workflows" / "apply.yml"):
        jobs = load(path)["jobs"]
        job = jobs["apply"]
        uses = [s for s in job["steps"] if "uses" in s and "actions/cache/" in s["uses"]]
        restore, save = uses
        assert restore["uses"].startswith("actions/cache/restore@")
        assert save["uses"].startswith("actions/cache/save@")
        assert restore["with"] == save["with"]
        assert "${{ github.run_id }}" in save["with"]["key"]  # this run only
        assert save["if"].startswith("always()")  # also after exit 5 or a cancel
        names = [s.get("name") for s in job["steps"]]
        assert names.index(restore["name"]) < names.index(save["name"]) == len(names) - 1


def reconciler_calls(files: list[Path]) -> list[list[str]]:
    """Every `reconciler ...` invocation in the workflows, as argv lists after `reconciler`."""
    found = []
    for path in files:
        for step in steps(load(path)):
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                words = shlex.split(line.strip().replace(")", " )"), comments=True)
                found += [words[i + 1 :] for i, w in enumerate(words) if w == "reconciler"]
    return found


def github_calls(files: list[Path] = FILES) -> list[list[str]]:
    """Every `reconciler [--org NAME] github ...` invocation, as argv lists after `github`."""
    found = []
    for call in reconciler_calls(files):
        argv = call[2:] if call[:1] == ["--org"] else call
        if argv[:1] == ["github"]:
            found.append(argv[1:])
    return found


@pytest.mark.parametrize("files", [FILES, EXAMPLES], ids=["main", "multi-org"])
def test_every_github_step_in_the_workflows_parses_with_the_real_arguments(
    files: list[Path],
) -> None:
    parser = argparse.ArgumentParser()
    github_cmd.add_arguments(parser)
    calls = github_calls(files)
    assert {c[0] for c in calls} == {"comment", "verify-plan", "drift-issue", "explain"}
    for argv in calls:
        parser.parse_args([_sample(w) for w in argv[: _end(argv)] if not _array(w)])


def test_every_reconciler_command_in_the_workflows_parses_with_the_real_cli() -> None:
    parser = build_parser()
    calls = reconciler_calls(ALL)
    assert len(calls) > 20
    for argv in calls:
        words = [_sample(w) for w in argv[: _end(argv)] if not _array(w)]
        parser.parse_args(words)


def _array(word: str) -> bool:
    """A shell array expansion such as "${overrides[@]}": zero or more words, often none."""
    return word.startswith("${") and word.endswith("[@]}")


def _sample(word: str) -> str:
    """A value for a shell variable: "1" parses as a PR number, an exit code or a SHA."""
    if not word.startswith("$"):
        return word
    return "apply" if word == "$stage" else "1"


def _end(argv: list[str]) -> int:
    """Drop shell redirections (and a closing `)` or pipe) at the end of a command line."""
    for i, word in enumerate(argv):
        if word.startswith((">", "2>", ")", "|")):
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


# -- the several-orgs recipe: examples/multi-org -------------------------------
MATRIX = {"org": "${{ fromJSON(needs.orgs.outputs.names) }}"}


def org_jobs(path: Path) -> dict[str, dict[str, Any]]:
    return {n: j for n, j in load(path)["jobs"].items() if n != "orgs"}


def test_the_example_has_the_four_workflows_and_a_two_org_config() -> None:
    from reconciler.orgs import load_orgs

    assert [p.name for p in EXAMPLES] == ["apply.yml", "drift.yml", "enforce.yml", "plan.yml"]
    config = load_orgs(EXAMPLE / "reconciler.yaml")
    assert [o.name for o in config.orgs] == ["us", "eu"]
    for org in config.orgs:
        assert (EXAMPLE / org.manifest).is_dir()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_org_job_is_a_matrix_over_reconciler_yaml_that_no_org_can_stop(
    path: Path,
) -> None:
    workflow = load(path)
    lister = workflow["jobs"]["orgs"]
    assert "strategy" not in lister and "environment" not in lister
    assert "secrets." not in yaml.safe_dump(lister)
    assert org_jobs(path)
    for name, job in org_jobs(path).items():
        # Only the listing job before it: no org's job waits on another org's job.
        assert job["needs"] == "orgs", name
        assert job["strategy"] == {"fail-fast": False, "matrix": MATRIX}, name
        assert "${{ matrix.org }}" in job["name"], "one status check per org"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_orgs_token_reaches_only_that_orgs_jobs_through_its_environment(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "secrets[" not in text and "toJSON(secrets)" not in text
    for name, job in org_jobs(path).items():
        dumped = yaml.safe_dump(job)
        if "secrets." not in dumped:
            continue
        environment = job["environment"]
        environment = environment if isinstance(environment, str) else environment["name"]
        assert environment == "mixpanel-${{ matrix.org }}", name
        assert set(re.findall(r"secrets\.(\w+)", dumped)) == {"MIXPANEL_SCIM_TOKEN"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_command_in_an_org_job_names_its_org(path: Path) -> None:
    for name, job in org_jobs(path).items():
        for step in job["steps"]:
            calls = reconciler_calls_in(step.get("run", ""))
            if not calls:
                continue
            assert step["env"]["ORG"] == "${{ matrix.org }}", (name, step.get("name"))
            for argv in calls:
                assert argv[:2] == ["--org", "$ORG"], (name, argv)


def reconciler_calls_in(script: str) -> list[list[str]]:
    words = shlex.split(script.replace("\\\n", " "), comments=True)
    return [words[i + 1 :] for i, w in enumerate(words) if w == "reconciler"]


def test_each_org_applies_one_at_a_time_and_is_never_cancelled_midway() -> None:
    apply = load(EXAMPLE / ".github" / "workflows" / "apply.yml")
    assert "concurrency" not in apply, "a workflow-wide group would queue every org behind one"
    assert apply["jobs"]["apply"]["concurrency"] == {
        "group": "mixpanel-apply-${{ matrix.org }}",
        "cancel-in-progress": False,
    }
    assert set(apply["on"]) == {"push", "workflow_dispatch"}
    assert apply["on"]["workflow_dispatch"]["inputs"]["org"]["required"] is True


def test_the_example_pins_exactly_the_actions_the_main_workflows_pin() -> None:
    def uses(files: list[Path]) -> set[str]:
        return {s["uses"] for path in files for s in steps(load(path)) if "uses" in s}

    assert uses(EXAMPLES) == uses(FILES)


def test_each_orgs_enforce_runs_in_that_orgs_apply_group_and_only_revokes() -> None:
    folder = EXAMPLE / ".github" / "workflows"
    enforce, apply = load(folder / "enforce.yml"), load(folder / "apply.yml")
    assert enforce["jobs"]["enforce"]["concurrency"] == apply["jobs"]["apply"]["concurrency"]
    assert enforce["jobs"]["enforce"]["permissions"] == {"contents": "read"}
    assert enforce["on"]["schedule"] == load(WORKFLOWS / "enforce.yml")["on"]["schedule"]
    calls = reconciler_calls([folder / "enforce.yml"])
    assert [c[:4] for c in calls if "apply" in c] == [["--org", "$ORG", "apply", "--revoke-only"]]
