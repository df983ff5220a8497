"""The closed set of operation kinds, and one spec per kind that says everything about it.

In the manner of octodns's change classes: each kind declares, side by side, its
execution phase, the summary bucket it counts in, whether it deprovisions, changes
membership or only revokes access, how the text and Markdown plans word it, how a
saved plan checks whether it already holds live (the staleness rule), the name of
the executor method that performs it, and the blast-radius guard that counts it.
Every table elsewhere is derived from ``SPECS``, and ``tests/core/test_kind_specs.py``
fails when a kind lacks any part.

Pure data: no I/O, no imports from the rest of the package; it must not grow logic
beyond reading the specs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal


class OpKind(StrEnum):
    """The closed set of operations; the declaration order is the execution order."""

    REMOVE_MEMBERS = "remove_members"
    DEACTIVATE_USER = "deactivate_user"
    DELETE_USER = "delete_user"
    CREATE_USER = "create_user"
    REACTIVATE_USER = "reactivate_user"
    PATCH_USER = "patch_user"
    CREATE_GROUP = "create_group"
    RENAME_GROUP = "rename_group"
    ADD_MEMBERS = "add_members"

    @property
    def spec(self) -> KindSpec:
        """This kind's spec (``SPECS[self]``)."""
        return SPECS[self]

    @property
    def revokes(self) -> bool:
        """Does this kind only ever remove access (membership removals, deprovisions)?

        ``apply --revoke-only`` runs these kinds and holds every other kind back for a
        reviewed merge; the flag lives in the kind's spec and nowhere else.
        """
        return SPECS[self].revokes


class Staleness(StrEnum):
    """How a saved plan tells that an operation's effect already holds live.

    ``reconciler.staleness`` implements one check per rule; a kind names its rule.
    The rules read the kind's ``subject``, so ``GONE`` serves a user or a team: a new
    kind reuses a rule rather than adding one.
    """

    USER_CREATED = "user_created"  # a user with this userName exists with the plan's values
    GONE = "gone"  # neither the SCIM id nor the key (userName or team name) exists any more
    USER_ATTRIBUTES = "user_attributes"  # the user (by SCIM id) has the plan's values
    GROUP_EXISTS = "group_exists"  # the team exists
    GROUP_NAMED = "group_named"  # the team (by SCIM id) carries the plan's name
    MEMBERS_PRESENT = "members_present"  # every member is in the team
    MEMBERS_ABSENT = "members_absent"  # no member is in the team any more


Guard = Literal["deprovision", "membership_removals", "teams_emptied"]
Bucket = Literal["create", "change", "deactivate", "delete", "members_added", "members_removed"]
Colour = Literal["red", "green", "yellow"]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """Everything the rest of the tool needs to know about one operation kind.

    - ``phase``: execution phase; revoke first (1), grant last; same phase, no order.
    - ``bucket``: the ``plan.Summary`` field it counts in (membership kinds count members).
    - ``subject``: "user" or "team" (what ``Operation.key`` names).
    - ``deprovision`` / ``membership`` / ``revokes``: the flags the guards, the
      executor and ``apply --revoke-only`` read.
    - ``symbol``, ``colour``, ``text_verb``: the text plan's headline.
    - ``held_back``: how a held-back grant is counted ("user to create"); None for
      kinds that revoke (they are never held back).
    - ``markdown_verb``: the Markdown plan's verb.
    - ``done``: how the operation reads once it already holds live ("already created").
    - ``staleness``: the rule that tells that it already holds.
    - ``handler``: the name of the executor method that performs it.
    - ``guard``: the blast-radius guard (``reconciler.guards``) that counts it, which a
      kind that revokes must name: ``deprovision`` (each op one user),
      ``membership_removals`` (each member) or ``teams_emptied`` (a team that has members
      and loses them all); None for a grant.
    """

    phase: int
    bucket: Bucket
    subject: Literal["user", "team"]
    deprovision: bool
    membership: bool
    revokes: bool
    symbol: Literal["+", "-", "~"]
    colour: Colour
    text_verb: str
    held_back: str | None
    markdown_verb: str
    done: str
    staleness: Staleness
    handler: str
    guard: Guard | None = None


