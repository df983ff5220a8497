"""Schema v1 of the manifest as frozen pydantic models.

Users and memberships, the bulk of a large manifest, are slotted frozen pydantic
dataclasses (``Entry``) rather than models, for memory; they answer the part of the
model API in use.

Unknown keys are rejected (``extra="forbid"``) so a typo never silently means "not
managed". An omitted optional field means "not managed" (``None``), never "empty".
Org roles and project access are not settable over Mixpanel's SCIM API, so the
schema deliberately has no place for them.

Scalars are strict where YAML or pydantic's lax mode would guess: ``active: "no"``
or ``max_deprovision: true`` is an error rather than a silent coercion, so what a
reviewer reads is what the tool does. The JSON Schema (``schema.py``) is generated
from these models, so an editor flags the same mistakes as ``reconciler validate``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass

from reconciler.grammar import count, with_article
from reconciler.identity import hidden_character, lookalike_reason, match_key
from reconciler.profile import PRODUCT

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_core import SchemaSerializer, SchemaValidator

SUPPORTED_VERSIONS = (1,)

# Deliberately simple: SCIM userName in Mixpanel is an email address; we refuse
# obvious mistakes (spaces, missing @, missing dot in the domain) without
# pretending to implement RFC 5322. The same text is valid ECMAScript, so editors
# apply it through the JSON Schema too.
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
DOMAIN_PATTERN = r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
_EMAIL = re.compile(EMAIL_PATTERN)
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


# Names are kept exactly as written: Mixpanel compares them exactly, and a trailing
# space stripped here would make the plan create a second team "Design" next to the
# live "Design " (validation flags surrounding whitespace as a notice instead).
def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonEmpty = Annotated[str, StringConstraints(min_length=1), AfterValidator(_not_blank)]


def check_email(value: str) -> str:
    """Reject values that cannot be a Mixpanel login; keep the author's spelling."""
    if not _EMAIL.fullmatch(value):  # match() would let "$" pass a trailing newline
        raise ValueError(_email_problem(value))
    return value


def email_domain(email: str) -> str:
    """The lowercased domain of an address, as compared with ``claimed_domains``."""
    return email.rpartition("@")[2].lower()


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def expiry_instant(expires: date) -> datetime:
    """The first instant without access, in UTC.

    A date is the last day of access: access lasts through the end of that day, UTC,
    so the instant is the next midnight UTC. A timestamp (RFC 3339, always with an
    explicit offset) is the instant itself.
    """
    try:
        if isinstance(expires, datetime):
            return expires.astimezone(UTC)
        return datetime.combine(expires + timedelta(days=1), time(), UTC)
    except OverflowError:  # 9999-12-31 (never, in practice), or an offset past year 1/9999
        return _EARLIEST if expires.year == 1 else _LATEST


def as_instant(now: date) -> datetime:
    """``now`` as an aware UTC instant; a bare date means the start of that day, UTC.

    Raises ValueError for a naive datetime: a moment without an offset is ambiguous.
    """
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError(f"{now.isoformat()} has no UTC offset")
        try:
            return now.astimezone(UTC)
        except OverflowError:
            return _EARLIEST if now.year == 1 else _LATEST
    return datetime.combine(now, time(), UTC)


def is_expired(expires: date | None, today: date) -> bool:
    """Has access ended? ``expires`` is a date (through that day, UTC) or an instant.

    ``today`` is an instant, or a date meaning the start of that day (UTC). This is the
    ONLY expiry rule: validation notices, the diff, the plan and reports all call it,
    so a notice saying "will be deprovisioned" and the plan never disagree.
    """
    return expires is not None and as_instant(today) >= expiry_instant(expires)


def days_left(expires: date, now: date) -> int:
    """Whole days from ``now`` to the last moment of access (0: it ends today or sooner).

    For a date this is ``expires - today`` in days, as people count it.
    """
    remaining = expiry_instant(expires) - as_instant(now) - timedelta(microseconds=1)
    return remaining // timedelta(days=1)


