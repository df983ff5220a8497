"""The pieces behind "one redaction point" and "everything bounded", one at a time."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from typing import Any
from urllib.parse import quote

import pytest
import requests
import responses

from reconciler.errors import SecretInOutputError
from reconciler.executor import Status, apply_plan
from reconciler.files import write_atomically
from reconciler.github import GitHub
from reconciler.journal import Journal, read_journal
from reconciler.livestate import LiveUser
from reconciler.redact import (
    RedactingStream,
    Redactor,
    contains_secret,
    redact,
    redact_value,
    register_secret,
    secrets_scope,
)
from reconciler.scim.errors import ScimAuthError, ScimCircuitOpen, ScimProtocolError
from reconciler.scim.retry import Backoff, CircuitBreaker, RetryPolicy
from reconciler.scim.secret import Token
from reconciler.scim.transport import ByteBudget, Transport
from reconciler.scim.wire import BodyTooLarge, read_capped
from tests.core.test_executor import plan_for
from tests.core.test_planner import manifest, person
from tests.gitops.github_shapes import API, ENV, REPO, comment
from tests.support.fake_directory import FakeDirectory

SECRET = "s3cr/et+TOKEN=value/0123456789"


# -- the redactor --------------------------------------------------------------
@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        json.dumps(SECRET).replace("/", "\\/"),
        "".join(f"\\u{ord(c):04X}" for c in SECRET),
        json.dumps(json.dumps(SECRET).replace("/", "\\/")),  # escaped twice
        quote(SECRET, safe=""),
        quote(SECRET, safe="").replace("%2F", "%2f"),
        quote(quote(SECRET, safe=""), safe=""),  # encoded twice
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        base64.b64encode(f"Bearer {SECRET}".encode()).decode(),
        base64.b64encode(f"x:{SECRET}".encode()).decode(),
        base64.b64encode(f"ab:{SECRET}".encode()).decode(),
    ],
)
def test_every_encoding_of_the_secret_is_masked(form: str) -> None:
    redactor = Redactor([SECRET])
    text = f"before {form} after"
    masked = redactor(text)
    assert "***" in masked and masked.startswith("before ") and masked.endswith(" after")
    assert not redactor.found(masked)


def test_ordinary_text_is_left_alone_and_short_base64_fragments_are_not_matched() -> None:
    redactor = Redactor(["abc"])  # too short for its base64 to be told from text
    assert redactor("YWJj is not masked, abc is") == "YWJj is not masked, *** is"
    assert Redactor([SECRET])("ada@acme.io: given_name Ada -> Adda") == (
        "ada@acme.io: given_name Ada -> Adda"
    )


def test_the_process_wide_redactor_serves_streams_values_and_files(tmp_path: Any) -> None:
    buffer = io.StringIO()
    with secrets_scope():
        register_secret(SECRET)
        stream = RedactingStream(buffer)
        stream.write(f"token {SECRET}\n")
        assert not stream.isatty()
        assert redact_value({"body": [f"x{SECRET}"], SECRET: 1}) == {"body": ["x***"], "***": 1}
        with pytest.raises(SecretInOutputError, match="refusing to write"):
            write_atomically(tmp_path / "plan.json", json.dumps({"v": SECRET}))
        assert not (tmp_path / "plan.json").exists()
        with Journal(tmp_path / "j.jsonl", run_id="r") as journal:
            journal.record("operation", {"detail": f"echo {quote(SECRET, safe='')}"})
        assert read_journal(tmp_path / "j.jsonl")[0]["detail"] == "echo ***"
    assert buffer.getvalue() == "token ***\n"
    assert not contains_secret(SECRET) and redact(SECRET) == SECRET  # the scope is over


def test_github_bodies_pass_through_the_redactor() -> None:
    url = f"{API}/repos/{REPO}/issues/7/comments"
    with secrets_scope(), responses.RequestsMock() as api:
        register_secret(SECRET)
        api.post(url, json=comment(1, "plan: ***"), status=201)
        GitHub.from_env(ENV).create_comment(7, f"plan: {SECRET}", "pull-requests: write")
        sent = json.loads(api.calls[0].request.body or b"{}")
    assert sent == {"body": "plan: ***"}


# -- the circuit breaker -------------------------------------------------------
def test_connection_failures_in_a_row_open_the_breaker_and_an_answer_resets_the_count() -> None:
    breaker = CircuitBreaker(max_connection_failures=3)
    breaker.connection_failed()
    breaker.connection_failed()
    breaker.answered()
    breaker.connection_failed()
    breaker.connection_failed()
    assert not breaker.is_open
    breaker.connection_failed()
    assert breaker.is_open and "3 connection failures in a row" in str(breaker.reason)
    assert not breaker.allow_wait(0.0)


def test_attempts_under_way_together_count_as_one_connection_failure() -> None:
    breaker = CircuitBreaker(max_connection_failures=2)
    together = [breaker.begin() for _ in range(4)]  # four requests sent at once
    for attempt in together:  # all dropped: one failure of the connection
        breaker.connection_failed(attempt)
    assert not breaker.is_open
    breaker.connection_failed(breaker.begin())  # a retry sent alone, dropped too
    assert breaker.is_open and "2 connection failures in a row" in str(breaker.reason)


def test_a_failure_beside_an_attempt_still_under_way_waits_for_its_outcome() -> None:
    """Timing does not matter: retries failing one after another while a slow request
    is being answered are not 'in a row'; the answer resets them."""
    breaker = CircuitBreaker(max_connection_failures=2)
    slow = breaker.begin()
    for _ in range(5):  # a read-ahead page dropped, and its retries, one by one
        breaker.connection_failed(breaker.begin())
    assert not breaker.is_open
    breaker.answered(slow)
    breaker.connection_failed(breaker.begin())
    assert not breaker.is_open  # one failure since the answer
    ended = breaker.begin()
    breaker.abandon(ended)  # an error of ours (Ctrl-C): proves nothing, not under way
    breaker.abandon(ended)  # ending twice is a no-op
    breaker.connection_failed(breaker.begin())
    assert breaker.is_open


def test_overlapping_attempts_that_all_fail_still_count_one_round_at_a_time() -> None:
    """A hung server at concurrency 2: each attempt's deadline runs out while the next
    is already under way, so no moment has none under way; they still count, each
    failure with the attempt beside it as one."""
    breaker = CircuitBreaker(max_connection_failures=3)
    running = breaker.begin()
    for _ in range(6):  # each failure beside a fresh attempt begun before it
        fresh = breaker.begin()
        breaker.connection_failed(running)
        running = fresh
    assert breaker.is_open and "3 connection failures in a row" in str(breaker.reason)


def test_a_round_of_failures_waits_for_the_abandoned_attempt_beside_it() -> None:
    breaker = CircuitBreaker(max_connection_failures=1)
    beside = breaker.begin()
    breaker.connection_failed(breaker.begin())
    assert not breaker.is_open  # the attempt beside it may still be answered
    breaker.abandon(beside)  # it ended otherwise (Ctrl-C): the failure counts
    assert breaker.is_open


def test_overlapping_retry_waits_count_once_against_the_run_budget() -> None:
    now = [0.0]
    breaker = CircuitBreaker(retry_budget=10.0, monotonic=lambda: now[0])
    assert breaker.allow_wait(6.0)  # [0, 6]
    assert breaker.allow_wait(6.0)  # another thread, same moment: still [0, 6]
    assert breaker.retry_seconds == 6.0
    now[0] = 6.0
    assert breaker.allow_wait(4.0)  # [6, 10]: exactly the budget
    now[0] = 10.0
    assert not breaker.allow_wait(0.5)
    assert "retry budget of 10 s" in str(breaker.reason)


def test_a_backoff_stops_waiting_once_the_breaker_is_open() -> None:
    slept: list[float] = []
    breaker = CircuitBreaker(retry_budget=1.0)
    backoff = Backoff(RetryPolicy(), __import__("random").Random(1), slept.append, breaker=breaker)
    assert not backoff.wait(30.0)  # a Retry-After beyond the budget is not waited out
    assert slept == [] and breaker.is_open
    assert not Backoff(
        RetryPolicy(), __import__("random").Random(1), slept.append, breaker=breaker
    ).wait()


def test_a_thread_sleeping_on_the_breaker_wakes_when_it_opens() -> None:
    breaker = CircuitBreaker(max_connection_failures=1)
    woke = threading.Event()

    def sleeper() -> None:
        breaker.sleep(30.0)
        woke.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    breaker.connection_failed()
    assert woke.wait(5.0)
    thread.join(timeout=5.0)


# -- the executor side of the breaker -------------------------------------------
class DyingDirectory(FakeDirectory):
    """Creates the first user, then the run-level breaker opens."""

    def create_user(self, resource: dict[str, Any]) -> LiveUser:
        if self.users:
            reason = "the run was stopped: 5 connection failures in a row"
            raise ScimCircuitOpen(
                f"could not connect; {reason}",
                reason=reason,
                attempted=True,
                method="POST",
                path="/Users",
            )
        return super().create_user(resource)


def test_the_operation_that_trips_the_breaker_fails_and_the_rest_is_not_attempted() -> None:
    desired = manifest([person(f"u{i}@acme.io") for i in range(5)])
    directory = DyingDirectory()
    result = apply_plan(plan_for(desired, directory), directory, journal=Journal(None, run_id="t"))
    assert [r.status for r in result.results] == [
        Status.DONE,
        Status.FAILED,
        Status.SKIPPED,
        Status.SKIPPED,
        Status.SKIPPED,
    ]
    assert result.not_attempted == 3
    assert result.stopped == "the run was stopped: 5 connection failures in a row"


def test_a_deadline_watchdog_thread_ends_when_no_request_is_pending() -> None:
    from reconciler.scim.deadline import deadline

    with deadline(0.05) as current:
        time.sleep(0.2)
    assert current.expired  # nothing to close, but the expiry is recorded
    for _ in range(50):
        if not any(t.name == "request-deadlines" for t in threading.enumerate()):
            break
        time.sleep(0.02)
    assert not any(t.name == "request-deadlines" for t in threading.enumerate())


@pytest.mark.parametrize("secret", ['quo"te/and\\back-0123456789', "pct%41-and-more-0123"])
def test_secrets_holding_json_or_url_escape_characters_are_masked_in_escaped_text(
    secret: str,
) -> None:
    redactor = Redactor([secret])
    for text in (
        json.dumps(secret),
        json.dumps(json.dumps(secret)),
        repr(secret),
        quote(secret, safe=""),
    ):
        assert redactor.found(text), text
        masked = redactor(f"x {text} y")
        assert "***" in masked and not redactor.found(masked), text


# -- the transport, without any CLI (library use) --------------------------------
BASE = "https://scim.example.test/v2"


def _transport(**kwargs: Any) -> Transport:
    return Transport(BASE, Token(SECRET), sleep=lambda _: None, **kwargs)


def test_the_transport_masks_its_token_in_error_bodies_without_any_registration() -> None:
    echoed = json.dumps({"detail": f"Authorization: Bearer {SECRET}"}).replace("/", "\\/")
    with responses.RequestsMock() as http:
        http.get(f"{BASE}/Users", body=echoed, status=401, content_type="application/json")
        with pytest.raises(ScimAuthError) as caught:
            _transport().request("GET", "/Users")
    assert "Bearer ***" in str(caught.value) and SECRET not in str(caught.value)


def test_a_whole_read_stops_at_its_byte_budget_not_at_the_per_response_cap() -> None:
    page = json.dumps({"totalResults": 9, "Resources": [], "filler": "x" * 600})
    with responses.RequestsMock() as http:
        http.get(f"{BASE}/Users", body=page, content_type="application/scim+json")
        transport = _transport()
        with transport.byte_budget(1000) as budget:
            transport.request("GET", "/Users")
            with pytest.raises(ScimProtocolError, match="exceeded its byte budget of 1000"):
                transport.request("GET", "/Users")
        assert budget.used == len(page)
        transport.request("GET", "/Users")  # outside the read, only the per-response cap


def test_requests_in_flight_together_never_receive_more_than_the_budget() -> None:
    # Pages read ahead and team reads share one budget; each chunk is charged as it
    # arrives, under one lock, so no request sees the whole remainder as its own.
    budget = ByteBudget(5000)
    refused = [0]

    def spend() -> None:
        for _ in range(1000):
            if not budget.take(1):
                refused[0] += 1

    workers = [threading.Thread(target=spend) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert budget.used == 5000 and refused[0] == 3000 and budget.exceeded


def test_a_body_stops_at_the_first_chunk_its_shared_budget_refuses() -> None:
    # The budget had room when the request started; another request in flight takes
    # it while this body arrives: the next chunk is refused, not read on.
    class Raw:
        headers: dict[str, str] = {}  # noqa: RUF012 - a stand-in for requests' Response

        def iter_content(self, size: int) -> Any:
            yield b"x" * 10
            budget.take(985)  # the other request
            yield b"x" * 10
            raise AssertionError("read past a refused chunk")

    budget = ByteBudget(1000)
    with pytest.raises(BodyTooLarge):
        read_capped(Raw(), 10_000, budget.take)  # type: ignore[arg-type]
    assert budget.used == 995 and budget.exceeded


def test_after_the_breaker_opens_no_request_is_sent() -> None:
    breaker = CircuitBreaker(max_connection_failures=1)
    breaker.connection_failed()
    with responses.RequestsMock() as http:
        with pytest.raises(ScimCircuitOpen) as caught:
            _transport(breaker=breaker).request("PATCH", "/Users/1", json={})
        assert len(http.calls) == 0
    assert caught.value.attempted is False
    assert "connection failures in a row" in caught.value.reason
    # The message says why it was not sent (parallel reads may report this request,
    # not the one that opened the breaker), never a bare "not sent".
    assert "not sent: the run was stopped: 1 connection failures in a row" in str(caught.value)


def test_a_nested_scope_keeps_and_gives_back_the_outer_secrets() -> None:
    with secrets_scope():
        register_secret(SECRET)
        with secrets_scope():
            register_secret("inner-secret-0123456789")
            assert redact(f"{SECRET} inner-secret-0123456789") == "*** ***"
        assert redact(f"{SECRET} inner-secret-0123456789") == "*** inner-secret-0123456789"
    assert redact(SECRET) == SECRET


def test_an_answer_that_is_not_http_is_described_redacted_before_it_is_cut() -> None:
    from http.client import BadStatusLine, RemoteDisconnected

    from urllib3.exceptions import ProtocolError

    from reconciler.scim.transport import _describe
    from reconciler.scim.wire import Timeouts

    line = "x" * 100 + f"HTTP/1.1 200 {SECRET}"  # the cut at 120 falls inside the token
    garbled = requests.ConnectionError(ProtocolError("Connection aborted.", BadStatusLine(line)))
    with secrets_scope():
        register_secret(SECRET)
        text = _describe(garbled, Timeouts(), "https://scim.example.test/v2")
    assert "is not valid HTTP" in text and SECRET[:6] not in text
    dropped = requests.ConnectionError(
        ProtocolError("Connection aborted.", RemoteDisconnected("closed"))
    )
    assert "connection failed or dropped" in _describe(dropped, Timeouts())
