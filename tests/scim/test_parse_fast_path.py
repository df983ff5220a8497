"""The parser's fast paths for the usual User and Group give exactly what the checked
paths give.

``parse_user``, ``parse_user_groups`` and ``parse_group`` take the usual shapes in
one pass (issue 16: at 100k users the per-user parsing was most of the read's own
work) and hand anything else to the checked path. For every resource, plain or
hostile, both must agree: the same value (interned strings included), or the same
error type and message.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from reconciler.scim import parse
from reconciler.scim.parse import (
    _checked_group,
    _checked_user,
    _checked_user_groups,
    parse_group,
    parse_user,
    parse_user_groups,
)
from scim_sandbox.seed import seed_random
from scim_sandbox.store import Store


class Text(str):
    """A str subclass: not what a JSON decoder makes, so the checked path decides."""


def user(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "u1",
        "userName": "ada@acme.io",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "active": True,
        "groups": [{"value": "g1", "display": "Eng"}],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()

USERS = [
    user(),
    user(active=False),
    user(active=_DROP),
    user(name=_DROP),
    user(name=None),
    user(name={}),
    user(name={"givenName": None, "familyName": None}),
    user(name={"givenName": "", "familyName": ""}),
    user(name={"givenName": "A" * 33, "familyName": "B" * 32}),
    user(name="Ada Lovelace"),  # not an object: no names, as the checked path reads it
    user(name=["Ada"]),
    user(name={"givenName": 7}),
    user(name={"familyName": ["x"]}),
    user(name={"givenName": Text("Ada")}),
    user(displayName=_DROP),
    user(displayName=None),
    user(displayName=3),
    user(displayName=Text("Ada")),
    user(active="TRUE"),
    user(active="false"),
    user(active=None),
    user(active=1),
    user(active=0),
    user(active="yes"),
    user(id=12345),
    user(id=True),
    user(id=None),
    user(id=_DROP),
    user(id=""),
    user(id="   "),
    user(id="\u2003"),
    user(id="."),
    user(id=".."),
    user(id=Text("u1")),
    user(userName=_DROP),
    user(userName=None),
    user(userName=""),
    user(userName="   "),
    user(userName="\u2003"),
    user(userName=42),
    user(userName=Text("ada@acme.io")),
    user(userName=" ada@acme.io "),
    user(userName="ADA@acme.io"),
    user(userName="\u0430da@acme.io"),  # a look-alike is parsed; the diff refuses it
    # Hostile shapes (review of issue 16's fast paths): JSON's other types where text
    # or a boolean belongs, numbers that are bools, huge values, odd ids.
    user(userName="ada@acme.io\n"),
    user(userName="\u200bada@acme.io"),
    user(userName="a" * 100_000 + "@acme.io"),
    user(userName=True),
    user(userName=["ada@acme.io"]),
    user(userName={"value": "ada@acme.io"}),
    user(id=False),
    user(id=0),
    user(id=-1),
    user(id=1.5),
    user(id=10**30),
    user(id="u1/../u2"),
    user(id="%2e%2e"),
    user(id="\x00"),
    user(id="\uff0e\uff0e"),  # fullwidth dots: no URL dot segment
    user(id=" . "),
    user(active=1.0),
    user(active=[]),
    user(active={}),
    user(active="True "),
    user(displayName=False),
    user(displayName=["Ada"]),
    user(name={"givenName": True, "familyName": "L"}),
    user(name={"givenName": "Ada", "familyName": False}),
    user(name={"givenName": "Ada", "familyName": "L", "middleName": 3, "x": None}),
    user(name={"givenName": "A" * 100_000}),
    user(name=True),
    user(name=0),
]

GROUPS = [
    _DROP,
    None,
    [],
    [{"value": "g1"}, {"value": "g2"}, {"value": "g1"}],
    "g1",
    {"value": "g1"},
    [None],
    ["g1"],
    [{"value": 7}],
    [{"value": ""}],
    [{"value": "  "}],
    [{"display": "Eng"}],
    [{"value": None}],
    [{"value": Text("g1")}],
    [{"value": "g1"}, {"value": "."}],
    [{"value": True}],
    [{"value": 10**30}],
    [{"value": "g1\n"}],
    [{"value": "g1", "type": "direct"}, {"value": "g2", "type": 3}],
    [{"value": "g1"}, 0],
    [{"value": "g1"}, []],
    [{"value": f"g{n}"} for n in range(2000)],
    {},
    0,
    False,
]


def outcome(function: Any, resource: object) -> tuple[Any, ...]:
    try:
        value = function(resource)
    except Exception as error:
        return ("error", type(error), str(error))
    return ("ok", value)


def interned(value: object) -> tuple[bool, ...]:
    """Which strings of a LiveUser are the interned ones (memory, not equality)."""
    strings = [getattr(value, name, None) for name in ("id", "given_name", "family_name")]
    return tuple(isinstance(s, str) and sys.intern(s) is s for s in strings)


def test_the_fast_path_is_on_for_the_attribute_table_it_spells_out() -> None:
    assert parse._FAST


@pytest.mark.parametrize("resource", USERS, ids=range(len(USERS)))
def test_parse_user_agrees_with_the_checked_path(resource: dict[str, Any]) -> None:
    fast, checked = outcome(parse_user, resource), outcome(_checked_user, resource)

    assert fast == checked
    if fast[0] == "ok":
        assert interned(fast[1]) == interned(checked[1])


@pytest.mark.parametrize("groups", GROUPS, ids=range(len(GROUPS)))
def test_parse_user_groups_agrees_with_the_checked_path(groups: object) -> None:
    resource = user(groups=groups)

    assert outcome(parse_user_groups, resource) == outcome(_checked_user_groups, resource)


@pytest.mark.parametrize("resource", [None, [], "u1", 3])
def test_a_resource_that_is_not_an_object_is_refused_alike(resource: object) -> None:
    assert outcome(parse_user, resource) == outcome(_checked_user, resource)
    assert outcome(parse_user, resource)[0] == "error"
    assert outcome(parse_user_groups, resource) == outcome(_checked_user_groups, resource)


def test_the_sandboxs_users_parse_alike_and_take_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store()
    seed_random(store, 500)
    resources = list(store.users())
    expected = [(_checked_user(r), _checked_user_groups(r)) for r in resources]

    def refused(resource: object) -> None:
        raise AssertionError("the checked path ran for a plain user")

    monkeypatch.setattr(parse, "_checked_user", refused)
    monkeypatch.setattr(parse, "_checked_user_groups", refused)

    assert [(parse_user(r), parse_user_groups(r)) for r in resources] == expected
    assert any(r.get("groups") for r in resources)


def group(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "g1",
        "displayName": "Eng",
        "members": [{"value": "u1", "type": "User"}, {"value": "u2"}],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not _DROP}


TEAMS = [
    group(),
    group(members=_DROP),
    group(members=None),
    group(members=[]),
    group(members={}),
    group(members=""),
    group(members="u1"),
    group(members=[{"value": "u1"}, {"value": "u1"}]),
    group(members=[{"value": "u1", "type": None}]),
    group(members=[{"value": "u1", "type": "user"}]),
    group(members=[{"value": "u1", "type": 3}]),
    group(members=[{"value": "g2", "type": "Group"}]),
    group(members=[{"value": "g2", "type": "GROUP"}]),
    group(members=[{"value": "u1"}, {"value": "g2", "type": "group"}]),
    group(members=[{"value": 7}]),
    group(members=[{"value": ""}]),
    group(members=[{"value": " "}]),
    group(members=[{"display": "Ada"}]),
    group(members=[None]),
    group(members=["u1"]),
    group(members=[{"value": Text("u1")}]),
    group(id=12),
    group(id=""),
    group(id="."),
    group(id=".."),
    group(id=_DROP),
    group(displayName=_DROP),
    group(displayName=""),
    group(displayName="   "),
    group(displayName=5),
    group(displayName=Text("Eng")),
    group(displayName=" Eng "),
    # Hostile shapes (review of issue 16's fast paths).
    group(members=0),
    group(members=False),
    group(members=[{"value": "g2", "type": "Group "}]),
    group(members=[{"value": "g2", "type": "group\u200b"}]),
    group(members=[{"value": "g2", "type": "\u0261roup"}]),  # a look-alike g
    group(members=[{"value": "u1", "type": True}]),
    group(members=[{"value": "u1", "type": ""}]),
    group(members=[{"value": True}]),
    group(members=[{"value": 10**30}]),
    group(members=[{"value": "u1"}, 3]),
    group(members=[{"value": "u1", "type": "User"}] * 3),
    group(members=[{"value": f"u{n}"} for n in range(2000)]),
    group(id=False),
    group(id=0),
    group(id=1.5),
    group(id="\uff0e"),
    group(displayName=True),
    group(displayName=["Eng"]),
    group(displayName="E" * 100_000),
]


@pytest.mark.parametrize("resource", [*TEAMS, None, [], "g1"], ids=range(len(TEAMS) + 3))
def test_parse_group_agrees_with_the_checked_path(resource: object) -> None:
    fast, checked = outcome(parse_group, resource), outcome(_checked_group, resource)

    assert fast == checked
    if fast[0] == "ok":
        assert fast[1].members_listed == checked[1].members_listed  # not compared by ==
        assert all(sys.intern(i) is i for i in fast[1].member_ids)


def test_the_sandboxs_teams_parse_alike_and_take_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store()
    seed_random(store, 500)
    resources = list(store.groups())
    expected = [_checked_group(r) for r in resources]

    def refused(resource: object) -> None:
        raise AssertionError("the checked path ran for a plain team")

    monkeypatch.setattr(parse, "_checked_group", refused)

    assert [parse_group(r) for r in resources] == expected
    assert any(g.member_ids for g in expected)