def time_left(expires: date, now: date) -> str:
    """How long access has left, for notices: ``in 3 days``, ``in 1 day``; within its
    last day the hours until it ends (``in 5 hours``, ``in under an hour``; a date
    ends at the next midnight UTC), never ``in 0 days``. For access not yet expired
    at ``now`` (``is_expired`` False)."""
    left = days_left(expires, now)
    if left >= 1:
        return f"in {count(left, 'day')}"
    hours = (expiry_instant(expires) - as_instant(now)) // timedelta(hours=1)
    if hours < 1:
        return "in under an hour"
    return f"in {count(hours, 'hour')}"


def show_expiry(expires: date) -> str:
    """``expires`` for plans, reports and notices: a date as written, an instant in UTC."""
    if isinstance(expires, datetime):
        return expiry_instant(expires).isoformat().replace("+00:00", "Z")
    return expires.isoformat()


_EXPIRES_FIX = (
    "write a date (2026-12-01: access through the end of that day, UTC) or an RFC 3339 "
    "timestamp with an explicit offset (2026-12-01T18:00:00+01:00 or 2026-12-01T17:00:00Z)"
)


# RFC 3339 section 5.6: full-date, or full-date "T" (or a space) partial-time, with
# an optional offset here so that a missing one gets its own message below.
# Seconds are optional here too: a time without them and without an offset gets the
# "no UTC offset" message (with the fix written in full), one with an offset the
# message below.
# Hours 00-23, minutes 00-59, seconds 00-60 (a leap second, refused below with its
# own message) and offsets of at most 23:59, as RFC 3339 writes them: Python would
# read "+00:60" as +01:00.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ](?:[01]\d|2[0-3]):[0-5]\d"
    r"(?P<seconds>:(?:[0-5]\d|60)(?:\.\d+)?)?"
    r"(?P<offset>Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?",
    re.ASCII,
)


def parse_expires(value: Any) -> date:
    """An ``expires`` value: a date, or a timestamp that carries its UTC offset.

    YAML gives a date object for ``2026-12-01`` and (via the manifest reader) the text
    of a timestamp. Raises ValueError, with the fix, for anything else, in particular
    for a timestamp without an offset, whose instant depends on the reader's clock.
    """
    if value is None:
        raise ValueError(
            "expected a date or a timestamp, found nothing (null); fill in a value, or "
            "remove the key for access that does not expire"
        )
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, date):
        return value
    elif isinstance(value, str):
        text = value.strip().upper()  # RFC 3339 allows a lowercase "t" and "z"
    else:
        raise ValueError(f"expected a date or a timestamp; {_EXPIRES_FIX}")
    form = _RFC3339.fullmatch(text)
    if form is None:
        # Python also reads ISO 8601 forms RFC 3339 leaves out (2026-W49-2, 20261201,
        # +0100, an hour alone): a reviewer may not read them as the parser does.
        raise ValueError(f"{text!r} is not a date or a timestamp; {_EXPIRES_FIX}")
    if form["seconds"] and form["seconds"].startswith(":60"):
        start, end = form.span("seconds")
        raise ValueError(
            f"timestamp {text!r} is a leap second, which has no instant of its own here; "
            f"write {text[:start]}:59{text[end:]}"
        )
    if form["offset"] and not form["seconds"]:
        whole = f"{text[:16]}:00{text[16:]}".replace(" ", "T")
        raise ValueError(
            f"timestamp {text!r} has no seconds, which RFC 3339 requires; write {whole}"
        )
    try:
        parsed = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date or a timestamp; {_EXPIRES_FIX}") from None
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        fixed = parsed.isoformat()
        raise ValueError(
            f"timestamp {text!r} has no UTC offset, so its instant is ambiguous; write it "
            f"with one, like {fixed}Z (UTC) or {fixed}+01:00, or write the date "
            f"{parsed.date().isoformat()} for access through the end of that day, UTC"
        )
    if isinstance(parsed, datetime):
        try:
            parsed.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
            raise ValueError(
                f"timestamp {text!r} is outside the years 0001 to 9999 once converted to "
                "UTC; write an instant from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
            ) from None
    return parsed


_EXPIRES_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time", "pattern": r"(Z|z|[+-]([01]\d|2[0-3]):[0-5]\d)$"},
    ],
    "examples": ["2026-12-01", "2026-12-01T18:00:00+01:00"],
}

