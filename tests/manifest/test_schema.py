"""The JSON Schema of one manifest file: committed, deterministic, and strict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from reconciler.cli import main
from reconciler.manifest.schema import schema, schema_json
from tests.manifest.support import EXAMPLES


def _as_json(path_text: str) -> Any:
    """YAML as the editor's JSON view of it: dates are strings."""
    data = yaml.safe_load(path_text)
    return json.loads(
        json.dumps(data, default=lambda d: d.isoformat() if isinstance(d, date) else d)
    )


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_the_committed_schema_is_what_schema_json_generates() -> None:
    assert (EXAMPLES / "schema.json").read_text(encoding="utf-8") == schema_json()


def test_schema_json_is_deterministic_valid_and_ends_with_a_newline() -> None:
    assert schema_json() == schema_json()
    assert schema_json().endswith("}\n")
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_json()))


def test_every_object_in_the_schema_forbids_unknown_keys() -> None:
    objects = list(_objects(schema()))
    assert len(objects) == 6
    assert all(o.get("additionalProperties") is False for o in objects)


def test_the_schema_requires_only_version_in_a_file() -> None:
    assert schema()["required"] == ["version"]


def test_every_example_file_is_valid_against_the_schema() -> None:
    for path in EXAMPLES.rglob("*.yaml"):
        _validator().validate(_as_json(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "text",
    [
        "version: 2",
        "version: 1\nusres: []",
        "version: 1\norganization:",
        "version: 1\norganization: {claimed_domains: []}",
        "version: 1\nusers: [{email: a@acme.io, given_name: A, family_name: B, role: admin}]",
        "version: 1\nusers: [{email: a@acme.io, given_name: A, family_name: B, active: 'no'}]",
        "version: 1\nusers: [{email: not-an-email, given_name: A, family_name: B}]",
        "version: 1\nteams: [{name: Data, members: }]",
        "version: 1\nteams: [{name: Data, members: [{email: a@acme.io, projects: [x]}]}]",
        "version: 1\npolicy: {max_deprovision: -1}",
        "version: 1\npolicy: {unmanaged_users: delete}",
    ],
)
def test_the_schema_lets_an_editor_flag_single_file_mistakes(text: str) -> None:
    assert list(_validator().iter_errors(_as_json(text)))


def test_reconciler_schema_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_json()
