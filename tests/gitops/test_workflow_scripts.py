"""The shell in the workflows, run as GitHub runs it, with a fake `reconciler` on PATH.

The scripts are short, but their exit-code handling is exactly what decides
whether a stale or refused apply fails the job, so it is executed rather than read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
EXAMPLES = ROOT / "examples" / "multi-org" / ".github" / "workflows"
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")

# Exits with $FAKE_<SUBCOMMAND> (e.g. FAKE_VERIFY_PLAN=3), prints $FAKE_OUT_<SUBCOMMAND>
# (default "output of <subcommand>") and logs its argv. Skips the global --org NAME.
FAKE = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
[ "$1" = --org ] && shift 2
sub="$1"; [ "$1" = github ] && sub="$2"
var="FAKE_$(echo "$sub" | tr 'a-z-' 'A-Z_')"
code="${!var:-0}"
out="FAKE_OUT_$(echo "$sub" | tr 'a-z-' 'A-Z_')"
echo "${!out:-output of $sub}"
[ "$code" -ne 0 ] && echo "error: $sub failed" >&2
exit "$code"
"""


def script(workflow: str, step_name: str, folder: Path = WORKFLOWS) -> str:
    data: dict[str, Any] = yaml.safe_load((folder / workflow).read_text(encoding="utf-8"))
    for job in data["jobs"].values():
        for step in job["steps"]:
            if step.get("name") == step_name:
                return str(step["run"])
    raise AssertionError(f"no step {step_name!r} in {workflow}")


def run_script(text: str, tmp_path: Path, **env: str) -> tuple[int, str, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "reconciler"
    fake.write_text(FAKE, encoding="utf-8")
    fake.chmod(0o755)
    summary, calls = tmp_path / "summary.md", tmp_path / "calls.log"
    summary.touch()
    calls.touch()
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "CALLS": str(calls),
        "GITHUB_REF_NAME": "main",
        "DEFAULT_BRANCH": "main",
        "GITHUB_SHA": "c" * 40,
        "EVENT": "push",
        **env,
    }
    # GitHub's default shell for `run:` on Linux.
    argv = [str(BASH), "--noprofile", "--norc", "-eo", "pipefail", "-c", text]
    done = subprocess.run(argv, cwd=tmp_path, env=full_env, capture_output=True, check=False)
    return done.returncode, summary.read_text(), calls.read_text().splitlines()


APPLY = "Plan, verify against the review, apply"


def test_apply_script_plans_verifies_and_applies_in_that_order(tmp_path: Path) -> None:
    code, summary, calls = run_script(script("apply.yml", APPLY), tmp_path)

    assert code == 0
    assert [c.split()[:2] for c in calls] == [
        ["plan", "-m"],
        ["github", "verify-plan"],
        ["apply", "plan.json"],
    ]
    assert "--require-approval" in calls[1]
    assert "### Applied" in summary


@pytest.mark.parametrize(("failing", "code"), [("VERIFY_PLAN", 3), ("VERIFY_PLAN", 4)])
def test_apply_script_stops_before_apply_when_the_review_does_not_match(
    tmp_path: Path, failing: str, code: int
) -> None:
    exit_code, _, calls = run_script(
        script("apply.yml", APPLY), tmp_path, **{f"FAKE_{failing}": str(code)}
    )

    assert exit_code == code
    assert not any(c.startswith("apply") for c in calls)
    assert f"--exit-code {code} --stage verify --log stderr.log" in calls[-1]


@pytest.mark.parametrize("code", [4, 5])
def test_apply_script_fails_the_job_with_the_apply_exit_code(tmp_path: Path, code: int) -> None:
    exit_code, _, calls = run_script(script("apply.yml", APPLY), tmp_path, FAKE_APPLY=str(code))

    assert exit_code == code
    assert calls[-1].startswith(f"github explain --exit-code {code} --stage apply")


def test_a_manual_apply_checks_the_typed_digest_and_passes_the_overrides(tmp_path: Path) -> None:
    code, _, calls = run_script(
        script("apply.yml", APPLY),
        tmp_path,
        EVENT="workflow_dispatch",
        CONFIRM_DIGEST="sha256:abc",
        ALLOW_DEPROVISION="12",
    )

    assert code == 0
    assert calls[1] == "github verify-plan --plan plan.json --confirm-digest sha256:abc"
    assert calls[2] == "apply plan.json -m manifests --allow-deprovision 12"


def test_apply_refuses_to_run_from_another_branch(tmp_path: Path) -> None:
    code, _, calls = run_script(script("apply.yml", APPLY), tmp_path, GITHUB_REF_NAME="feature")

    assert code == 4 and calls == []


@pytest.mark.parametrize(("plan_code", "outcome"), [(0, "0"), (2, "2")])
def test_plan_and_drift_scripts_treat_changes_as_success(
    tmp_path: Path, plan_code: int, outcome: str
) -> None:
    for workflow in ("plan.yml", "drift.yml"):
        code, _, _ = run_script(script(workflow, "Plan"), tmp_path, FAKE_PLAN=str(plan_code))
        assert code == 0
        assert (tmp_path / "output").read_text().splitlines()[-1] == f"code={outcome}"


