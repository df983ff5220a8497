"""Shared paths and helpers for the manifest tests."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest.loader import load_manifest, load_manifest_text

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "manifest"
EXAMPLES = ROOT / "manifests"
# A fixed "today": the example manifest's 2027 dates are in the future, and the
# fixtures' past dates (2025) are in the past.
TODAY = date(2026, 6, 1)

ORG = "version: 1\norganization: {claimed_domains: [acme.io]}\n"


def problems_of(path: str | os.PathLike[str], today: date = TODAY) -> list[str]:
    """The problem lines a load of ``path`` raises (the load must fail)."""
    with pytest.raises(ManifestError) as raised:
        load_manifest(path, today=today)
    return [str(problem) for problem in raised.value.problems]


def text_problems(text: str, filename: str = "m.yaml", today: date = TODAY) -> list[str]:
    """The problem lines of one in-memory document (the load must fail)."""
    with pytest.raises(ManifestError) as raised:
        load_manifest_text(text, filename=filename, today=today)
    return [str(problem) for problem in raised.value.problems]


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> content) below ``root``; returns ``root``."""
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return root
