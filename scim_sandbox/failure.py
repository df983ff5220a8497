"""The one exception the sandbox raises for a request it refuses.

It carries exactly what an RFC 7644 §3.12 error body needs, so the HTTP layer can
turn any refusal into the same JSON shape. It is internal to the sandbox and is not
part of the reconciler's error tree (the client parses the HTTP response instead).
"""

from __future__ import annotations

import json

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimFailure(Exception):
    """A request the sandbox refuses: HTTP status, optional ``scimType`` and a detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> bytes:
        """The RFC 7644 error document (``status`` is a string, as the RFC requires)."""
        document: dict[str, object] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type is not None:
            document["scimType"] = self.scim_type
        document["detail"] = self.detail
        return json.dumps(document).encode()


def invalid_value(detail: str) -> ScimFailure:
    return ScimFailure(400, detail, "invalidValue")


def invalid_path(detail: str) -> ScimFailure:
    return ScimFailure(400, detail, "invalidPath")


def invalid_syntax(detail: str) -> ScimFailure:
    return ScimFailure(400, detail, "invalidSyntax")


def not_found(kind: str, resource_id: str) -> ScimFailure:
    return ScimFailure(404, f"{kind} {resource_id} not found")
