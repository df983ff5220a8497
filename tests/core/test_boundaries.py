"""Package boundaries that the docstrings state, held by a test so they stay true."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

import reconciler
import scim_sandbox

PACKAGE = Path(reconciler.__file__).resolve().parent
SANDBOX = Path(scim_sandbox.__file__).resolve().parent
PACKAGES = sorted(p.parent for p in [*PACKAGE.rglob("__init__.py"), SANDBOX / "__init__.py"])
# What the sandbox may use of the reconciler: it must stay an independent server.
SANDBOX_MAY_USE = {
    "reconciler.errors",
    "reconciler.files",
    "reconciler.grammar",
    "reconciler.profile",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize(
    "package", PACKAGES, ids=lambda p: p.relative_to(PACKAGE.parent).as_posix()
)
def test_every_package_says_what_it_is_for_and_what_it_must_not_do(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"{package.name}/__init__.py opens with no docstring"
    assert "must not" in doc.lower(), f"{package.name}: say what it must not do"


def test_the_sandbox_imports_nothing_of_the_reconciler_but_its_leaves() -> None:
    used = {
        module
        for path in SANDBOX.rglob("*.py")
        for module in _imports(path)
        if module.startswith("reconciler")
    }
    assert used <= SANDBOX_MAY_USE, f"the sandbox reaches into {sorted(used - SANDBOX_MAY_USE)}"


def test_the_profile_is_a_leaf_every_layer_may_import() -> None:
    assert not {m for m in _imports(PACKAGE / "profile.py") if m.startswith("reconciler")}


def test_nothing_imports_the_cli_it_is_the_top_of_the_house() -> None:
    upward = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name not in ("cli.py", "__main__.py", "entry.py")
        and {"reconciler.cli"} & _imports(path)
    )
    assert upward == [], f"these import the CLI (an upward import): {upward}"


def _message_literals(path: Path) -> list[tuple[int, str]]:
    """String literals that are not docstrings (messages, headings, help), by line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        node.body[0].value.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [
        (tok.start[0], tok.string)
        for tok in tokens
        if tok.type == tokenize.STRING and tok.start[0] not in docstrings
    ]


def test_the_product_is_named_only_by_the_profile() -> None:
    # Every message that names the service takes the noun from reconciler.profile, so a
    # second profile is a new value there, not a hunt through the messages.
    found = [
        f"{path.relative_to(PACKAGE).as_posix()}:{line}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "profile.py" and "sandbox" not in path.relative_to(PACKAGE).parts
        for line, text in _message_literals(path)
        if "Mixpanel" in text
    ]
    assert found == [], f"name the product through reconciler.profile: {found}"
