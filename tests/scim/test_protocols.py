"""The narrow SCIM protocols: the client implements each, and each layer takes only its own."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from reconciler.scim.client import ScimClient
from reconciler.scim.protocols import ResourceReader, ScimProbe, ScimReader, ScimWriter
from reconciler.scim.secret import Token
from tests.support.fake_directory import FakeDirectory

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
PROTOCOLS = (ResourceReader, ScimReader, ScimProbe, ScimWriter)
# Which protocol each layer that talks to the server is given (and nothing wider).
LAYERS = {
    "reader.py": "ScimReader",
    "evidence.py": "ScimReader",
    "doctor.py": "ScimProbe",
    "verify.py": "ResourceReader",
    "executor.py": "ScimWriter",
}


def _members(protocol: type) -> set[str]:
    names: set[str] = set()
    for base in protocol.__mro__:
        if base.__module__ == "reconciler.scim.protocols":
            names |= {n for n in vars(base) if not n.startswith("_") and callable(vars(base)[n])}
    return names


def _imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_the_client_implements_every_protocol_with_the_same_signatures(protocol: type) -> None:
    client = ScimClient.connect("http://127.0.0.1:9/scim/v2", Token("t0ken"))
    try:
        assert isinstance(client, protocol)
        for name in _members(protocol):
            want = inspect.signature(getattr(protocol, name))
            have = inspect.signature(getattr(ScimClient, name))
            assert [(p.name, p.kind, p.default) for p in have.parameters.values()] == [
                (p.name, p.kind, p.default) for p in want.parameters.values()
            ], f"ScimClient.{name} differs from {protocol.__name__}.{name}"
    finally:
        client.close()


def test_protocols_are_narrow_a_writer_fake_is_not_a_reader() -> None:
    fake = FakeDirectory()
    assert isinstance(fake, ScimWriter) and isinstance(fake, ResourceReader)
    assert not isinstance(fake, ScimReader), "the executor's slice holds no listing"
    assert "service_provider_config" in _members(ScimProbe) - _members(ScimReader)
    assert not _members(ScimWriter) & (_members(ScimReader) - _members(ResourceReader))


@pytest.mark.parametrize(("module", "protocol"), sorted(LAYERS.items()))
def test_each_layer_takes_its_protocol_not_the_client(module: str, protocol: str) -> None:
    names = _imported_names(PACKAGE / module)
    assert "ScimClient" not in names, f"{module} must take a {protocol}, not the whole client"
    assert protocol in names


def test_only_the_executor_is_handed_a_writer() -> None:
    holders = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "ScimWriter" in _imported_names(path)
    }
    assert holders == {"executor.py"}
