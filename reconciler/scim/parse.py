"""Pure checkers of SCIM answers: JSON in, domain values or typed errors out.

Tolerant where servers differ harmlessly (extra fields, absent optional fields,
numbers sent as strings, ``Resources`` left out of an empty list); strict where a
guess could make the planner act on a wrong picture (no id, no userName, no
displayName, members without a value): those raise ScimProtocolError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, fields
from sys import intern
from typing import Any

from reconciler.attributes import USER_ATTRIBUTES
from reconciler.identity import ascii_lower
from reconciler.livestate import LiveGroup, LiveUser
from reconciler.profile import PRODUCT
from reconciler.redact import redact
from reconciler.scim.errors import (
    ScimAuthError,
    ScimBadRequest,
    ScimConflict,
    ScimError,
    ScimForbidden,
    ScimNotFound,
    ScimPayloadTooLarge,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimUnsupportedError,
)

_DETAIL_LIMIT = 300  # an HTML error page must not flood the terminal


@dataclass(frozen=True)
class ListPage:
    """One page of a ListResponse (RFC 7644 §3.4.2); ``resources`` are raw dicts.

    ``start_index`` is None when the server left ``startIndex`` out (RFC 7644 §3.4.2
    requires it only on partial results; the reader then relies on its duplicate-id,
    empty-page and page-count checks, which catch a server that ignores paging).
    """

    total_results: int
    start_index: int | None
    items_per_page: int
    resources: tuple[dict[str, Any], ...]


# RFC 7643 §2.1: "Attribute names are case insensitive". The names this tool reads,
# in the spelling the parsers use, by their ASCII lower case: a server may legally
# send ``username``, ``Resources`` as ``resources``, ``TotalResults`` and so on.
_READ_NAMES = (
    "schemas", "id", "externalId", "meta", "userName", "name", "givenName", "familyName",
    "displayName", "active", "emails", "groups", "members", "value", "type", "display",
    "$ref", "primary", "Resources", "totalResults", "startIndex", "itemsPerPage",
    "scimType", "detail", "status", "patch", "bulk", "filter", "etag", "sort",
    "changePassword", "supported", "maxResults", "maxOperations", "maxPayloadSize",
)  # fmt: skip
_CANONICAL = {ascii_lower(name): name for name in _READ_NAMES}
# The read names whose values hold more read names (a list's resources, a user's name,
# members and groups, the ServiceProviderConfig's feature objects).
_NESTED = frozenset(
    {"Resources", "name", "members", "groups", "patch", "bulk", "filter", "etag", "sort"}
    | {"changePassword"}
)
# Keys that need no renaming: the canonical spellings of the core User and Group
# attributes (RFC 7643 §4) and of what servers commonly add. An object whose keys
# are all in here is used as it is (a set test: no cost worth naming on a big read).
_EXACT = frozenset(
    (
        *_READ_NAMES,
        *("nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale"),
        *("timezone", "password", "phoneNumbers", "ims", "photos", "addresses"),
        *("entitlements", "roles", "x509Certificates", "formatted", "middleName"),
        *("honorificPrefix", "honorificSuffix", "resourceType", "created", "lastModified"),
        *("location", "version"),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    )
)

# Whether every key of a dict is in _EXACT (a C-level set test, about 0.1 µs).
_canonical_only = _EXACT.issuperset


def canonical_names(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with every attribute name this tool reads in its canonical spelling.

    RFC 7643 §2.1 makes attribute names case-insensitive, so ``{"USERNAME": ...}`` is
    a User's ``userName``. Returns ``resource`` itself when the names at its top level
    and in ``name`` are already canonical (the entries of ``members`` and ``groups``
    are checked by the fast paths that read them, whose fallback renames them with
    ``_renamed_resource``); otherwise a renamed copy, nested objects included. Names
    this tool does not read are kept as sent. Raises ScimProtocolError when one
    object carries one name in two spellings (``userName`` and ``username``): which
    one the server means is unknown, and guessing could plan on the wrong value.
    """
    if _spelt_canonically(resource):
        return resource
    renamed = _renamed(resource, "")
    assert isinstance(renamed, dict)
    return renamed


