"""The one table of managed user attributes.

Each row names an attribute as the manifest spells it, as the plan and ``LiveUser``
spell it, and as SCIM addresses it (RFC 7643 §4.1), and says whether creating a
user and patching one carry it. The diff, the planner's live snapshot, the live
fingerprint, the SCIM request builders and response parser, the executor, the
verifier and the importer all read this table, so they cannot disagree about which
attributes are managed.

Pure data: no I/O and no imports from the rest of the package, so every layer
(``scim/`` included) may read it. It must not grow behaviour beyond describing rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal


@dataclass(frozen=True, slots=True)
class UserAttribute:
    """One managed attribute of a user.

    - ``name``: the plan's name, also the ``LiveUser`` field (``user_name``).
    - ``manifest``: the manifest ``User`` field it is read from (``email``); None for
      ``active``, which the diff decides from ``active`` and ``expires`` together.
    - ``scim_path``: the SCIM attribute path (``name.givenName``).
    - ``on_create`` / ``on_patch``: whether POST /Users and the PATCH carry it.
    - ``optional``: an omitted (None) manifest value means "not managed".
    - ``kind``: ``login`` (the userName: required, compared ignoring ASCII case, and
      mirrored as the primary work email), ``text`` (an optional string live; None
      unassigns it) or ``flag`` (a boolean, true when the server omits it).
    """

    name: str
    manifest: str | None
    scim_path: str
    on_create: bool = True
    on_patch: bool = True
    optional: bool = False
    kind: Literal["login", "text", "flag"] = "text"

    @property
    def case_insensitive(self) -> bool:
        """Values that differ only in ASCII case are equal (RFC 7643 caseExact=false)."""
        return self.kind == "login"

    @property
    def scim_key(self) -> str:
        """The last segment of the SCIM path (``givenName``), as in the fingerprint."""
        return self.scim_path.rpartition(".")[2]


USER_ATTRIBUTES: tuple[UserAttribute, ...] = (
    UserAttribute("user_name", "email", "userName", kind="login"),
    UserAttribute("given_name", "given_name", "name.givenName"),
    UserAttribute("family_name", "family_name", "name.familyName"),
    UserAttribute("display_name", "display_name", "displayName", optional=True),
    UserAttribute("active", None, "active", kind="flag"),
)
"""In the order the PATCH operations are emitted and the diff lists changes."""

BY_NAME: Mapping[str, UserAttribute] = MappingProxyType({a.name: a for a in USER_ATTRIBUTES})

# The attributes the manifest sets directly (every one but ``active``).
FROM_MANIFEST: tuple[UserAttribute, ...] = tuple(a for a in USER_ATTRIBUTES if a.manifest)

# The free-text attributes a person writes (names; not the email, not ``active``).
TEXT_NAMES: tuple[str, ...] = tuple(a.name for a in FROM_MANIFEST if a.kind == "text")

NAMES: tuple[str, ...] = tuple(a.name for a in USER_ATTRIBUTES)
