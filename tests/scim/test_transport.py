"""Transport behaviour over mocked HTTP: retries, backoff, limits and refusals."""

from __future__ import annotations

import logging
import random
import re
import socket
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

from reconciler.scim.errors import (
    ScimAuthError,
    ScimBadRequest,
    ScimNotFound,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimTransportError,
)
from reconciler.scim.retry import RetryPolicy, parse_retry_after
from reconciler.scim.secret import Token
from reconciler.scim.transport import Timeouts, Transport

BASE = "https://scim.example.test/v2"
SECRET = "tok-TRANSPORT-SECRET-42"
NOW = 1_800_000_000.0
SCIM = "application/scim+json"
LIST = {"totalResults": 0, "Resources": []}


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def transport(sleeps: list[float], **kwargs: object) -> Transport:
    return Transport(
        BASE,
        Token(SECRET),
        sleep=sleeps.append,
        rng=random.Random(7),
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_get_sends_auth_and_scim_headers_and_returns_the_body(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", json=LIST, content_type=SCIM)
    answer = transport(sleeps).request("GET", "/Users", params={"count": 10})
    assert (answer.status, answer.body) == (200, LIST)
    sent = http.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert sent.headers["Accept"].startswith(SCIM)
    assert sent.headers["User-Agent"].startswith("reconciler/")
    assert sent.url == f"{BASE}/Users?count=10"


def test_a_json_body_is_sent_as_scim_json(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.patch(f"{BASE}/Groups/g1", status=204)
    answer = transport(sleeps).request("PATCH", "/Groups/g1", json={"Operations": ["é"]})
    assert answer.body is None
    sent = http.calls[0].request
    assert sent.headers["Content-Type"] == SCIM
    assert sent.body == '{"Operations":["é"]}'.encode()


def test_429_waits_the_retry_after_seconds(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", status=429, headers={"Retry-After": "3"})
    http.get(f"{BASE}/Users", json=LIST)
    t = transport(sleeps)
    assert t.request("GET", "/Users").status == 200
    assert sleeps == [3.0]
    assert (t.stats.total, t.stats.retries, t.stats.calls) == (2, 1, 1)


def test_429_waits_until_a_retry_after_http_date(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", status=429, headers={"Retry-After": formatdate(NOW + 7, usegmt=True)})
    http.get(f"{BASE}/Users", json=LIST)
    transport(sleeps).request("GET", "/Users")
    assert sleeps == [7.0]


def test_a_retry_after_beyond_max_delay_is_capped(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", status=503, headers={"Retry-After": "86400"})
    http.get(f"{BASE}/Users", json=LIST)
    transport(sleeps, retry=RetryPolicy(max_delay=9.0)).request("GET", "/Users")
    assert sleeps == [9.0]


def test_a_503_burst_is_retried_with_full_jitter_exponential_backoff(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    for status in (503, 502, 504, 500):
        http.get(f"{BASE}/Users", status=status)
    http.get(f"{BASE}/Users", json=LIST)
    t = transport(sleeps, retry=RetryPolicy(base_delay=1.0, max_delay=5.0))
    assert t.request("GET", "/Users").status == 200
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= min(5.0, 2**attempt)
    assert t.stats.by_class["GET /Users"] == 5


def test_5xx_beyond_max_attempts_raises_server_error(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(3):
        http.get(f"{BASE}/Users", status=503, json={"detail": "busy"})
    with pytest.raises(ScimServerError) as caught:
        transport(sleeps, retry=RetryPolicy(max_attempts=3)).request("GET", "/Users")
    assert len(sleeps) == 2
    assert (caught.value.status, caught.value.attempts) == (503, 3)
    assert "after 3 attempts" in str(caught.value) and "busy" in str(caught.value)


def test_the_total_cap_stops_retrying_before_it_is_exceeded(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(4):
        http.get(f"{BASE}/Users", status=429, headers={"Retry-After": "30"})
    policy = RetryPolicy(max_attempts=10, max_delay=30.0, total_cap=100.0)
    with pytest.raises(ScimRateLimited) as caught:
        transport(sleeps, retry=policy).request("GET", "/Users")
    assert sleeps == [30.0, 30.0, 30.0]
    assert sum(sleeps) <= policy.total_cap
    assert isinstance(caught.value, ScimServerError)


def test_a_501_is_not_retried(http: responses.RequestsMock, sleeps: list[float]) -> None:
    http.get(f"{BASE}/Users", status=501)
    with pytest.raises(ScimServerError):
        transport(sleeps).request("GET", "/Users")
    assert sleeps == []


def test_connection_errors_are_retried_for_a_get(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", body=requests.ConnectionError("reset"))
    http.get(f"{BASE}/Users", body=requests.ReadTimeout("slow"))
    http.get(f"{BASE}/Users", json=LIST)
    assert transport(sleeps).request("GET", "/Users").status == 200
    assert len(sleeps) == 2


def test_connection_errors_beyond_the_budget_raise_transport_error(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(2):
        http.get(f"{BASE}/Users", body=requests.ReadTimeout("slow"))
    with pytest.raises(ScimTransportError, match="no answer within 30 s") as caught:
        transport(sleeps, retry=RetryPolicy(max_attempts=2)).request("GET", "/Users")
    assert caught.value.attempts == 2


def test_a_post_is_not_resent_after_a_5xx_or_a_lost_answer(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.post(f"{BASE}/Users", status=503)
    http.post(f"{BASE}/Users", body=requests.ConnectionError("dropped after sending"))
    t = transport(sleeps)
    with pytest.raises(ScimServerError):
        t.request("POST", "/Users", json={})
    with pytest.raises(ScimTransportError):
        t.request("POST", "/Users", json={})
    assert sleeps == [] and t.stats.total == 2


def test_a_post_is_resent_after_429_which_means_not_processed(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.post(f"{BASE}/Users", status=429, headers={"Retry-After": "1"})
    http.post(f"{BASE}/Users", status=201, json={"id": "u1"})
    assert transport(sleeps).request("POST", "/Users", json={}).body == {"id": "u1"}
    assert sleeps == [1.0]


def test_a_post_is_resent_when_the_connection_was_refused(sleeps: list[float]) -> None:
    with socket.socket() as probe:  # a port nobody listens on: refused before sending
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    t = Transport(
        f"http://127.0.0.1:{port}/v2",
        Token(SECRET),
        sleep=sleeps.append,
        retry=RetryPolicy(max_attempts=3),
        timeouts=Timeouts(connect=1, read=1),
    )
    with pytest.raises(ScimTransportError, match="could not connect") as caught:
        t.request("POST", "/Users", json={})
    assert caught.value.attempts == 3 and len(sleeps) == 2


def test_retry_safe_false_stops_retrying_an_idempotent_method(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.patch(f"{BASE}/Users/u1", status=503)
    with pytest.raises(ScimServerError):
        transport(sleeps).request("PATCH", "/Users/u1", json={}, retry_safe=False)


def test_a_delete_is_retried_and_the_404_after_it_carries_the_attempts(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.delete(f"{BASE}/Users/u1", status=504)
    http.delete(f"{BASE}/Users/u1", status=404)
    with pytest.raises(ScimNotFound) as caught:
        transport(sleeps).request("DELETE", "/Users/u1")
    assert caught.value.attempts == 2


def test_401_is_an_auth_error_and_is_not_retried(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", status=401, json={"detail": "bad token", "status": "401"})
    with pytest.raises(ScimAuthError, match="generate a new token"):
        transport(sleeps).request("GET", "/Users")
    assert sleeps == []


@pytest.mark.parametrize(
    "content_type",
    ["application/scim+json", "application/scim+json; charset=utf-8", "APPLICATION/JSON", None],
)
def test_json_content_types_are_accepted(
    http: responses.RequestsMock, sleeps: list[float], content_type: str | None
) -> None:
    http.get(f"{BASE}/Users", body=b'{"totalResults": 0}', content_type=content_type)
    assert transport(sleeps).request("GET", "/Users").body == {"totalResults": 0}


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"<html>login</html>", "text/html", "content type 'text/html'"),
        (b'{"totalResults": ', SCIM, "not valid JSON"),
        (b"[1, 2]", SCIM, "not an object"),
    ],
)
def test_unusable_answers_are_protocol_errors(
    http: responses.RequestsMock, sleeps: list[float], body: bytes, content_type: str, reason: str
) -> None:
    http.get(f"{BASE}/Users", body=body, content_type=content_type)
    with pytest.raises(ScimProtocolError, match=reason) as caught:
        transport(sleeps).request("GET", "/Users")
    assert (caught.value.method, caught.value.path) == ("GET", "/Users")


def test_204_and_an_empty_200_have_no_body(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.patch(f"{BASE}/Users/u1", status=204, content_type=SCIM)
    http.patch(f"{BASE}/Users/u1", status=200, body=b"  ", content_type=SCIM)
    t = transport(sleeps)
    assert t.request("PATCH", "/Users/u1", json={}).body is None
    assert t.request("PATCH", "/Users/u1", json={}).body is None


def test_a_redirect_is_refused_and_never_followed(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", status=302, headers={"Location": "https://evil.test/steal"})
    with pytest.raises(
        ScimProtocolError, match=re.escape("redirect to https://evil.test/steal refused")
    ):
        transport(sleeps).request("GET", "/Users")
    assert len(http.calls) == 1


@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_answer_is_refused(
    http: responses.RequestsMock, sleeps: list[float], declared: bool
) -> None:
    body = b'{"x": "' + b"a" * 5000 + b'"}'
    http.get(f"{BASE}/Users", body=body, auto_calculate_content_length=declared)
    with pytest.raises(ScimProtocolError, match="larger than 1000 bytes"):
        transport(sleeps, max_response_bytes=1000).request("GET", "/Users")


def test_an_error_body_echoing_the_token_is_scrubbed(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    http.get(f"{BASE}/Users", status=400, json={"detail": f"bad header Bearer {SECRET}"})
    with pytest.raises(ScimBadRequest) as caught:
        transport(sleeps).request("GET", "/Users")
    assert SECRET not in str(caught.value) and "Bearer ***" in str(caught.value)


def test_each_request_is_logged_at_debug_without_query_or_token(
    http: responses.RequestsMock, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    http.get(f"{BASE}/Users", status=503)
    http.get(f"{BASE}/Users", json=LIST)
    with caplog.at_level(logging.DEBUG, logger="reconciler.http"):
        transport(sleeps).request("GET", "/Users", params={"filter": 'userName eq "a@b.io"'})
    lines = [r.getMessage() for r in caplog.records if r.name == "reconciler.http"]
    assert any(line.startswith("GET /Users -> 503 in ") and "(retry 0)" in line for line in lines)
    assert any(line.startswith("GET /Users -> 200 in ") and "(retry 1)" in line for line in lines)
    assert not any("a@b.io" in line or SECRET in line for line in lines)


@pytest.mark.parametrize("path", ["Users", "//evil.test/x", "https://evil.test/", "/Users?x=1"])
def test_a_path_that_could_leave_the_base_url_is_a_bug(sleeps: list[float], path: str) -> None:
    with pytest.raises(ValueError):
        transport(sleeps).request("GET", path)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("0.25", 0.25),
        ("1e9", None),
        (formatdate(NOW + 12, usegmt=True), 12.0),
        (formatdate(NOW - 60, usegmt=True), 0.0),
        ("soon", None),
        ("-3", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_the_transport_repr_hides_the_token(sleeps: list[float]) -> None:
    assert SECRET not in repr(transport(sleeps))
