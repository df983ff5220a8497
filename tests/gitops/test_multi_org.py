"""Several orgs in one repository: each org's own PR comment, reviewed digest and drift issue.

GitHub is a small in-memory fake behind ``responses`` (comments and issues are kept,
created, patched), so "exactly one comment per org, updated in place" is checked
over several runs, the way the matrix jobs call it, rather than one request at a time.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from reconciler.cli import main
from reconciler.commands import github_cmd
from reconciler.commands.common import options_from
from reconciler.errors import ConfigError, StalePlanError
from reconciler.github import (
    DRIFT_LABEL,
    DRIFT_MARKER,
    GitHub,
    ReviewMissingError,
    close_drift_issue,
    drift_body,
    drift_marker,
    parse_digest,
    reviewed_plan,
    upsert_comment,
    upsert_drift_issue,
)
from reconciler.render.markdown import MARKER, plan_marker, render_markdown
from scim_sandbox import Sandbox
from tests.gitops.github_shapes import API, ENV, HUMAN, REPO, comment, issue, make_plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "multi-org"
US_PLAN = make_plan("ada@acme.io")
EU_PLAN = make_plan("bob@acme.eu", "eve@acme.eu")


class FakeGitHub:
    """Issue comments and issues of one repository, kept between calls."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.comments: dict[int, dict[str, Any]] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.next_id = 100
        base = re.escape(f"{API}/repos/{REPO}/issues")
        api.add_callback("GET", re.compile(rf"{base}/7/comments(\?.*)?$"), self._list_comments)
        api.add_callback("POST", re.compile(rf"{base}/\d+/comments$"), self._add_comment)
        api.add_callback("PATCH", re.compile(rf"{base}/comments/\d+$"), self._edit_comment)
        api.add_callback("GET", re.compile(rf"{base}(\?.*)?$"), self._list_issues)
        api.add_callback("POST", re.compile(rf"{base}$"), self._add_issue)
        api.add_callback("PATCH", re.compile(rf"{base}/\d+$"), self._edit_issue)

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add(self, body: str, *, author: dict[str, Any] | None = None) -> int:
        """A comment that was on PR #7 before the test (a person's, or an old run's)."""
        number = self._id()
        self.comments[number] = comment(number, body, **({"author": author} if author else {}))
        return number

    def bot_comments(self) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["user"]["login"] == "github-actions[bot]"]

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["state"] == "open"]

    @staticmethod
    def _ok(status: int, body: Any) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    @staticmethod
    def _body(request: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(request.body or b"{}")
        return loaded

    def _list_comments(self, request: Any) -> tuple[int, dict[str, str], str]:
        return self._ok(200, list(self.comments.values()))

    def _add_comment(self, request: Any) -> tuple[int, dict[str, str], str]:
        number = self._id()
        self.comments[number] = comment(number, self._body(request)["body"])
        return self._ok(201, self.comments[number])

    def _edit_comment(self, request: Any) -> tuple[int, dict[str, str], str]:
        number = int(request.url.rsplit("/", 1)[1])
        self.comments[number] |= {"body": self._body(request)["body"]}
        return self._ok(200, self.comments[number])

    def _list_issues(self, request: Any) -> tuple[int, dict[str, str], str]:
        return self._ok(200, self.open_issues())

    def _add_issue(self, request: Any) -> tuple[int, dict[str, str], str]:
        sent, number = self._body(request), self._id()
        self.issues[number] = issue(number, sent["body"]) | {"title": sent["title"]}
        return self._ok(201, self.issues[number])

    def _edit_issue(self, request: Any) -> tuple[int, dict[str, str], str]:
        number = int(request.url.rsplit("/", 1)[1])
        self.issues[number] |= self._body(request)
        return self._ok(200, self.issues[number])


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def github(api: responses.RequestsMock) -> FakeGitHub:
    return FakeGitHub(api)


@pytest.fixture
def gh() -> GitHub:
    return GitHub.from_env(ENV)


def run(*argv: str, org: str | None) -> tuple[int, list[str]]:
    """`reconciler [--org ORG] github ARGV...` as cli.py parses it (the global flag first)."""
    parser = argparse.ArgumentParser(prog="reconciler")
    parser.add_argument("--org")
    github_cmd.add_arguments(parser)
    lines: list[str] = []
    flags = [f"--org={org}"] if org is not None else []
    args = parser.parse_args([*flags, *argv])
    code = github_cmd.run(options_from(github_cmd.Options, args), lines.append, env=ENV)
    return code, lines


# -- the Markdown plan ------------------------------------------------------------
def test_a_plan_for_an_org_carries_that_orgs_marker_and_name_and_the_same_digest() -> None:
    keyed = render_markdown(US_PLAN, marker_key="us")

    assert keyed.splitlines()[:2] == [
        "<!-- mixpanel-scim-reconciler:plan:us -->",
        "### Mixpanel access plan (us)",
    ]
    assert MARKER not in keyed
    assert parse_digest(keyed) == US_PLAN.digest
    plain = render_markdown(US_PLAN)
    assert plain.splitlines()[:2] == [MARKER, "### Mixpanel access plan"], "single-org unchanged"
    assert plan_marker() == MARKER and plan_marker("eu") != plan_marker("eu-west")


# -- one comment per org per PR ----------------------------------------------------
def test_two_orgs_keep_two_comments_each_updated_in_place(github: FakeGitHub, gh: GitHub) -> None:
    assert upsert_comment(gh, 7, render_markdown(US_PLAN, marker_key="us"), org="us")[0] == (
        "created"
    )
    assert upsert_comment(gh, 7, render_markdown(EU_PLAN, marker_key="eu"), org="eu")[0] == (
        "created"
    )
    us_id, eu_id = (c["id"] for c in github.bot_comments())

    newer = make_plan("ada@acme.io", "alan@acme.io")
    action, updated = upsert_comment(gh, 7, render_markdown(newer, marker_key="us"), org="us")
    assert (action, updated.id) == ("updated", us_id)
    action, same = upsert_comment(gh, 7, render_markdown(EU_PLAN, marker_key="eu"), org="eu")
    assert (action, same.id) == ("unchanged", eu_id)

    bodies = {c["id"]: c["body"] for c in github.bot_comments()}
    assert sorted(bodies) == [us_id, eu_id]
    assert parse_digest(bodies[us_id]) == newer.digest
    assert parse_digest(bodies[eu_id]) == EU_PLAN.digest


def test_an_orgs_comment_is_never_the_single_org_one_or_a_persons(
    github: FakeGitHub, gh: GitHub
) -> None:
    single = github.add(render_markdown(US_PLAN))
    pasted = github.add(render_markdown(EU_PLAN, marker_key="us"), author=HUMAN)

    assert upsert_comment(gh, 7, render_markdown(EU_PLAN, marker_key="us"), org="us")[0] == (
        "created"
    )
    assert upsert_comment(gh, 7, render_markdown(US_PLAN), org=None)[0] == "unchanged"
    assert github.comments[single]["body"] == render_markdown(US_PLAN)
    assert github.comments[pasted]["user"] == HUMAN
    assert len(github.bot_comments()) == 2


def test_a_body_rendered_for_another_org_gets_only_this_orgs_marker(
    github: FakeGitHub, gh: GitHub
) -> None:
    upsert_comment(gh, 7, render_markdown(EU_PLAN, marker_key="eu"), org="us")
    upsert_comment(gh, 7, "### ❌ plan failed for org eu: exit 1, error\n", org="eu")

    us, eu = (c["body"] for c in github.bot_comments())
    assert us.startswith(plan_marker("us") + "\n")
    assert plan_marker("eu") not in us, "else org eu would read this comment as its own"
    assert eu.startswith(plan_marker("eu") + "\n") and MARKER not in eu


# -- the reviewed digest is the org's own ------------------------------------------
def test_verify_plan_reads_the_digest_of_its_own_orgs_comment(
    github: FakeGitHub, gh: GitHub, tmp_path: Path
) -> None:
    github.add(render_markdown(EU_PLAN, marker_key="eu"))  # the oldest: never taken for us's
    github.add(render_markdown(make_plan("single@acme.io")))
    github.add(render_markdown(US_PLAN, marker_key="us"))

    assert reviewed_plan(gh, 7, org="us").digest == US_PLAN.digest
    assert reviewed_plan(gh, 7, org="eu").digest == EU_PLAN.digest
    assert reviewed_plan(gh, 7).digest == make_plan("single@acme.io").digest

    us_file, eu_file = tmp_path / "us.json", tmp_path / "eu.json"
    us_file.write_text(US_PLAN.to_json(), encoding="utf-8")
    eu_file.write_text(EU_PLAN.to_json(), encoding="utf-8")
    code, lines = run("verify-plan", "--plan", str(us_file), "--pr", "7", org="us")
    assert code == 0 and "matches the plan reviewed in PR #7" in lines[-1]
    assert run("verify-plan", "--plan", str(eu_file), "--pr", "7", org="eu")[0] == 0
    with pytest.raises(StalePlanError):
        run("verify-plan", "--plan", str(eu_file), "--pr", "7", org="us")


def test_an_org_without_its_own_comment_is_refused_whatever_other_orgs_reviewed(
    github: FakeGitHub, gh: GitHub
) -> None:
    github.add(render_markdown(US_PLAN, marker_key="us"))
    github.add(render_markdown(US_PLAN))

    with pytest.raises(ReviewMissingError, match="no plan comment for org eu") as caught:
        reviewed_plan(gh, 7, org="eu")
    assert caught.value.exit_code == 4


# -- one drift issue per org --------------------------------------------------------
def test_each_org_opens_updates_and_closes_its_own_drift_issue(
    github: FakeGitHub, gh: GitHub
) -> None:
    single = upsert_drift_issue(gh, drift_body("single-org drift", None))[1]
    us = upsert_drift_issue(gh, drift_body("us drift", None, org="us"), org="us")
    eu = upsert_drift_issue(gh, drift_body("eu drift", None, org="eu"), org="eu")
    assert us[0] == eu[0] == "opened" and len({single, us[1], eu[1]}) == 3
    assert github.issues[us[1]]["title"] == "Mixpanel access drift (us)"
    assert github.issues[eu[1]]["labels"][0]["name"] == DRIFT_LABEL
    assert github.issues[single]["title"].startswith("Mixpanel access drift: ")

    again = upsert_drift_issue(gh, drift_body("us drift, day 2", None, org="us"), org="us")
    assert again == ("updated", us[1])
    assert github.issues[us[1]]["body"].startswith(drift_marker("us") + "\n")
    assert "the Mixpanel org `us` no longer matches its manifest" in github.issues[us[1]]["body"]

    assert close_drift_issue(gh, "No drift", org="eu") == eu[1]
    assert [i["number"] for i in github.open_issues()] == [single, us[1]]
    assert close_drift_issue(gh, "No drift", org="eu") is None
    assert close_drift_issue(gh, "No drift") == single
    assert [i["number"] for i in github.open_issues()] == [us[1]]


def test_drift_issue_steps_name_their_org(github: FakeGitHub, tmp_path: Path) -> None:
    plan_md = tmp_path / "drift.md"
    plan_md.write_text(render_markdown(EU_PLAN, marker_key="eu"), encoding="utf-8")

    code, lines = run("drift-issue", "--plan-markdown", str(plan_md), org="eu")
    assert code == 0 and lines == ["drift issue for org eu #101 opened"]
    assert run("drift-issue", "--clean", org="us") == (
        0,
        ["no drift for org us, and no drift issue open"],
    )
    assert run("drift-issue", "--clean", org="eu") == (0, ["closed drift issue for org eu #101"])
    note = github.comments[102]["body"]
    assert note == "No drift: the Mixpanel org `eu` matches its manifest again."
    assert DRIFT_MARKER not in github.issues[101]["body"]


# -- names -------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["US", "us -->", "", "-x", "a b"])
def test_an_org_name_that_could_break_a_marker_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="lowercase letters"):
        run("explain", "--exit-code", "1", "--stage", "plan", org=bad)


