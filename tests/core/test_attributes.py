"""The one table of managed user attributes, and every reader of it agreeing with it.

A new attribute added to the table, ``LiveUser`` and the manifest model is carried
by the diff, the live snapshot, the fingerprint, the SCIM builders and parser and
the verifier; a place that still hard-codes the old set fails here.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from functools import partial
from typing import Any

import pytest

from reconciler import livestate, reader
from reconciler.attributes import FROM_MANIFEST, NAMES, USER_ATTRIBUTES
from reconciler.livestate import LiveState, LiveUser
from reconciler.manifest.models import Manifest, User
from reconciler.planner import live_snapshot, make_plan
from reconciler.scim import builders
from reconciler.scim.parse import ListPage, parse_user
from reconciler.verify import user_differences

TODAY = date(2026, 11, 22)

# A distinct value for every attribute, as a live user would carry it.
LIVE_VALUES: dict[str, Any] = {
    "user_name": "ada@acme.io",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "display_name": "Ada L. \u00e9",
    "active": True,
}
OTHER_VALUES: dict[str, Any] = {
    "user_name": "ada.l@acme.io",
    "given_name": "Augusta",
    "family_name": "King",
    "display_name": "Countess",
    "active": False,
}


def full_user(**changes: Any) -> LiveUser:
    return LiveUser(id="u1", **{**LIVE_VALUES, **changes})


def test_the_table_names_exactly_the_live_user_fields() -> None:
    fields = {f.name for f in dataclasses.fields(LiveUser) if f.init} - {"id"}
    assert fields == set(NAMES)
    assert set(LIVE_VALUES) == set(NAMES) == set(OTHER_VALUES)


@pytest.mark.parametrize("attribute", FROM_MANIFEST, ids=lambda a: a.name)
def test_every_manifest_attribute_is_a_field_of_the_manifest_user(attribute: Any) -> None:
    assert attribute.manifest in User.model_fields


def test_the_live_snapshot_carries_every_attribute() -> None:
    assert live_snapshot(full_user()) == LIVE_VALUES


def test_the_fingerprint_fast_path_agrees_with_the_canonical_form() -> None:
    user = full_user(display_name='\u202eevil "quoted"', active=False)
    canonical = json.dumps(user.canonical(), sort_keys=True, separators=(",", ":")) + "\n"
    assert livestate._user_line(user) == canonical
    assert set(user.canonical()) == {"id"} | {a.scim_key for a in USER_ATTRIBUTES}


@pytest.mark.parametrize("name", NAMES)
def test_the_fingerprint_moves_when_any_attribute_changes(name: str) -> None:
    before = LiveState.of([full_user()], [])
    after = LiveState.of([full_user(**{name: OTHER_VALUES[name]})], [])
    assert before.fingerprint != after.fingerprint


def test_the_create_body_parses_back_to_the_same_values() -> None:
    body = builders.new_user_resource(LIVE_VALUES)
    parsed = parse_user({**body, "id": "u1"})
    assert parsed == full_user()
    assert body["emails"] == [{"value": "ada@acme.io", "primary": True, "type": "work"}]


def test_the_reader_keeps_every_managed_attribute_of_each_user() -> None:
    body = {**builders.new_user_resource(LIVE_VALUES), "id": "u1", "meta": {"x": 1}}
    page = ListPage(total_results=1, start_index=1, items_per_page=1, resources=(body,))
    keep = partial(reader._user, {})
    (kept,) = reader._read_all("users", lambda start, count: page, 10, _quiet, keep)
    assert kept == (full_user(), None)


def _quiet(kind: str, done: int, total: int) -> None:
    return None


def test_the_create_body_leaves_out_unset_attributes() -> None:
    body = builders.new_user_resource({**LIVE_VALUES, "display_name": None})
    assert "displayName" not in body


@pytest.mark.parametrize("attribute", USER_ATTRIBUTES, ids=lambda a: a.name)
def test_every_patchable_attribute_has_a_patch_operation(attribute: Any) -> None:
    body = builders.replace_user_attributes({attribute.name: OTHER_VALUES[attribute.name]})
    paths = [op["path"] for op in body["Operations"]]
    assert paths[0] == attribute.scim_path


def test_an_attribute_not_in_the_table_is_refused_by_the_builders() -> None:
    with pytest.raises(ValueError, match="not a managed user attribute: nickname"):
        builders.replace_user_attributes({"nickname": "Ada"})
    with pytest.raises(ValueError, match="not a managed user attribute: nickname"):
        builders.new_user_resource({**LIVE_VALUES, "nickname": "Ada"})


@pytest.mark.parametrize("name", NAMES)
def test_the_verifier_sees_a_difference_in_any_attribute(name: str) -> None:
    user = full_user()
    assert user_differences(user, {name: OTHER_VALUES[name]}) == {name: OTHER_VALUES[name]}
    assert user_differences(user, {name: LIVE_VALUES[name]}) == {}


def _manifest(**user: Any) -> Manifest:
    entry = {"email": "ada@acme.io", "given_name": "Ada", "family_name": "Lovelace", **user}
    return Manifest.model_validate(
        {"version": 1, "organization": {"claimed_domains": ["acme.io"]}, "users": [entry]}
    )


# A different login is a different user (users are matched by it), so not a patch.
PATCHED = [a for a in FROM_MANIFEST if a.kind != "login"]


@pytest.mark.parametrize("attribute", PATCHED, ids=lambda a: a.name)
def test_the_plan_patches_any_manifest_attribute_that_differs(attribute: Any) -> None:
    # Every optional attribute managed (written in the manifest) with the live value.
    wanted = {a.manifest: LIVE_VALUES[a.name] for a in FROM_MANIFEST if a.optional}
    live = LiveState.of([full_user(**{attribute.name: OTHER_VALUES[attribute.name]})], [])
    plan = make_plan(
        _manifest(**wanted), live, today=TODAY, target="https://x", manifest_digest="d"
    )
    (op,) = plan.operations
    assert op.op.value == "patch_user"
    assert op.after == {attribute.name: LIVE_VALUES[attribute.name]}
    assert op.before == {**LIVE_VALUES, attribute.name: OTHER_VALUES[attribute.name]}


def test_an_optional_attribute_left_out_of_the_manifest_is_not_managed() -> None:
    optional = [a for a in FROM_MANIFEST if a.optional]
    assert optional, "the table has an optional attribute"
    live = LiveState.of([full_user()], [])
    plan = make_plan(_manifest(), live, today=TODAY, target="https://x", manifest_digest="d")
    assert plan.operations == ()
