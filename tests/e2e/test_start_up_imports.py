"""Each command imports only what it needs (issue 16: start-up is part of every run).

The console script runs in a child process, as a user runs it, with an ``atexit``
hook that writes the names in ``sys.modules`` once the command is over. ``plan``
runs for real against the sandbox over HTTP on 127.0.0.1, so what it needs is loaded
and what it does not (the sandbox's server, apply, import, report) shows up if any
import drags it in at module level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scim_sandbox import Sandbox

TOKEN = "start-up-TOKEN-1b2c3d"

# Writes the loaded modules to $MODULES_OUT at exit, then is the `reconciler` script.
CHILD = """
import atexit, json, os, sys

def dump():
    with open(os.environ["MODULES_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)

atexit.register(dump)
sys.argv = ["reconciler", *sys.argv[1:]]
from reconciler.entry import run
run()
"""

# Loaded only by the commands that use them.
SANDBOX_SERVER = {
    "scim_sandbox.service",
    "scim_sandbox.server",
    "scim_sandbox.store",
    "http.server",
}
APPLY_IMPORT_REPORT = {
    "reconciler.executor",
    "reconciler.verify",
    "reconciler.journal",
    "reconciler.importer",
    "reconciler.report",
}
HTTP_STACK = {"requests", "urllib3", "reconciler.scim.client", "reconciler.scim.transport"}


def loaded_by(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded by one run of ``reconciler *argv`` (its exit code checked)."""
    out = tmp_path / "modules.json"
    environment = {**os.environ, **(env or {}), "MODULES_OUT": str(out), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "org.yaml"
    document = {
        "version": 1,
        "organization": {"claimed_domains": ["acme.io"]},
        "users": [{"email": "ada@acme.io", "given_name": "Ada", "family_name": "L"}],
        "teams": [{"name": "Eng", "members": ["ada@acme.io"]}],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with Sandbox(token=TOKEN, claimed_domains=("acme.io",)) as sandbox:
        yield sandbox.base_url


def test_plan_loads_the_client_but_not_the_sandbox_server_apply_import_or_report(
    tmp_path: Path, manifest: Path, sandbox_url: str
) -> None:
    env = {"MIXPANEL_SCIM_URL": sandbox_url, "MIXPANEL_SCIM_TOKEN": TOKEN}
    modules = loaded_by(tmp_path, "plan", "-m", str(manifest), "--format", "json", env=env)

    assert {"reconciler.reader", "reconciler.planner", *HTTP_STACK} <= modules  # it did plan
    assert modules & (SANDBOX_SERVER | APPLY_IMPORT_REPORT) == set()


def test_validate_loads_no_http_stack_and_no_sandbox_server(tmp_path: Path, manifest: Path) -> None:
    modules = loaded_by(tmp_path, "validate", "-m", str(manifest))

    assert "reconciler.manifest.loader" in modules  # it did validate
    assert modules & (SANDBOX_SERVER | APPLY_IMPORT_REPORT | HTTP_STACK) == set()


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["sandbox", "--help"]])
def test_help_loads_neither_models_nor_http_nor_the_sandbox_server(
    tmp_path: Path, argv: list[str]
) -> None:
    modules = loaded_by(tmp_path, *argv)

    assert "reconciler.cli" in modules
    assert modules & (SANDBOX_SERVER | APPLY_IMPORT_REPORT | HTTP_STACK) == set()
    assert not {m for m in modules if m.split(".")[0] in ("pydantic", "yaml")}
    # The run id is random hex from os.urandom: uuid (and the platform it imports) is not
    # loaded just for it.
    assert modules & {"uuid", "platform"} == set()


def test_the_sandbox_package_still_exports_its_names_on_first_use() -> None:
    import scim_sandbox
    from scim_sandbox.quirks import Quirks
    from scim_sandbox.store import Store

    assert scim_sandbox.Quirks is Quirks and scim_sandbox.Store is Store
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        scim_sandbox.Nope  # noqa: B018 - the attribute access is what is tested


def test_the_scim_package_still_exports_its_names_on_first_use() -> None:
    import reconciler.scim
    from reconciler.scim.client import ScimClient
    from reconciler.scim.errors import ScimError

    assert reconciler.scim.ScimClient is ScimClient and reconciler.scim.ScimError is ScimError
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        reconciler.scim.Nope  # noqa: B018 - the attribute access is what is tested


def test_a_registered_token_compiles_no_per_character_pattern_until_text_needs_one() -> None:
    # Compiling the encoded-form patterns took tens of milliseconds on every start.
    from reconciler.redact import Redactor

    redactor = Redactor(["start-up-secret-42"])
    state = redactor._state
    assert state is not None

    assert redactor("plain start-up-secret-42 text") == "plain *** text"
    assert {"pattern", "split"}.isdisjoint(vars(state))  # found without a regex
    assert redactor("start-up-secret-\\u0034\\u0032") == "***"  # JSON-escaped form
    assert "pattern" in vars(state)
    assert redactor("START-UP-\nSECRET-42") == "***"  # another case, a line break
    assert "split" in vars(state)
