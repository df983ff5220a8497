"""Fixtures: each test gets its own sandbox on a free 127.0.0.1 port and a session for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from scim_sandbox import Sandbox

TOKEN = "test-token-not-secret"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        yield http


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with the test token; every one is stopped at teardown."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sandbox = Sandbox(token=TOKEN, **kwargs).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(outside_org_emails=["taken@acme.io"])
