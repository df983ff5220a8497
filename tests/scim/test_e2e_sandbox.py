"""End to end over real HTTP against our Mixpanel-like sandbox, faults included."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest

from reconciler.errors import LiveStateError
from reconciler.livestate import LiveState
from reconciler.reader import read_live_state
from reconciler.scim import builders
from reconciler.scim.client import ScimClient
from reconciler.scim.errors import ScimBadRequest, ScimConflict, ScimPayloadTooLarge
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token
from scim_sandbox import Faults, Sandbox

TOKEN = "sandbox-e2e-token"


@pytest.fixture
def sleeps() -> list[float]:
    return []


def connect(sandbox: Sandbox, sleeps: list[float]) -> ScimClient:
    # Sleeps are recorded, not slept: fault storms stay fast and the waits are checked.
    return ScimClient.connect(
        sandbox.base_url,
        Token(TOKEN),
        sleep=sleeps.append,
        rng=random.Random(3),
        retry=RetryPolicy(max_attempts=8),
    )


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(
        token=TOKEN, claimed_domains=("acme.io",), outside_org_emails=("ext@acme.io",)
    ) as sb:
        yield sb


def populate(client: ScimClient, n_users: int, n_groups: int) -> None:
    ids = [
        client.create_user(builders.user_resource(f"u{i}@acme.io", "G", "F", None, True)).id
        for i in range(n_users)
    ]
    for g in range(n_groups):
        team = client.create_group(builders.group_resource(f"team {g}"))
        client.patch_group(team.id, builders.add_members(ids[: g + 1]))


def round_trip(client: ScimClient) -> LiveState:
    ada = client.create_user(builders.user_resource("Ada@acme.io", "Ada", "L", None, True))
    bob = client.create_user(builders.user_resource("bob@acme.io", "Bob", "B", None, True))
    team = client.create_group(builders.group_resource("DS"))
    client.patch_group(team.id, builders.add_members([ada.id, bob.id]))
    client.patch_group(team.id, builders.remove_members([bob.id]))
    client.patch_group(team.id, builders.rename_group("Data Science"))
    client.patch_user(bob.id, builders.replace_user_attributes({"active": False}))
    live = read_live_state(client)
    assert live.member_keys(live.groups_by_name["Data Science"]) == {"ada@acme.io"}
    assert live.users_by_key["bob@acme.io"].active is False
    assert live.users_by_key["ada@acme.io"].user_name == "Ada@acme.io"
    return live


def test_a_round_trip_against_the_sandbox(sandbox: Sandbox, sleeps: list[float]) -> None:
    with connect(sandbox, sleeps) as client:
        round_trip(client)
        client.delete_user(client.find_user("bob@acme.io").id)  # type: ignore[union-attr]
        assert sorted(read_live_state(client).users_by_key) == ["ada@acme.io"]
    assert sleeps == []


@pytest.mark.parametrize(("page_size", "server_cap"), [(4, None), (5, None), (100, 3)])
def test_the_read_takes_exactly_the_minimum_number_of_requests(
    sandbox: Sandbox, sleeps: list[float], page_size: int, server_cap: int | None
) -> None:
    n_users, n_groups = 10, 5
    with connect(sandbox, sleeps) as writer:
        populate(writer, n_users, n_groups)
    sandbox.set_faults(Faults(max_page_size=server_cap))
    sandbox.stats.reset()
    with connect(sandbox, sleeps) as reader:
        live = read_live_state(reader, page_size=page_size)
        stats = reader.stats
    p = min(page_size, server_cap or page_size)
    # The sandbox fills users' `groups`, which corroborate the members its Groups pages
    # carry: the pages, plus one read of the largest team (the canary), and no more.
    expected = math.ceil(n_users / p) + math.ceil(n_groups / p) + 1
    assert stats.total == expected == sandbox.stats.total_requests
    assert len(live.users) == n_users and len(live.groups) == n_groups
    assert live.members_read is not None and live.members_read.from_pages == n_groups
    by_name = {u.user_name: u.id for u in live.users}
    for g in range(n_groups):
        want = {by_name[f"u{i}@acme.io"] for i in range(g + 1)}
        assert live.groups_by_name[f"team {g}"].member_ids == want


def test_a_429_storm_is_retried_and_the_read_is_still_minimal(sleeps: list[float]) -> None:
    faults = Faults(rate_429=0.3, retry_after_s=0.01, seed=1)
    with Sandbox(token=TOKEN, claimed_domains=("acme.io",), faults=faults) as sb:
        with connect(sb, sleeps) as client:
            round_trip(client)
        with connect(sb, sleeps) as reader:
            live = read_live_state(reader, page_size=1)
            stats = reader.stats
    assert sb.stats.faults().get("429", 0) > 0 and stats.retries > 0
    assert stats.calls == len(live.users) + len(live.groups) + len(live.groups)
    # Each retry waits its Retry-After; dense 429s also pace requests (shorter sleeps).
    assert sleeps.count(0.01) >= stats.retries and max(sleeps) == 0.01


def test_a_failing_user_listing_fails_the_read_closed(
    sandbox: Sandbox, sleeps: list[float]
) -> None:
    with connect(sandbox, sleeps) as client:
        populate(client, 2, 1)
        sandbox.set_faults(Faults(rate_5xx=1.0, only=frozenset({"GET /Users"})))
        with pytest.raises(LiveStateError, match="could not read the live state: SCIM GET /Users"):
            read_live_state(client)


def test_a_lost_post_answer_is_adopted_without_a_duplicate(
    sandbox: Sandbox, sleeps: list[float]
) -> None:
    sandbox.set_faults(
        Faults(lost_response_rate=1.0, only=frozenset({"POST /Users", "POST /Groups"}))
    )
    with connect(sandbox, sleeps) as client:
        ada = client.create_user(builders.user_resource("ada@acme.io", "Ada", "L", None, True))
        team = client.create_group(builders.group_resource("DS"))
        sandbox.set_faults(Faults())
        live = read_live_state(client)
    assert [u.id for u in live.users] == [ada.id] and [g.id for g in live.groups] == [team.id]
    posts = {k: v for k, v in sandbox.stats.requests().items() if k.startswith("POST")}
    assert posts == {"POST /Users": 1, "POST /Groups": 1}


def test_dropped_connections_before_processing_are_resent_once_nothing_is_found(
    sandbox: Sandbox, sleeps: list[float]
) -> None:
    sandbox.set_faults(Faults(drop_rate=0.5, only=frozenset({"POST /Users"}), seed=4))
    with connect(sandbox, sleeps) as client:
        for i in range(6):
            client.create_user(builders.user_resource(f"u{i}@acme.io", "G", "F", None, True))
        sandbox.set_faults(Faults())
        assert len(read_live_state(client).users) == 6
    assert sandbox.stats.faults().get("drop", 0) > 0


def test_an_account_outside_the_org_is_a_conflict_with_the_fix(
    sandbox: Sandbox, sleeps: list[float]
) -> None:
    with connect(sandbox, sleeps) as client, pytest.raises(ScimConflict) as caught:
        client.create_user(builders.user_resource("ext@acme.io", "E", "X", None, True))
    assert "invite the user by hand in Mixpanel" in str(caught.value)


def test_an_unclaimed_domain_is_a_bad_request(sandbox: Sandbox, sleeps: list[float]) -> None:
    with connect(sandbox, sleeps) as client, pytest.raises(ScimBadRequest, match="not claimed"):
        client.create_user(builders.user_resource("x@other.io", "X", "Y", None, True))


def test_too_many_members_in_one_patch_is_payload_too_large(
    sandbox: Sandbox, sleeps: list[float]
) -> None:
    sandbox.set_faults(Faults(max_members_per_patch=2))
    with connect(sandbox, sleeps) as client:
        populate(client, 3, 0)
        team = client.create_group(builders.group_resource("DS"))
        ids = [u.id for u in read_live_state(client).users]
        with pytest.raises(ScimPayloadTooLarge):
            client.patch_group(team.id, builders.add_members(ids))