# A date (last day of access, UTC) or an aware datetime; mypy sees ``date`` (a
# datetime is one), and every comparison goes through ``is_expired``/``expiry_instant``.
# ``None`` only as the default of a key left out: an explicit ``expires:`` with nothing
# after it (or ``null``) reaches ``parse_expires`` and is refused, since it would
# silently mean "access never ends" (a date left to fill in, an empty template value).
Expires = Annotated[
    date | None,
    PlainValidator(parse_expires),
    PlainSerializer(show_expiry, return_type=str, when_used="unless-none"),
    WithJsonSchema(_EXPIRES_SCHEMA),
]


def check_lookalike(value: str) -> str:
    """A ``policy.lookalike_users`` entry must be a look-alike live userName, written exactly."""
    if lookalike_reason(value) is None:
        raise ValueError(
            f"{value!r} is a plain address, not a look-alike; list real users under users:, "
            "and only look-alike userNames (as shown escaped by plan or doctor) here"
        )
    return value


def _email_problem(value: str) -> str:
    # A tab or line break around an address is not a look-alike live (it is renamed in
    # place), but no manifest address may hold one: named as before, by its position.
    hidden = lookalike_reason(value) or hidden_character(value)
    if hidden is not None:
        return (
            f"{_shown(value)} is not a valid email address: it contains a look-alike "
            f"character ({hidden}); retype the address in plain ASCII"
        )
    if value != value.strip():
        return (
            f"{value!r} is not a valid email address: it has leading or trailing "
            "whitespace; remove the spaces"
        )
    return f"{value!r} is not a valid email address; write it as name@domain"


def _shown(value: str) -> str:
    """``repr`` that also escapes format characters (repr keeps some visible-less ones)."""
    return "'" + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in value) + "'"


Email = Annotated[
    str,
    AfterValidator(check_email),
    WithJsonSchema({"type": "string", "pattern": EMAIL_PATTERN, "examples": ["ada@acme.io"]}),
]
Domain = Annotated[
    NonEmpty, WithJsonSchema({"type": "string", "pattern": DOMAIN_PATTERN, "examples": ["acme.io"]})
]
LookalikeName = Annotated[str, AfterValidator(check_lookalike)]


def check_team_name(value: str) -> str:
    """A team name a reviewer can read: no invisible, bidi-control or control character.

    Such a name prints like another ("E\u200bng" reads as "Eng"), so a PR could add
    someone to a team that only looks like the one reviewed. Letters of any script
    stay allowed (team names are labels, not logins).
    """
    hidden = hidden_character(value)
    if hidden is not None:
        raise ValueError(
            f"team name {_shown(value)} contains {with_article(hidden)}, which prints as "
            "nothing or reorders the text, so reviewers cannot see it; remove it (if the live team "
            f"has it too, rename the team in {PRODUCT} first)"
        )
    return value


