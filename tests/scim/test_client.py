"""Client semantics over mocked HTTP: create without duplicates, adopt, PATCH, DELETE."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from reconciler.livestate import LiveGroup, LiveUser
from reconciler.scim import builders
from reconciler.scim.client import Origin, ScimClient
from reconciler.scim.errors import (
    ScimConflict,
    ScimForbidden,
    ScimNotFound,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimTransportError,
    ScimUnusableAnswer,
)
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token

BASE = "https://scim.example.test/v2"
ADA = builders.user_resource("Ada@acme.io", "Ada", "Lovelace", None, True)
ADA_LIVE = {"id": "u1", "userName": "ada@acme.io", "name": {"givenName": "Ada"}}
TEAM = builders.group_resource("Data Science")


def listing(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"totalResults": len(resources), "Resources": list(resources)}


def user_filter(name: str) -> Any:
    return matchers.query_param_matcher({"filter": f'userName eq "{name}"'})


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> ScimClient:
    return ScimClient.connect(
        BASE, Token("t0ken"), sleep=sleeps.append, rng=random.Random(1), retry=RetryPolicy()
    )


def posts(http: responses.RequestsMock) -> int:
    return sum(call.request.method == "POST" for call in http.calls)


def test_create_user_returns_the_created_user(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Users", status=201, json={**ADA, "id": "u1"})
    assert client.create_user(ADA) == LiveUser("u1", "Ada@acme.io", "Ada", "Lovelace")


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ConnectionError("dropped")},
        {"body": requests.ReadTimeout("slow")},
        {"status": 502},
        {"status": 500},
    ],
)
def test_a_lost_post_answer_is_resolved_by_lookup_and_adoption_without_a_second_post(
    http: responses.RequestsMock, client: ScimClient, failure: dict[str, Any]
) -> None:
    http.post(f"{BASE}/Users", **failure)
    http.get(f"{BASE}/Users", json=listing(ADA_LIVE), match=[user_filter("Ada@acme.io")])
    assert client.create_user(ADA).id == "u1"
    assert posts(http) == 1


def test_a_lost_post_that_was_not_applied_is_sent_again_after_a_backoff(
    http: responses.RequestsMock, client: ScimClient, sleeps: list[float]
) -> None:
    http.post(f"{BASE}/Users", body=requests.ConnectionError("dropped"))
    http.get(f"{BASE}/Users", json=listing())
    http.post(f"{BASE}/Users", status=201, json={**ADA, "id": "u2"})
    assert client.create_user(ADA).id == "u2"
    assert posts(http) == 2 and len(sleeps) == 1


def test_a_post_that_keeps_failing_gives_up_after_the_budget(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    client = ScimClient.connect(BASE, Token("t"), sleep=sleeps.append, retry=RetryPolicy(3))
    for _ in range(3):
        http.post(f"{BASE}/Users", status=503)
        http.get(f"{BASE}/Users", json=listing())
    with pytest.raises(ScimServerError):
        client.create_user(ADA)
    assert posts(http) == 3


def test_a_501_with_no_user_found_is_not_resent(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Users", status=501)
    http.get(f"{BASE}/Users", json=listing())
    with pytest.raises(ScimServerError):
        client.create_user(ADA)
    assert posts(http) == 1


def test_a_409_for_a_user_in_the_org_adopts_it(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Users", status=409, json={"scimType": "uniqueness", "detail": "exists"})
    http.get(f"{BASE}/Users", json=listing({**ADA_LIVE, "userName": "ADA@ACME.IO"}))
    assert client.create_user(ADA).user_name == "ADA@ACME.IO"


def test_a_409_without_scim_type_says_what_is_known_and_the_possible_causes_once(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Users", status=409, json={"detail": "User already exists"})
    http.get(f"{BASE}/Users", json=listing({"id": "u9", "userName": "other@acme.io"}))
    with pytest.raises(ScimConflict) as caught:
        client.create_user(ADA)
    message = str(caught.value)
    assert "HTTP 409: User already exists" in message
    assert "Ada@acme.io already has a Mixpanel account" not in message  # not claimed as fact
    assert "without saying which (no scimType)" in message
    assert (
        "possible causes: Ada@acme.io has a Mixpanel account outside this organization" in message
    )
    assert message.count("outside this organization") == 1
    assert caught.value.status == 409


def test_a_409_whose_detail_names_the_outside_account_adds_only_the_fix(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    detail = "Ada@acme.io already has a Mixpanel account outside this organization"
    http.post(f"{BASE}/Users", status=409, json={"detail": detail})
    http.get(f"{BASE}/Users", json=listing())
    with pytest.raises(ScimConflict) as caught:
        client.create_user(ADA)
    message = str(caught.value)
    assert message.count("outside this organization") == 1
    assert message.endswith(
        "fix: invite the user by hand in Mixpanel, or remove them from the manifest"
    )


def test_a_uniqueness_409_that_a_lookup_cannot_find_says_the_server_hides_it(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Users", status=409, json={"detail": "taken", "scimType": "uniqueness"})
    http.get(f"{BASE}/Users", json=listing())
    with pytest.raises(ScimConflict, match="hides that account from lookups") as caught:
        client.create_user(ADA)
    assert "outside this organization" not in str(caught.value)


def test_a_rate_limited_post_is_not_treated_as_a_lost_answer(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    client = ScimClient.connect(BASE, Token("t"), sleep=sleeps.append, retry=RetryPolicy(2))
    for _ in range(2):
        http.post(f"{BASE}/Users", status=429, headers={"Retry-After": "1"})
    with pytest.raises(ScimRateLimited):
        client.create_user(ADA)
    assert posts(http) == 2 and sleeps == [1.0]


def test_a_201_without_body_is_resolved_by_lookup(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Users", status=201)
    http.get(f"{BASE}/Users", json=listing(ADA_LIVE))
    assert client.create_user(ADA).id == "u1"


UNUSABLE_2XX = [
    {"status": 201, "body": "<html>created</html>", "content_type": "text/html"},
    {"status": 201, "json": {"userName": "ada@acme.io"}},  # no id
    {"status": 200, "json": [ADA_LIVE]},  # a list, not the resource
    {"status": 201, "body": "{not json", "content_type": "application/scim+json"},
]


@pytest.mark.parametrize("answer", UNUSABLE_2XX)
def test_a_create_accepted_with_an_unusable_answer_is_resolved_by_lookup_not_resent(
    http: responses.RequestsMock, client: ScimClient, answer: dict[str, Any]
) -> None:
    http.post(f"{BASE}/Users", **answer)
    http.get(f"{BASE}/Users", json=listing(ADA_LIVE), match=[user_filter("Ada@acme.io")])
    creation = client.create_or_adopt_user(ADA)
    assert creation.resource.id == "u1" and creation.origin is Origin.RECOVERED
    assert creation.why == "its answer was unusable"
    assert posts(http) == 1


def test_a_create_accepted_unusably_that_a_lookup_does_not_find_says_what_to_do(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Users", **UNUSABLE_2XX[0])
    http.get(f"{BASE}/Users", json=listing())
    with pytest.raises(ScimUnusableAnswer) as caught:
        client.create_user(ADA)
    text = str(caught.value)
    assert "the server accepted the create (HTTP 201)" in text
    assert "a lookup does not find the user 'Ada@acme.io'" in text
    assert "run `reconciler plan` again" in text and posts(http) == 1


@pytest.mark.parametrize("answer", UNUSABLE_2XX)
def test_a_patch_accepted_with_an_unusable_answer_raises_unusable_not_refused(
    http: responses.RequestsMock, client: ScimClient, answer: dict[str, Any]
) -> None:
    http.patch(f"{BASE}/Users/u1", **answer)
    http.patch(f"{BASE}/Groups/g1", **answer)
    with pytest.raises(ScimUnusableAnswer) as user_error:
        client.patch_user("u1", builders.replace_user_attributes({"active": False}))
    with pytest.raises(ScimUnusableAnswer) as group_error:
        client.patch_group("g1", builders.rename_group("x"))
    assert user_error.value.status == group_error.value.status == answer["status"]
    assert user_error.value.path == "/Users/u1" and group_error.value.path == "/Groups/g1"


def test_a_delete_accepted_with_an_unusable_answer_raises_unusable(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.delete(f"{BASE}/Users/u1", **UNUSABLE_2XX[0])
    with pytest.raises(ScimUnusableAnswer) as caught:
        client.delete_user("u1")
    assert caught.value.status == 201 and caught.value.method == "DELETE"


def test_a_patch_refused_or_redirected_is_not_taken_for_accepted(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.patch(f"{BASE}/Users/u1", status=302, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(ScimProtocolError) as caught:
        client.patch_user("u1", builders.replace_user_attributes({"active": False}))
    assert not isinstance(caught.value, ScimUnusableAnswer)


def test_create_group_adopts_an_existing_team_by_exact_name(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Groups", body=requests.ConnectionError("dropped"))
    http.get(
        f"{BASE}/Groups",
        json=listing({"id": "g0", "displayName": "data science"}, {"id": "g1", **TEAM}),
        match=[matchers.query_param_matcher({"filter": 'displayName eq "Data Science"'})],
    )
    assert client.create_group(TEAM) == LiveGroup("g1", "Data Science")
    assert posts(http) == 1


def test_create_group_conflict_not_found_raises(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.post(f"{BASE}/Groups", status=409)
    http.get(f"{BASE}/Groups", json=listing())
    with pytest.raises(ScimConflict, match="'Data Science' seems to exist"):
        client.create_group(TEAM)


def test_find_user_compares_case_insensitively_and_ignores_near_misses(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.get(f"{BASE}/Users", json=listing({"id": "u8", "userName": "ada@acme.io.evil"}))
    http.get(f"{BASE}/Users", json=listing({"id": "u1", "userName": "ADA@acme.io"}))
    assert client.find_user("ada@ACME.io") is None
    assert client.find_user("ada@ACME.io") == LiveUser("u1", "ADA@acme.io")


def test_find_user_refuses_an_ambiguous_answer(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.get(
        f"{BASE}/Users",
        json=listing({"id": "u1", "userName": "a@acme.io"}, {"id": "u2", "userName": "A@acme.io"}),
    )
    with pytest.raises(ScimProtocolError, match="2 resources match"):
        client.find_user("a@acme.io")


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (204, None, None),
        (200, {**ADA_LIVE, "active": False}, LiveUser("u1", "ada@acme.io", "Ada", active=False)),
    ],
)
def test_patch_user_accepts_204_and_200(
    http: responses.RequestsMock,
    client: ScimClient,
    status: int,
    body: dict[str, Any] | None,
    expected: LiveUser | None,
) -> None:
    patch = builders.replace_user_attributes({"active": False})
    http.patch(
        f"{BASE}/Users/u1", status=status, json=body, match=[matchers.json_params_matcher(patch)]
    )
    assert client.patch_user("u1", patch) == expected


def test_patch_group_quotes_the_id_into_one_path_segment(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.patch(f"{BASE}/Groups/a%2Fb%3Fc", status=200, json={"id": "a/b?c", "displayName": "x"})
    client.patch_group("a/b?c", builders.rename_group("x"))
    assert client.stats.by_class == {"PATCH /Groups/{id}": 1}


def test_delete_user_treats_404_after_a_retry_as_done(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.delete(f"{BASE}/Users/u1", body=requests.ConnectionError("dropped"))
    http.delete(f"{BASE}/Users/u1", status=404)
    client.delete_user("u1")


def test_delete_user_reports_a_first_attempt_404(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.delete(f"{BASE}/Users/u1", status=404)
    with pytest.raises(ScimNotFound):
        client.delete_user("u1")


def test_delete_group_treats_404_after_a_retry_as_done(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.delete(f"{BASE}/Groups/g%2F1", body=requests.ConnectionError("dropped"))
    http.delete(f"{BASE}/Groups/g%2F1", status=404)
    client.delete_group("g/1")
    assert client.stats.by_class == {"DELETE /Groups/{id}": 2}


def test_delete_group_reports_a_first_attempt_404(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.delete(f"{BASE}/Groups/g1", status=404)
    with pytest.raises(ScimNotFound):
        client.delete_group("g1")


def test_list_groups_excludes_members_unless_asked(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.get(
        f"{BASE}/Groups",
        json=listing(),
        match=[
            matchers.query_param_matcher(
                {"startIndex": "1", "count": "50", "excludedAttributes": "members"}
            )
        ],
    )
    http.get(
        f"{BASE}/Groups",
        json=listing(),
        match=[matchers.query_param_matcher({"startIndex": "1", "count": "50"})],
    )
    client.list_groups_page(1, 50)
    client.list_groups_page(1, 50, with_members=True)


def test_parse_errors_are_located_at_their_request(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.get(f"{BASE}/Groups/g1", json={"id": "g1"})
    with pytest.raises(ScimProtocolError, match=r"SCIM GET /Groups/g1 failed: .*'displayName'"):
        client.get_group("g1")


def test_service_provider_config_needs_a_body(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.get(f"{BASE}/ServiceProviderConfig", json={"patch": {"supported": True}})
    http.get(f"{BASE}/ServiceProviderConfig", status=204)
    assert client.service_provider_config()["patch"] == {"supported": True}
    with pytest.raises(ScimProtocolError, match="no body"):
        client.service_provider_config()


def test_a_transport_error_on_lookup_is_not_hidden(
    http: responses.RequestsMock, sleeps: list[float]
) -> None:
    client = ScimClient.connect(BASE, Token("t"), sleep=sleeps.append, retry=RetryPolicy(1))
    http.post(f"{BASE}/Users", body=requests.ConnectionError("dropped"))
    http.get(f"{BASE}/Users", body=requests.ConnectionError("still down"))
    with pytest.raises(ScimTransportError, match="GET /Users"):
        client.create_user(ADA)


def test_a_refused_listing_is_every_request_refused_and_gets_the_token_advice(
    http: responses.RequestsMock, client: ScimClient
) -> None:
    http.get(f"{BASE}/Users", status=403, json={"detail": "insufficient scope"})
    with pytest.raises(ScimForbidden) as caught:
        client.list_users_page(1, 100)
    message = str(caught.value)
    assert "HTTP 403: insufficient scope" in message
    assert "check the token first with `reconciler doctor`" in message
    assert "revokes the previous token (the current one)" in message
