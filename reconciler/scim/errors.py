"""Typed SCIM failures, each keeping the request it came from and the advice to give.

The callers decide by type (retry, adopt, skip one user, abort the read); the
person running the tool reads ``str(error)``. Messages are built only from the
method, the path (never the query, which holds e-mail filters), the status and
the server's ``detail`` with the token scrubbed out by the transport, so no error
text can carry the bearer token.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar, Self

from reconciler.errors import ReconcilerError
from reconciler.profile import MIXPANEL, TargetProfile
from reconciler.redact import redact

# Mixpanel's advice, from the one profile; ``conflict_hint`` takes another profile.
NEW_CREDENTIAL_ADVICE = MIXPANEL.new_credential_advice
AUTH_HINT = MIXPANEL.auth_hint
FORBIDDEN_LIST_HINT = MIXPANEL.forbidden_list_hint
OUTSIDE_ORG_FIX = MIXPANEL.outside_org_fix
MIXPANEL_PATH = MIXPANEL.scim_path
BASE_URL_HINT = MIXPANEL.base_url_hint
OUTSIDE_ORG_HINT = MIXPANEL.outside_org_hint


def untyped_conflict_hint(email: str, profile: TargetProfile = MIXPANEL) -> str:
    """A 409 without scimType that a userName lookup cannot explain: both causes, both fixes."""
    return (
        "the server reported a conflict without saying which (no scimType), and a userName "
        f"lookup does not find {email}; possible causes: {email} has a {profile.product} "
        f"account outside this organization (fix: invite the user by hand in {profile.product}), "
        "or an account with this userName exists that the server's lookup does not return "
        f"(check the user in {profile.product} and run `reconciler doctor`)"
    )


def hidden_account_hint(email: str, profile: TargetProfile = MIXPANEL) -> str:
    """A 409 uniqueness clash on an account the server's lookup does not return."""
    return (
        f"the server says {email} already exists, but a userName lookup does not find it: the "
        f"server hides that account from lookups; check the user in {profile.product}"
    )


def conflict_hint(error: ScimError, email: str, profile: TargetProfile = MIXPANEL) -> str:
    """Advice for a 409 on creating ``email`` that a userName lookup could not explain.

    Says only what is known: the server's own detail is already in the message, so a
    detail that names the cause gets just the fix, never the same sentence twice.
    """
    if "outside" in error.detail.lower():
        return profile.outside_org_fix
    if error.scim_type == "uniqueness":
        return hidden_account_hint(email, profile)
    if error.scim_type:
        return typed_conflict_hint(error.scim_type, email)
    return untyped_conflict_hint(email, profile)


def typed_conflict_hint(scim_type: str, email: str) -> str:
    """A 409 whose scimType is not ``uniqueness``: not a taken userName, so no lookup
    advice; the server's detail (already in the message) says what it objects to."""
    return (
        f"the server refused to create {email} with a conflict of type {scim_type!r}, not a "
        "taken userName (a userName lookup does not find it either); fix what the server's "
        "detail names (an attribute in the manifest, or a setting of its SCIM app), or ask "
        "the server's vendor, then run apply again"
    )


class ScimError(ReconcilerError):
    """A SCIM request failed; ``status`` is None when no HTTP answer was usable."""

    default_hint: ClassVar[str] = ""
    label: ClassVar[str] = "error"  # shown when there is no HTTP status to show

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        scim_type: str | None = None,
        method: str = "",
        path: str = "",
        attempts: int = 1,
        hint: str | None = None,
    ) -> None:
        self.detail = detail
        self.status = status
        self.scim_type = scim_type
        self.method = method
        self.path = path
        self.attempts = attempts
        self.hint = self.default_hint if hint is None else hint
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"SCIM {self.method} {self.path}".rstrip() if self.method else "SCIM"
        status = f"HTTP {self.status}" if self.status is not None else self.label
        kind = f" ({self.scim_type})" if self.scim_type else ""
        retried = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        text = f"{where} failed{retried}: {status}{kind}: {self.detail}"
        # Details come from server data, which may echo the token in any encoding.
        return redact(f"{text}; {self.hint}" if self.hint else text)

    def __str__(self) -> str:
        return self._message()

    def at(self, method: str, path: str) -> Self:
        """A copy located at a request; used when a pure parser failed without knowing it."""
        located = copy.copy(self)
        located.method, located.path = method, path
        located.args = (located._message(),)
        return located

    def scrubbed(self, scrub: Callable[[str], str]) -> Self:
        """A copy whose server-derived detail went through ``scrub`` (the redactor)."""
        clean = copy.copy(self)
        clean.detail = scrub(self.detail)
        clean.args = (clean._message(),)
        return clean

    def with_hint(self, hint: str) -> Self:
        """A copy whose advice fits the caller's situation better than the generic one."""
        hinted = copy.copy(self)
        hinted.hint = hint
        hinted.args = (hinted._message(),)
        return hinted