def _renamed_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with every read name spelt canonically, entries of ``members`` and
    ``groups`` included (the parsers' slow paths); raises as ``canonical_names``."""
    renamed = _renamed(resource, "")
    assert isinstance(renamed, dict)
    return renamed


def _spelt_canonically(data: dict[str, Any]) -> bool:
    if not _canonical_only(data):
        return False
    name = data.get("name")
    # Entries of ``members`` and ``groups`` are checked where they are read (the fast
    # paths of parse_group and parse_user_groups send odd ones here): one pass each.
    return type(name) is not dict or _canonical_only(name)


def _renamed(value: object, where: str) -> object:
    """``value`` with the read names of every nested object spelt canonically."""
    if isinstance(value, list):
        return [_renamed(item, where) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    sent: dict[str, str] = {}
    for key, item in value.items():
        name = _CANONICAL.get(ascii_lower(key), key) if isinstance(key, str) else key
        if name in out:
            place = f" in {where!r}" if where else ""
            raise ScimProtocolError(
                f"the answer names the attribute {name!r} twice{place}, as "
                f"{_shorten(repr(sent[name]))} and {_shorten(repr(key))}; attribute names "
                "are case-insensitive (RFC 7643 §2.1), so which value the server means is "
                "unknown and nothing is planned on it: report it to the server's vendor"
            )
        sent[name] = key
        # Only objects whose names are read are renamed inside: a bounded depth (a list,
        # a resource, ``name`` or a member), whatever nesting the rest of the answer has.
        out[name] = _renamed(item, name) if name in _NESTED else item
    return out


def parse_list(body: object) -> ListPage:
    """Check a ListResponse; ``Resources`` may be absent (servers omit it when empty).

    Attribute names are matched case-insensitively (``resources``, ``TOTALRESULTS``;
    RFC 7643 §2.1), in the ListResponse and in each resource (``canonical_names``).
    """
    data = _object(body, "ListResponse")
    if not _canonical_only(data):
        data = _flat_renamed(data)
    raw = data.get("Resources", [])
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ScimProtocolError(
            f"ListResponse field 'Resources' is {type(raw).__name__}, not a list"
        )
    resources = tuple(canonical_names(_object(item, "ListResponse resource")) for item in raw)
    return ListPage(
        total_results=_integer(data, "totalResults", None),
        start_index=None if data.get("startIndex") is None else _integer(data, "startIndex", 1),
        items_per_page=_integer(data, "itemsPerPage", len(resources)),
        resources=resources,
    )


# (row, parent attribute or "", leaf attribute) of every managed attribute, split once.
_USER_FIELDS = tuple((a, *a.scim_path.rpartition(".")[::2]) for a in USER_ATTRIBUTES)


# Managed text attributes whose values repeat across users (interned when short).
_REPEATED = frozenset({"given_name", "family_name"})


def _sub(data: Mapping[str, Any], parent: str) -> Mapping[str, Any]:
    """The complex attribute ``parent`` (``name``); absent or null is an empty one.

    Any other type raises ScimProtocolError: read as absent, a ``"name": "Ann"`` would
    make every managed name look unset, and apply would overwrite what it cannot see.
    """
    value = data.get(parent)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    who = data.get("userName")
    raise ScimProtocolError(
        f"User {_shorten(repr(who))} field {parent!r} is {type(value).__name__}, not an object"
    )


# The fast path below spells out these rows of the attribute table (name, SCIM path,
# kind) and builds LiveUser by position; a row or a LiveUser field added, moved or
# changed turns it off (correct, slower) until it is spelled out here too.
_FAST_ROWS = (
    ("user_name", "userName", "login"),
    ("given_name", "name.givenName", "text"),
    ("family_name", "name.familyName", "text"),
    ("display_name", "displayName", "text"),
    ("active", "active", "flag"),
)
_TABLE_ROWS = tuple((a.name, a.scim_path, a.kind) for a in USER_ATTRIBUTES)
_FIELDS = tuple(f.name for f in fields(LiveUser) if f.init)
_FAST_FIELDS = ("id", *(row[0] for row in _FAST_ROWS))
_FAST = _TABLE_ROWS == _FAST_ROWS and _FIELDS == _FAST_FIELDS
_SHARED_LENGTH = 32  # given and family names up to this long are interned


def parse_user(resource: object) -> LiveUser:
    """A User resource as a LiveUser; ``active`` defaults to true when the server omits it.

    Raises ScimProtocolError naming the field (no id, no userName, a field of the
    wrong type) and ScimUnsupportedError for data a person must fix (a blank
    userName, an id that is a URL dot segment).
    """
    if _FAST and type(resource) is dict:
        user = _plain_user(resource)
        if user is not None:
            return user
    if type(resource) is dict:
        resource = _renamed_resource(resource)
    return _checked_user(resource)


def _plain_user(data: dict[str, Any]) -> LiveUser | None:
    """The usual User in one pass, or None for anything else (``_checked_user`` then
    decides, with its errors): the same value ``_checked_user`` makes, at a third of
    its cost, which at 100k users is most of the read's own work.

    Takes only what needs no conversion and no error: string id and userName that are
    not blank (the id no dot segment), ``name`` absent or an object, string or absent
    names, a JSON boolean or absent ``active``.
    """
    get = data.get
    user_id, login = get("id"), get("userName")
    if type(user_id) is not str or type(login) is not str:
        return None
    if not user_id.strip() or not login.strip() or user_id in DOT_SEGMENTS:
        return None
    name = get("name")
    if type(name) is dict:
        given, family = name.get("givenName"), name.get("familyName")
    elif name is None:
        given = family = None
    else:
        return None
    display, active = get("displayName"), get("active", True)
    if not (
        (given is None or type(given) is str)
        and (family is None or type(family) is str)
        and (display is None or type(display) is str)
        and (active is True or active is False)
    ):
        return None
    if given and len(given) <= _SHARED_LENGTH:
        given = intern(given)
    if family and len(family) <= _SHARED_LENGTH:
        family = intern(family)
    return LiveUser(intern(user_id), login, given, family, display, active)


def _checked_user(resource: object) -> LiveUser:
    """``parse_user`` by the attribute table, every field checked and converted."""
    data = _object(resource, "User")
    user_id = _required_text(data, "id", "User")
    values: dict[str, Any] = {"id": user_id}
    parents: dict[str, Mapping[str, Any]] = {}  # complex attributes, e.g. "name"
    for attribute, parent, leaf in _USER_FIELDS:  # the one table of managed attributes
        source: Mapping[str, Any] = data
        if parent:
            source = parents.get(parent) or parents.setdefault(parent, _sub(data, parent))
        if attribute.kind == "text":
            text = _optional_text(source, leaf)
            # Given and family names repeat across an org: one string each, shared.
            shared = (
                text is not None and attribute.name in _REPEATED and len(text) <= _SHARED_LENGTH
            )
            values[attribute.name] = intern(text) if shared and text else text
        elif attribute.kind == "login":
            login = _required_text(source, leaf, f"User {user_id!r}", named="user")
            values[attribute.name] = login
            values["id"] = intern(_usable_id(user_id, f"User {login!r}"))
        else:
            values[attribute.name] = _boolean(source, leaf, default=True)
    return LiveUser(**values)


def parse_user_groups(resource: object) -> frozenset[str] | None:
    """The group ids in a User's ``groups`` attribute (RFC 7643 §4.1.2), None when absent.

    A server that fills it offers a second source for team membership, which the
    reader cross-checks team member lists against.
    """
    if type(resource) is dict:
        plain = _plain_group_ids(resource.get("groups"))
        if plain is not None:
            return plain
        resource = _renamed_resource(resource)
    return _checked_user_groups(resource)


def _checked_user_groups(resource: object) -> frozenset[str] | None:
    """``parse_user_groups`` with every entry checked and converted."""
    data = _object(resource, "User")
    groups = data.get("groups")
    if groups is None:
        return None
    if not isinstance(groups, list):
        raise ScimProtocolError(f"User {data.get('userName')!r} field 'groups' is not a list")
    what = f"group of User {data.get('userName')!r}"
    # Interned: each team id is one string however many users name it.
    return frozenset(intern(_required_text(_object(g, what), "value", what)) for g in groups)


def _plain_group_ids(groups: object) -> frozenset[str] | None:
    """The usual ``groups`` (a list of objects with a non-blank string ``value``) in one
    pass, or None for anything else, absent included (``parse_user_groups`` decides)."""
    if type(groups) is not list:
        return None
    ids = []
    for group in groups:
        if type(group) is not dict or not _canonical_only(group):
            return None  # e.g. "VALUE": renamed, then checked, by the slow path
        value = group.get("value")
        if type(value) is not str or not value.strip():
            return None
        ids.append(intern(value))
    return frozenset(ids)


def parse_group(resource: object) -> LiveGroup:
    """A Group resource as a LiveGroup; ``members_listed`` says whether ``members`` was there.

    An absent (or null) ``members`` gives no member ids and ``members_listed=False``;
    ``"members": []`` is a team seen to be empty.

    A member typed ``Group`` raises ScimUnsupportedError: nested teams would make
    membership transitive, which the planner does not model, so it must not guess.
    """
    if type(resource) is dict:
        group = _plain_group(resource)
        if group is not None:
            return group
        resource = _renamed_resource(resource)
    return _checked_group(resource)


def _plain_group(data: dict[str, Any]) -> LiveGroup | None:
    """The usual Group in one pass, or None for anything else (``_checked_group`` then
    decides, with its errors): string id and displayName that are not blank (the id no
    dot segment), ``members`` absent or a list of objects each with a non-blank string
    ``value`` and a ``type`` that is absent or a string other than ``Group``."""
    get = data.get
    group_id, name, members = get("id"), get("displayName"), get("members")
    if type(group_id) is not str or type(name) is not str:
        return None
    if not group_id.strip() or not name.strip() or group_id in DOT_SEGMENTS:
        return None
    if members is not None and type(members) is not list:
        return None
    member_ids = []
    for member in members or ():
        if type(member) is not dict or not _canonical_only(member):
            return None  # e.g. "TYPE": renamed, then checked, by the slow path
        value, kind = member.get("value"), member.get("type")
        if type(value) is not str or not value.strip():
            return None
        if kind is not None and (type(kind) is not str or kind.lower() == "group"):
            return None
        member_ids.append(intern(value))  # shares the user's id string: less memory
    return LiveGroup(
        id=group_id,
        display_name=name,
        member_ids=frozenset(member_ids),
        members_listed=members is not None,
    )


def _checked_group(resource: object) -> LiveGroup:
    """``parse_group`` with every field and member checked and converted."""
    data = _object(resource, "Group")
    group_id = _required_text(data, "id", "Group")
    name = _required_text(data, "displayName", f"Group {group_id!r}", named="team")
    _usable_id(group_id, f"Group {name!r}")
    members = data.get("members")
    listed = members is not None
    if members is None:
        members = []
    elif not isinstance(members, list):  # {}, "", 0, false: not "seen to be empty"
        raise ScimProtocolError(f"Group {name!r} field 'members' is not a list")
    member_ids = []
    for raw in members:
        member = _object(raw, f"member of Group {name!r}")
        member_id = _required_text(member, "value", f"member of Group {name!r}")
        if str(member.get("type", "")).lower() == "group":
            raise ScimUnsupportedError(
                f"team {name!r} has the group {member_id!r} as a member; nested teams are not "
                f"supported: remove the nested group in {PRODUCT}"
            )
        member_ids.append(intern(member_id))  # shares the user's id string: less memory
    return LiveGroup(
        id=group_id, display_name=name, member_ids=frozenset(member_ids), members_listed=listed
    )


def _flat_renamed(data: dict[str, Any]) -> dict[str, Any]:
    """``data``'s own keys spelt canonically (values untouched); two spellings of one
    name raise ScimProtocolError as ``canonical_names`` does."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = _CANONICAL.get(ascii_lower(key), key)
        if name in out:
            raise ScimProtocolError(
                f"the answer names the attribute {name!r} twice (attribute names are "
                "case-insensitive, RFC 7643 §2.1), so which value the server means is "
                "unknown and nothing is planned on it: report it to the server's vendor"
            )
        out[name] = value
    return out


def canonical_document(body: object) -> dict[str, Any]:
    """A small document (ServiceProviderConfig) with every read name, at any depth,
    spelt canonically; raises ScimProtocolError when it is not a JSON object or names
    one attribute twice (as ``canonical_names`` does)."""
    renamed = _renamed(_object(body, "ServiceProviderConfig"), "")
    assert isinstance(renamed, dict)
    return renamed


_BY_STATUS: Mapping[int, type[ScimError]] = {
    400: ScimBadRequest,
    401: ScimAuthError,
    403: ScimForbidden,
    404: ScimNotFound,
    409: ScimConflict,
    413: ScimPayloadTooLarge,
    429: ScimRateLimited,
}


def parse_error(status: int, body: object, method: str, path: str) -> ScimError:
    """The typed error of a non-2xx answer (RFC 7644 §3.12), whatever its body holds."""
    scim_type: str | None = None
    detail = ""
    if isinstance(body, dict):
        # An error answer is read for its words only: with two spellings of one name,
        # the names are left as sent.
        with suppress(ScimProtocolError):
            body = _flat_renamed(body)
    if isinstance(body, Mapping):
        raw_type = body.get("scimType")
        scim_type = str(raw_type) if raw_type else None
        detail = str(body.get("detail") or "")
    elif isinstance(body, str | bytes):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        detail = " ".join(text.split())
    detail = _shorten(detail) or "no detail given"
    kind = _BY_STATUS.get(status) or (ScimServerError if status >= 500 else ScimError)
    hint = _unsupported_hint(status, method)
    return kind(detail, status=status, scim_type=scim_type, method=method, path=path, hint=hint)


def _unsupported_hint(status: int, method: str) -> str | None:
    """Advice for a server that lacks an optional SCIM feature this tool needs (None:
    the error's own). RFC 7644 leaves PATCH (§3.5.2) and ETags (§3.14) optional; this
    tool writes only with PATCH and sends no ``If-Match``, and says so rather than
    fall back to a PUT that replaces a whole resource from a possibly stale read."""
    if status == 501 and method == "PATCH":
        return (
            f"the server does not implement {method} here (501 Not Implemented; PATCH is "
            "optional in SCIM, RFC 7644 §3.5.2). This tool changes users and teams only with "
            "PATCH, never with a whole-resource PUT, so it cannot make this change: make it "
            f"by hand in {PRODUCT}; `reconciler doctor` shows the server's features"
        )
    if status in (412, 428) and method in ("PATCH", "PUT", "DELETE"):
        return (
            f"the server requires a matching ETag (an If-Match header, RFC 7644 §3.14, "
            f"HTTP {status}); this tool sends none, so the server refused this write and "
            f"nothing was changed by it: make the change by hand in {PRODUCT}, or ask the "
            "server's vendor to accept writes without If-Match"
        )
    return None


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScimProtocolError(f"{what} is {type(value).__name__}, not a JSON object")
    return value


def _required_text(data: Mapping[str, Any], field: str, what: str, *, named: str = "") -> str:
    """A non-blank string field. ``named`` ("user", "team"): a blank name is data a
    person must fix in Mixpanel (ScimUnsupportedError saying so), not a server bug."""
    value = data.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # numeric ids are seen in the wild and are harmless
    if named and isinstance(value, str) and not value.strip():
        raise ScimUnsupportedError(
            f"{what} has a {field!r} of only whitespace ({_shorten(repr(value))}); a {named} "
            f"without a name cannot be matched to the manifest: give the {named} a name in "
            f"{PRODUCT}, then run the command again"
        )
    if not isinstance(value, str) or not value.strip():
        raise ScimProtocolError(f"{what} has no {field!r}: got {_shorten(repr(value))}")
    return value


DOT_SEGMENTS = frozenset({".", ".."})


def _usable_id(resource_id: str, what: str) -> str:
    """``resource_id``, unless it is a URL dot segment ("." or ".."), which raises.

    ``/Users/..`` is resolved to the collection itself by URL rules (RFC 3986 §5.2.4),
    so a PATCH or DELETE meant for one resource would be sent to another URL; such a
    resource is refused when it is read, before anything is written.
    """
    if resource_id in DOT_SEGMENTS:
        raise ScimUnsupportedError(
            f"{what} has the id {resource_id!r}, a URL dot segment: a request to it would "
            "address the whole collection, so this tool never writes to it; nothing was "
            "changed: ask the server's vendor to fix the resource's id, or leave the org to "
            "be managed by hand"
        )
    return resource_id


def _optional_text(data: Mapping[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None or isinstance(value, str):
        return value
    raise ScimProtocolError(f"field {field!r} is {type(value).__name__}, not a string")


def _boolean(data: Mapping[str, Any], field: str, *, default: bool) -> bool:
    """A boolean field; absent or null (unassigned, RFC 7643 §2.5) gives ``default``."""
    value = data.get(field)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise ScimProtocolError(f"field {field!r} is {_shorten(repr(value))}, not a boolean")


def _integer(data: Mapping[str, Any], field: str, default: int | None) -> int:
    value = data.get(field)
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ScimProtocolError(f"ListResponse field {field!r} is {_shorten(repr(value))}")


def _shorten(text: str) -> str:
    # Redacted before cutting: a cut through an echoed token would leave a prefix of it
    # that no redactor downstream can recognise.
    text = redact(text)
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"
