"""A server that takes one request at a time must read as a page-by-page read does.

Over real HTTP: a scripted server answers 503 (or 429), with ``Retry-After: 0``, to
every listing request that arrives while another is being served. A read one page
ahead never has two requests of a listing in flight, so it succeeds there; the
window of 4 must not turn that server into a failed read (a page that failed while
others were in flight is asked for again by itself, one page ahead from then on).
"""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token
from tests.support.scripted_server import Scripted, scim_user, scripted_server

TOKEN = "busy-TOKEN-1234"


def _users(count: int) -> list[dict[str, object]]:
    return [scim_user(f"u{i:03}", f"user{i:03}@acme.io") for i in range(count)]


@pytest.mark.parametrize("status", [503, 429])
def test_a_server_taking_one_request_at_a_time_reads_whole(status: int) -> None:
    state = Scripted(users=_users(40), list_delay=0.01, busy_when_concurrent=status)
    with scripted_server(state) as url:
        client = ScimClient.connect(url, Token(TOKEN), retry=RetryPolicy(max_attempts=3))
        live = read_live_state(client, page_size=5, concurrency=4)
        threads = [t for t in threading.enumerate() if t.name == "read-ahead"]
    assert [u.id for u in live.users] == [f"u{i:03}" for i in range(40)]
    assert not state.writes()
    assert threads == []  # every request of the window ended with the read


def test_a_page_failing_by_itself_too_fails_as_a_page_by_page_read_does() -> None:
    """A server failing every page after the first: the same error as one page ahead."""
    errors = []
    for window in (1, 4):
        state = Scripted(users=_users(40), busy_when_concurrent=503)
        state.list_delay = 0.0
        with scripted_server(state) as url:
            client = ScimClient.connect(url, Token(TOKEN), retry=RetryPolicy(max_attempts=2))
            client.list_users_page(1, 5)  # warm: the server is up
            for _ in range(200):  # its handler ends just after the answer is sent
                if state.in_flight == 0:
                    break
                time.sleep(0.005)
            with state.lock:  # from now on every listing request finds one "in flight"
                state.in_flight += 1
            try:
                read_live_state(client, page_size=5, concurrency=window)
            except Exception as error:
                errors.append(str(error))
            with state.lock:
                state.in_flight -= 1
    assert len(errors) == 2
    assert errors[0] == errors[1]
    assert "503" in errors[0]


def test_a_server_dropping_concurrent_connections_is_not_taken_for_unreachable() -> None:
    """Requests in flight together that all lose their connection are one failure.

    The circuit breaker stops a run after 5 connection failures in a row ("the server
    is unreachable"); the window's requests failing together, and their retries, must
    not count as 5 when each page read by itself is answered."""
    for _ in range(4):  # the threads' timing varies: several reads, each must succeed
        state = Scripted(users=_users(40), list_delay=0.01, drop_when_concurrent=True)
        with scripted_server(state) as url:
            client = ScimClient.connect(url, Token(TOKEN), retry=RetryPolicy(base_delay=0.01))
            live = read_live_state(client, page_size=5, concurrency=4)
        assert len(live.users) == 40