def test_a_failed_drift_plan_fails_the_job_with_an_explanation(tmp_path: Path) -> None:
    code, _, calls = run_script(script("drift.yml", "Plan"), tmp_path, FAKE_PLAN="1")

    assert code == 1
    assert calls[-1] == "github explain --exit-code 1 --stage drift"


def test_a_failed_pr_plan_still_comments_then_fails(tmp_path: Path) -> None:
    code, _, calls = run_script(script("plan.yml", "Plan"), tmp_path, FAKE_PLAN="1")

    assert code == 0, "the comment step must still run; the last step fails the job"
    assert calls[-1] == "github explain --exit-code 1 --stage plan"
    fail_code, _, _ = run_script(script("plan.yml", "Fail on a failed plan"), tmp_path, CODE="1")
    assert fail_code == 1


def test_a_usage_error_in_a_plan_is_a_failure_never_changes(tmp_path: Path) -> None:
    # Exit 64 (EX_USAGE) used to be argparse's 2, which these scripts read as "changes".
    code, _, calls = run_script(script("drift.yml", "Plan"), tmp_path, FAKE_PLAN="64")

    assert code == 64
    assert calls[-1] == "github explain --exit-code 64 --stage drift"
    assert (tmp_path / "output").read_text().splitlines()[-1] == "code=64"


# -- the several-orgs recipe (examples/multi-org) ------------------------------
def example(workflow: str, step_name: str) -> str:
    return script(workflow, step_name, EXAMPLES)


def test_the_orgs_job_puts_every_org_or_the_dispatched_one_into_the_matrix(
    tmp_path: Path,
) -> None:
    listing = example("apply.yml", "List the orgs")

    code, _, calls = run_script(listing, tmp_path, FAKE_OUT_ORGS='["us","eu"]', ORG="")
    assert code == 0 and calls == ["orgs --json"]
    assert (tmp_path / "output").read_text().splitlines()[-1] == 'names=["us","eu"]'

    code, _, calls = run_script(listing, tmp_path, FAKE_OUT_ORGS='["eu"]', ORG="eu")
    assert code == 0 and calls[-1] == "--org eu orgs --json"

    # An unknown org (or a broken reconciler.yaml) fails the listing: no empty matrix.
    before = (tmp_path / "output").read_text()
    code, _, _ = run_script(listing, tmp_path, FAKE_ORGS="1", ORG="nope")
    assert code == 1
    assert (tmp_path / "output").read_text() == before


def test_every_org_step_names_its_org(tmp_path: Path) -> None:
    code, summary, calls = run_script(
        example("apply.yml", APPLY), tmp_path, ORG="eu", FAKE_PLAN="2"
    )

    assert code == 0
    assert [c.split()[:4] for c in calls] == [
        ["--org", "eu", "plan", "--format"],
        ["--org", "eu", "github", "verify-plan"],
        ["--org", "eu", "apply", "plan.json"],
    ]
    assert "--require-approval" in calls[1] and "--detailed-exitcode" in calls[0]
    assert "### Applied to org eu" in summary


def test_an_org_with_nothing_to_apply_stops_green_without_needing_a_review(
    tmp_path: Path,
) -> None:
    code, summary, calls = run_script(
        example("apply.yml", APPLY), tmp_path, ORG="us", FAKE_PLAN="0", FAKE_VERIFY_PLAN="4"
    )

    assert code == 0
    assert calls == ["--org us plan --format markdown --out plan.json --detailed-exitcode"]
    assert "No changes for org us: nothing applied" in summary


@pytest.mark.parametrize(("stage", "env"), [("plan", "FAKE_PLAN"), ("verify", "FAKE_VERIFY_PLAN")])
@pytest.mark.parametrize("code", [1, 3, 4])
def test_an_orgs_failed_apply_step_fails_its_job_with_the_code_and_applies_nothing(
    tmp_path: Path, stage: str, env: str, code: int
) -> None:
    extra = {"FAKE_PLAN": "2"} if stage == "verify" else {}
    exit_code, _, calls = run_script(
        example("apply.yml", APPLY), tmp_path, ORG="eu", **extra, **{env: str(code)}
    )

    assert exit_code == code
    assert not any(c.startswith("--org eu apply") for c in calls)
    assert calls[-1].startswith(f"--org eu github explain --exit-code {code} --stage {stage}")


@pytest.mark.parametrize("code", [4, 5])
def test_an_orgs_refused_or_partial_apply_fails_its_job(tmp_path: Path, code: int) -> None:
    exit_code, _, calls = run_script(
        example("apply.yml", APPLY), tmp_path, ORG="us", FAKE_PLAN="2", FAKE_APPLY=str(code)
    )

    assert exit_code == code
    assert calls[-1].startswith(f"--org us github explain --exit-code {code} --stage apply")