SPECS: MappingProxyType[OpKind, KindSpec] = MappingProxyType(
    {
        OpKind.REMOVE_MEMBERS: KindSpec(
            phase=1,
            bucket="members_removed",
            subject="team",
            deprovision=False,
            membership=True,
            revokes=True,
            symbol="-",
            colour="red",
            text_verb="remove members",
            held_back=None,
            markdown_verb="remove members",
            done="members already removed",
            staleness=Staleness.MEMBERS_ABSENT,
            handler="_remove_members",
            guard="membership_removals",
        ),
        OpKind.DEACTIVATE_USER: KindSpec(
            phase=2,
            bucket="deactivate",
            subject="user",
            deprovision=True,
            membership=False,
            revokes=True,
            symbol="-",
            colour="red",
            text_verb="will be deactivated",
            held_back=None,
            markdown_verb="deactivate",
            done="already deactivated",
            staleness=Staleness.USER_ATTRIBUTES,
            handler="_deactivate_user",
            guard="deprovision",
        ),
        OpKind.DELETE_USER: KindSpec(
            phase=2,
            bucket="delete",
            subject="user",
            deprovision=True,
            membership=False,
            revokes=True,
            symbol="-",
            colour="red",
            text_verb="will be DELETED (irreversible)",
            held_back=None,
            markdown_verb="**delete** (irreversible)",
            done="already deleted",
            staleness=Staleness.GONE,
            handler="_delete",
            guard="deprovision",
        ),
        OpKind.CREATE_USER: KindSpec(
            phase=3,
            bucket="create",
            subject="user",
            deprovision=False,
            membership=False,
            revokes=False,
            symbol="+",
            colour="green",
            text_verb="will be created",
            held_back="user to create",
            markdown_verb="create",
            done="already created",
            staleness=Staleness.USER_CREATED,
            handler="_create_user",
        ),
        OpKind.REACTIVATE_USER: KindSpec(
            phase=3,
            bucket="change",
            subject="user",
            deprovision=False,
            membership=False,
            revokes=False,
            symbol="~",
            colour="yellow",
            text_verb="will be reactivated",
            held_back="user to reactivate",
            markdown_verb="reactivate",
            done="already reactivated",
            staleness=Staleness.USER_ATTRIBUTES,
            handler="_patch_user",
        ),
        OpKind.PATCH_USER: KindSpec(
            phase=4,
            bucket="change",
            subject="user",
            deprovision=False,
            membership=False,
            revokes=False,
            symbol="~",
            colour="yellow",
            text_verb="will be updated",
            held_back="user to update",
            markdown_verb="update",
            done="already updated",
            staleness=Staleness.USER_ATTRIBUTES,
            handler="_patch_user",
        ),
        OpKind.CREATE_GROUP: KindSpec(
            phase=5,
            bucket="create",
            subject="team",
            deprovision=False,
            membership=False,
            revokes=False,
            symbol="+",
            colour="green",
            text_verb="will be created",
            held_back="team to create",
            markdown_verb="create",
            done="already created",
            staleness=Staleness.GROUP_EXISTS,
            handler="_create_group",
        ),
        OpKind.RENAME_GROUP: KindSpec(
            phase=5,
            bucket="change",
            subject="team",
            deprovision=False,
            membership=False,
            revokes=False,
            symbol="~",
            colour="yellow",
            text_verb="will be renamed",
            held_back="team to rename",
            markdown_verb="rename",
            done="already renamed",
            staleness=Staleness.GROUP_NAMED,
            handler="_rename_group",
        ),
        OpKind.ADD_MEMBERS: KindSpec(
            phase=6,
            bucket="members_added",
            subject="team",
            deprovision=False,
            membership=True,
            revokes=False,
            symbol="+",
            colour="green",
            text_verb="add members",
            held_back="member to add",
            markdown_verb="add members",
            done="members already added",
            staleness=Staleness.MEMBERS_PRESENT,
            handler="_add_members",
        ),
    }
)

# Derived views, kept for the callers that test membership of a set.
PHASE: MappingProxyType[OpKind, int] = MappingProxyType({k: s.phase for k, s in SPECS.items()})
REVOKING = frozenset(k for k, s in SPECS.items() if s.revokes)
USER_OPS = frozenset(k for k, s in SPECS.items() if s.subject == "user")
MEMBERSHIP_OPS = frozenset(k for k, s in SPECS.items() if s.membership)
DEPROVISION_OPS = frozenset(k for k, s in SPECS.items() if s.deprovision)
