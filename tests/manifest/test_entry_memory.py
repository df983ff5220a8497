"""Users and memberships are slotted entries: small in memory, the same as models outside.

A 100k-user manifest holds ~145k of them, so their size is most of a loaded manifest
(issue 16, "memory per user"). ``User`` and ``Member`` are slotted pydantic
dataclasses instead of ``BaseModel`` subclasses; everything a caller sees stays as it
was: the attributes, the part of the model API in use, equality, the messages of
invalid entries (pinned below as they were with models) and the JSON Schema (pinned
by ``test_schema.py``). Sizes are checked structurally, never timed.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import sys
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from reconciler.identity import hidden_character
from reconciler.manifest.loader import load_manifest_text
from reconciler.manifest.models import Member, User
from reconciler.manifest.schema import schema
from tests.manifest.support import ORG, TODAY, text_problems

ADA = {"email": "Ada@Acme.io", "given_name": "Ada", "family_name": "Lovelace"}


def _loaded() -> tuple[tuple[User, ...], tuple[Member, ...]]:
    text = (
        ORG
        + "users:\n"
        + "".join(f"  - {{email: u{i}@acme.io, given_name: A, family_name: B}}\n" for i in range(3))
        + "teams:\n  - {name: T, members: [u0@acme.io, {email: u1@acme.io, expires: 2027-01-01}]}\n"
    )
    manifest = load_manifest_text(text, filename="m.yaml", today=TODAY).manifest
    return manifest.users, manifest.teams[0].member_list


def test_loaded_users_and_members_keep_no_dict_and_no_fields_set() -> None:
    users, members = _loaded()
    for entry in (*users, *members):
        assert not hasattr(entry, "__dict__")
        assert not hasattr(entry, "__pydantic_fields_set__")
    # Slots only: the headers (garbage collector's and object's) and a pointer per field
    # and for the key; a model's instance was ~570 bytes with its dict and set.
    assert sys.getsizeof(users[0]) <= 32 + 8 * (len(User.model_fields) + 1)
    assert sys.getsizeof(members[0]) <= 32 + 8 * (len(Member.model_fields) + 1)


def test_the_match_key_is_a_slot_set_once_and_never_data() -> None:
    user = User.model_validate(ADA)
    assert user.key == "ada@acme.io"
    assert "key" not in User.model_fields
    assert "key" not in user.model_dump()
    assert "key" not in schema()["$defs"]["User"]["properties"]
    member = Member(email="ann@acme.io")
    assert member.key is member.email


def test_entries_are_frozen_and_compare_and_hash_by_their_fields() -> None:
    user = User.model_validate(ADA)
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.given_name = "Grace"  # type: ignore[misc]
    same = User(email="Ada@Acme.io", given_name="Ada", family_name="Lovelace")
    assert user == same
    assert hash(user) == hash(same)
    assert user != User.model_validate({**ADA, "active": False})
    assert Member(email="a@acme.io") != Member(email="a@acme.io", expires=date(2027, 1, 1))


def test_the_model_api_in_use_answers_as_a_models_did() -> None:
    user = User.model_validate({**ADA, "expires": "2027-01-01T10:00:00+01:00"})
    assert list(User.model_fields) == list(schema()["$defs"]["User"]["properties"])
    assert list(Member.model_fields) == list(schema()["$defs"]["Member"]["properties"])
    assert user.model_dump(mode="json")["expires"] == "2027-01-01T09:00:00Z"
    assert user.model_dump()["previous_emails"] == ()
    assert User.model_json_schema()["title"] == "User"
    renamed = user.model_copy(update={"email": "ada@acme.io"})
    assert (renamed.email, renamed.key, renamed.given_name) == ("ada@acme.io", "ada@acme.io", "Ada")
    with pytest.raises(ValidationError, match="not a valid email address"):
        user.model_copy(update={"email": "nope"})  # a copy is validated again
    with pytest.raises(ValidationError, match=r"Extra inputs are not permitted|Unexpected keyword"):
        User.model_validate({**ADA, "shoe_size": 42})


@pytest.mark.parametrize(
    "clone", [copy.copy, copy.deepcopy, lambda e: pickle.loads(pickle.dumps(e))]
)
def test_a_copied_or_pickled_entry_is_equal_and_has_its_key(clone: object) -> None:
    expires = datetime(2027, 1, 1, 9, tzinfo=UTC)
    for entry in (User.model_validate(ADA), Member(email="Bob@acme.io", expires=expires)):
        again = clone(entry)  # type: ignore[operator]
        assert again == entry
        assert again.key == entry.key


# The messages of invalid user and member entries, exactly as they were with models:
# a dataclass reports other error types (unexpected_keyword_argument, dataclass_type).
PINNED = [
    ("users: [1]\n", ["m.yaml:3:9: users[0]: expected a mapping, found the number 1"]),
    ("users: [[a]]\n", ["m.yaml:3:9: users[0]: expected a mapping, found a list"]),
    (
        "users: [null]\n",
        [
            "m.yaml:3:9: users[0]: expected a mapping, found nothing (null); fill in a value or "
            "remove the key"
        ],
    ),
    (
        "users: [{email: ada@acme.io, given_name: A, family_name: B, role: admin}]\n",
        [
            "m.yaml:3:61: users[0]: key 'role' is not supported: Mixpanel's SCIM API cannot set "
            "organization roles or project access; manage them in Mixpanel's UI"
        ],
    ),
    (
        "users: [{email: ada@acme.io, given_name: A, family_name: B, shoe: 1, extra_key: 2}]\n",
        [
            "m.yaml:3:61: users[0]: unknown key 'shoe'; valid keys are email, given_name, "
            "family_name, display_name, active, expires, previous_emails",
            "m.yaml:3:70: users[0]: unknown key 'extra_key'; valid keys are email, given_name, "
            "family_name, display_name, active, expires, previous_emails",
        ],
    ),
    (
        "users: [{given_name: A}]\n",
        [
            "m.yaml:3:9: users[0]: missing required key 'email'",
            "m.yaml:3:9: users[0]: missing required key 'family_name'",
        ],
    ),
    (
        "users: [{email: ada@acme.io, given_name: A, family_name: B}]\n"
        "teams: [{name: T, members: [{emial: ada@acme.io}]}]\n",
        [
            "m.yaml:4:29: teams[0].members[0]: missing required key 'email'",
            "m.yaml:4:30: teams[0].members[0]: unknown key 'emial'; did you mean 'email'?",
        ],
    ),
    (
        "users: [{email: ada@acme.io, given_name: A, family_name: B}]\n"
        "teams: [{name: T, members: [1, [x], true, null]}]\n",
        [
            "m.yaml:4:29: teams[0].members[0]: expected an email address or a mapping with "
            "'email', found the number 1",
            "m.yaml:4:32: teams[0].members[1]: expected an email address or a mapping with "
            "'email', found a list",
            "m.yaml:4:37: teams[0].members[2]: expected an email address or a mapping with "
            "'email', found true (a boolean)",
            "m.yaml:4:43: teams[0].members[3]: expected an email address or a mapping with "
            "'email', found nothing (null)",
        ],
    ),
    (
        "users: [{email: ada@acme.io, given_name: A, family_name: B, previous_emails: [1, bad]}]\n",
        [
            "m.yaml:3:79: users[0].previous_emails[0]: expected text, found the number 1; "
            "quote it: '1'",
            "m.yaml:3:82: users[0].previous_emails[1]: 'bad' is not a valid email address; "
            "write it as name@domain",
        ],
    ),
]


@pytest.mark.parametrize(("body", "expected"), PINNED)
def test_invalid_entries_are_explained_as_they_were_with_models(
    body: str, expected: list[str]
) -> None:
    assert text_problems(ORG + body) == expected


# The digest writes the canonical JSON of plain entries itself: the same bytes as
# json.dumps(model_dump(mode="json"), sort_keys=True, separators=(",", ":")).
AWKWARD = [
    "Zoë",
    "日本",
    "😀 x",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "\x01\x1f\x7f",
    "x\u2028\u2029",
    "/slash",
    " spaced ",
]


@pytest.mark.parametrize("name", AWKWARD)
def test_the_digest_writes_the_canonical_json_of_any_text(name: str) -> None:
    from reconciler.manifest.loader import _canonical, _list_adapter, _plain_records
    from reconciler.manifest.models import Team

    users = [
        User(email="ada@acme.io", given_name=name, family_name="L", display_name=name),
        User(
            email="bob@acme.io",
            given_name="B",
            family_name=name,
            active=False,
            previous_emails=("b@acme.io", "bo@acme.io"),
        ),
    ]
    label = name if hidden_character(name) is None else "Ops"  # team names refuse the rest
    teams = [
        Team(name=label, previous_names=(label + "s",), members=(Member(email="ada@acme.io"),)),
        Team(name="Unmanaged"),
        Team(name="Empty", members=()),
    ]
    for records in (users, teams):
        expected = _canonical(_list_adapter(type(records[0])).dump_python(records, mode="json"))
        assert f"[{_plain_records(records)}]" == expected


def test_a_value_the_digest_does_not_write_itself_leaves_it_to_pydantic() -> None:
    from reconciler.manifest.loader import _plain_records

    dated = User(email="ada@acme.io", given_name="A", family_name="L", expires=date(2030, 1, 2))
    assert _plain_records([User(email="b@acme.io", given_name="B", family_name="L"), dated]) is None
    assert _plain_records([Member(email="ada@acme.io", expires=date(2030, 1, 2))]) is None


def test_a_class_whose_dump_is_not_just_its_fields_is_left_to_pydantic() -> None:
    from pydantic import BaseModel, Field, computed_field

    from reconciler.manifest.loader import _plain_records

    class Hidden(BaseModel):
        shown: str = "a"
        secret: str = Field(default="b", exclude=True)

    class Renamed(BaseModel):
        name: str = Field(default="a", serialization_alias="label")

    class Computed(BaseModel):
        name: str = "a"

        @computed_field  # type: ignore[prop-decorator]
        @property
        def upper(self) -> str:
            return self.name.upper()

    for record in (Hidden(), Renamed(), Computed()):
        assert _plain_records([record]) is None


# Python's "$" also matches before a final newline; the JSON Schema's (ECMAScript)
# does not. An address or a domain ending in a newline is refused like other spaces.
def test_an_email_or_domain_with_a_trailing_newline_is_refused() -> None:
    org = "version: 1\norganization: {claimed_domains: [acme.io]}\n"
    assert text_problems(
        org + 'users:\n  - {email: "ada@acme.io\\n", given_name: A, family_name: B}\n'
    ) == [
        "m.yaml:4:13: users[0].email: 'ada@acme.io\\u000a' is not a valid email address: it "
        "contains a look-alike character (control character U+000A at position 12); retype "
        "the address in plain ASCII"
    ]
    assert text_problems('version: 1\norganization: {claimed_domains: ["acme.io\\n"]}\n') == [
        "m.yaml:2:33: organization.claimed_domains: 'acme.io\\n' is not a domain name; "
        "write it like acme.io"
    ]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            "users: [{email: ada@acme.io, given_name: A, family_name: B, "
            'previous_emails: ["x@acme.io\\n"]}]\n',
            "users[0].previous_emails[0]",
        ),
        (
            "users: [{email: ada@acme.io, given_name: A, family_name: B}]\n"
            'teams: [{name: T, members: ["ada@acme.io\\n"]}]\n',
            "teams[0].members[0]",
        ),
        ('policy: {protected: ["ada@acme.io\\n"]}\n', "policy.protected[0]"),
    ],
)
def test_every_kind_of_address_ending_in_a_newline_is_refused(body: str, where: str) -> None:
    (problem,) = text_problems(ORG + body)
    assert f"{where}: '" in problem
    assert "\\u000a' is not a valid email address" in problem
