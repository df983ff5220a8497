"""The GitHub client follows the SCIM transport's rules: a deadline and a byte cap per answer."""

from __future__ import annotations

import time

import pytest
import responses

from reconciler.github import MAX_ANSWER_BYTES, TIMEOUTS, GitHub, GitHubError
from reconciler.scim.secret import Token
from reconciler.scim.wire import Timeouts
from tests.gitops.github_shapes import API, REPO, TOKEN, comment
from tests.support.drip_server import drip_server

COMMENTS = f"{API}/repos/{REPO}/issues/comments"


def test_the_github_client_has_the_transports_bounds_by_default() -> None:
    assert TIMEOUTS.total < float("inf") and TIMEOUTS.read <= TIMEOUTS.total
    assert 0 < MAX_ANSWER_BYTES <= 64 * 2**20


@responses.activate
def test_an_answer_over_the_byte_cap_is_refused_not_read_into_memory() -> None:
    body = b"[" + b" " * 5000 + b"]"
    responses.get(f"{API}/repos/{REPO}/issues/7/comments", body=body)
    gh = GitHub(REPO, Token(TOKEN), max_answer_bytes=1000)
    with pytest.raises(GitHubError) as refused:
        gh.comments(7)
    message = str(refused.value)
    assert "list the comments of #7" in message and "more than 1000 bytes" in message
    assert TOKEN not in message


@responses.activate
def test_an_answer_within_the_cap_is_read_as_before() -> None:
    responses.get(f"{API}/repos/{REPO}/issues/7/comments", json=[comment(1, "plan")])
    gh = GitHub(REPO, Token(TOKEN), max_answer_bytes=100_000)
    assert [c.body for c in gh.comments(7)] == ["plan"]


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_a_github_that_drips_its_answer_is_cut_at_the_deadline(version: str) -> None:
    timeouts = Timeouts(connect=1.0, read=1.0, total=0.4)
    started = time.monotonic()
    with drip_server(version) as url, pytest.raises(GitHubError) as refused:
        GitHub(REPO, Token(TOKEN), api_url=url, timeouts=timeouts).comments(7)
    assert time.monotonic() - started < 3.0, "the per-read timeout alone never trips"
    assert "no answer from" in str(refused.value) and TOKEN not in str(refused.value)
