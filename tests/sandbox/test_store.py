"""The directory's rules, without HTTP: uniqueness, claimed domains, integrity, atomicity."""

from __future__ import annotations

from typing import Any

import pytest

from scim_sandbox import Store
from scim_sandbox.failure import ScimFailure
from scim_sandbox.patch import Operation, parse_operations
from scim_sandbox.seed import apply_seed


def new_store() -> Store:
    return Store(claimed_domains=["acme.io", "acmelabs.io"], outside_org_emails=["Out@Acme.io"])


def create_user(store: Store, user_name: str, **extra: Any) -> str:
    store.create_user({"userName": user_name, **extra})
    user = store.user_by_name(user_name)
    assert user is not None
    return str(user["id"])


def user(store: Store, user_name: str) -> dict[str, Any]:
    found = store.user_by_name(user_name)
    assert found is not None
    return found


def group(store: Store, name: str) -> dict[str, Any]:
    found = store.group_by_name(name)
    assert found is not None
    return found


def ops(*operations: dict[str, Any]) -> list[Operation]:
    return parse_operations({"Operations": list(operations)})


def refusal(call: Any, *args: Any) -> ScimFailure:
    with pytest.raises(ScimFailure) as caught:
        call(*args)
    return caught.value


def test_a_new_user_gets_an_id_meta_active_and_its_email() -> None:
    store = new_store()
    store.create_user({"userName": "ada@acme.io", "name": {"givenName": "Ada"}})
    user = store.user_by_name("ADA@acme.io")
    assert user is not None
    assert len(user["id"]) == 32
    assert user["active"] is True
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["location"].endswith(f"/Users/{user['id']}")
    assert user["emails"] == [{"value": "ada@acme.io", "type": "work", "primary": True}]
    assert user["name"] == {"givenName": "Ada"}
    assert user["groups"] == []


def test_user_names_are_unique_case_insensitively() -> None:
    store = new_store()
    create_user(store, "ada@acme.io")
    failure = refusal(store.create_user, {"userName": "ADA@ACME.IO"})
    assert (failure.status, failure.scim_type) == (409, "uniqueness")


def test_an_unclaimed_domain_is_refused_with_invalid_value() -> None:
    failure = refusal(new_store().create_user, {"userName": "x@y.com"})
    assert (failure.status, failure.scim_type) == (400, "invalidValue")
    assert failure.detail == "domain of x@y.com is not claimed by this organization"


def test_an_account_outside_the_org_is_a_409_without_scim_type() -> None:
    failure = refusal(new_store().create_user, {"userName": "out@acme.io"})
    assert (failure.status, failure.scim_type) == (409, None)
    assert "already has a Mixpanel account outside this organization" in failure.detail


def test_a_user_name_that_is_not_an_email_is_refused() -> None:
    assert refusal(new_store().create_user, {"userName": "ada"}).status == 400
    assert refusal(new_store().create_user, {"displayName": "no name"}).status == 400


def test_renaming_a_user_keeps_uniqueness_and_claimed_domains() -> None:
    store = new_store()
    ada = create_user(store, "ada@acme.io")
    create_user(store, "bob@acme.io")
    taken = refusal(
        store.patch_user, ada, ops({"op": "replace", "path": "userName", "value": "BOB@acme.io"})
    )
    assert taken.status == 409
    off = refusal(
        store.patch_user, ada, ops({"op": "replace", "path": "userName", "value": "ada@y.com"})
    )
    assert off.status == 400
    store.patch_user(ada, ops({"op": "replace", "path": "userName", "value": "ada@acmelabs.io"}))
    assert store.user_by_name("ada@acme.io") is None
    assert store.user_by_name("ada@acmelabs.io") is not None
    create_user(store, "ada@acme.io")  # the old name is free again


def test_deleting_a_user_drops_its_memberships() -> None:
    store = new_store()
    ada, bob = create_user(store, "ada@acme.io"), create_user(store, "bob@acme.io")
    store.create_group({"displayName": "Team", "members": [{"value": ada}, {"value": bob}]})
    store.delete_user(ada)
    assert [m["value"] for m in group(store, "team")["members"]] == [bob]


def test_deleting_a_group_drops_it_from_its_members_groups() -> None:
    store = new_store()
    ada = create_user(store, "ada@acme.io")
    store.create_group({"displayName": "Team", "members": [{"value": ada}]})
    team = store.group_by_name("Team")
    assert team is not None
    assert user(store, "ada@acme.io")["groups"][0]["display"] == "Team"
    store.delete_group(team["id"])
    assert user(store, "ada@acme.io")["groups"] == []


def test_group_names_are_unique_and_members_must_exist() -> None:
    store = new_store()
    store.create_group({"displayName": "Team"})
    assert refusal(store.create_group, {"displayName": "team"}).scim_type == "uniqueness"
    failure = refusal(store.create_group, {"displayName": "Other", "members": [{"value": "nope"}]})
    assert (failure.status, failure.scim_type) == (400, "invalidValue")
    assert "nope" in failure.detail
    assert store.group_by_name("Other") is None


def test_a_group_patch_is_atomic() -> None:
    store = new_store()
    ada = create_user(store, "ada@acme.io")
    store.create_group({"displayName": "Team"})
    group_id = group(store, "Team")["id"]
    version = store.version
    failure = refusal(
        store.patch_group,
        group_id,
        ops(
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": ada}, {"value": "ghost"}]},
        ),
    )
    assert failure.status == 400
    assert "ghost" in failure.detail
    assert store.version == version
    assert group(store, "Team")["members"] == []


def test_a_user_patch_is_atomic() -> None:
    store = new_store()
    ada = create_user(store, "ada@acme.io", displayName="Ada")
    refusal(
        store.patch_user,
        ada,
        ops(
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "not a boolean"},
        ),
    )
    assert user(store, "ada@acme.io")["displayName"] == "Ada"


def test_renaming_a_user_refreshes_the_member_display_of_its_groups() -> None:
    store = new_store()
    ada = create_user(store, "ada@acme.io")
    store.create_group({"displayName": "Team", "members": [{"value": ada}]})
    store.patch_user(ada, ops({"op": "replace", "value": {"displayName": "Ada L."}}))
    assert group(store, "Team")["members"][0]["display"] == "Ada L."


def test_the_random_seed_is_deterministic_and_skewed() -> None:
    first, second = new_store(), new_store()
    apply_seed(first, "random:3000")
    apply_seed(second, "random:3000")

    def without_meta(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "meta"} for r in resources]

    assert without_meta(first.users()) == without_meta(second.users())
    assert without_meta(first.groups()) == without_meta(second.groups())
    groups = first.groups()
    assert len(groups) == 60
    sizes = sorted((len(g["members"]) for g in groups), reverse=True)
    assert sizes[0] >= 5 * sizes[len(sizes) // 2]
    assert {u["userName"].rpartition("@")[2] for u in first.users()} == {"acme.io", "acmelabs.io"}


def test_the_demo_seed_is_loaded_through_the_validated_path() -> None:
    store = new_store()
    apply_seed(store, "demo")
    user_ids = {user["id"] for user in store.users()}
    assert user_ids
    for team in store.groups():
        assert {member["value"] for member in team["members"]} <= user_ids


def test_a_seed_never_applies_to_a_store_with_data() -> None:
    store = new_store()
    create_user(store, "ada@acme.io")
    apply_seed(store, "random:100")
    assert store.counts() == (1, 0)
