"""End-to-end fixtures: a real SCIM server on 127.0.0.1 per test, and the real CLI.

``server`` is parametrized over our Mixpanel-compatible sandbox and the independent
third-party ``scim2-server``, so every loop test runs against both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import main
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from scim_sandbox import Sandbox
from tests.support.scim2_server import scim2_server

TOKEN = "e2e-TOKEN-7f3a9c1d5e"  # recognisable, so leak tests can grep for it
TODAY = "2026-11-22"


@dataclass
class Server:
    kind: str
    base_url: str
    sandbox: Sandbox | None = None

    def client(self) -> ScimClient:
        return ScimClient.connect(self.base_url, Token(TOKEN))


@pytest.fixture(params=["sandbox", "scim2-server"])
def server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Server]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    if request.param == "sandbox":
        with Sandbox(token=TOKEN, claimed_domains=("acme.io", "acmelabs.io")) as sandbox:
            monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
            yield Server("sandbox", sandbox.base_url, sandbox)
    else:
        with scim2_server(token=TOKEN) as base_url:
            monkeypatch.setenv("MIXPANEL_SCIM_URL", base_url)
            yield Server("scim2-server", base_url)


def person(
    email: str, given: str = "Given", family: str = "Family", **extra: Any
) -> dict[str, Any]:
    return {"email": email, "given_name": given, "family_name": family, **extra}


def write_manifest(
    path: Path, users: list[dict[str, Any]], teams: list[dict[str, Any]], **policy: Any
) -> Path:
    document = {
        "version": 1,
        "organization": {"claimed_domains": ["acme.io", "acmelabs.io"]},
        "policy": policy,
        "users": users,
        "teams": teams,
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))
    return path


def run(*argv: str) -> int:
    return main(list(argv))
