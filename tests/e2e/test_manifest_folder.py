"""A folder manifest whose files cannot all be read never deprovisions anyone.

Issue 12, item 7: with ``unmanaged_users: deactivate``, a file skipped without a
word (a broken symlink, a symlinked folder) made its users "unmanaged", and plan
deactivated them. Now validate, plan and apply stop with exit 1 naming the path.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.manifest import loader
from reconciler.reader import read_live_state
from tests.e2e.conftest import Server, person, run, write_manifest

ADA, BOB = person("ada@acme.io", "Ada", "Lovelace"), person("bob@acme.io", "Bob", "Builder")


def _broken_symlink(root: Path) -> Path:
    link = root / "people" / "bob.yaml"
    link.symlink_to("bob-moved.yaml")
    return link


def _symlinked_folder(root: Path) -> Path:
    (root.parent / "shared").mkdir()
    write_manifest(root.parent / "shared" / "bob.yaml", [BOB], [])
    link = root / "shared"
    link.symlink_to(root.parent / "shared")
    return link


@pytest.mark.parametrize("skipped", [_broken_symlink, _symlinked_folder])
def test_a_file_the_loader_cannot_read_stops_every_command_and_deactivates_nobody(
    skipped: Callable[[Path], Path],
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "manifests"
    (root / "people").mkdir(parents=True)
    write_manifest(root / "org.yaml", [ADA, BOB], [], unmanaged_users="deactivate")
    assert run("apply", "-m", str(root), "--auto-approve") == 0
    write_manifest(root / "org.yaml", [ADA], [], unmanaged_users="deactivate")
    path = skipped(root)
    capsys.readouterr()

    codes = [
        run("validate", "-m", str(root)),
        run("plan", "-m", str(root)),
        run("apply", "-m", str(root), "--auto-approve"),
    ]

    err = capsys.readouterr().err
    assert codes == [1, 1, 1]
    assert err.count(f"{path}:1:1: ") == 3
    assert "Traceback" not in err
    live = {u.key: u.active for u in read_live_state(server.client()).users}
    assert live == {"ada@acme.io": True, "bob@acme.io": True}


@pytest.mark.parametrize("what", ["folder", "file"])
def test_an_unreadable_folder_or_file_stops_every_command_and_deactivates_nobody(
    what: str,
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Tests run as root, which reads any folder or file whatever its mode: the
    # refusal (EACCES) the kernel gives other users is simulated for one path.
    root = tmp_path / "manifests"
    (root / "people").mkdir(parents=True)
    write_manifest(root / "org.yaml", [ADA], [], unmanaged_users="deactivate")
    bob = "version: 1\nusers:\n  - {email: bob@acme.io, given_name: Bob, family_name: Builder}\n"
    (root / "people" / "bob.yaml").write_text(bob)
    assert run("apply", "-m", str(root), "--auto-approve") == 0
    locked = root / "people" if what == "folder" else root / "people" / "bob.yaml"
    real_scandir, real_open = os.scandir, os.open

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    def fake_open(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    capsys.readouterr()
    with monkeypatch.context() as patched:  # undone before the server's own teardown
        patched.setattr(loader.os, "scandir", scandir)
        patched.setattr("reconciler.files.os.open", fake_open)
        codes = [
            run("validate", "-m", str(root)),
            run("plan", "-m", str(root)),
            run("apply", "-m", str(root), "--auto-approve"),
        ]

    err = capsys.readouterr().err
    assert codes == [1, 1, 1]
    assert err.count(f"{locked}:1:1: cannot read") == 3 and "Permission denied" in err
    assert "Traceback" not in err
    live = {u.key: u.active for u in read_live_state(server.client()).users}
    assert live == {"ada@acme.io": True, "bob@acme.io": True}
