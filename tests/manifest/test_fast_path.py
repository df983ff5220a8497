"""The libyaml fast path must be indistinguishable from the pure-Python loader.

Large manifests are composed with libyaml (about 10x faster); anything unusual falls
back to the Python loader for its exact messages. This test parses every fixture and
example both ways and requires the same data, positions, notices and problems.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest import yamlsource
from reconciler.manifest.yamlsource import ParsedYaml, parse_yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *ROOT.joinpath("tests", "fixtures", "manifest").rglob("*.y*ml"),
        *ROOT.joinpath("manifests").rglob("*.yaml"),
    ]
)


def _shape(parsed: ParsedYaml) -> tuple[object, ...]:
    loc = parsed.locations
    return (
        parsed.data,
        dict(loc.values),
        dict(loc.keys),
        dict(loc.plain),
        parsed.problems,
        parsed.bad_paths,
        parsed.strings,
    )


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_fast_and_python_paths_agree(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before parsing")
    fast = parse_yaml(text, path.name)
    monkeypatch.setattr(yamlsource, "_compose_fast", lambda _text: None)
    slow = parse_yaml(text, path.name)
    assert _shape(fast) == _shape(slow)


def test_plain_manifests_take_the_fast_path() -> None:
    text = (ROOT / "manifests" / "org.yaml").read_text(encoding="utf-8")
    assert yamlsource._compose_fast(text) is not None


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: *x\n", "a: 1\n---\nb: 2\n", "a: [" + "[" * 30 + "]" * 30 + "]\n", "a: \x07\n"],
    ids=["alias", "two-documents", "deep", "control-character"],
)
def test_unusual_text_falls_back_to_the_python_loader(text: str) -> None:
    assert yamlsource._compose_fast(text) is None