def test_a_manual_apply_of_one_org_checks_the_typed_digest_and_passes_the_overrides(
    tmp_path: Path,
) -> None:
    code, _, calls = run_script(
        example("apply.yml", APPLY),
        tmp_path,
        ORG="eu",
        FAKE_PLAN="2",
        EVENT="workflow_dispatch",
        CONFIRM_DIGEST="sha256:abc",
        ALLOW_TEAMS_EMPTIED="2",
    )

    assert code == 0
    assert calls[1] == "--org eu github verify-plan --plan plan.json --confirm-digest sha256:abc"
    assert calls[2] == "--org eu apply plan.json --allow-teams-emptied 2"


def test_the_example_apply_refuses_to_run_from_another_branch(tmp_path: Path) -> None:
    code, _, calls = run_script(
        example("apply.yml", APPLY), tmp_path, ORG="us", GITHUB_REF_NAME="feature"
    )

    assert code == 4 and calls == []


@pytest.mark.parametrize("plan_code", [0, 2])
def test_an_orgs_plan_and_drift_treat_changes_as_success(tmp_path: Path, plan_code: int) -> None:
    for workflow in ("plan.yml", "drift.yml"):
        code, _, calls = run_script(
            example(workflow, "Plan"), tmp_path, ORG="us", FAKE_PLAN=str(plan_code)
        )
        assert code == 0
        assert calls[-1].startswith("--org us plan --format markdown --detailed-exitcode")
        assert (tmp_path / "output").read_text().splitlines()[-1] == f"code={plan_code}"


def test_an_orgs_failed_pr_plan_is_explained_for_that_org_then_commented(tmp_path: Path) -> None:
    code, _, calls = run_script(example("plan.yml", "Plan"), tmp_path, ORG="eu", FAKE_PLAN="1")

    assert code == 0, "the comment step must still run; the last step fails the job"
    assert calls[-1] == "--org eu github explain --exit-code 1 --stage plan"
    assert (tmp_path / "plan.md").read_text().strip() == "output of explain"
    fail_code, _, _ = run_script(example("plan.yml", "Fail on a failed plan"), tmp_path, CODE="1")
    assert fail_code == 1


def test_an_orgs_failed_drift_check_fails_its_job_with_an_explanation(tmp_path: Path) -> None:
    code, _, calls = run_script(example("drift.yml", "Plan"), tmp_path, ORG="eu", FAKE_PLAN="1")

    assert code == 1
    assert calls[-1] == "--org eu github explain --exit-code 1 --stage drift"


def test_a_first_apply_keeps_the_plan_that_matched_the_review(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{}", encoding="utf-8")  # what `plan --out` wrote

    code, _, calls = run_script(script("apply.yml", APPLY), tmp_path)

    assert code == 0
    assert "--reviewed-plan" not in calls[1]
    assert (tmp_path / "reviewed-plan.json").read_text(encoding="utf-8") == "{}"


def test_a_rerun_after_a_partial_apply_offers_the_kept_reviewed_plan(tmp_path: Path) -> None:
    (tmp_path / "reviewed-plan.json").write_text("reviewed", encoding="utf-8")  # restored
    (tmp_path / "plan.json").write_text("fresh", encoding="utf-8")

    code, _, calls = run_script(script("apply.yml", APPLY), tmp_path)

    assert code == 0
    assert calls[1] == (
        f"github verify-plan --plan plan.json --commit {'c' * 40} --require-approval "
        "--reviewed-plan reviewed-plan.json"
    )
    assert calls[2].startswith("apply plan.json")
    assert (tmp_path / "reviewed-plan.json").read_text(encoding="utf-8") == "reviewed"


def test_a_plan_that_is_no_remainder_of_the_review_is_not_kept_or_applied(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("fresh", encoding="utf-8")

    code, _, calls = run_script(script("apply.yml", APPLY), tmp_path, FAKE_VERIFY_PLAN="3")

    assert code == 3
    assert not (tmp_path / "reviewed-plan.json").exists()
    assert not any(c.startswith("apply") for c in calls)


ENFORCE = "Revoke what the manifest no longer grants"


def test_enforce_runs_the_revoke_only_apply_and_reports_it(tmp_path: Path) -> None:
    code, summary, calls = run_script(script("enforce.yml", ENFORCE), tmp_path)

    assert code == 0
    assert calls == ["apply --revoke-only -m manifests"]
    assert "### Enforce: revocations only" in summary and "output of apply" in summary


@pytest.mark.parametrize("code", [1, 4, 5])
def test_a_failed_enforce_fails_the_job_with_the_code_and_explains_it(
    tmp_path: Path, code: int
) -> None:
    exit_code, summary, calls = run_script(
        script("enforce.yml", ENFORCE), tmp_path, FAKE_APPLY=str(code)
    )

    assert exit_code == code
    assert "output of apply" in summary  # what was revoked is shown even on failure
    assert calls[-1] == f"github explain --exit-code {code} --stage enforce --log stderr.log"


def test_enforce_refuses_to_run_from_another_branch(tmp_path: Path) -> None:
    code, _, calls = run_script(script("enforce.yml", ENFORCE), tmp_path, GITHUB_REF_NAME="x")

    assert code == 4 and calls == []
