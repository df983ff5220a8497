"""The only package that talks HTTP: SCIM 2.0 client, transport, pure builders and parsers.

For: RFC 7644 requests and answers. ``builders`` and ``parse`` are pure; ``transport``
moves bytes (retries, pacing, bounds, redaction) over ``wire``, the HTTP rules the
GitHub client shares; ``client`` maps endpoints to typed results and typed errors;
``protocols`` gives each layer its narrow slice (``ScimReader``, ``ScimWriter``...).

Must not: decide what to change (that is the planner's), print, know the manifest,
or let the token into a message, a log line, a repr or an exception.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.scim.client import ScimClient
    from reconciler.scim.errors import (
        ScimAuthError,
        ScimBadRequest,
        ScimCircuitOpen,
        ScimConflict,
        ScimError,
        ScimForbidden,
        ScimNotFound,
        ScimPayloadTooLarge,
        ScimProtocolError,
        ScimRateLimited,
        ScimServerError,
        ScimTransportError,
        ScimUnsupportedError,
    )
    from reconciler.scim.parse import ListPage
    from reconciler.scim.retry import CircuitBreaker
    from reconciler.scim.secret import Token
    from reconciler.scim.transport import RequestStats, Response, RetryPolicy, Timeouts, Transport
    from reconciler.scim.url import DEFAULT_BASE_URL, normalise_base_url

__all__ = [
    "DEFAULT_BASE_URL",
    "CircuitBreaker",
    "ListPage",
    "RequestStats",
    "Response",
    "RetryPolicy",
    "ScimAuthError",
    "ScimBadRequest",
    "ScimCircuitOpen",
    "ScimClient",
    "ScimConflict",
    "ScimError",
    "ScimForbidden",
    "ScimNotFound",
    "ScimPayloadTooLarge",
    "ScimProtocolError",
    "ScimRateLimited",
    "ScimServerError",
    "ScimTransportError",
    "ScimUnsupportedError",
    "Timeouts",
    "Token",
    "Transport",
    "normalise_base_url",
]

# Imported on first use (PEP 562): ``reconciler.scim.secret`` (the token type the
# settings need) must not load the HTTP stack for commands that never connect.
_MODULE_OF = {
    "CircuitBreaker": "retry",
    "DEFAULT_BASE_URL": "url",
    "ListPage": "parse",
    "RequestStats": "transport",
    "Response": "transport",
    "RetryPolicy": "transport",
    "ScimAuthError": "errors",
    "ScimBadRequest": "errors",
    "ScimCircuitOpen": "errors",
    "ScimClient": "client",
    "ScimConflict": "errors",
    "ScimError": "errors",
    "ScimForbidden": "errors",
    "ScimNotFound": "errors",
    "ScimPayloadTooLarge": "errors",
    "ScimProtocolError": "errors",
    "ScimRateLimited": "errors",
    "ScimServerError": "errors",
    "ScimTransportError": "errors",
    "ScimUnsupportedError": "errors",
    "Timeouts": "transport",
    "Token": "secret",
    "Transport": "transport",
    "normalise_base_url": "url",
}


def __getattr__(name: str) -> Any:
    """Each exported name, imported from its module when first asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
