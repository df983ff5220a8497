"""Every writer replaces only a new path or a regular file, through the real CLI.

A device, a FIFO, a symbolic link (to a file, or dangling) or a folder where a file
is to be written is refused with one error line naming it, exit 1, and left exactly
as it was: renaming over it would turn ``/dev/null`` into a regular file (as root)
and appending through a link writes where nobody asked. Everything lives in
``tmp_path``; a device node is made there only when the test may (root).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, Server, person, run, write_manifest


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link_to_file(path: Path) -> None:
    target = path.parent / "target.txt"
    target.write_text("keep me\n")
    path.symlink_to(target)


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere" / "file")


def _folder(path: Path) -> None:
    path.mkdir()


def _device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        pytest.skip("making a device node needs root")


KINDS: dict[str, Callable[[Path], None]] = {
    "fifo": _fifo,
    "symlink to a file": _link_to_file,
    "dangling symlink": _dangling_link,
    "folder": _folder,
    "character device": _device,
}


def _snapshot(path: Path) -> tuple[int, str]:
    """What must not change: the entry's type, and where a link points."""
    mode = os.lstat(path).st_mode
    return stat.S_IFMT(mode), os.readlink(path) if stat.S_ISLNK(mode) else ""


def _refused(path: Path, capsys: pytest.CaptureFixture[str], before: tuple[int, str]) -> str:
    err = capsys.readouterr().err
    assert _snapshot(path) == before
    linked = path.parent / "target.txt"
    if linked.exists():
        assert linked.read_text() == "keep me\n"
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert str(path) in lines[0], err
    assert "not a regular file" in lines[0] or "it is a folder" in lines[0], err
    assert "unexpectedly" not in err
    return lines[0]


@pytest.fixture
def manifest(server: Server, tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])


@pytest.mark.parametrize("kind", KINDS)
def test_plan_out_refuses_anything_but_a_regular_file(
    kind: str, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "plan.json"
    KINDS[kind](target)
    before = _snapshot(target)

    code = run("plan", "-m", str(manifest), "--out", str(target))

    assert code == 1
    line = _refused(target, capsys, before)
    assert "pass --out" in line


@pytest.mark.parametrize("kind", KINDS)
def test_import_out_refuses_a_manifest_file_that_is_not_a_regular_file(
    kind: str, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "imported"
    assert run("import", "--out", str(out), "--claimed-domain", "acme.io") == 0
    written = sorted(p for p in out.rglob("*") if p.is_file())
    victim = written[0]
    victim.unlink()
    KINDS[kind](victim)
    before = _snapshot(victim)
    capsys.readouterr()

    code = run("import", "--out", str(out), "--claimed-domain", "acme.io", "--force")

    assert code == 1
    _refused(victim, capsys, before)


@pytest.mark.parametrize("kind", KINDS)
def test_apply_refuses_a_journal_that_is_not_a_regular_file_before_any_write(
    kind: str, server: Server, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal.jsonl"
    KINDS[kind](journal)
    before = _snapshot(journal)

    code = run("apply", "-m", str(manifest), "--auto-approve", "--journal", str(journal))

    assert code == 1
    assert "nothing was applied" in _refused(journal, capsys, before)
    assert run("plan", "-m", str(manifest)) == 0
    assert "ada@acme.io" in capsys.readouterr().out  # still to be created: nothing was written


@pytest.mark.parametrize("kind", ["fifo", "symlink to a file", "dangling symlink", "folder"])
def test_sandbox_state_refuses_anything_but_a_regular_file(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    KINDS[kind](state)
    before = _snapshot(state)

    code = run("sandbox", "--state", str(state), "--port", "0", "--token", TOKEN)

    assert code == 1
    _refused(state, capsys, before)
