"""The shared HTTP rules (``reconciler.scim.wire``): deadline and byte cap on every answer."""

from __future__ import annotations

import time

import pytest
import responses

from reconciler.errors import ReconcilerError
from reconciler.scim.secret import Token
from reconciler.scim.transport import Transport
from reconciler.scim.wire import BodyTooLarge, DeadlineExceeded, Timeouts, exchange, session
from tests.support.drip_server import drip_server

QUICK = Timeouts(connect=1.0, read=1.0, total=0.4)


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_a_dripped_body_is_cut_at_the_deadline_whatever_the_http_version(version: str) -> None:
    # HTTP/1.0 hands the socket to the response before the body: the deadline kept
    # only the connection, found no socket there, and the drip ran its full 10 s.
    started = time.monotonic()
    with drip_server(version) as url, pytest.raises(DeadlineExceeded):
        exchange(session(), "GET", url + "/Users", timeouts=QUICK, max_bytes=10_000)
    assert time.monotonic() - started < 3.0


def test_the_scim_transport_is_cut_at_the_deadline_by_an_http_1_0_server() -> None:
    started = time.monotonic()
    with drip_server("HTTP/1.0") as url:
        transport = Transport(url, Token("t0ken"), timeouts=QUICK)
        with pytest.raises(ReconcilerError) as refused:
            transport.request("GET", "/Users")
        transport.close()
    assert time.monotonic() - started < 3.0
    assert "no complete answer within 0.4 s" in str(refused.value)


@responses.activate
def test_a_body_over_the_cap_is_refused_whether_declared_or_not() -> None:
    responses.get("https://api.example/declared", body=b"x" * 2000)
    with pytest.raises(BodyTooLarge) as declared:
        exchange(session(), "GET", "https://api.example/declared", timeouts=QUICK, max_bytes=1000)
    assert declared.value.limit == 1000
    answer = exchange(
        session(), "GET", "https://api.example/declared", timeouts=QUICK, max_bytes=2000
    )
    assert answer.status_code == 200 and answer.content == b"x" * 2000
