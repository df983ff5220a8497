"""`reconciler github ...` as the workflows call it: exit codes and what the log says."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from reconciler.commands import github_cmd
from reconciler.commands.common import options_from
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.github import DRIFT_MARKER, ReviewMissingError
from reconciler.render.markdown import MARKER, render_markdown
from tests.gitops.github_shapes import API, ENV, REPO, comment, issue, make_plan, pull, review

COMMENTS = f"{API}/repos/{REPO}/issues/7/comments"
SHA = "c" * 40
REVIEWED = make_plan("ada@acme.io")


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def plan_file(tmp_path: Path) -> str:
    path = tmp_path / "plan.json"
    path.write_text(REVIEWED.to_json(), encoding="utf-8")
    return str(path)


def _options(args: argparse.Namespace) -> github_cmd.Options:
    """The frozen options the CLI edge builds from parsed arguments."""
    return options_from(github_cmd.Options, args)


def run(*argv: str) -> tuple[int, list[str]]:
    parser = argparse.ArgumentParser(prog="reconciler github")
    github_cmd.add_arguments(parser)
    lines: list[str] = []
    code = github_cmd.run(_options(parser.parse_args(argv)), lines.append, env=ENV)
    return code, lines


def fail(*argv: str) -> ReconcilerError:
    with pytest.raises(ReconcilerError) as caught:
        run(*argv)
    return caught.value


def merged_pr_with_comment(api: responses.RequestsMock, body: str, updated: str) -> None:
    api.get(f"{API}/repos/{REPO}/commits/{SHA}/pulls", json=[pull(7, merge_commit_sha=SHA)])
    api.get(COMMENTS, json=[comment(50, body, updated_at=updated)])


# -- verify-plan ----------------------------------------------------------------
def test_verify_plan_passes_when_the_merged_pr_reviewed_the_same_digest(
    api: responses.RequestsMock, plan_file: str
) -> None:
    merged_pr_with_comment(api, render_markdown(REVIEWED), "2024-05-02T10:00:00Z")

    code, lines = run("verify-plan", "--plan", plan_file, "--commit", SHA)

    assert code == 0
    assert lines[0] == f"plan digest: {REVIEWED.digest}"
    assert "matches the plan reviewed in PR #7" in lines[1]


def test_verify_plan_is_stale_with_both_digests_when_the_plan_changed_since_review(
    api: responses.RequestsMock, plan_file: str
) -> None:
    seen = make_plan("ada@acme.io", "bob@acme.io")
    api.get(COMMENTS, json=[comment(50, render_markdown(seen))])

    error = fail("verify-plan", "--plan", plan_file, "--pr", "7")

    assert isinstance(error, StalePlanError) and error.exit_code == 3
    assert seen.digest in str(error) and REVIEWED.digest in str(error)
    assert "the plan changed since review: re-run the PR's plan job, review, and merge again" in (
        str(error)
    )


def test_verify_plan_refuses_a_pr_without_a_plan_comment(
    api: responses.RequestsMock, plan_file: str
) -> None:
    api.get(COMMENTS, json=[comment(1, "LGTM")])

    error = fail("verify-plan", "--plan", plan_file, "--pr", "7")

    assert isinstance(error, ReviewMissingError) and error.exit_code == 4
    assert "no plan comment" in str(error)


def test_verify_plan_refuses_a_comment_whose_last_plan_failed(
    api: responses.RequestsMock, plan_file: str
) -> None:
    failed = github_cmd.explain(1, "plan", "error: no SCIM token")
    api.get(COMMENTS, json=[comment(50, f"{MARKER}\n{failed}")])

    error = fail("verify-plan", "--plan", plan_file, "--pr", "7")

    assert error.exit_code == 4 and "holds no plan digest" in str(error)


def test_verify_plan_requires_an_approval_given_after_the_comment_last_changed(
    api: responses.RequestsMock, plan_file: str
) -> None:
    merged_pr_with_comment(api, render_markdown(REVIEWED), "2024-05-02T10:00:00Z")
    api.get(
        f"{API}/repos/{REPO}/pulls/7/reviews",
        json=[
            review("grace", "APPROVED", "2024-05-02T09:00:00Z"),  # saw an older plan
            review("linus", "COMMENTED", "2024-05-02T11:00:00Z"),
        ],
    )

    error = fail("verify-plan", "--plan", plan_file, "--commit", SHA, "--require-approval")

    assert error.exit_code == 4 and "no approval given after its plan comment" in str(error)


def test_verify_plan_names_who_approved_the_plan_being_applied(
    api: responses.RequestsMock, plan_file: str
) -> None:
    merged_pr_with_comment(api, render_markdown(REVIEWED), "2024-05-02T10:00:00Z")
    api.get(
        f"{API}/repos/{REPO}/pulls/7/reviews",
        json=[
            review("grace", "CHANGES_REQUESTED", "2024-05-02T10:30:00Z"),
            review("grace", "APPROVED", "2024-05-02T11:00:00Z"),
        ],
    )

    code, lines = run("verify-plan", "--plan", plan_file, "--commit", SHA, "--require-approval")

    assert code == 0 and lines[-1].endswith("by: grace")


def test_a_manual_run_without_confirm_digest_shows_the_digest_to_confirm(plan_file: str) -> None:
    error = fail("verify-plan", "--plan", plan_file, "--confirm-digest", "")

    assert error.exit_code == 4
    assert f"confirm_digest={REVIEWED.digest}" in str(error)


def test_a_manual_run_needs_no_github_token(plan_file: str) -> None:
    parser = argparse.ArgumentParser()
    github_cmd.add_arguments(parser)
    args = parser.parse_args(["verify-plan", "--plan", plan_file, "--confirm-digest", "x"])
    with pytest.raises(StalePlanError):
        github_cmd.run(_options(args), print, env={})


def test_a_manual_run_applies_only_the_digest_typed_in(plan_file: str) -> None:
    assert run("verify-plan", "--plan", plan_file, "--confirm-digest", REVIEWED.digest)[0] == 0
    other = make_plan("someone@acme.io").digest
    assert fail("verify-plan", "--plan", plan_file, "--confirm-digest", other).exit_code == 3


# -- comment and drift-issue ------------------------------------------------------
def test_comment_posts_the_body_file_and_says_where(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    body = tmp_path / "plan.md"
    body.write_text(render_markdown(REVIEWED), encoding="utf-8")
    api.get(COMMENTS, json=[])
    api.post(COMMENTS, json=comment(77, body.read_text()), status=201)

    code, lines = run("comment", "--pr", "7", "--body-file", str(body))

    assert code == 0
    assert lines == [
        f"plan comment created on PR #7: https://github.com/{REPO}/pull/7#issuecomment-77"
    ]


def test_drift_issue_with_a_plan_updates_the_open_issue(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    plan_md = tmp_path / "drift.md"
    plan_md.write_text(render_markdown(REVIEWED), encoding="utf-8")
    api.get(f"{API}/repos/{REPO}/issues", json=[issue(12, f"{DRIFT_MARKER}\nold")])
    api.patch(f"{API}/repos/{REPO}/issues/12", json=issue(12, "new"))

    assert run("drift-issue", "--plan-markdown", str(plan_md)) == (0, ["drift issue #12 updated"])


def test_drift_issue_clean_closes_it_with_a_no_drift_comment(
    api: responses.RequestsMock,
) -> None:
    api.get(f"{API}/repos/{REPO}/issues", json=[issue(12, f"{DRIFT_MARKER}\nold")])
    api.post(f"{API}/repos/{REPO}/issues/12/comments", json=comment(1, "No drift"), status=201)
    api.patch(f"{API}/repos/{REPO}/issues/12", json=issue(12, "old"))

    assert run("drift-issue", "--clean") == (0, ["closed drift issue #12"])
    assert json.loads(api.calls[1].request.body or "{}") == {
        "body": "No drift: Mixpanel matches `manifests/` again."
    }


def test_a_missing_github_token_says_how_to_pass_it(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    github_cmd.add_arguments(parser)
    args = parser.parse_args(["drift-issue", "--clean"])
    with pytest.raises(ReconcilerError, match=r"GITHUB_TOKEN: \$\{\{ github.token \}\}"):
        github_cmd.run(_options(args), print, env={"GITHUB_REPOSITORY": REPO})


# -- explain --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "stage", "says"),
    [
        (1, "plan", "error"),
        (3, "verify", "plan changed since review"),
        (4, "verify", "no reviewed plan"),
        (4, "apply", "refused by a safety guard"),
        (5, "apply", "partially applied"),
        (42, "apply", "unexpected exit code"),
    ],
)
def test_explain_maps_each_exit_code_to_a_headline_and_advice(
    code: int, stage: str, says: str
) -> None:
    text = github_cmd.explain(code, stage)
    assert text.startswith(f"### ❌ {stage} failed: exit {code}, {says}")


# README's exit codes: what each one means, in words the heading must use.
DOCUMENTED = {
    0: ("✅", ("no changes", "the plan is the reviewed one", "applied", "no drift", "done")),
    1: ("❌", ("error",)),
    2: ("ℹ️", ("changes present", "drift found")),
    3: ("❌", ("stale plan", "plan changed since review")),
    4: ("❌", ("refused by a safety guard", "no reviewed plan")),
    5: ("❌", ("partially applied", "partially revoked")),
    64: ("❌", ("usage error",)),
    130: ("❌", ("interrupted",)),
}


@pytest.mark.parametrize("stage", github_cmd.STAGES)
@pytest.mark.parametrize("code", sorted(DOCUMENTED))
def test_explain_says_what_each_documented_exit_code_means_at_each_stage(
    code: int, stage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    assert main(["github", "explain", "--exit-code", str(code), "--stage", stage]) == 0

    heading = capsys.readouterr().out.splitlines()[0]
    mark, meanings = DOCUMENTED[code]
    assert heading.startswith(f"### {mark} {stage}"), heading
    assert f"exit {code}, " in heading and any(m in heading for m in meanings), heading
    # Only a failure is called one: 0 is a success, 2 "changes present" (README).
    assert ("failed" in heading) == (code not in (0, 2)), heading


def test_explain_quotes_the_log_in_a_fence_the_log_cannot_close(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    log.write_text("noise\n" * 40 + "error: ```oops```\n", encoding="utf-8")

    code, lines = run("explain", "--exit-code", "1", "--stage", "apply", "--log", str(log))

    assert code == 0
    assert "\n````\n" in lines[0] and lines[0].count("noise") == 29


# -- finishing a partial apply: the subset rule ----------------------------------
def _kept(tmp_path: Path, plan: object) -> str:
    path = tmp_path / "reviewed-plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")  # type: ignore[attr-defined]
    return str(path)


def _fresh(tmp_path: Path, plan: object) -> str:
    path = tmp_path / "fresh.json"
    path.write_text(plan.to_json(), encoding="utf-8")  # type: ignore[attr-defined]
    return str(path)


def test_a_rerun_accepts_a_fresh_plan_that_is_a_remainder_of_the_reviewed_one(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    reviewed = make_plan("ada@acme.io", "bob@acme.io", "cy@acme.io")
    left = make_plan("cy@acme.io")  # ada and bob were created before the failure
    merged_pr_with_comment(api, render_markdown(reviewed), "2024-05-02T10:00:00Z")

    code, lines = run(
        "verify-plan", "--plan", _fresh(tmp_path, left), "--commit", SHA,
        "--reviewed-plan", _kept(tmp_path, reviewed),
    )  # fmt: skip

    assert code == 0
    assert "a remainder of the plan reviewed in PR #7: 1 of 3 operations left" in lines[-1]


def test_the_remainder_line_counts_one_operation_in_the_singular(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    reviewed = make_plan("ada@acme.io")
    left = make_plan()  # the one operation was done before the failure
    merged_pr_with_comment(api, render_markdown(reviewed), "2024-05-02T10:00:00Z")

    code, lines = run(
        "verify-plan", "--plan", _fresh(tmp_path, left), "--commit", SHA,
        "--reviewed-plan", _kept(tmp_path, reviewed),
    )  # fmt: skip

    assert code == 0
    assert "a remainder of the plan reviewed in PR #7: 0 of 1 operation left" in lines[-1]


def test_a_rerun_refuses_a_fresh_plan_with_anything_new_and_names_it(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    reviewed = make_plan("ada@acme.io", "bob@acme.io")
    grown = make_plan("bob@acme.io", "mallory@acme.io")
    api.get(COMMENTS, json=[comment(50, render_markdown(reviewed))])

    error = fail(
        "verify-plan", "--plan", _fresh(tmp_path, grown), "--pr", "7",
        "--reviewed-plan", _kept(tmp_path, reviewed),
    )  # fmt: skip

    assert isinstance(error, StalePlanError) and error.exit_code == 3
    assert "user mallory@acme.io: create_user is not in the reviewed plan" in str(error)
    assert "bob@acme.io" not in str(error)


def test_a_rerun_refuses_a_remainder_for_another_manifest(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    reviewed = make_plan("ada@acme.io", "bob@acme.io")
    other = make_plan("bob@acme.io").model_copy(update={"manifest_digest": "sha256:" + "f" * 64})
    api.get(COMMENTS, json=[comment(50, render_markdown(reviewed))])

    error = fail(
        "verify-plan", "--plan", _fresh(tmp_path, other), "--pr", "7",
        "--reviewed-plan", _kept(tmp_path, reviewed),
    )  # fmt: skip

    assert error.exit_code == 3 and "manifest: sha256:ffff" in str(error)


def test_a_rerun_ignores_a_kept_plan_that_is_not_the_reviewed_one(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    reviewed = make_plan("ada@acme.io")
    other_review = make_plan("ada@acme.io", "mallory@acme.io")  # e.g. a poisoned cache entry
    fresh = make_plan("mallory@acme.io")
    api.get(COMMENTS, json=[comment(50, render_markdown(reviewed))])

    error = fail(
        "verify-plan", "--plan", _fresh(tmp_path, fresh), "--pr", "7",
        "--reviewed-plan", _kept(tmp_path, other_review),
    )  # fmt: skip

    assert isinstance(error, StalePlanError)
    assert "the plan made now is not the plan reviewed in PR #7" in str(error)


def test_a_kept_plan_that_was_edited_is_refused(
    api: responses.RequestsMock, tmp_path: Path
) -> None:
    reviewed = make_plan("ada@acme.io")
    api.get(COMMENTS, json=[comment(50, render_markdown(reviewed))])
    kept = _kept(tmp_path, reviewed)
    Path(kept).write_text(
        Path(kept).read_text().replace("ada@acme.io", "eve@acme.io"), encoding="utf-8"
    )

    error = fail(
        "verify-plan", "--plan", _fresh(tmp_path, make_plan("eve@acme.io")), "--pr", "7",
        "--reviewed-plan", kept,
    )  # fmt: skip

    assert "do not match its digest" in str(error)


def test_a_manual_rerun_accepts_a_remainder_of_the_confirmed_digest(tmp_path: Path) -> None:
    reviewed = make_plan("ada@acme.io", "bob@acme.io")

    code, lines = run(
        "verify-plan", "--plan", _fresh(tmp_path, make_plan("bob@acme.io")),
        "--confirm-digest", reviewed.digest, "--reviewed-plan", _kept(tmp_path, reviewed),
    )  # fmt: skip

    assert code == 0 and "remainder of the plan reviewed in the confirm_digest input" in lines[-1]


@pytest.mark.parametrize("code", [5, 130])
def test_explain_says_a_rerun_finishes_a_partial_apply_under_the_subset_rule(code: int) -> None:
    text = github_cmd.explain(code, "apply")

    assert "re-run this job (no new pull request)" in text.lower()
    assert "subset of the reviewed plan" in text and "naming what is new" in text


def test_a_confirm_digest_copied_without_its_prefix_is_the_same_digest(plan_file: str) -> None:
    bare = REVIEWED.digest.removeprefix("sha256:")

    assert run("verify-plan", "--plan", plan_file, "--confirm-digest", bare)[0] == 0


@pytest.mark.parametrize(
    "typed", ["x", REVIEWED.digest[:19], REVIEWED.digest.upper(), REVIEWED.digest + "0"]
)
def test_a_confirm_digest_that_is_not_a_digest_says_so_and_never_confirms(
    plan_file: str, typed: str
) -> None:
    error = fail("verify-plan", "--plan", plan_file, "--confirm-digest", typed)

    assert error.exit_code == 3
    assert "is not a plan digest" in str(error)
    assert f"confirm_digest={REVIEWED.digest}" in str(error)
    assert "changed since" not in str(error)


@pytest.mark.parametrize("code", [3, 130])
def test_explain_at_enforce_never_points_at_a_reviewed_plan(code: int) -> None:
    text = github_cmd.explain(code, "enforce")

    assert "next hourly run" in text
    assert "reviewed plan" not in text and "PR's plan job" not in text


def test_explain_an_interrupted_drift_check_says_it_changed_nothing() -> None:
    text = github_cmd.explain(130, "drift")

    assert text.startswith("### ❌ drift failed: exit 130, interrupted")
    assert "changes nothing" in text and "subset" not in text


def _readme_ci_exit_rows() -> dict[int, str]:
    """The rows of README's exit table for CI (section "Running it from GitHub Actions")."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running it from GitHub Actions", 1)[1].split("\n## ", 1)[0]
    table = section.split("| Exit | Meaning in CI | What to do |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells and cells[0].isdigit():
            rows[int(cells[0])] = " ".join(cells[1:])
    return rows


def test_readme_ci_exit_table_and_explain_say_the_same_about_a_rerun_after_5_and_130() -> None:
    rows = _readme_ci_exit_rows()
    assert set(rows) == {1, 3, 4, 5, 130}
    for code in (5, 130):
        text = github_cmd.explain(code, "apply")
        assert "no new PR" in rows[code] and "(no new pull request)" in text
        assert "subset rule" in rows[code] or "subset of the reviewed plan" in rows[code]
        assert "subset of the reviewed plan" in text
        assert "journaled" in rows[130] and "journal" in github_cmd.explain(130, "apply")
    assert "anything new is refused and named" in rows[5] and "naming what is new" in text