class ScimAuthError(ScimError):
    """401: the token is wrong or revoked; nothing else will work."""

    default_hint = AUTH_HINT


class ScimForbidden(ScimError):
    """403: the server refuses this request for this resource (e.g. the organization owner).

    A per-resource refusal, not a token problem: the server's detail says why. Only
    when every request is refused (a listing, say) is the token the likely cause.
    """


class ScimNotFound(ScimError):
    """404: the resource does not exist (any more)."""


class ScimConflict(ScimError):
    """409: uniqueness clash (userName, displayName) or an account outside the org."""


class ScimBadRequest(ScimError):
    """400: the server refused the payload (invalid value, unclaimed domain, bad filter)."""


class ScimPayloadTooLarge(ScimError):
    """413: send fewer members per PATCH."""

    default_hint = "send fewer members per PATCH request"


class ScimServerError(ScimError):
    """5xx (or 429) still failing after the retry budget."""


class ScimRateLimited(ScimServerError):
    """429 still returned after the retry budget; a ScimServerError so callers treat it alike."""

    default_hint = "the server is rate limiting; retry later or lower the concurrency"


class ScimTransportError(ScimError):
    """No HTTP answer: connection refused or dropped, timeout, TLS failure (after retries)."""

    label = "no answer"


class ScimCircuitOpen(ScimTransportError):
    """The run-level circuit breaker is open: the server is gone or only says "wait".

    ``attempted`` is False when the breaker refused the request before it was sent,
    so the operation it belonged to can be reported as "not attempted".
    ``reason`` is the one line that says which limit stopped the run.
    """

    def __init__(self, detail: str, *, reason: str, attempted: bool, **kwargs: Any) -> None:
        self.reason = reason
        self.attempted = attempted
        super().__init__(detail, **kwargs)


class ScimProtocolError(ScimError):
    """The answer is not usable SCIM: bad JSON, content type, missing field, size, redirect."""

    label = "malformed answer"


class ScimUnusableAnswer(ScimProtocolError):
    """A write was accepted (HTTP 2xx) but its answer cannot be read (HTML, not JSON, a
    resource without an id): the change may well be made, so the answer is only a
    claim that failed, and the read-back (or a lookup, for a create) decides."""

    @classmethod
    def of(cls, error: ScimError, status: int) -> ScimUnusableAnswer:
        """``error`` (raised reading a ``status`` answer) as a ScimUnusableAnswer."""
        return cls(
            error.detail,
            status=status,
            method=error.method,
            path=error.path,
            attempts=error.attempts,
        )


class ScimBudgetExceeded(ScimProtocolError):
    """The read's whole byte budget (``--max-read-mib``) is used up: the answers of one
    read together are over it, whichever answer happened to cross it."""

    label = "too much data"


class ScimAnswerTooLarge(ScimProtocolError):
    """One answer exceeded the per-response byte cap (``max_response_bytes``).

    Not raised for the read's whole byte budget (a plain ScimProtocolError): a
    smaller request (a Groups page without members) may still fit the per-answer cap.
    """


class ScimUnsupportedError(ScimError):
    """The server holds something this tool cannot manage safely, such as nested groups."""

    label = "unsupported"
