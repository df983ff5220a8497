"""Every body we send is checked by an independent SCIM implementation (scim2-models)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import Context, Group, GroupMember, PatchOp, ScimFilter, User
from scim2_models.path import Comparison

from reconciler.scim import builders

AnyUser = User[Any]  # scim2-models types User by its schema extensions


def as_user_patch(body: dict[str, Any]) -> PatchOp[AnyUser]:
    return PatchOp[AnyUser].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)


def as_group_patch(body: dict[str, Any]) -> PatchOp[Group]:
    return PatchOp[Group].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)


def test_user_resource_is_a_valid_scim_creation_request() -> None:
    body = builders.user_resource("Ada@acme.io", "Ada", "Lovelace", "Ada L.", True)
    user = AnyUser.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    assert user.user_name == "Ada@acme.io"
    assert user.name is not None and (user.name.given_name, user.name.family_name) == (
        "Ada",
        "Lovelace",
    )
    assert user.display_name == "Ada L."
    assert user.emails is not None and user.emails[0].value == "Ada@acme.io"
    assert user.emails[0].primary is True and user.emails[0].type == "work"
    assert user.active is True


def test_user_resource_leaves_out_what_is_not_managed() -> None:
    body = builders.user_resource("bob@acme.io", None, None, None, False)
    assert "displayName" not in body and "name" not in body
    assert AnyUser.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST).active is False


def test_group_resource_is_a_valid_scim_creation_request() -> None:
    group = Group.model_validate(
        builders.group_resource("Data Science"), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    assert group.display_name == "Data Science"


def test_replace_user_attributes_is_one_patch_that_applies_every_change() -> None:
    body = builders.replace_user_attributes(
        {
            "active": False,
            "given_name": "Ada",
            "family_name": "King",
            "display_name": "Countess",
            "user_name": "ada.king@acme.io",
        }
    )
    user = AnyUser(id="1", user_name="ada@acme.io", emails=[{"value": "ada@acme.io"}])
    assert as_user_patch(body).patch(user)
    assert user.user_name == "ada.king@acme.io"
    assert user.emails is not None and [e.value for e in user.emails] == ["ada.king@acme.io"]
    assert user.name is not None and (user.name.given_name, user.name.family_name) == (
        "Ada",
        "King",
    )
    assert (user.display_name, user.active) == ("Countess", False)


def test_replace_user_attributes_emits_operations_in_a_fixed_order() -> None:
    body = builders.replace_user_attributes({"active": True, "display_name": "A"})
    assert body["Operations"] == [
        {"op": "replace", "path": "displayName", "value": "A"},
        {"op": "replace", "path": "active", "value": True},
    ]


def test_a_none_display_name_is_removed_not_replaced_with_null() -> None:
    body = builders.replace_user_attributes({"display_name": None})
    assert body["Operations"] == [{"op": "remove", "path": "displayName"}]
    user = AnyUser(id="1", user_name="a@acme.io", display_name="x")
    as_user_patch(body).patch(user)
    assert user.display_name is None


@pytest.mark.parametrize(
    "changes",
    [{}, {"email": "x"}, {"active": "yes"}, {"given_name": 3}, {"user_name": None}],
)
def test_replace_user_attributes_refuses_what_it_cannot_express(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        builders.replace_user_attributes(changes)


def test_add_members_adds_all_ids_in_one_operation() -> None:
    body = builders.add_members(["u1", "u2", "u1"])
    group = Group(id="g", display_name="t", members=[GroupMember(value="u0")])
    assert as_group_patch(body).patch(group)
    assert len(body["Operations"]) == 1
    assert group.members is not None and [m.value for m in group.members] == ["u0", "u1", "u2"]


def test_remove_members_removes_exactly_the_named_members() -> None:
    body = builders.remove_members(["u1", 'we"ird\\id'])
    members = [GroupMember(value=v) for v in ("u0", "u1", 'we"ird\\id', "u3")]
    group = Group(id="g", display_name="t", members=members)
    assert as_group_patch(body).patch(group)
    assert group.members is not None and [m.value for m in group.members] == ["u0", "u3"]
    assert body["Operations"][0] == {"op": "remove", "path": 'members[value eq "u1"]'}


@pytest.mark.parametrize("builder", [builders.add_members, builders.remove_members])
def test_member_builders_refuse_no_ids_and_a_bare_string(builder: Any) -> None:
    with pytest.raises(ValueError):
        builder([])
    with pytest.raises(TypeError):
        builder("u1")


def test_rename_group_keeps_id_and_members() -> None:
    group = Group(id="g", display_name="old", members=[GroupMember(value="u1")])
    assert as_group_patch(builders.rename_group("new")).patch(group)
    assert (group.id, group.display_name, len(group.members or [])) == ("g", "new", 1)


def test_patch_op_refuses_an_empty_patch() -> None:
    with pytest.raises(ValueError):
        builders.patch_op([])


@given(st.text())
def test_eq_filter_round_trips_any_value_through_a_scim_filter_parser(value: str) -> None:
    parsed = ScimFilter[AnyUser](builders.eq_filter("userName", value)).ast
    assert isinstance(parsed, Comparison)
    assert (str(parsed.attr_path), parsed.value) == ("userName", value)


def test_eq_filter_escapes_quote_and_backslash() -> None:
    assert builders.eq_filter("userName", 'a"b\\c') == 'userName eq "a\\"b\\\\c"'


def test_eq_filter_matches_case_insensitively_in_a_reference_implementation() -> None:
    user = AnyUser(user_name="Ada@Acme.io")
    assert ScimFilter[AnyUser](builders.eq_filter("userName", "ada@acme.io")).match(user)


@pytest.mark.parametrize("attribute", ["", "user Name", 'x" or "1', "1abc", "a.b.c"])
def test_eq_filter_refuses_an_attribute_that_is_not_a_path(attribute: str) -> None:
    with pytest.raises(ValueError):
        builders.eq_filter(attribute, "x")
