"""RFC 7644 §4 discovery documents: what the sandbox says it supports.

They advertise exactly what the server does (PATCH yes, bulk/sort/ETag/changePassword
no, filter yes with a result cap), so a client that probes ``ServiceProviderConfig``
learns the truth, as the design asks clients to do with Mixpanel.
"""

from __future__ import annotations

from typing import Any

from scim_sandbox.resources import GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def service_provider_config(base_url: str, max_results: int) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The organization's SCIM token as a Bearer token",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/ServiceProviderConfig",
        },
    }


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [
        _resource_type(base_url, "User", "/Users", USER_SCHEMA),
        _resource_type(base_url, "Group", "/Groups", GROUP_SCHEMA),
    ]


def _resource_type(base_url: str, name: str, endpoint: str, schema: str) -> dict[str, Any]:
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "schema": schema,
        "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/{name}"},
    }


def schemas(base_url: str) -> list[dict[str, Any]]:
    """Minimal schema descriptions: the attributes the sandbox actually stores."""
    user = [
        _attribute("userName", required=True, uniqueness="server"),
        _attribute("displayName"),
        _attribute("active", kind="boolean"),
        _attribute("externalId", case_exact=True),
        _complex("name", [_attribute("givenName"), _attribute("familyName")]),
        _complex("emails", [_attribute("value"), _attribute("type")], multi=True),
        _complex(
            "groups", [_attribute("value"), _attribute("display")], multi=True, read_only=True
        ),
    ]
    group = [
        _attribute("displayName", required=True, uniqueness="server"),
        _attribute("externalId", case_exact=True),
        _complex("members", [_attribute("value"), _attribute("display")], multi=True),
    ]
    return [
        _schema(base_url, USER_SCHEMA, "User", user),
        _schema(base_url, GROUP_SCHEMA, "Group", group),
    ]


def _schema(base_url: str, urn: str, name: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": urn,
        "name": name,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{urn}"},
    }


def _attribute(
    name: str,
    *,
    kind: str = "string",
    required: bool = False,
    uniqueness: str = "none",
    case_exact: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": required,
        "caseExact": case_exact,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": uniqueness,
    }


def _complex(
    name: str, sub: list[dict[str, Any]], *, multi: bool = False, read_only: bool = False
) -> dict[str, Any]:
    attribute = _attribute(name, kind="complex")
    attribute.update(
        multiValued=multi, subAttributes=sub, mutability="readOnly" if read_only else "readWrite"
    )
    return attribute


def list_response(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
