"""A recognisable token never appears in errors, reprs or logs, whatever goes wrong."""

from __future__ import annotations

import logging
import random
import re
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses

from reconciler.errors import LiveStateError, ReconcilerError
from reconciler.reader import read_live_state
from reconciler.scim import builders
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token

BASE = "https://scim.example.test/v2"
SECRET = "LEAKCHECK-7f3a9c-SECRET-token"

FAILURES: list[dict[str, Any]] = [
    {"status": 401, "json": {"detail": "invalid token"}},
    {"status": 403, "body": f"Authorization: Bearer {SECRET} is not allowed"},
    {"status": 500, "json": {"detail": f"echo: Bearer {SECRET}"}},
    {"status": 503, "headers": {"Retry-After": "1"}},
    {"status": 302, "headers": {"Location": f"https://evil.test/?t={SECRET}"}},
    {"status": 200, "body": f"not json {SECRET}", "content_type": "application/scim+json"},
    {"status": 200, "body": f"<html>{SECRET}</html>", "content_type": "text/html"},
    {"body": requests.ConnectionError(f"reset by peer {SECRET[:4]}")},
]


@pytest.fixture
def client() -> Iterator[ScimClient]:
    retry = RetryPolicy(max_attempts=2)
    with ScimClient.connect(
        BASE, Token(SECRET), retry=retry, sleep=lambda _: None, rng=random.Random(0)
    ) as scim:
        yield scim


def leaked_texts(error: BaseException) -> list[str]:
    chain = "".join(traceback.format_exception(error))
    return [str(error), repr(error), chain, *map(str, error.args)]


@pytest.mark.parametrize("failure", FAILURES)
def test_the_token_never_leaks_from_a_failing_server(
    client: ScimClient, caplog: pytest.LogCaptureFixture, failure: dict[str, Any]
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        for method in ("GET", "POST", "PATCH", "DELETE"):
            http.add(method, re.compile(f"{BASE}/.*"), **failure)
        actions: list[Callable[[], object]] = [
            lambda: read_live_state(client),
            lambda: client.create_user(builders.user_resource("a@acme.io", "A", "B", None, True)),
            lambda: client.patch_group("g1", builders.add_members(["u1"])),
            lambda: client.delete_user("u1"),
        ]
        with caplog.at_level(logging.DEBUG):
            for action in actions:
                with pytest.raises(ReconcilerError) as caught:
                    action()
                for text in leaked_texts(caught.value):
                    assert SECRET not in text
                if isinstance(caught.value, LiveStateError):
                    assert caught.value.__cause__ is not None
    assert SECRET not in caplog.text
    assert SECRET not in repr(client.transport) + repr(client.stats)
    assert caplog.records, "the DEBUG request lines were expected in the captured logs"
