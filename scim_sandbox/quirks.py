"""Quirk modes: the sandbox misbehaving the way real SCIM servers are reported to.

Faults (``faults.py``) are random and about the wire; quirks are deterministic and
about what the server *says*: a listing that is capped or lies about its total,
inactive users hidden from listings, team member lists cut short or left out. They
let the reconciler's fail-closed rules be rehearsed end to end (``make test`` runs
every mode), and let users rehearse their own server's behaviour:

    reconciler sandbox --quirk list_cap=3 --quirk lying_total
    reconciler sandbox --quirk forbid-user=boss@acme.io --quirk ignore-writes=zed@acme.io
    Sandbox(token=..., quirks=Quirks(list_cap=3, lying_total=True))

One frozen value holds every mode, read modes and write modes alike, so a mode is
added in one place: a field, its validation, its ``--quirk`` name in ``_SPECS``, and
the code that applies it (a helper here, called from ``api.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from scim_sandbox.resources import encode

ALL = "*"
DEFAULT_FORBIDDEN_DETAIL = "the organization owner cannot be deactivated"


@dataclass(frozen=True)
class Quirks:
    """How the sandbox deviates from an honest server; the default deviates not at all.

    Listing modes (``GET /Users`` and ``GET /Groups`` without a filter):

    - ``list_cap``: at most this many resources per answer, always the first ones
      (``startIndex`` is ignored), as servers that cap listings do.
    - ``lying_total``: ``totalResults`` is the length of the page, so a capped
      listing looks complete.
    - ``hide_inactive``: inactive users are left out of the listing, while a
      ``filter=userName eq "..."`` lookup and ``GET /Users/{id}`` still find them,
      and teams still list them as members.

    Membership modes (``GET /Groups/{id}`` and group listings that include members):

    - ``members_cut``: a team's ``members`` holds only its first N members.
    - ``members_omitted``: the ``members`` attribute is left out entirely.
    - ``members_not_list``: ``members`` is an empty JSON object (``{}``) instead of a
      list, as servers that serialise an empty collection as an object do.
    - ``list_members_cut`` / ``list_members_omitted``: the same, in group listings
      only; ``GET /Groups/{id}`` answers the whole list, as servers that shorten
      list answers (and only those) do.

    - ``member_ids_case``: members' ``value`` is the user's id upper-cased, and
      ``GET /Users/{id}`` matches ids ignoring case (as servers whose ids are GUIDs
      compared case-insensitively do), so a member id names a user only loosely.

    Users' ``groups`` attribute stays truthful in every other mode: it is the second
    source a client can cross-check member lists against. ``groups_omitted`` leaves
    it out of every User read (``GET``), as servers that do not fill it do.
    - ``groups_by_name``: each entry of a user's ``groups`` names the team by its
      displayName in ``value`` (not its id), as servers that mix up the two do.

    - ``active_omitted``: users' ``active`` is left out of every User answer (reads,
      listings and write answers), as servers that do not show it do; a PATCH or PUT
      of ``active`` is still applied.

    Read-by-id modes:

    - ``stale_reads``: after a write to a user or team, its next N reads by id
      (``GET /Users/{id}``, ``GET /Groups/{id}``) answer as before that write: 404
      for one just created, the old values for one patched, the resource still there
      for one deleted; as eventually consistent servers (a replica behind the
      writer) do. ``--quirk stale-reads=N``.

    - ``read_returns_other``: keys (userName or team name) whose ``GET /Users/{id}``
      (``GET /Groups/{id}``), once that user or team was written to, answers 200
      with another resource of the same type, as a stale cache or a routing bug
      would (so the read before apply is honest and the read-back is not);
      ``--quirk read-returns-other=EMAIL``.

    Write modes (what a write answer can claim that is not so):

    - ``forbid_user`` / ``forbid_team``: (key, detail) pairs; every write to that one
      user (lowercased userName) or team (exact name), POST, PUT, PATCH or DELETE,
      gets HTTP 403 with the detail, like an owner that cannot be deactivated.
      ``--quirk forbid-user=EMAIL[:DETAIL]``; other resources are unaffected.
    - ``conflict_without_scimtype``: every 409 leaves out ``scimType``, so a taken
      userName cannot be told from an account outside the organization.
    - ``patch_returns_other``: a PATCH is applied, but its 200 answer carries another
      resource of the same type.
    - ``post_returns_existing``: a POST for a userName (or team name) that exists
      answers 200 with the existing resource instead of 409, as servers with
      "upsert" semantics do.
    - ``post_answers_other_id``: a POST creates the resource, but its 201 answer
      carries the ``id`` of another, existing resource of the same type (the name
      sent is kept), as a server that reports the wrong record's id would.
    - ``add_replaces_members``: a team PATCH whose ``add`` names ``members`` replaces
      the whole member list with the members added (servers have been seen to treat
      ``add`` as ``replace``): the members nobody asked to remove are dropped.
    - ``creates_inactive``: a POST /Users makes the user inactive whatever it sends
      (and its 201 says so), as servers that hold new accounts until activated do.
    - ``html_write_answers``: every POST, PUT, PATCH and DELETE is applied, then its success
      answer is an HTML page (``text/html``, the 201/200 status kept, a 204 made 200),
      as servers behind a proxy or a web framework's default view answer.
    - ``ignore_writes``: keys (userName or team name) whose writes answer success
      without doing anything (POST invents an id that does not exist; PATCH, PUT and
      DELETE answer 204); ``"*"`` (``--quirk ignore-writes`` without a value) for all.
    """

    list_cap: int | None = None
    lying_total: bool = False
    hide_inactive: bool = False
    members_cut: int | None = None
    members_omitted: bool = False
    members_not_list: bool = False
    list_members_cut: int | None = None
    list_members_omitted: bool = False
    groups_omitted: bool = False
    groups_by_name: bool = False
    forbid_user: tuple[tuple[str, str], ...] = ()
    forbid_team: tuple[tuple[str, str], ...] = ()
    conflict_without_scimtype: bool = False
    patch_returns_other: bool = False
    add_replaces_members: bool = False
    post_returns_existing: bool = False
    post_answers_other_id: bool = False
    ignore_writes: tuple[str, ...] = ()
    html_write_answers: bool = False
    creates_inactive: bool = False
    member_ids_case: bool = False
    read_returns_other: tuple[str, ...] = ()
    active_omitted: bool = False
    stale_reads: int | None = None

    def __post_init__(self) -> None:
        for name in ("list_cap", "members_cut", "list_members_cut", "stale_reads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"quirk {name} must be a count of 0 or more, not {value!r}")
        if self.members_cut is not None and self.members_omitted:
            raise ValueError("quirks members_cut and members_omitted exclude each other")
        if self.list_members_cut is not None and self.list_members_omitted:
            raise ValueError("quirks list_members_cut and list_members_omitted exclude each other")

    @classmethod
    def from_specs(cls, specs: list[str]) -> Quirks:
        """Parse ``--quirk`` values: ``name`` for a switch, ``name=N`` for a count.

        Dashes and underscores are interchangeable. Raises ValueError naming the
        bad spec and the known names.
        """
        values: dict[str, Any] = {}
        for spec in specs:
            name, has_value, raw = spec.partition("=")
            key = name.strip().lower().replace("-", "_")
            if key not in _SPECS:
                known = ", ".join(sorted(_SPECS))
                raise ValueError(f"unknown quirk {name.strip()!r}; known quirks: {known}")
            if key in _TARGETS:
                values[key] = (*values.get(key, ()), _target(key, raw if has_value else None))
            else:
                values[key] = _value(key, raw.strip() if has_value else None)
        return cls(**values)

    def names(self) -> list[str]:
        """The active modes as ``--quirk`` specs, e.g. ``["list_cap=3", "lying_total"]``."""
        active: list[str] = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in _TARGETS:
                active.extend(_target_spec(item.name, target) for target in value)
            elif value is True:
                active.append(item.name)
            elif value is not None and value is not False:
                active.append(f"{item.name}={value}")
        return active

    # ---- listings ---------------------------------------------------------------------

    def listing_window(self, start_index: int, count: int, *, filtered: bool) -> tuple[int, int]:
        """The (startIndex, count) the server really serves for a list request."""
        if filtered or self.list_cap is None:
            return start_index, count
        return 1, min(count, self.list_cap)

    def listed_total(self, total: int, page_length: int, *, filtered: bool) -> int:
        """The ``totalResults`` the server reports for a page it serves."""
        return page_length if self.lying_total and not filtered else total

    # ---- member lists ---------------------------------------------------------------------

    @property
    def touches_members(self) -> bool:
        return (
            self.members_omitted
            or self.members_not_list
            or self.members_cut is not None
            or self.member_ids_case
        )

    def group_body(self, body: bytes, *, listing: bool = False) -> bytes:
        """An encoded Group as the quirky server returns it (members cut or left out).

        ``listing``: the Group is part of a list answer, where the ``list_members_*``
        modes apply too (first, before the modes that apply everywhere).
        """
        omitted = self.members_omitted or (listing and self.list_members_omitted)
        cuts = [self.members_cut, self.list_members_cut if listing else None]
        cut = min((c for c in cuts if c is not None), default=None)
        if not omitted and cut is None and not self.member_ids_case and not self.members_not_list:
            return body
        resource: dict[str, Any] = json.loads(body)
        if "members" not in resource:
            return body
        if omitted:
            del resource["members"]
        elif cut is not None:
            resource["members"] = resource["members"][:cut]
        if self.member_ids_case and "members" in resource:
            resource["members"] = [
                {**member, "value": str(member.get("value", "")).upper()}
                for member in resource["members"]
            ]
        if self.members_not_list and "members" in resource:
            resource["members"] = {}
        return encode(resource)

    def user_body(self, body: bytes) -> bytes:
        """An encoded User as the quirky server returns it (``groups`` left out or by
        name, ``active`` left out)."""
        if not self.groups_omitted and not self.groups_by_name and not self.active_omitted:
            return body
        resource: dict[str, Any] = json.loads(body)
        if self.active_omitted:
            resource.pop("active", None)
        if self.groups_omitted:
            resource.pop("groups", None)
        elif self.groups_by_name and isinstance(resource.get("groups"), list):
            resource["groups"] = [
                {**entry, "value": entry.get("display", entry.get("value"))}
                for entry in resource["groups"]
            ]
        return encode(resource)

    # ---- writes ---------------------------------------------------------------------------

    def forbidden(self, kind: str, key: str) -> str | None:
        """The 403 detail for a write to this user (``kind`` "Users") or team, else None."""
        pairs = self.forbid_user if kind == "Users" else self.forbid_team
        wanted = key.lower() if kind == "Users" else key
        return next((detail for target, detail in pairs if target == wanted), None)

    def ignores(self, kind: str, key: str) -> bool:
        """True when writes to this user or team are answered but not done."""
        wanted = key.lower() if kind == "Users" else key
        return ALL in self.ignore_writes or wanted in self.ignore_writes

    def reads_other(self, kind: str, key: str) -> bool:
        """True when a read by id of this user or team answers with another resource."""
        wanted = key.lower() if kind == "Users" else key
        return wanted in self.read_returns_other


# The ``--quirk`` names: True for switches, False for modes that take a count.
# ``_TARGETS`` take a userName or team name (repeatable); see ``_target``.
_SPECS: dict[str, bool] = {
    "list_cap": False,
    "lying_total": True,
    "hide_inactive": True,
    "members_cut": False,
    "members_omitted": True,
    "members_not_list": True,
    "list_members_cut": False,
    "list_members_omitted": True,
    "groups_omitted": True,
    "groups_by_name": True,
    "forbid_user": False,
    "forbid_team": False,
    "conflict_without_scimtype": True,
    "patch_returns_other": True,
    "add_replaces_members": True,
    "post_returns_existing": True,
    "post_answers_other_id": True,
    "ignore_writes": False,
    "html_write_answers": True,
    "creates_inactive": True,
    "member_ids_case": True,
    "read_returns_other": False,
    "active_omitted": True,
    "stale_reads": False,
}
_TARGETS = frozenset({"forbid_user", "forbid_team", "ignore_writes", "read_returns_other"})


def _target(key: str, raw: str | None) -> Any:
    """``forbid_*``: (key, detail) from ``KEY[:DETAIL]``; ``ignore_writes``: a key or "*"."""
    if key == "ignore_writes":
        value = (raw or "").strip() or ALL
        return value.lower() if "@" in value else value
    if key == "read_returns_other":
        value = (raw or "").strip()
        if not value:
            raise ValueError(f"quirk {key} needs a target: {key}=EMAIL or {key}=TEAM")
        return value.lower() if "@" in value else value
    name, _, detail = (raw or "").partition(":")
    if not name.strip():
        raise ValueError(f"quirk {key} needs a target: {key}=NAME[:DETAIL]")
    name = name.strip().lower() if key == "forbid_user" else name.strip()
    return (name, detail.strip() or DEFAULT_FORBIDDEN_DETAIL)


def _target_spec(key: str, target: Any) -> str:
    if key == "ignore_writes":
        return key if target == ALL else f"{key}={target}"
    if key == "read_returns_other":
        return f"{key}={target}"
    name, detail = target
    return f"{key}={name}:{detail}"


def _value(key: str, raw: str | None) -> bool | int:
    if _SPECS[key]:
        if raw is not None:
            raise ValueError(f"quirk {key} is a switch and takes no value (got {key}={raw})")
        return True
    if raw is None or not raw.isdigit():
        raise ValueError(f"quirk {key} needs a count: {key}=N (got {raw!r})")
    return int(raw)
