"""The GitHub glue against REST-shaped answers: one comment, one issue, no leaked token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
import requests
import responses
from responses import matchers

from reconciler.github import (
    DRIFT_LABEL,
    DRIFT_MARKER,
    GitHub,
    GitHubError,
    ReviewMissingError,
    close_drift_issue,
    drift_body,
    fit_body,
    parse_digest,
    plan_digest_from_pr,
    upsert_comment,
    upsert_drift_issue,
)
from reconciler.render.markdown import MARKER, render_markdown
from tests.gitops.github_shapes import (
    API,
    ENV,
    HUMAN,
    REPO,
    TOKEN,
    comment,
    issue,
    make_plan,
    pull,
)

COMMENTS = f"{API}/repos/{REPO}/issues/7/comments"
ISSUES = f"{API}/repos/{REPO}/issues"
PAGE_2 = f"{COMMENTS}?per_page=100&page=2"


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def gh() -> GitHub:
    return GitHub.from_env(ENV)


def calls(api: responses.RequestsMock, method: str) -> list[responses.Call]:
    return [c for c in api.calls if c.request.method == method]


# -- the plan comment ---------------------------------------------------------
def test_upsert_finds_our_comment_on_a_later_page_and_patches_it_without_posting(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    first_page = [comment(i, "LGTM", author=HUMAN) for i in range(1, 101)]
    api.get(
        COMMENTS,
        json=first_page,
        headers={"Link": f'<{PAGE_2}>; rel="next", <{PAGE_2}>; rel="last"'},
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    api.get(
        COMMENTS,
        json=[comment(555, f"{MARKER}\nold plan")],
        match=[matchers.query_param_matcher({"per_page": "100", "page": "2"})],
    )
    api.patch(f"{API}/repos/{REPO}/issues/comments/555", json=comment(555, f"{MARKER}\nnew"))

    action, updated = upsert_comment(gh, 7, f"{MARKER}\nnew plan")

    assert (action, updated.id) == ("updated", 555)
    assert calls(api, "POST") == []
    assert json.loads(calls(api, "PATCH")[0].request.body or b"{}") == {
        "body": f"{MARKER}\nnew plan"
    }


def test_upsert_posts_one_comment_when_there_is_none(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(COMMENTS, json=[comment(1, "Please review")])
    api.post(COMMENTS, json=comment(2, f"{MARKER}\nplan"), status=201)

    action, created = upsert_comment(gh, 7, "plan")

    assert (action, created.id) == ("created", 2)
    sent = json.loads(calls(api, "POST")[0].request.body or b"{}")
    assert sent["body"].startswith(MARKER), "the marker is added so the next run finds it"


def test_a_marker_pasted_by_a_person_is_not_taken_for_our_comment(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(COMMENTS, json=[comment(3, f"{MARKER}\nfake plan", author=HUMAN)])
    api.post(COMMENTS, json=comment(4, f"{MARKER}\nplan"), status=201)

    assert upsert_comment(gh, 7, f"{MARKER}\nplan")[0] == "created"


def test_an_unchanged_plan_is_not_rewritten_so_its_timestamp_keeps_meaning(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(COMMENTS, json=[comment(9, f"{MARKER}\nsame")])

    assert upsert_comment(gh, 7, f"{MARKER}\nsame")[0] == "unchanged"
    assert calls(api, "PATCH") == []


def test_a_missing_permission_says_which_one_the_workflow_needs(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(COMMENTS, json=[])
    api.post(COMMENTS, status=403, json={"message": "Resource not accessible by integration"})

    with pytest.raises(GitHubError, match=r"needs `pull-requests: write` permission"):
        upsert_comment(gh, 7, "plan")


# -- the reviewed digest --------------------------------------------------------
def test_the_digest_is_read_from_the_rendered_plan_footer() -> None:
    plan = make_plan("ada@acme.io")
    assert parse_digest(render_markdown(plan)) == plan.digest
    assert parse_digest("plan digest: `sha256:abc`") is None


def test_the_pr_of_a_merge_commit_leads_to_the_digest_of_its_plan_comment(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    sha = "c" * 40
    plan = make_plan("ada@acme.io")
    api.get(
        f"{API}/repos/{REPO}/commits/{sha}/pulls",
        json=[pull(3, merged=False), pull(7, merge_commit_sha=sha)],
    )
    api.get(COMMENTS, json=[comment(10, render_markdown(plan))])

    reviewed = plan_digest_from_pr(gh, sha)

    assert (reviewed.pr, reviewed.digest) == (7, plan.digest)


def test_a_direct_push_without_a_merged_pr_is_refused_as_unreviewed(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    sha = "d" * 40
    api.get(f"{API}/repos/{REPO}/commits/{sha}/pulls", json=[pull(3, merged=False)])

    with pytest.raises(ReviewMissingError, match="direct pushes are not applied") as caught:
        plan_digest_from_pr(gh, sha)
    assert caught.value.exit_code == 4


# -- the drift issue ------------------------------------------------------------
def test_drift_opens_one_labelled_issue_when_none_is_open(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(
        ISSUES,
        json=[issue(4, "unrelated", author=HUMAN) | {"pull_request": {"url": "x"}}],
        match=[
            matchers.query_param_matcher(
                {"per_page": "100", "labels": DRIFT_LABEL, "state": "open"}
            )
        ],
    )
    api.post(ISSUES, json=issue(12, "body"), status=201)

    assert upsert_drift_issue(gh, drift_body("plan", None)) == ("opened", 12)
    sent = json.loads(calls(api, "POST")[0].request.body or b"{}")
    assert sent["labels"] == [DRIFT_LABEL]
    assert sent["body"].startswith(DRIFT_MARKER)


def test_drift_updates_the_open_issue_instead_of_opening_another(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(ISSUES, json=[issue(12, f"{DRIFT_MARKER}\nyesterday's plan")])
    api.patch(f"{ISSUES}/12", json=issue(12, "today"))

    assert upsert_drift_issue(gh, drift_body("today's plan", None)) == ("updated", 12)
    assert calls(api, "POST") == []


def test_no_drift_comments_and_closes_the_open_issue(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(ISSUES, json=[issue(12, f"{DRIFT_MARKER}\nplan")])
    api.post(f"{ISSUES}/12/comments", json=comment(99, "No drift", number=12), status=201)
    api.patch(f"{ISSUES}/12", json=issue(12, "plan") | {"state": "closed"})

    assert close_drift_issue(gh, "No drift") == 12
    assert json.loads(calls(api, "POST")[0].request.body or b"{}") == {"body": "No drift"}
    closed = json.loads(calls(api, "PATCH")[0].request.body or b"{}")
    assert closed == {"state": "closed", "state_reason": "completed"}


def test_no_drift_and_no_issue_changes_nothing(api: responses.RequestsMock, gh: GitHub) -> None:
    api.get(ISSUES, json=[])

    assert close_drift_issue(gh) is None


# -- bodies and secrets ---------------------------------------------------------
def test_an_oversized_plan_is_cut_but_keeps_its_digest_line() -> None:
    plan = make_plan(*(f"user{i}@acme.io" for i in range(40)))
    body = render_markdown(plan)
    cut = fit_body(body, limit=2000)
    assert len(cut) <= 2000
    assert parse_digest(cut) == plan.digest


@pytest.mark.parametrize("status", [401, 403, 404, 422, 500])
def test_the_token_never_appears_in_an_error_message(
    api: responses.RequestsMock, gh: GitHub, status: int
) -> None:
    api.get(COMMENTS, status=status, json={"message": "Bad credentials"})

    with pytest.raises(GitHubError) as caught:
        gh.comments(7)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert str(status) in str(caught.value)


def test_an_unreachable_api_is_an_error_without_the_token(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(COMMENTS, body=requests.ConnectionError(f"boom Authorization: Bearer {TOKEN}"))

    with pytest.raises(GitHubError, match="no answer from") as caught:
        gh.comments(7)
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_pagination_never_follows_a_link_to_another_host(
    api: responses.RequestsMock, gh: GitHub
) -> None:
    api.get(COMMENTS, json=[], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'})

    with pytest.raises(GitHubError, match="another host"):
        gh.comments(7)


def test_the_token_is_sent_only_as_a_bearer_header(api: responses.RequestsMock, gh: GitHub) -> None:
    api.get(COMMENTS, json=[])
    gh.comments(7)
    request = api.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in (request.url or "")


def test_a_plan_remade_unchanged_on_a_later_day_keeps_its_digest() -> None:
    monday = make_plan("ada@acme.io")
    tuesday = monday.model_copy(
        update={"as_of": date(2024, 5, 3), "notices": ("ada@acme.io: access expires in 6 days",)}
    )
    assert tuesday.digest == monday.digest, "else every merge a day after its plan is 'stale'"
