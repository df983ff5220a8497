"""Validation of the SCIM base URL: the token goes to this host and nowhere else."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from reconciler.errors import ConfigError
from reconciler.identity import spelled
from reconciler.profile import MIXPANEL
from reconciler.render.escape import quoted

DEFAULT_BASE_URL = MIXPANEL.default_url
# RFC 7644 §3.2 endpoints: a base URL ending in one (or in one and an id) was copied
# from a request, and every path the client appends to it would be wrong.
RESOURCE_ENDPOINTS = frozenset(
    {"users", "groups", "serviceproviderconfig", "schemas", "resourcetypes", "bulk", "me"}
)
_WITH_IDS = frozenset({"users", "groups"})  # ".../Users/<id>" is a resource too
_VERSION = re.compile(r"v[0-9]+(\.[0-9]+)*", re.IGNORECASE)


def normalise_base_url(url: str | None, *, default: str = DEFAULT_BASE_URL) -> str:
    """Return the base URL without a trailing slash, or raise ConfigError saying why.

    Refuses what would leak or misroute the token: schemes other than http(s),
    credentials in the URL, a query or fragment (paths are appended to it), and
    plain http:// to anything but loopback (the local sandbox).
    """
    if url is None:
        return default
    text = url.strip()
    example = f"write it like {default}"
    if not text:
        raise ConfigError(f"the SCIM base URL is empty; {example}, or leave it unset")
    odd = next((c for c in text if not (c.isascii() and c.isprintable()) or c == " "), None)
    if odd is not None:
        # A look-alike host (Cyrillic "\u0456" in "mixpanel") would receive the token.
        raise ConfigError(
            f"the SCIM base URL holds {_named(odd)} at position {text.index(odd) + 1}, "
            f"got '{spelled(_before_query(text))}'; type the URL again in plain ASCII "
            f"({example}; an international host name in its xn-- form)"
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError as error:
        raise ConfigError(f"the SCIM base URL is invalid ({error}); {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not host:
        raise ConfigError(
            f"the SCIM base URL must be an https:// URL, got {quoted(text)}; {example}"
        )
    if "@" in parts.netloc:
        # The value is not echoed: what precedes "@" is most likely a secret.
        raise ConfigError(
            "the SCIM base URL must not contain credentials; remove the part before '@' "
            "and pass the token with --token-file or its environment variable"
        )
    if "?" in text or "#" in text:
        # Not echoed past the "?" or "#": a query such as ?access_token=... is a secret.
        shown = re.split(r"[?#]", text, maxsplit=1)[0]
        raise ConfigError(
            f"the SCIM base URL must not have a query or fragment, got {quoted(shown)} followed "
            "by one (not shown: it may hold a secret); pass the token apart and use the "
            f"base URL alone: {shown} (the client appends /Users, /Groups and its own query)"
        )
    if scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"plain http:// is only allowed to loopback (the local sandbox), got {quoted(text)}: "
            "use https://"
        )
    path = parts.path.rstrip("/")
    _check_not_a_resource(path, urlunsplit((scheme, parts.netloc.lower(), "", "", "")))
    return urlunsplit((scheme, parts.netloc.lower(), path, "", ""))


def _before_query(text: str) -> str:
    """``text`` up to a ``?`` or ``#``: a query such as ?access_token=... is a secret."""
    return re.split(r"[?#]", text, maxsplit=1)[0]


def _named(char: str) -> str:
    if char == " ":
        return "a space"
    if char.isascii():
        return f"a control character U+{ord(char):04X}"
    if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte the environment held that is not UTF-8
        return f"the byte 0x{ord(char) - 0xDC00:02x}, which is not UTF-8"
    return f"a non-ASCII character U+{ord(char):04X}"


def _check_not_a_resource(path: str, origin: str) -> None:
    """Refuse ``.../v2/Users`` (or ``.../v2/Users/<id>``), naming the base URL to use."""
    segments = path.split("/")
    # ".../Users/<id>" only when the last segment looks like an id (has a digit and is
    # not a version such as "v2"), so a tenant path like ".../users/scim" still works.
    looks_like_id = any(c.isdigit() for c in segments[-1]) and not _VERSION.fullmatch(segments[-1])
    for back, names in ((1, RESOURCE_ENDPOINTS), (2, _WITH_IDS if looks_like_id else ())):
        if len(segments) > back and segments[-back].lower() in names:
            base = origin + "/".join(segments[:-back])
            raise ConfigError(
                f"the SCIM base URL ends with the resource path /{'/'.join(segments[-back:])}; "
                f"use the base URL without it: {base} (the client appends /Users, /Groups)"
            )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
