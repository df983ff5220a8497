"""The JSON Schema of one manifest file, generated from the pydantic models.

Committed as ``manifests/schema.json`` and referenced from every manifest's
``yaml-language-server`` header, so editors complete keys and flag mistakes
before CI does. It describes a single *file*: ``version`` is required and every
section optional, because a folder spreads the manifest over several files.
Cross-file rules (one organization, declared members) are only in ``validate``.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.manifest.models import ManifestFile
from reconciler.profile import PRODUCT

TITLE = f"{PRODUCT} SCIM reconciler manifest file (version 1)"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema() -> dict[str, Any]:
    """The schema as a dict; ``additionalProperties: false`` on every object."""
    body = ManifestFile.model_json_schema(mode="validation")
    body["title"] = TITLE
    return {"$schema": DRAFT, **body}


def schema_json() -> str:
    """Deterministic text (same models, same bytes) with a trailing newline."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
