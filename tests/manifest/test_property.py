"""Whatever text arrives, loading either succeeds or raises ManifestError.

A reviewer may paste anything into a PR; the tool must answer with located
problems (exit 1), never a traceback. Inputs are random text and the example
manifest mutated the ways people break YAML: keys deleted, types changed,
garbage inserted, entries duplicated, characters spliced into the text.
"""

from __future__ import annotations

import copy
import io
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.errors import ManifestError
from reconciler.manifest.loader import LoadedManifest, load_manifest_text
from tests.manifest.support import EXAMPLES, TODAY

EXAMPLE_TEXT = (EXAMPLES / "org.yaml").read_text(encoding="utf-8") + "\n".join(
    line
    for path in sorted((EXAMPLES / "teams").glob("*.yaml"))[:2]
    for line in path.read_text(encoding="utf-8").splitlines()
    if not line.startswith(("version", "#", "teams:"))
).join(["teams:\n", "\n"])
EXAMPLE = yaml.safe_load(EXAMPLE_TEXT)

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.dates(),
    st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=2),
)


def _places(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) pair in a YAML tree."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        out.append((node, key))
        if isinstance(value, dict | list):
            _places(value, out)
    return out


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    data = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        places = _places(data, [])
        container, key = places[draw(st.integers(0, len(places) - 1))]
        action = draw(st.sampled_from(["delete", "retype", "insert", "duplicate"]))
        if action == "delete":
            del container[key]
        elif action == "retype":
            container[key] = draw(garbage)
        elif action == "insert" and isinstance(container, dict):
            container[draw(st.text(min_size=1, max_size=12))] = draw(garbage)
        elif isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=draw(st.booleans()))


@st.composite
def spliced_examples(draw: st.DrawFn) -> str:
    at = draw(st.integers(0, len(EXAMPLE_TEXT)))
    cut = draw(st.integers(0, 40))
    return EXAMPLE_TEXT[:at] + draw(st.text(max_size=20)) + EXAMPLE_TEXT[at + cut :]


any_manifest_text = st.one_of(st.text(max_size=300), mutated_examples(), spliced_examples())


def _load(text: str) -> LoadedManifest | None:
    try:
        return load_manifest_text(text, filename="m.yaml", today=TODAY)
    except ManifestError as error:
        assert error.problems
        assert all(p.line >= 1 and p.col >= 1 for p in error.problems)
        return None


def test_the_example_used_for_mutation_is_itself_valid() -> None:
    assert _load(EXAMPLE_TEXT) is not None


@FAST
@given(any_manifest_text)
def test_loading_any_text_returns_a_manifest_or_raises_manifest_error(text: str) -> None:
    _load(text)


@settings(max_examples=60, deadline=None)
@given(st.one_of(any_manifest_text.map(str.encode), st.binary(max_size=200)))
def test_validate_on_any_file_exits_0_or_1(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "m.yaml")
        path.write_bytes(content)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["validate", "-m", str(path)])
    assert code in (0, 1)
    assert "Traceback" not in err.getvalue()
