"""``import`` never leaves a manifest file beside its own that plan would read with them.

``plan -m OUT`` reads every ``*.yaml`` below the folder. A file an earlier import
wrote for a team deleted since (``--force`` overwrites, never deletes) or a file
written by hand would be read with the imported files, and the team would come back
as a grant. Import refuses such a folder before writing anything; over real HTTP
against the sandbox and scim2-server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Server, person, run, write_manifest


def _seed(server: Server, tmp_path: Path) -> None:
    users = [person("ada@acme.io"), person("bob@acme.io")]
    teams = [
        {"name": "Data", "members": ["ada@acme.io"]},
        {"name": "Ops", "members": ["bob@acme.io"]},
    ]
    manifest = write_manifest(tmp_path / "seed.yaml", users, teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*.yaml"))}


def test_a_forced_reimport_refuses_the_file_of_a_team_deleted_since(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(server, tmp_path)
    out = tmp_path / "imported"
    assert run("import", "--split-teams", "--out", str(out)) == 0
    assert (out / "teams" / "ops.yaml").is_file()
    with server.client() as client:
        page = client.list_groups_page(1, 100)
        ops = next(group for group in page.resources if group["displayName"] == "Ops")
        client.delete_group(ops["id"])
    before = _snapshot(out)
    capsys.readouterr()

    code = run("import", "--split-teams", "--out", str(out), "--force")

    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"error: {out / 'teams' / 'ops.yaml'} is a manifest file this import would not write" in err
    )
    assert "nothing was written" in err and "Traceback" not in err
    assert _snapshot(out) == before
    (out / "teams" / "ops.yaml").unlink()  # the fix the message names
    assert run("import", "--split-teams", "--out", str(out), "--force") == 0
    capsys.readouterr()
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0  # the promise: no changes
    assert "No changes" in capsys.readouterr().out


def test_a_hand_written_file_in_the_out_folder_is_refused_without_force_too(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(server, tmp_path)
    out = tmp_path / "imported"
    out.mkdir()
    extra = write_manifest(out / "extra.yaml", [person("zed@acme.io")], [])
    extra.write_text(
        extra.read_text().replace(
            "organization:\n  claimed_domains:\n  - acme.io\n  - acmelabs.io\n", ""
        )
    )
    capsys.readouterr()

    code = run("import", "--out", str(out))

    err = capsys.readouterr().err
    assert code == 1
    assert f"error: {extra} is a manifest file this import would not write" in err
    assert sorted(p.name for p in out.iterdir()) == ["extra.yaml"]


def test_a_forced_reimport_over_its_own_files_still_works(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(server, tmp_path)
    out = tmp_path / "imported"
    assert run("import", "--split-teams", "--out", str(out)) == 0
    assert run("import", "--split-teams", "--out", str(out), "--force") == 0
    capsys.readouterr()
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0


def test_a_folder_plan_cannot_read_is_refused_before_anything_is_written_through_it(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --out's `teams` is a symlink to a folder elsewhere (plan refuses to read it).
    _seed(server, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "imported"
    out.mkdir()
    (out / "teams").symlink_to(elsewhere, target_is_directory=True)
    capsys.readouterr()

    code = run("import", "--split-teams", "--out", str(out), "--force")

    err = capsys.readouterr().err
    # Before: the check was skipped on that error, the team files were written through
    # the link into `elsewhere`, and the error then blamed import ("report as a bug").
    assert code == 1
    assert list(elsewhere.iterdir()) == []
    assert list(out.iterdir()) == [out / "teams"]
    assert "symlinked folder" in err and "nothing was written" in err
    assert "bug" not in err and "Traceback" not in err
