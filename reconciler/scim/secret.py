"""The bearer token, wrapped so that printing, logging or raising it never shows it."""

from __future__ import annotations

import hashlib
import hmac
import re

from reconciler.errors import ConfigError
from reconciler.profile import MIXPANEL

_MASK = "Token(***)"
_ASSIGNMENT = re.compile(r"[A-Z][A-Z0-9_]{2,}=[^=]", re.ASCII)


class Token:
    """A SCIM bearer token; ``reveal()`` is called only to build the Authorization header.

    Mixpanel shows the token once and it grants full access to the org's members, so it
    must not reach logs, plan files, exception text or tracebacks (repr of locals).
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        """``source`` says where the token was read (the profile's token variable, ``--token-file
        F``) so a refusal can name it; it never holds the value."""
        # Token files usually end with a newline; a bearer token never holds whitespace.
        value = value.strip()
        if not value:
            raise ConfigError(f"the SCIM token is empty: set {MIXPANEL.token_env} or --token-file")
        if any(not ch.isascii() for ch in value):
            # An HTTP header is Latin-1 at best; a bearer token is ASCII (RFC 6750 §2.1).
            raise ConfigError(
                "the token holds a non-ASCII character (a typographic quote or dash pasted "
                "with it?); copy the token again as plain text"
            )
        if value[:7].lower() == "bearer ":
            raise ConfigError(
                "the token starts with 'Bearer '; set the token alone (the client adds 'Bearer')"
            )
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            # Said without the value: a header injection attempt or a pasted file alike.
            raise ConfigError(
                "the token holds whitespace or control characters; copy the token again, "
                "alone on one line"
            )
        if value[0] in "\"'`" or value[-1] in "\"'`":
            # No bearer token holds a quote (RFC 6750 §2.1): it was copied with its quotes.
            raise ConfigError("the token is wrapped in quotes; set it without the quotes")
        if _ASSIGNMENT.match(value):
            # A line of a .env file (NAME=token): base64 has "=" only as padding at the
            # end, so a name, "=" and more text is never a token by itself. The name is
            # not shown: if this guess is wrong, it is part of the token.
            raise ConfigError(
                "the token starts with an upper-case NAME= (a line copied from a .env file "
                "or a shell script?); keep only what follows the '='"
            )
        self._value = value
        self.source = source

    def reveal(self) -> str:
        """The secret itself; only the transport's Authorization header may call this."""
        return self._value

    def identity(self, context: str) -> str:
        """A keyed hash naming what this token grants access to, without revealing it.

        HMAC-SHA256 keyed with the token over ``context`` (e.g. the base URL):
        one-way, so it may appear in plan files and PR comments; equal for equal
        (token, context) and different for another org's token at the same URL.
        Mixpanel has one token per org, so this identifies the org (until the token
        is regenerated). Returns ``"hmac-sha256:"`` and 32 hex digits.
        """
        message = f"mixpanel-scim-reconciler org identity v1\n{context}".encode()
        mac = hmac.new(self._value.encode(), message, hashlib.sha256).hexdigest()
        return "hmac-sha256:" + mac[:32]

    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return _MASK

    def __reduce__(self) -> str | tuple[object, ...]:
        # Pickling would write the secret to disk or a queue; refuse rather than leak.
        raise TypeError("a Token cannot be pickled")
