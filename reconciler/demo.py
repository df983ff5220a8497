"""`make demo`: the whole loop on a local sandbox, start to finish, in one command.

Starts the sandbox seeded with a demo org that differs from the demo manifests (a
new hire, a leaver, a renamed team, a moved member), then runs the real CLI: plan,
apply, and plan again, which must say "No changes".

The demo manifests ship inside the package (``reconciler/demo_org``, the same files
as the repository's ``manifests/``), so the demo works from any directory after
``pip install`` or ``pipx install``; ``-m`` runs it on other manifests instead.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from reconciler.profile import MIXPANEL, PRODUCT
from scim_sandbox import Sandbox

Main = Callable[[Sequence[str] | None], int]
DEMO_ORG = "demo_org"  # package data of ``reconciler``: org.yaml and teams/*.yaml


def run_demo(manifest: str | None, main: Main, out: Callable[[str], None]) -> int:
    """Plan, apply and plan again on a fresh sandbox; ``manifest`` None uses the demo org
    shipped with the package (copied to the temporary folder, shown in the banners)."""
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="reconciler-demo-") as tmp:
        if manifest is None:
            manifest = str(copy_demo_manifests(Path(tmp) / "manifests"))
        state = Path(tmp) / "sandbox-state.json"
        with Sandbox(token=token, seed="demo", state_file=state) as sandbox:
            out(f"Sandbox SCIM server on {sandbox.base_url} (demo org, state in {state})")
            with _env(**{MIXPANEL.url_env: sandbox.base_url, MIXPANEL.token_env: token}):
                return _steps(manifest, main, out, Path(tmp) / "journal.jsonl")


def _steps(manifest: str, main: Main, out: Callable[[str], None], journal: Path) -> int:
    out(_banner(f"1/3  reconciler plan -m {manifest}"))
    if main(["plan", "-m", manifest]) != 0:
        return 1
    out(_banner(f"2/3  reconciler apply -m {manifest} --auto-approve"))
    applied = main(["apply", "-m", manifest, "--auto-approve", "--journal", str(journal)])
    if applied != 0:
        return applied
    out(_banner(f"3/3  reconciler plan -m {manifest} --detailed-exitcode"))
    again = main(["plan", "-m", manifest, "--detailed-exitcode"])
    if again != 0:
        out("demo: the second plan still has changes; this is a bug, please report it")
        return 1
    out(f"\nDemo complete: {PRODUCT} (the sandbox) now matches the manifest.")
    return 0


def copy_demo_manifests(destination: Path) -> Path:
    """Write the packaged demo manifests into ``destination`` (created) and return it."""
    _copy_tree(resources.files("reconciler").joinpath(DEMO_ORG), destination)
    return destination


def _copy_tree(source: Traversable, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                _copy_tree(entry, destination / entry.name)
        elif entry.name.endswith(".yaml"):
            (destination / entry.name).write_bytes(entry.read_bytes())


def _banner(text: str) -> str:
    return f"\n=== {text} " + "=" * max(3, 72 - len(text))


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
