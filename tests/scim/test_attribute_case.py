"""RFC 7643 §2.1: attribute names are case-insensitive; one name in two spellings is refused."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from reconciler.errors import LiveStateError
from reconciler.reader import _check_page
from reconciler.scim import builders
from reconciler.scim.client import ScimClient
from reconciler.scim.errors import ScimProtocolError, ScimUnsupportedError
from reconciler.scim.parse import (
    ListPage,
    canonical_document,
    canonical_names,
    parse_error,
    parse_group,
    parse_list,
    parse_user,
    parse_user_groups,
)
from reconciler.scim.secret import Token

BASE = "https://scim.example.test/api/app/scim/v2"


def test_a_user_in_any_case_is_read_like_the_canonical_one() -> None:
    odd = {
        "ID": "u1",
        "USERNAME": "Ada@acme.io",
        "Name": {"GIVENNAME": "Ada", "familyname": "L"},
        "displayname": "Ada L",
        "Active": False,
        "Groups": [{"VALUE": "g1"}],
    }
    plain = {
        "id": "u1",
        "userName": "Ada@acme.io",
        "name": {"givenName": "Ada", "familyName": "L"},
        "displayName": "Ada L",
        "active": False,
        "groups": [{"value": "g1"}],
    }
    assert parse_user(odd) == parse_user(plain)
    assert parse_user(odd).active is False  # not defaulted to true for want of `active`
    assert parse_user_groups(odd) == frozenset({"g1"})


def test_a_group_and_a_list_in_any_case() -> None:
    body: dict[str, Any] = {
        "TOTALRESULTS": 1,
        "startindex": 1,
        "ItemsPerPage": 1,
        "resources": [
            {"Id": "g1", "DISPLAYNAME": "Ops", "Members": [{"Value": "u1", "TYPE": "User"}]}
        ],
    }
    page = parse_list(body)
    assert (page.total_results, page.start_index, page.items_per_page) == (1, 1, 1)
    group = parse_group(page.resources[0])
    assert (group.display_name, group.member_ids, group.members_listed) == (
        "Ops",
        frozenset({"u1"}),
        True,
    )
    assert page.resources[0]["id"] == "g1"  # the reader's duplicate check reads it too


def test_a_nested_group_member_in_upper_case_is_still_refused() -> None:
    with pytest.raises(ScimUnsupportedError, match="nested teams are not supported"):
        parse_group(
            {"id": "g1", "displayName": "Ops", "members": [{"value": "g2", "TYPE": "Group"}]}
        )


@pytest.mark.parametrize(
    "resource",
    [
        {"id": "u1", "userName": "ada@acme.io", "USERNAME": "eve@acme.io"},
        {"id": "u1", "userName": "ada@acme.io", "active": True, "Active": False},
        {"id": "u1", "userName": "a@acme.io", "name": {"givenName": "A", "GivenName": "B"}},
    ],
)
def test_one_name_in_two_spellings_is_refused(resource: dict[str, Any]) -> None:
    with pytest.raises(ScimProtocolError, match=r"twice.*case-insensitive"):
        parse_list({"totalResults": 1, "Resources": [resource]})
    with pytest.raises(ScimProtocolError, match=r"twice.*case-insensitive"):
        canonical_names(resource)


@responses.activate
def test_a_single_answer_with_two_spellings_is_refused_at_its_request() -> None:
    body = {"id": "u1", "userName": "ada@acme.io", "active": True, "ACTIVE": False}
    responses.get(f"{BASE}/Users/u1", json=body)
    responses.patch(f"{BASE}/Users/u1", json=body)
    with ScimClient.connect(BASE, Token("t")) as client:
        with pytest.raises(ScimProtocolError, match=r"GET /Users/u1 .*'active' twice"):
            client.get_user("u1")
        patch = builders.replace_user_attributes({"active": False})
        with pytest.raises(ScimProtocolError, match=r"PATCH /Users/u1 .*'active' twice"):
            client.patch_user("u1", patch)


def test_a_list_with_two_spellings_of_resources_is_refused() -> None:
    with pytest.raises(ScimProtocolError, match="'Resources' twice"):
        parse_list({"totalResults": 2, "Resources": [], "resources": [{"id": "x"}]})


def test_error_bodies_and_features_in_any_case() -> None:
    error = parse_error(400, {"SCIMTYPE": "invalidFilter", "Detail": "no"}, "GET", "/Users")
    assert (error.scim_type, error.detail) == ("invalidFilter", "no")
    config = canonical_document({"PATCH": {"Supported": True}, "Filter": {"MAXRESULTS": 5}})
    assert config == {"patch": {"supported": True}, "filter": {"maxResults": 5}}


def test_a_501_to_a_patch_and_a_412_say_what_the_server_lacks() -> None:
    assert "never with a whole-resource PUT" in str(parse_error(501, {}, "PATCH", "/Users/1"))
    assert "If-Match" in str(parse_error(412, {}, "PATCH", "/Users/1"))
    assert "If-Match" in str(parse_error(428, {}, "DELETE", "/Users/1"))
    assert "If-Match" not in str(parse_error(412, {}, "GET", "/Users"))


def test_integer_ids_repeated_across_pages_fail_the_read() -> None:
    seen: set[str] = set()
    _check_page("users", ListPage(2, 1, 1, ({"id": 7},)), 1, seen)
    with pytest.raises(LiveStateError, match="duplicate id '7'"):
        _check_page("users", ListPage(2, 2, 1, ({"id": 7},)), 2, seen)


def test_a_deeply_nested_answer_with_odd_names_is_renamed_without_recursing_into_it() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    user = parse_user({"ID": "u1", "USERNAME": "ada@acme.io", "x-vendor": deep})
    assert user.user_name == "ada@acme.io"


def test_odd_names_only_inside_members_and_groups_entries_are_still_read() -> None:
    page = parse_list(
        {
            "totalResults": 2,
            "Resources": [
                {"id": "g1", "displayName": "Ops", "members": [{"VALUE": "u1", "Type": "User"}]},
                {"id": "u1", "userName": "a@acme.io", "groups": [{"Value": "g1"}]},
            ],
        }
    )
    assert parse_group(page.resources[0]).member_ids == frozenset({"u1"})
    assert parse_user_groups(page.resources[1]) == frozenset({"g1"})
    nested = {"id": "g2", "displayName": "X", "members": [{"value": "g1", "TYPE": "Group"}]}
    with pytest.raises(ScimUnsupportedError, match="nested teams"):
        parse_group(parse_list({"totalResults": 1, "Resources": [nested]}).resources[0])
    with pytest.raises(ScimProtocolError, match="'value' twice"):
        parse_group({"id": "g3", "displayName": "Y", "members": [{"value": "a", "VALUE": "b"}]})


def test_null_is_unassigned_as_absence_is() -> None:
    # RFC 7643 §2.5: null and an absent attribute are the same state.
    plain = parse_user({"id": "u1", "userName": "a@acme.io"})
    nulls = {"id": "u1", "userName": "a@acme.io", "active": None, "name": None}
    assert parse_user(nulls) == plain
    assert parse_user({**nulls, "displayName": None, "groups": None}) == plain