TeamName = Annotated[NonEmpty, AfterValidator(check_team_name)]
Count = Annotated[StrictInt, Field(ge=0)]
Percent = Annotated[float, Field(strict=True, ge=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


def _not_null(value: Any) -> Any:
    """An empty ``key:`` in YAML is null; for these keys that is ambiguous, so refuse it."""
    if value is None:
        raise ValueError("is empty; fill it in or remove the key")
    return value


def _schema_without_null(schema: dict[str, Any]) -> None:
    """``None`` is only the Python default of these fields, never a value a file may hold."""
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    schema.pop("default", None)


class UnmanagedUsers(StrEnum):
    """What to do with live users in claimed domains that the manifest does not list."""

    IGNORE = "ignore"
    REPORT = "report"
    DEACTIVATE = "deactivate"


class Deprovision(StrEnum):
    """How a user loses access. DELETE is irreversible in Mixpanel, so it is opt-in."""

    DEACTIVATE = "deactivate"
    DELETE = "delete"


class Organization(_Strict):
    """The Mixpanel organization: only users in claimed domains are ever touched."""

    claimed_domains: tuple[Domain, ...] = Field(
        min_length=1,
        description=f"Email domains claimed in {PRODUCT}; users outside them are never touched.",
    )

    @field_validator("claimed_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        lowered = tuple(d.lower() for d in value)
        for domain in lowered:
            if not _DOMAIN.fullmatch(domain):  # as for emails: no trailing newline
                raise ValueError(f"{domain!r} is not a domain name; write it like acme.io")
        return lowered


class Policy(_Strict):
    """Safety settings. Defaults are the safe choice for a first run."""

    unmanaged_users: UnmanagedUsers = Field(
        default=UnmanagedUsers.REPORT,
        description="Live users in claimed domains that no manifest lists.",
    )
    deprovision: Deprovision = Field(
        default=Deprovision.DEACTIVATE,
        description=f"How a user loses access; delete is irreversible in {PRODUCT}.",
    )
    max_deprovision: Count = 10
    max_deprovision_percent: Percent = 10.0
    max_membership_removals: Count = 50
    max_membership_removals_percent: Percent = 25.0
    max_teams_emptied: Count = 1
    expiry_warning_days: Count = 14
    protected: tuple[Email, ...] = Field(
        default=(), description="Accounts that are never deactivated or deleted."
    )
    lookalike_users: tuple[LookalikeName, ...] = Field(
        default=(),
        description=(
            "Live look-alike userNames (invisible, bidi, confusable characters), written "
            'exactly, with YAML escapes (e.g. "ada\\u200b@acme.io"), that unmanaged_users '
            "and team membership may change like any other account; others are never changed."
        ),
    )


class Entry:
    """Base of ``User`` and ``Member``: slotted, frozen pydantic dataclasses, not models.

    A manifest holds one of these per user and per membership (100k users: ~145k), so
    their size is most of a loaded manifest. A ``BaseModel`` instance keeps its fields
    in a ``__dict__`` plus a ``__pydantic_fields_set__`` set (~570 bytes for a user);
    a slotted dataclass keeps them in slots (~100 bytes). Validation, the messages
    (``explain`` maps the dataclass error types to the model ones), serialization and
    the JSON Schema are pydantic's, the same as a model's. The part of the model API
    that callers use is here: ``model_validate``, ``model_fields``, ``model_dump``,
    ``model_copy``, ``model_json_schema``.

    ``key`` (a slot, not a field: never validated, dumped or in the schema) is the match
    key, set once when the entry is built: SCIM userName is case-insensitive
    (caseExact=false), ASCII only. It is the email's own string when they are equal
    (the usual case): one string, not two.
    """

    __slots__ = ("key",)
    key: str
    email: str
    model_fields: ClassVar[dict[str, FieldInfo]]
    __pydantic_validator__: ClassVar[SchemaValidator]
    __pydantic_serializer__: ClassVar[SchemaSerializer]

    def __post_init__(self) -> None:
        key = match_key(self.email)
        _set_key(self, self.email if key == self.email else key)

    @classmethod
    def model_validate(cls, obj: Any) -> Self:
        """Validate ``obj`` (a mapping); raises pydantic's ValidationError as a model does."""
        entry: Self = cls.__pydantic_validator__.validate_python(obj)
        return entry

    def model_dump(self, *, mode: Literal["json", "python"] = "python", **options: Any) -> Any:
        """The fields as a dict (``mode="json"``: JSON values), as ``BaseModel.model_dump``.

        ``options``: pydantic's serializer options (``include``, ``exclude``, ...).
        """
        return self.__pydantic_serializer__.to_python(self, mode=mode, **options)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Self:
        """A copy with ``update`` applied, validated again (a model's copy is not)."""
        return self.model_validate({**self.model_dump(), **(update or {})})

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of one entry, as ``BaseModel.model_json_schema``."""
        return TypeAdapter(cls).json_schema()

    def __reduce__(self) -> tuple[Any, ...]:
        """Copied and pickled by field values; ``key`` is computed again."""
        return (_rebuild, (type(self), tuple(getattr(self, name) for name in self.model_fields)))


_E = TypeVar("_E", bound=Entry)


def _rebuild(kind: type[_E], values: tuple[Any, ...]) -> _E:
    entry = object.__new__(kind)
    for name, value in zip(kind.model_fields, values, strict=True):
        object.__setattr__(entry, name, value)
    entry.__post_init__()
    return entry


_set_key = vars(Entry)["key"].__set__  # the slot's own setter: the dataclasses are frozen
_ENTRY = ConfigDict(extra="forbid", strict=False)


# ``kw_only=True`` on every ``Field(...)`` too: pydantic lists keyword-only fields after
# the others, and the JSON Schema must keep the fields in the order written here.
@pydantic_dataclass(frozen=True, slots=True, kw_only=True, config=_ENTRY)
class User(Entry):
    """A person who should exist in the org. ``email`` is the SCIM ``userName``."""

    email: Email = Field(
        kw_only=True, description=f"The {PRODUCT} login (SCIM userName); case-insensitive."
    )
    given_name: NonEmpty
    family_name: NonEmpty
    display_name: NonEmpty | None = Field(
        kw_only=True, default=None, description="Omit to leave it unmanaged."
    )
    active: StrictBool = Field(
        kw_only=True, default=True, description="false deprovisions the user."
    )
    expires: Expires = Field(
        kw_only=True,
        default=None,
        description="Last day of access (YYYY-MM-DD, through its end UTC) or an RFC 3339 "
        "timestamp with offset; deprovisioned after it.",
    )
    previous_emails: tuple[Email, ...] = Field(
        kw_only=True,
        default=(),
        description="Former addresses, so an email change is a rename, not a new user.",
    )


@pydantic_dataclass(frozen=True, slots=True, kw_only=True, config=_ENTRY)
class Member(Entry):
    """A team membership; ``expires`` makes it time-bound."""

    email: Email
    expires: Expires = Field(
        kw_only=True,
        default=None,
        description="Last day of this membership (a date, through its end UTC) or an RFC 3339 "
        "timestamp with offset.",
    )


User.model_fields = vars(User)["__pydantic_fields__"]
Member.model_fields = vars(Member)["__pydantic_fields__"]


def _member_from_email(value: Any) -> Any:
    """A plain email is shorthand for ``{email: ...}``; one model downstream, one error path."""
    return {"email": value} if isinstance(value, str) else value


MemberEntry = Annotated[
    Member, BeforeValidator(_member_from_email, json_schema_input_type=Email | Member)
]


class Team(_Strict):
    """A SCIM Group (a Mixpanel Team). ``members`` omitted means membership is not managed."""

    name: TeamName = Field(description=f"The {PRODUCT} team name (exact, case-sensitive).")
    previous_names: tuple[TeamName, ...] = Field(
        default=(), description="Former names, so a rename keeps the team and its members."
    )
    members: tuple[MemberEntry, ...] | None = Field(
        default=None,
        description="Authoritative member list; omit the key to leave membership unmanaged.",
        json_schema_extra=_schema_without_null,
    )

    @field_validator("members", mode="before")
    @classmethod
    def _members_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(
                "is empty; write 'members: []' to remove everyone, "
                "or delete the key to leave membership unmanaged"
            )
        return value

    @property
    def member_list(self) -> tuple[Member, ...]:
        """Members as models; empty when membership is not managed."""
        return self.members or ()


class ManifestFile(_Strict):
    """One manifest file. A folder of them is merged into one Manifest.

    ``users`` and ``teams`` are concatenated across files; ``organization`` and
    ``policy`` may appear in one file only. Every file says ``version: 1`` so it is
    self-describing and validates on its own in an editor.
    """

    version: Literal[1] = Field(description="Manifest schema version; must be 1.")
    organization: Organization | None = Field(default=None, json_schema_extra=_schema_without_null)
    policy: Policy | None = Field(default=None, json_schema_extra=_schema_without_null)
    users: tuple[User, ...] = ()
    teams: tuple[Team, ...] = ()

    _sections_not_null = field_validator("organization", "policy", mode="before")(_not_null)


class Manifest(_Strict):
    """The whole desired state of one Mixpanel organization."""

    version: Literal[1]
    organization: Organization
    policy: Policy = Policy()
    users: tuple[User, ...] = ()
    teams: tuple[Team, ...] = ()
