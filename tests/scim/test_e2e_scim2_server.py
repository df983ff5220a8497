"""End to end over real HTTP against an independent SCIM server (python-scim's scim2-server).

Nothing here is special-cased for that server: it answers PATCH with 204, never fills
User.groups and keeps no referential integrity, all of which the client must take.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator

import pytest

from reconciler.errors import LiveStateError
from reconciler.reader import read_live_state
from reconciler.scim import builders
from reconciler.scim.client import ScimClient
from reconciler.scim.errors import ScimAuthError, ScimNotFound
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token
from tests.support.scim2_server import scim2_tenants

TOKEN = "e2e-SECRET-token-0123456789"


@pytest.fixture(scope="module")
def new_tenant() -> Iterator[Callable[[], str]]:
    with scim2_tenants(TOKEN) as factory:
        yield factory


@pytest.fixture
def base_url(new_tenant: Callable[[], str]) -> str:
    return new_tenant()


def connect(base_url: str, token: str = TOKEN) -> ScimClient:
    return ScimClient.connect(base_url, Token(token), retry=RetryPolicy(max_attempts=2))


def create_users(client: ScimClient, count: int) -> list[str]:
    return [
        client.create_user(
            builders.user_resource(f"user{i}@acme.io", f"Given{i}", f"Family{i}", None, True)
        ).id
        for i in range(count)
    ]


def test_a_full_round_trip_of_writes_is_read_back(base_url: str) -> None:
    with connect(base_url) as client:
        ada = client.create_user(builders.user_resource("Ada@acme.io", "Ada", "L", "Ada", True))
        bob = client.create_user(builders.user_resource("bob@acme.io", "Bob", "B", None, True))
        eve = client.create_user(builders.user_resource("eve@acme.io", "Eve", "E", None, True))
        ds = client.create_group(builders.group_resource("Data Science"))
        ops = client.create_group(builders.group_resource("Ops"))
        client.patch_group(ds.id, builders.add_members([ada.id, bob.id, eve.id]))
        client.patch_group(ops.id, builders.add_members([bob.id]))
        client.patch_group(ds.id, builders.remove_members([bob.id]))
        client.patch_group(ops.id, builders.rename_group("Operations"))
        changes = {"active": False, "given_name": "Robert", "display_name": "Bobby"}
        client.patch_user(bob.id, builders.replace_user_attributes(changes))
        client.patch_group(ds.id, builders.remove_members([eve.id]))
        client.delete_user(eve.id)

        live = read_live_state(client, page_size=2)

    assert sorted(live.users_by_key) == ["ada@acme.io", "bob@acme.io"]
    robert = live.users_by_key["bob@acme.io"]
    assert (robert.given_name, robert.display_name, robert.active) == ("Robert", "Bobby", False)
    assert live.users_by_key["ada@acme.io"].user_name == "Ada@acme.io"
    assert set(live.groups_by_name) == {"Data Science", "Operations"}
    assert live.member_keys(live.groups_by_name["Data Science"]) == {"ada@acme.io"}
    assert live.member_keys(live.groups_by_name["Operations"]) == {"bob@acme.io"}


@pytest.mark.parametrize(("n_users", "page_size"), [(7, 3), (6, 3), (5, 100)])
def test_the_read_takes_exactly_the_minimum_number_of_requests(
    base_url: str, n_users: int, page_size: int
) -> None:
    n_groups = 4
    with connect(base_url) as writer:
        ids = create_users(writer, n_users)
        for g in range(n_groups):
            team = writer.create_group(builders.group_resource(f"team{g}"))
            writer.patch_group(team.id, builders.add_members(ids[: g + 1]))
    with connect(base_url) as reader:
        live = read_live_state(reader, page_size=page_size)
        stats = reader.stats
    user_pages = math.ceil(n_users / page_size)
    group_pages = math.ceil(n_groups / page_size)
    assert stats.total == user_pages + group_pages + n_groups
    assert dict(stats.by_class) == {
        "GET /Users": user_pages,
        "GET /Groups": group_pages,
        "GET /Groups/{id}": n_groups,
    }
    assert stats.retries == 0
    assert len(live.users) == n_users
    assert [len(g.member_ids) for g in live.groups] == [1, 2, 3, 4]


def test_creating_an_existing_user_in_another_case_adopts_it(base_url: str) -> None:
    with connect(base_url) as client:
        first = client.create_user(builders.user_resource("Ada@acme.io", "Ada", "L", None, True))
        again = client.create_user(builders.user_resource("ada@ACME.io", "Ada", "L", None, True))
        assert again.id == first.id
        assert read_live_state(client).users == (first,)


def test_a_duplicate_team_name_let_in_by_the_server_fails_the_read_closed(base_url: str) -> None:
    # This server does not enforce displayName uniqueness (Mixpanel answers 409, which
    # create_group adopts); whatever let a duplicate in, nothing is planned on it.
    with connect(base_url) as client:
        client.create_group(builders.group_resource("DS"))
        client.create_group(builders.group_resource("DS"))
        with pytest.raises(LiveStateError, match="duplicate displayName"):
            read_live_state(client)


def test_find_returns_none_for_unknown_keys(base_url: str) -> None:
    with connect(base_url) as client:
        assert client.find_user('no"body@acme.io') is None
        assert client.find_group("nobody") is None


def test_a_deleted_user_is_not_found_on_a_first_delete(base_url: str) -> None:
    with connect(base_url) as client:
        (user_id,) = create_users(client, 1)
        client.delete_user(user_id)
        with pytest.raises(ScimNotFound):
            client.delete_user(user_id)


def test_a_member_left_dangling_by_the_server_fails_the_read_closed(base_url: str) -> None:
    with connect(base_url) as client:
        ids = create_users(client, 2)
        team = client.create_group(builders.group_resource("DS"))
        client.patch_group(team.id, builders.add_members(ids))
        client.delete_user(ids[1])  # this server keeps the membership: no integrity
        with pytest.raises(LiveStateError, match="matches no user"):
            read_live_state(client)


def test_a_wrong_token_is_an_auth_error_that_never_shows_either_token(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "WRONG-secret-token-987654321"
    with (
        caplog.at_level(logging.DEBUG),
        connect(base_url, wrong) as client,
        pytest.raises(LiveStateError) as caught,
    ):
        read_live_state(client)
    assert isinstance(caught.value.__cause__, ScimAuthError)
    assert "generate a new token" in str(caught.value)
    texts = [str(caught.value), repr(caught.value), repr(client), caplog.text]
    assert not any(wrong in text or TOKEN in text for text in texts)
