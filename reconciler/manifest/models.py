"""Schema v1 of the manifest as frozen pydantic models.

Unknown keys are rejected (``extra="forbid"``) so a typo never silently means "not
managed". An omitted optional field means "not managed" (``None``), never "empty".
Org roles and project access are not settable over Mixpanel's SCIM API, so the
schema deliberately has no place for them.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

SUPPORTED_VERSIONS = (1,)

# Deliberately simple: SCIM userName in Mixpanel is an email address; we refuse
# obvious mistakes (spaces, missing @, missing dot in the domain) without
# pretending to implement RFC 5322.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


def check_email(value: str) -> str:
    """Reject values that cannot be a Mixpanel login; keep the author's spelling."""
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not a valid email address; write it as name@domain")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


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

    claimed_domains: tuple[NonEmpty, ...] = Field(min_length=1)

    @field_validator("claimed_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        lowered = tuple(d.lower() for d in value)
        for domain in lowered:
            if not _DOMAIN.match(domain):
                raise ValueError(f"{domain!r} is not a domain name; write it like acme.io")
        return lowered


class Policy(_Strict):
    """Safety settings. Defaults are the safe choice for a first run."""

    unmanaged_users: UnmanagedUsers = UnmanagedUsers.REPORT
    deprovision: Deprovision = Deprovision.DEACTIVATE
    max_deprovision: int = Field(default=10, ge=0)
    max_deprovision_percent: float = Field(default=10.0, ge=0, le=100)
    max_membership_removals: int = Field(default=50, ge=0)
    max_membership_removals_percent: float = Field(default=25.0, ge=0, le=100)
    max_teams_emptied: int = Field(default=1, ge=0)
    expiry_warning_days: int = Field(default=14, ge=0)
    protected: tuple[str, ...] = ()

    @field_validator("protected")
    @classmethod
    def _protected(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_email(v) for v in value)


class User(_Strict):
    """A person who should exist in the org. ``email`` is the SCIM ``userName``."""

    email: str
    given_name: NonEmpty
    family_name: NonEmpty
    display_name: NonEmpty | None = None
    active: bool = True
    expires: date | None = None
    previous_emails: tuple[str, ...] = ()

    _email = field_validator("email")(check_email)

    @field_validator("previous_emails")
    @classmethod
    def _previous(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_email(v) for v in value)

    @property
    def key(self) -> str:
        """Match key: SCIM userName is case-insensitive (caseExact=false)."""
        return self.email.lower()


class Member(_Strict):
    """A team membership; ``expires`` makes it time-bound."""

    email: str
    expires: date | None = None

    _email = field_validator("email")(check_email)

    @property
    def key(self) -> str:
        return self.email.lower()


class Team(_Strict):
    """A SCIM Group (a Mixpanel Team). ``members`` omitted means membership is not managed."""

    name: NonEmpty
    previous_names: tuple[NonEmpty, ...] = ()
    members: tuple[Member | str, ...] | None = None

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[Member | str, ...] | None) -> tuple[Member, ...] | None:
        if value is None:
            return None
        return tuple(Member(email=m) if isinstance(m, str) else m for m in value)

    @property
    def member_list(self) -> tuple[Member, ...]:
        """Members as models (the validator has already turned plain emails into Members)."""
        return tuple(m for m in (self.members or ()) if isinstance(m, Member))


class Manifest(_Strict):
    """The whole desired state of one Mixpanel organization."""

    version: Literal[1]
    organization: Organization
    policy: Policy = Policy()
    users: tuple[User, ...] = ()
    teams: tuple[Team, ...] = ()
