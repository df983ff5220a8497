"""A folder manifest whose files cannot all be read never deprovisions anyone.

Issue 12, item 7: with ``unmanaged_users: deactivate``, a file skipped without a
word (a broken symlink, a symlinked folder) made its users "unmanaged", and plan
deactivated them. Now validate, plan and apply stop with exit 1 naming the path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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
