"""The sandbox over real HTTP, with plain ``requests`` (not the project's client)."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from scim_sandbox import Faults, Sandbox
from tests.sandbox.conftest import TOKEN, patch_body

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def create_user(session: requests.Session, sandbox: Sandbox, user_name: str) -> dict[str, Any]:
    response = session.post(f"{sandbox.base_url}/Users", json={"userName": user_name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def create_group(
    session: requests.Session,
    sandbox: Sandbox,
    name: str,
    members: Sequence[str] = (),
) -> dict[str, Any]:
    payload = {"displayName": name, "members": [{"value": m} for m in members]}
    response = session.post(f"{sandbox.base_url}/Groups", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_endpoint_needs_the_bearer_token(sandbox: Sandbox) -> None:
    for path in ("/Users", "/Groups", "/ServiceProviderConfig", "/Users/x"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = requests.get(sandbox.base_url + path, headers=headers, timeout=5)
            assert response.status_code == 401
            assert response.json()["schemas"] == [ERROR_SCHEMA]
            assert TOKEN not in response.text


def test_unknown_paths_are_scim_404s(sandbox: Sandbox, session: requests.Session) -> None:
    response = session.get(f"{sandbox.base_url}/Nope")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/scim+json"
    assert response.json()["status"] == "404"
    assert session.get(f"{sandbox.base_url}/Users/missing").status_code == 404


def test_create_returns_201_with_location_and_conflicts_are_409(
    sandbox: Sandbox, session: requests.Session
) -> None:
    response = session.post(f"{sandbox.base_url}/Users", json={"userName": "ada@acme.io"})
    assert response.status_code == 201
    assert response.headers["Location"] == response.json()["meta"]["location"]
    again = session.post(f"{sandbox.base_url}/Users", json={"userName": "Ada@Acme.io"})
    assert (again.status_code, again.json()["scimType"]) == (409, "uniqueness")
    outside = session.post(f"{sandbox.base_url}/Users", json={"userName": "taken@acme.io"})
    assert outside.status_code == 409
    assert "scimType" not in outside.json()
    off = session.post(f"{sandbox.base_url}/Users", json={"userName": "x@y.com"})
    assert off.json()["detail"] == "domain of x@y.com is not claimed by this organization"
    assert session.post(f"{sandbox.base_url}/Users", data="{not json").status_code == 400


def test_paging_with_start_index_count_and_max_page_size(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(seed="random:250")
    names = [u["userName"] for u in sandbox.store.users()]
    page = session.get(f"{sandbox.base_url}/Users", params={"startIndex": 11, "count": 5}).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (250, 11, 5)
    assert [u["userName"] for u in page["Resources"]] == names[10:15]
    default = session.get(f"{sandbox.base_url}/Users").json()
    assert default["itemsPerPage"] == 100
    sandbox.set_faults(Faults(max_page_size=40))
    seen: list[str] = []
    start = 1
    while start <= 250:
        body = session.get(f"{sandbox.base_url}/Users", params={"startIndex": start, "count": 1000})
        resources = body.json()["Resources"]
        assert len(resources) <= 40
        seen += [u["userName"] for u in resources]
        start += len(resources)
    assert seen == names
    tail = session.get(f"{sandbox.base_url}/Users", params={"startIndex": 300}).json()
    assert (tail["totalResults"], tail["Resources"]) == (250, [])
    zero = session.get(f"{sandbox.base_url}/Users", params={"count": 0}).json()
    assert (zero["totalResults"], zero["itemsPerPage"]) == (250, 0)


def test_filters_on_user_name_and_display_name(sandbox: Sandbox, session: requests.Session) -> None:
    ada = create_user(session, sandbox, "Ada@acme.io")
    create_user(session, sandbox, "bob@acme.io")
    create_group(session, sandbox, "Data Science", [ada["id"]])
    users = session.get(f"{sandbox.base_url}/Users", params={"filter": 'userName eq "ada@ACME.io"'})
    assert [u["id"] for u in users.json()["Resources"]] == [ada["id"]]
    none = session.get(f"{sandbox.base_url}/Users", params={"filter": 'userName eq "zed@acme.io"'})
    assert none.json()["totalResults"] == 0
    groups = session.get(
        f"{sandbox.base_url}/Groups",
        params={"filter": 'displayName eq "Data Science"', "excludedAttributes": "members"},
    ).json()["Resources"]
    assert [g["displayName"] for g in groups] == ["Data Science"]
    assert "members" not in groups[0]
    bad = session.get(f"{sandbox.base_url}/Users", params={"filter": 'userName sw "a"'})
    assert (bad.status_code, bad.json()["scimType"]) == (400, "invalidFilter")
    other = session.get(f"{sandbox.base_url}/Users", params={"filter": 'title eq "x"'})
    assert other.json()["scimType"] == "invalidFilter"


def test_user_patch_forms(sandbox: Sandbox, session: requests.Session) -> None:
    user = create_user(session, sandbox, "ada@acme.io")
    url = f"{sandbox.base_url}/Users/{user['id']}"
    odd_case = session.patch(
        url, json=patch_body({"op": "Replace", "path": "active", "value": False})
    )
    assert (odd_case.status_code, odd_case.json()["active"]) == (200, False)
    no_path = session.patch(
        url,
        json=patch_body(
            {"op": "replace", "value": {"active": True, "name": {"givenName": "Ada"}}},
            {"op": "add", "path": "name.familyName", "value": "Lovelace"},
            {"op": "REPLACE", "path": "displayName", "value": "Ada L."},
        ),
    )
    body = no_path.json()
    assert body["active"] is True
    assert body["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert body["displayName"] == "Ada L."
    assert session.get(url).json() == body
    bad = session.patch(url, json=patch_body({"op": "replace", "path": "title", "value": "x"}))
    assert (bad.status_code, bad.json()["scimType"]) == (400, "invalidPath")
    bad_op = session.patch(url, json=patch_body({"op": "move", "path": "active", "value": True}))
    assert bad_op.status_code == 400


def test_put_replaces_a_user(sandbox: Sandbox, session: requests.Session) -> None:
    user = create_user(session, sandbox, "ada@acme.io")
    url = f"{sandbox.base_url}/Users/{user['id']}"
    body = {"userName": "ada@acme.io", "displayName": "Ada", "active": False}
    response = session.put(url, json=body)
    assert (response.status_code, response.json()["displayName"]) == (200, "Ada")
    assert response.json()["active"] is False


def test_group_membership_patches(sandbox: Sandbox, session: requests.Session) -> None:
    ids = [create_user(session, sandbox, f"u{i}@acme.io")["id"] for i in range(4)]
    group = create_group(session, sandbox, "Team", ids[:1])
    url = f"{sandbox.base_url}/Groups/{group['id']}"

    def members() -> list[str]:
        return [m["value"] for m in session.get(url).json()["members"]]

    added = session.patch(
        url, json=patch_body({"op": "Add", "path": "members", "value": [{"value": i} for i in ids]})
    )
    assert added.status_code == 200
    assert members() == ids
    one = patch_body({"op": "remove", "path": f'members[value eq "{ids[1]}"]'})
    assert session.patch(url, json=one).status_code == 200
    assert members() == [ids[0], ids[2], ids[3]]
    listed = patch_body({"op": "remove", "path": "members", "value": [{"value": ids[0]}]})
    session.patch(url, json=listed)
    assert members() == [ids[2], ids[3]]
    replaced = patch_body({"op": "replace", "path": "members", "value": [{"value": ids[1]}]})
    session.patch(url, json=replaced)
    assert members() == [ids[1]]
    ghost = patch_body(
        {"op": "add", "path": "members", "value": [{"value": ids[0]}, {"value": "ghost"}]}
    )
    refused = session.patch(url, json=ghost)
    assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidValue")
    assert "ghost" in refused.json()["detail"]
    assert members() == [ids[1]]
    user = session.get(f"{sandbox.base_url}/Users/{ids[1]}").json()
    assert user["groups"] == [
        {
            "value": group["id"],
            "display": "Team",
            "$ref": f"{sandbox.base_url}/Groups/{group['id']}",
        }
    ]


def test_group_rename_forms_and_uniqueness(sandbox: Sandbox, session: requests.Session) -> None:
    group = create_group(session, sandbox, "Team")
    create_group(session, sandbox, "Other")
    url = f"{sandbox.base_url}/Groups/{group['id']}"
    by_path = session.patch(
        url, json=patch_body({"op": "replace", "path": "displayName", "value": "A"})
    )
    assert by_path.json()["displayName"] == "A"
    no_path = session.patch(url, json=patch_body({"op": "replace", "value": {"displayName": "B"}}))
    assert no_path.json()["displayName"] == "B"
    clash = session.patch(
        url, json=patch_body({"op": "replace", "value": {"displayName": "other"}})
    )
    assert (clash.status_code, clash.json()["scimType"]) == (409, "uniqueness")


def test_too_many_members_in_one_patch_is_413(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(seed="random:50", faults=Faults(max_members_per_patch=3))
    ids = [u["id"] for u in sandbox.store.users()]
    group = create_group(session, sandbox, "Team")
    url = f"{sandbox.base_url}/Groups/{group['id']}"
    many = patch_body({"op": "add", "path": "members", "value": [{"value": i} for i in ids[:4]]})
    refused = session.patch(url, json=many)
    assert refused.status_code == 413
    assert refused.json()["detail"] == "too many members in one request (max 3)"
    assert sandbox.stats.faults()["413"] == 1
    few = patch_body({"op": "add", "path": "members", "value": [{"value": i} for i in ids[:3]]})
    assert session.patch(url, json=few).status_code == 200


def test_delete_user_and_group(sandbox: Sandbox, session: requests.Session) -> None:
    user = create_user(session, sandbox, "ada@acme.io")
    group = create_group(session, sandbox, "Team", [user["id"]])
    assert session.delete(f"{sandbox.base_url}/Users/{user['id']}").status_code == 204
    assert session.get(f"{sandbox.base_url}/Groups/{group['id']}").json()["members"] == []
    assert session.delete(f"{sandbox.base_url}/Groups/{group['id']}").status_code == 204
    assert session.get(f"{sandbox.base_url}/Groups/{group['id']}").status_code == 404


def test_discovery_endpoints(sandbox: Sandbox, session: requests.Session) -> None:
    config = session.get(f"{sandbox.base_url}/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    types = session.get(f"{sandbox.base_url}/ResourceTypes").json()
    assert {t["name"] for t in types["Resources"]} == {"User", "Group"}
    assert session.get(f"{sandbox.base_url}/Schemas").status_code == 200


def test_connections_are_kept_alive(sandbox: Sandbox) -> None:
    url = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    try:
        sockets = set()
        for _ in range(3):
            connection.request(
                "GET", f"{url.path}/Users", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            response = connection.getresponse()
            assert response.status == 200
            assert int(response.headers["Content-Length"]) == len(response.read())
            sockets.add(id(connection.sock))
        assert len(sockets) == 1
    finally:
        connection.close()
    assert sandbox.stats.requests()["GET /Users"] == 3
