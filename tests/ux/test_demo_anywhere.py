"""`reconciler demo` works from any directory: the demo org ships as package data."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
PACKAGED = ROOT / "reconciler" / "demo_org"


def _demo(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "demo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_the_demo_runs_from_an_empty_directory(tmp_path: Path) -> None:
    done = _demo(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no such file" not in done.stderr
    assert "Demo complete" in done.stdout
    assert list(tmp_path.iterdir()) == []  # everything it made lived in its own temp folder
    from tests.ux.test_grammar import _one_plurals

    assert _one_plurals(done.stdout + done.stderr) == []  # "1 user", never "1 users"


def test_the_packaged_demo_org_is_the_repository_manifests_folder() -> None:
    # The README's demo output and the demo seed are written against manifests/.
    repo = ROOT / "manifests"
    # The manifests themselves; schema.json is generated (`reconciler schema`), not shipped.
    names = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.yaml"))
    shipped = sorted(p.relative_to(PACKAGED).as_posix() for p in PACKAGED.rglob("*") if p.is_file())
    fix = "copy manifests/ over reconciler/demo_org/ (the demo ships that copy)"
    assert names == shipped, fix
    for name in names:
        assert (repo / name).read_bytes() == (PACKAGED / name).read_bytes(), f"{name}: {fix}"


def test_the_package_data_globs_cover_every_demo_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["reconciler"]
    files = [p.relative_to(ROOT / "reconciler").as_posix() for p in PACKAGED.rglob("*")]
    uncovered = [
        f
        for f in files
        if (PACKAGED.parent / f).is_file() and not any(fnmatch.fnmatch(f, g) for g in globs)
    ]
    assert files and uncovered == []


def _wheel(tmp_path: Path) -> Path:
    """Build the wheel as `pip install .` does, offline: from a copy of the sources
    (a stale build/ folder in the checkout could ship deleted files), with the
    setuptools of this environment (the `test` extra pins one that reads pyproject)."""
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, (
        f"setuptools {setuptools.__version__} cannot build this project offline; "
        "re-install the test extra (make .venv/.installed-test), which requires setuptools>=77"
    )
    source, wheels = tmp_path / "source", tmp_path / "wheels"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("reconciler", "scim_sandbox"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels)]
    subprocess.run([*PIP, *build, str(source)], check=True, timeout=120)
    (wheel,) = wheels.glob("*.whl")
    return wheel


PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


def test_the_demo_runs_from_an_empty_directory_after_installing_the_wheel(
    tmp_path: Path,
) -> None:
    # Offline and without the package index: the wheel is built here and installed
    # with --no-deps into its own folder; the dependencies come from this environment.
    wheel = _wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert "reconciler/demo_org/org.yaml" in shipped
    assert "scim_sandbox/demo_seed.json" in shipped
    site, empty = tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    install = [*PIP, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, timeout=120)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("MIXPANEL_SCIM_URL", None)
    where = subprocess.run(
        [sys.executable, "-c", "import reconciler; print(reconciler.__file__)"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))  # the installed copy, not the checkout
    # The console script pip installed, as a user types it after `pip install .`.
    done = subprocess.run(
        [str(site / "bin" / "reconciler"), "demo"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no such file" not in done.stderr
    assert "Demo complete" in done.stdout
    assert list(empty.iterdir()) == []