def test_explain_names_the_org() -> None:
    code, lines = run("explain", "--exit-code", "3", "--stage", "verify", org="eu")
    assert code == 0
    assert lines[0].startswith("### ❌ verify failed for org eu: exit 3, plan changed since review")


def test_explain_names_the_org_on_a_success_too() -> None:
    code, lines = run("explain", "--exit-code", "0", "--stage", "drift", org="eu")
    assert code == 0
    assert lines[0].startswith("### ✅ drift succeeded for org eu: exit 0, no drift\n")


# -- the real CLI: plan for an org, comment it, verify it --------------------------
@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/multi-org as the working directory, with GitHub's env."""
    shutil.copytree(EXAMPLE, tmp_path / "repo", ignore=shutil.ignore_patterns(".github"))
    monkeypatch.chdir(tmp_path / "repo")
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MIXPANEL_SCIM_URL", raising=False)
    return tmp_path / "repo"


def test_an_org_plan_is_commented_and_verified_as_that_orgs_alone(
    example: Path,
    api: responses.RequestsMock,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`reconciler --org NAME plan --format markdown`, then that org's github steps."""
    digests = {}
    for org in ("us", "eu"):
        with Sandbox(token=f"tok-{org}") as box:  # a real SCIM server on 127.0.0.1
            api.add_passthru(box.base_url)
            monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", f"tok-{org}")
            argv = ["--org", org, "plan", "--format", "markdown", "--url", box.base_url]
            assert main([*argv, "--out", f"{org}.json", "--detailed-exitcode"]) == 2
        markdown = capsys.readouterr().out
        assert markdown.startswith(plan_marker(org) + f"\n### Mixpanel access plan ({org})\n")
        digests[org] = parse_digest(markdown)
        (example / f"{org}.md").write_text(markdown, encoding="utf-8")
        comment_argv = ["github", "comment", "--pr", "7", "--body-file", f"{org}.md"]
        assert main(["--org", org, *comment_argv]) == 0
        assert f"plan comment for org {org} created on PR #7" in capsys.readouterr().out

    assert len(github.bot_comments()) == 2 and digests["us"] != digests["eu"]
    for org in ("us", "eu"):
        verify_argv = ["github", "verify-plan", "--plan", f"{org}.json", "--pr", "7"]
        assert main(["--org", org, *verify_argv]) == 0
        assert f"plan digest: {digests[org]}" in capsys.readouterr().out
    # eu's plan is not what us's reviewers saw: stale, exit 3.
    assert main(["--org", "us", "github", "verify-plan", "--plan", "eu.json", "--pr", "7"]) == 3
    assert "not the plan reviewed in PR #7" in capsys.readouterr().err


# -- reconciler orgs: the matrix -----------------------------------------------------
def test_orgs_lists_the_example_orgs_for_a_matrix(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["orgs", "--json"]) == 0
    assert capsys.readouterr().out == '["us","eu"]\n'
    assert main(["--org", "eu", "orgs", "--json"]) == 0
    assert capsys.readouterr().out == '["eu"]\n'
    assert main(["orgs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        "eu  manifest orgs/eu  token $MIXPANEL_SCIM_TOKEN"
        "  url https://eu.mixpanel.com/api/app/scim/v2"
    )
    for org in ("us", "eu"):
        assert main(["--org", org, "validate"]) == 0


def test_orgs_fails_on_an_unknown_org_or_a_missing_config(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--org", "jp", "orgs", "--json"]) == 1
    assert "no org named 'jp' in reconciler.yaml; configured: us, eu" in capsys.readouterr().err
    assert main(["--config", "nowhere.yaml", "orgs", "--json"]) == 1
    assert "nowhere.yaml not found" in capsys.readouterr().err
    assert capsys.readouterr().out == ""
