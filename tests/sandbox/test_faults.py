"""Fault injection over real HTTP: rates, Retry-After, lost responses, dropped connections."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from scim_sandbox import Faults, Sandbox


def test_429_appears_at_about_the_configured_rate_with_retry_after(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(faults=Faults(rate_429=0.2, retry_after_s=0.05, seed=7))
    statuses = [session.get(f"{sandbox.base_url}/Users").status_code for _ in range(300)]
    limited = statuses.count(429)
    assert 30 <= limited <= 90
    assert set(statuses) == {200, 429}
    assert sandbox.stats.faults()["429"] == limited
    sandbox.set_faults(Faults(rate_429=1.0, retry_after_s=0.05))
    response = session.get(f"{sandbox.base_url}/Users")
    assert response.headers["Retry-After"] == "0.05"
    assert response.json()["status"] == "429"


def test_faults_are_reproducible_with_a_seed(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    faults = Faults(rate_429=0.3, rate_5xx=0.2, seed=11)
    runs = []
    for _ in range(2):
        sandbox = make_sandbox(faults=faults)
        runs.append([session.get(f"{sandbox.base_url}/Users").status_code for _ in range(40)])
    assert runs[0] == runs[1]
    assert {500, 502, 503} & set(runs[0])


def test_only_limits_faults_to_the_named_request_classes(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(faults=Faults(rate_5xx=1.0, only=frozenset({"POST /Users"})))
    assert session.get(f"{sandbox.base_url}/Users").status_code == 200
    assert (
        session.post(f"{sandbox.base_url}/Users", json={"userName": "a@acme.io"}).status_code >= 500
    )
    assert sandbox.store.users() == []


def test_a_lost_response_still_commits_the_write(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(faults=Faults(lost_response_rate=1.0, only=frozenset({"POST /Users"})))
    with pytest.raises(requests.ConnectionError):
        session.post(f"{sandbox.base_url}/Users", json={"userName": "ada@acme.io"})
    assert sandbox.store.user_by_name("ada@acme.io") is not None
    assert sandbox.stats.faults() == {"lost_response": 1}
    sandbox.set_faults(Faults())
    retry = session.post(f"{sandbox.base_url}/Users", json={"userName": "ada@acme.io"})
    assert retry.status_code == 409  # why a client must look the user up and adopt it


def test_a_drop_closes_the_connection_before_processing(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(faults=Faults(drop_rate=1.0, only=frozenset({"POST /Users"})))
    with pytest.raises(requests.ConnectionError):
        session.post(f"{sandbox.base_url}/Users", json={"userName": "ada@acme.io"})
    assert sandbox.store.users() == []
    assert sandbox.stats.faults() == {"drop": 1}
    assert session.get(f"{sandbox.base_url}/Users").status_code == 200


def test_latency_is_added_to_every_request(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(faults=Faults(latency_ms=60))
    response = session.get(f"{sandbox.base_url}/Users")
    assert response.elapsed.total_seconds() >= 0.06


def test_invalid_fault_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to at most 1"):
        Faults(rate_429=0.6, rate_5xx=0.6)
