"""Write quirk modes over real HTTP: refused, untyped, misanswered and ignored writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from scim_sandbox import Quirks, Sandbox
from tests.sandbox.conftest import patch_body

DEACTIVATE = patch_body({"op": "replace", "path": "active", "value": False})


def _user(session: requests.Session, sandbox: Sandbox, name: str) -> str:
    answer = session.post(f"{sandbox.base_url}/Users", json={"userName": f"{name}@acme.io"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_a_forbidden_user_refuses_every_write_with_its_detail_and_others_are_untouched(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox()
    boss, zed = _user(session, sandbox, "boss"), _user(session, sandbox, "zed")
    sandbox.set_quirks(Quirks.from_specs(["forbid-user=BOSS@acme.io"]))
    url = f"{sandbox.base_url}/Users"
    for answer in (
        session.patch(f"{url}/{boss}", json=DEACTIVATE),
        session.delete(f"{url}/{boss}"),
        session.put(f"{url}/{boss}", json={"userName": "boss@acme.io"}),
    ):
        assert answer.status_code == 403
        assert answer.json()["detail"] == "the organization owner cannot be deactivated"
        assert "scimType" not in answer.json()
    assert session.get(f"{url}/{boss}").json()["active"] is True  # reads still work
    assert session.patch(f"{url}/{zed}", json=DEACTIVATE).status_code == 200
    assert sandbox.stats.faults()["quirk_403"] == 3


def test_a_forbidden_team_and_a_custom_detail(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(quirks=Quirks.from_specs(["forbid-team=Admins:managed by IT"]))
    answer = session.post(f"{sandbox.base_url}/Groups", json={"displayName": "Admins"})
    assert (answer.status_code, answer.json()["detail"]) == (403, "managed by IT")
    other = session.post(f"{sandbox.base_url}/Groups", json={"displayName": "admins"})
    assert other.status_code == 201  # team names are exact


def test_a_409_can_be_answered_without_scim_type(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox()
    _user(session, sandbox, "ann")
    taken = session.post(f"{sandbox.base_url}/Users", json={"userName": "ann@acme.io"})
    assert taken.json()["scimType"] == "uniqueness"
    sandbox.set_quirks(Quirks(conflict_without_scimtype=True))
    taken = session.post(f"{sandbox.base_url}/Users", json={"userName": "ann@acme.io"})
    assert taken.status_code == 409 and "scimType" not in taken.json()
    assert "already exists" in taken.json()["detail"]


def test_a_patch_can_be_applied_but_answered_with_another_resource(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(quirks=Quirks(patch_returns_other=True))
    ann, zed = _user(session, sandbox, "ann"), _user(session, sandbox, "zed")
    answer = session.patch(f"{sandbox.base_url}/Users/{zed}", json=DEACTIVATE)
    assert answer.status_code == 200 and answer.json()["id"] == ann
    assert session.get(f"{sandbox.base_url}/Users/{zed}").json()["active"] is False


def test_ignored_writes_answer_success_and_change_nothing(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox()
    zed = _user(session, sandbox, "zed")
    sandbox.set_quirks(Quirks.from_specs(["ignore-writes=zed@acme.io", "ignore_writes=Eng"]))
    url = sandbox.base_url
    assert session.patch(f"{url}/Users/{zed}", json=DEACTIVATE).status_code == 204
    assert session.delete(f"{url}/Users/{zed}").status_code == 204
    assert session.get(f"{url}/Users/{zed}").json()["active"] is True
    made = session.post(f"{url}/Groups", json={"displayName": "Eng"})
    assert made.status_code == 201 and made.headers["Location"].endswith(made.json()["id"])
    assert session.get(f"{url}/Groups/{made.json()['id']}").status_code == 404
    assert sandbox.store.group_by_name("Eng") is None
    sandbox.set_quirks(Quirks.from_specs(["ignore-writes"]))
    assert session.post(f"{url}/Users", json={"userName": "new@acme.io"}).status_code == 201
    assert sandbox.store.user_by_name("new@acme.io") is None


def test_write_quirk_specs_parse_and_round_trip_through_names() -> None:
    quirks = Quirks.from_specs(
        [
            "forbid-user=Boss@acme.io",
            "forbid-user=cfo@acme.io:the CFO is managed by HR",
            "conflict-without-scimtype",
            "ignore-writes",
        ]
    )
    assert quirks.forbidden("Users", "BOSS@ACME.IO") == (
        "the organization owner cannot be deactivated"
    )
    assert quirks.forbidden("Users", "cfo@acme.io") == "the CFO is managed by HR"
    assert quirks.forbidden("Users", "ann@acme.io") is None
    assert quirks.ignores("Groups", "Anything")
    assert Quirks.from_specs(quirks.names()) == quirks
    with pytest.raises(ValueError, match="needs a target"):
        Quirks.from_specs(["forbid-user"])
    with pytest.raises(ValueError, match="takes no value"):
        Quirks.from_specs(["patch-returns-other=1"])


def test_writes_can_be_done_then_answered_with_an_html_page(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox()
    zed = _user(session, sandbox, "zed")
    sandbox.set_quirks(Quirks.from_specs(["html-write-answers"]))
    url = sandbox.base_url
    patched = session.patch(f"{url}/Users/{zed}", json=DEACTIVATE)
    assert patched.status_code == 200 and patched.headers["Content-Type"].startswith("text/html")
    assert "<html>" in patched.text
    made = session.post(f"{url}/Users", json={"userName": "new@acme.io"})
    assert made.status_code == 201 and made.headers["Content-Type"].startswith("text/html")
    assert sandbox.store.user_by_name("new@acme.io") is not None  # done all the same
    read = session.get(f"{url}/Users/{zed}")  # reads and errors are untouched
    assert read.json()["active"] is False and "scim+json" in read.headers["Content-Type"]
    taken = session.post(f"{url}/Users", json={"userName": "new@acme.io"})
    assert taken.status_code == 409 and taken.json()["scimType"] == "uniqueness"
    gone = session.delete(f"{url}/Users/{zed}")
    assert gone.status_code == 200 and gone.headers["Content-Type"].startswith("text/html")
    assert session.get(f"{url}/Users/{zed}").status_code == 404
    assert sandbox.stats.faults()["quirk_html_write_answer"] == 3


def test_a_user_create_can_make_the_user_inactive_whatever_it_sends(
    make_sandbox: Callable[..., Sandbox], session: requests.Session
) -> None:
    sandbox = make_sandbox(quirks=Quirks.from_specs(["creates-inactive"]))
    made = session.post(
        f"{sandbox.base_url}/Users", json={"userName": "new@acme.io", "active": True}
    )
    assert made.status_code == 201 and made.json()["active"] is False
    user = sandbox.store.user_by_name("new@acme.io")
    assert user is not None and user["active"] is False
    team = session.post(f"{sandbox.base_url}/Groups", json={"displayName": "Eng"})
    assert team.status_code == 201  # teams are untouched
    assert sandbox.stats.faults()["quirk_created_inactive"] == 1
