"""Quirk modes over real HTTP: capped and lying listings, hidden inactive users, cut members."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from reconciler.cli import main
from scim_sandbox import Quirks, Sandbox
from tests.sandbox.conftest import patch_body


def _seed(session: requests.Session, sandbox: Sandbox, names: list[str]) -> dict[str, str]:
    ids = {}
    for name in names:
        answer = session.post(f"{sandbox.base_url}/Users", json={"userName": f"{name}@acme.io"})
        ids[name] = answer.json()["id"]
    return ids


def _deactivate(session: requests.Session, sandbox: Sandbox, user_id: str) -> None:
    body = patch_body({"op": "replace", "path": "active", "value": False})
    assert session.patch(f"{sandbox.base_url}/Users/{user_id}", json=body).status_code == 200


def _names(answer: requests.Response) -> list[str]:
    return [r["userName"].split("@")[0] for r in answer.json().get("Resources", [])]


def test_a_capped_listing_ignores_start_index_and_a_lying_one_reports_the_page_length(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(quirks=Quirks(list_cap=3))
    _seed(session, sandbox, ["ann", "ben", "cat", "dan", "zed"])
    page = session.get(f"{sandbox.base_url}/Users", params={"startIndex": 4, "count": 10})
    assert _names(page) == ["ann", "ben", "cat"]
    assert page.json()["totalResults"] == 5
    sandbox.set_quirks(Quirks(list_cap=3, lying_total=True))
    page = session.get(f"{sandbox.base_url}/Users")
    assert (_names(page), page.json()["totalResults"]) == (["ann", "ben", "cat"], 3)
    found = session.get(f"{sandbox.base_url}/Users", params={"filter": 'userName eq "zed@acme.io"'})
    assert (_names(found), found.json()["totalResults"]) == (["zed"], 1)


def test_hidden_inactive_users_are_found_by_lookup_and_by_id_and_stay_team_members(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(quirks=Quirks(hide_inactive=True))
    ids = _seed(session, sandbox, ["ann", "kim"])
    team = {"displayName": "Eng", "members": [{"value": ids["kim"]}]}
    group_id = session.post(f"{sandbox.base_url}/Groups", json=team).json()["id"]
    _deactivate(session, sandbox, ids["kim"])
    listing = session.get(f"{sandbox.base_url}/Users")
    assert (_names(listing), listing.json()["totalResults"]) == (["ann"], 1)
    kim = {"filter": 'userName eq "kim@acme.io"'}
    lookup = session.get(f"{sandbox.base_url}/Users", params=kim)
    assert _names(lookup) == ["kim"]
    assert session.get(f"{sandbox.base_url}/Users/{ids['kim']}").json()["active"] is False
    members = session.get(f"{sandbox.base_url}/Groups/{group_id}").json()["members"]
    assert [m["value"] for m in members] == [ids["kim"]]


@pytest.mark.parametrize(
    ("quirks", "expected"),
    [(Quirks(members_cut=2), ["ann", "ben"]), (Quirks(members_omitted=True), None)],
)
def test_member_lists_are_cut_or_left_out_while_users_groups_stay_true(
    make_sandbox: Callable[..., Sandbox],
    session: requests.Session,
    quirks: Quirks,
    expected: list[str] | None,
) -> None:
    sandbox = make_sandbox(quirks=quirks)
    ids = _seed(session, sandbox, ["ann", "ben", "zed"])
    team = {"displayName": "Finance", "members": [{"value": ids[n]} for n in ids]}
    group_id = session.post(f"{sandbox.base_url}/Groups", json=team).json()["id"]
    by_id = {v: k for k, v in ids.items()}
    one = session.get(f"{sandbox.base_url}/Groups/{group_id}").json()
    listed = session.get(f"{sandbox.base_url}/Groups").json()["Resources"][0]
    for resource in (one, listed):
        got = resource.get("members")
        assert (None if got is None else [by_id[m["value"]] for m in got]) == expected
    zed = session.get(f"{sandbox.base_url}/Users/{ids['zed']}").json()
    assert [g["display"] for g in zed["groups"]] == ["Finance"]
    assert sandbox.store.group_by_name("Finance") is not None


@pytest.mark.parametrize(
    ("quirks", "listed_as"),
    [(Quirks(list_members_cut=1), ["ann"]), (Quirks(list_members_omitted=True), None)],
)
def test_list_only_member_modes_leave_the_team_read_whole(
    make_sandbox: Callable[..., Sandbox],
    session: requests.Session,
    quirks: Quirks,
    listed_as: list[str] | None,
) -> None:
    sandbox = make_sandbox(quirks=quirks)
    ids = _seed(session, sandbox, ["ann", "ben"])
    team = {"displayName": "Eng", "members": [{"value": ids[n]} for n in ids]}
    group_id = session.post(f"{sandbox.base_url}/Groups", json=team).json()["id"]
    by_id = {v: k for k, v in ids.items()}
    listed = session.get(f"{sandbox.base_url}/Groups").json()["Resources"][0].get("members")
    assert (None if listed is None else [by_id[m["value"]] for m in listed]) == listed_as
    whole = session.get(f"{sandbox.base_url}/Groups/{group_id}").json()["members"]
    assert sorted(by_id[m["value"]] for m in whole) == ["ann", "ben"]


def test_groups_omitted_leaves_users_groups_out_of_every_user_read(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(quirks=Quirks.from_specs(["groups-omitted"]))
    ids = _seed(session, sandbox, ["ann"])
    session.post(
        f"{sandbox.base_url}/Groups",
        json={"displayName": "Eng", "members": [{"value": ids["ann"]}]},
    )
    assert "groups" not in session.get(f"{sandbox.base_url}/Users").json()["Resources"][0]
    assert "groups" not in session.get(f"{sandbox.base_url}/Users/{ids['ann']}").json()
    sandbox.set_quirks(Quirks())
    assert session.get(f"{sandbox.base_url}/Users/{ids['ann']}").json()["groups"] != []


def test_quirk_specs_parse_from_flags_and_name_the_known_modes_when_wrong() -> None:
    quirks = Quirks.from_specs(["list-cap=3", "lying_total", "members_cut=2"])
    assert quirks == Quirks(list_cap=3, lying_total=True, members_cut=2)
    assert quirks.names() == ["list_cap=3", "lying_total", "members_cut=2"]
    with pytest.raises(ValueError, match=r"known quirks: .*hide_inactive"):
        Quirks.from_specs(["hide_everything"])
    with pytest.raises(ValueError, match="needs a count"):
        Quirks.from_specs(["list_cap"])
    with pytest.raises(ValueError, match="takes no value"):
        Quirks.from_specs(["lying_total=1"])
    with pytest.raises(ValueError, match="exclude each other"):
        Quirks(members_cut=1, members_omitted=True)
    with pytest.raises(ValueError, match="exclude each other"):
        Quirks(list_members_cut=1, list_members_omitted=True)
    both = Quirks.from_specs(["list-members-cut=2", "groups_omitted"])
    assert both.names() == ["list_members_cut=2", "groups_omitted"]


def test_the_sandbox_command_refuses_an_unknown_quirk_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stop:  # a usage error, refused while parsing
        main(["sandbox", "--port", "0", "--token", "t", "--quirk", "list_cap=x"])
    err = capsys.readouterr().err
    assert stop.value.code == 64
    assert "argument --quirk: quirk list_cap needs a count" in err
    assert "Traceback" not in err
