"""The only package that talks HTTP: SCIM 2.0 client, transport, pure builders and parsers."""

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
