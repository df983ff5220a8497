"""Parsers accept what harmlessly varies between servers and refuse what would mislead."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.livestate import LiveGroup, LiveUser
from reconciler.scim.errors import (
    ScimAuthError,
    ScimBadRequest,
    ScimConflict,
    ScimError,
    ScimForbidden,
    ScimNotFound,
    ScimPayloadTooLarge,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimUnsupportedError,
)
from reconciler.scim.parse import ListPage, parse_error, parse_group, parse_list, parse_user

FULL_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "u1",
    "userName": "Ada@acme.io",
    "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
    "displayName": "Ada",
    "active": False,
    "emails": [{"value": "Ada@acme.io", "primary": True}],
    "meta": {"resourceType": "User"},
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"},
}


def test_parse_user_reads_the_managed_attributes_and_ignores_the_rest() -> None:
    assert parse_user(FULL_USER) == LiveUser("u1", "Ada@acme.io", "Ada", "Lovelace", "Ada", False)


def test_parse_user_defaults_missing_optional_fields() -> None:
    assert parse_user({"id": "u1", "userName": "a@acme.io"}) == LiveUser("u1", "a@acme.io")


def test_parse_user_accepts_numeric_ids_and_string_booleans() -> None:
    user = parse_user({"id": 7, "userName": "a@acme.io", "active": "False"})
    assert (user.id, user.active) == ("7", False)


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ({"userName": "a@acme.io"}, "'id'"),
        ({"id": "", "userName": "a@acme.io"}, "'id'"),
        ({"id": "u1"}, "'userName'"),
        ({"id": "u1", "userName": None}, "'userName'"),
        ({"id": "u1", "userName": "a@acme.io", "active": "maybe"}, "'active'"),
        ({"id": "u1", "userName": "a@acme.io", "displayName": 3}, "'displayName'"),
        # A complex attribute of another type is not "absent": names would look unset.
        ({"id": "u1", "userName": "a@acme.io", "name": "Ann"}, "'name' is str, not an object"),
        ({"id": "u1", "userName": "a@acme.io", "name": ["Ann"]}, "'name' is list"),
        ({"id": "u1", "userName": "a@acme.io", "name": 0}, "'name' is int"),
        ({"id": "u1", "userName": "a@acme.io", "name": False}, "'name' is bool"),
    ],
)
def test_parse_user_names_the_missing_or_wrong_field(resource: dict[str, Any], field: str) -> None:
    with pytest.raises(ScimProtocolError, match=field):
        parse_user(resource)


def test_parse_user_refuses_a_non_object() -> None:
    with pytest.raises(ScimProtocolError, match="not a JSON object"):
        parse_user(["u1"])


def test_parse_group_reads_member_ids() -> None:
    group = parse_group(
        {
            "id": "g1",
            "displayName": "DS",
            "members": [{"value": "u1", "type": "User", "$ref": "x"}, {"value": "u2"}],
        }
    )
    assert group == LiveGroup("g1", "DS", frozenset({"u1", "u2"}))


@pytest.mark.parametrize("members", [None, []])
def test_parse_group_without_members_is_empty(members: object) -> None:
    body: dict[str, Any] = {"id": "g1", "displayName": "DS"}
    if members is not None:
        body["members"] = members
    assert parse_group(body).member_ids == frozenset()


def test_parse_group_refuses_nested_groups() -> None:
    body = {"id": "g1", "displayName": "DS", "members": [{"value": "g2", "type": "group"}]}
    with pytest.raises(ScimUnsupportedError, match="nested teams"):
        parse_group(body)


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ({"displayName": "DS"}, "'id'"),
        ({"id": "g1"}, "'displayName'"),
        ({"id": "g1", "displayName": "DS", "members": [{"display": "x"}]}, "'value'"),
        ({"id": "g1", "displayName": "DS", "members": "u1"}, "members"),
    ],
)
def test_parse_group_names_the_missing_field(resource: dict[str, Any], field: str) -> None:
    with pytest.raises(ScimProtocolError, match=field):
        parse_group(resource)


def test_parse_list_reads_a_full_page() -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 3,
        "startIndex": 2,
        "itemsPerPage": 1,
        "Resources": [{"id": "u2"}],
    }
    assert parse_list(body) == ListPage(3, 2, 1, ({"id": "u2"},))


def test_parse_list_tolerates_absent_resources_and_string_numbers() -> None:
    assert parse_list({"totalResults": "0"}) == ListPage(0, None, 0, ())  # no startIndex sent
    page = parse_list({"totalResults": "2", "startIndex": "1", "resources": [{}, {}]})
    assert (page.total_results, page.items_per_page, len(page.resources)) == (2, 2, 2)


@pytest.mark.parametrize(
    "body",
    [
        {"Resources": []},
        {"totalResults": -1},
        {"totalResults": "many"},
        {"totalResults": True},
        {"totalResults": 1, "Resources": {"id": "u1"}},
        {"totalResults": 1, "Resources": ["u1"]},
        [],
    ],
)
def test_parse_list_refuses_what_cannot_be_counted(body: object) -> None:
    with pytest.raises(ScimProtocolError):
        parse_list(body)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ScimBadRequest),
        (401, ScimAuthError),
        (403, ScimForbidden),
        (404, ScimNotFound),
        (409, ScimConflict),
        (413, ScimPayloadTooLarge),
        (429, ScimRateLimited),
        (500, ScimServerError),
        (503, ScimServerError),
        (412, ScimError),
    ],
)
def test_parse_error_maps_status_to_type(status: int, kind: type[ScimError]) -> None:
    error = parse_error(status, {"detail": "why", "status": str(status)}, "GET", "/Users")
    assert type(error) is kind
    assert (error.status, error.detail, error.method, error.path) == (
        status,
        "why",
        "GET",
        "/Users",
    )


def test_parse_error_keeps_scim_type_and_builds_a_readable_message() -> None:
    body = {"scimType": "uniqueness", "detail": "userName taken", "status": "409"}
    error = parse_error(409, body, "POST", "/Users")
    assert error.scim_type == "uniqueness"
    assert str(error) == "SCIM POST /Users failed: HTTP 409 (uniqueness): userName taken"


def test_parse_error_of_a_non_json_body_shows_a_short_text() -> None:
    error = parse_error(502, "<html>\n  <h1>Bad gateway</h1>" + "x" * 1000, "GET", "/Users")
    assert isinstance(error, ScimServerError)
    assert error.detail.startswith("<html> <h1>Bad gateway</h1>") and len(error.detail) <= 300


def test_parse_error_without_body_says_so() -> None:
    assert parse_error(500, None, "GET", "/Users").detail == "no detail given"


def test_auth_error_tells_how_to_get_a_new_token() -> None:
    message = str(parse_error(401, {}, "GET", "/Users"))
    assert "Organization Settings > Access Security > SCIM" in message
    assert "revokes the previous token (the current one)" in message
    assert "`reconciler doctor`" in message  # check before revoking a working token


def test_a_403_on_one_resource_gives_no_token_advice() -> None:
    error = parse_error(403, {"detail": "the owner cannot be deactivated"}, "PATCH", "/Users/u1")
    assert isinstance(error, ScimForbidden)
    assert str(error) == ("SCIM PATCH /Users/u1 failed: HTTP 403: the owner cannot be deactivated")


@pytest.mark.parametrize("members", [{}, "", 0, False])
def test_parse_group_refuses_members_that_are_empty_but_not_a_list(members: object) -> None:
    """``"members": {}`` is not a team seen to be empty: taken as one, its real
    members would be invisible, and none of them could ever be removed."""
    body = {"id": "g1", "displayName": "DS", "members": members}
    with pytest.raises(ScimProtocolError, match="'members' is not a list"):
        parse_group(body)
