"""A folder manifest never skips a file silently, and its total size is capped.

Ignored on purpose, by the documented rule: names starting with ``.`` and files
not ending in ``.yaml``/``.yml``. Everything else that cannot be read is a problem
naming its path: a skipped file's users would otherwise vanish from the desired
state, and ``unmanaged_users: deactivate`` would deprovision them.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.manifest import loader
from reconciler.manifest.loader import load_manifest
from tests.manifest.support import ORG, TODAY, problems_of, write

ADA = "version: 1\nusers:\n  - {email: ada@acme.io, given_name: Ada, family_name: Lovelace}\n"


def manifest_folder(root: Path) -> Path:
    return write(root, {"org.yaml": ORG, "people/ada.yaml": ADA})


def test_a_broken_symlink_is_a_problem_naming_it_and_its_target(tmp_path: Path) -> None:
    manifest_folder(tmp_path)
    (tmp_path / "people" / "bob.yaml").symlink_to("missing.yaml")

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'people' / 'bob.yaml'}:1:1: broken symlink (it points to missing.yaml, "
        "which does not exist), so a manifest file may be missing; fix the link or remove it"
    ]


def test_a_broken_symlink_without_a_yaml_suffix_is_a_problem_too(tmp_path: Path) -> None:
    # It may have been a folder of manifest files: nothing tells it apart.
    manifest_folder(tmp_path)
    (tmp_path / "teams").symlink_to(tmp_path / "gone")

    lines = problems_of(tmp_path)

    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'teams'}:1:1: broken symlink")


def test_a_symlinked_folder_is_a_problem_not_a_silent_skip(tmp_path: Path) -> None:
    manifest_folder(tmp_path / "repo")
    write(tmp_path / "elsewhere", {"bob.yaml": ADA.replace("ada", "bob")})
    (tmp_path / "repo" / "more").symlink_to(tmp_path / "elsewhere")

    assert problems_of(tmp_path / "repo") == [
        f"{tmp_path / 'repo' / 'more'}:1:1: symlinked folder: not followed, so its manifest "
        "files would be skipped; move the folder here, or remove the link"
    ]


def test_an_unreadable_folder_is_a_problem_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, which reads any folder whatever its mode: the refusal the
    # kernel gives other users is simulated for one folder.
    manifest_folder(tmp_path)
    locked = tmp_path / "people"
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(loader.os, "scandir", scandir)

    assert problems_of(tmp_path) == [
        f"{locked}:1:1: cannot read this folder (Permission denied), so its manifest files "
        "would be skipped; make it readable, or move it out of the manifest folder"
    ]


def test_an_unreadable_file_is_a_problem_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest_folder(tmp_path)
    locked = tmp_path / "people" / "ada.yaml"
    real_open = os.open

    def fake_open(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr("reconciler.files.os.open", fake_open)

    assert problems_of(tmp_path) == [f"{locked}:1:1: cannot read: Permission denied"]


def test_a_fifo_named_yaml_is_refused_without_blocking(tmp_path: Path) -> None:
    manifest_folder(tmp_path)
    os.mkfifo(tmp_path / "people" / "bob.yaml")

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'people' / 'bob.yaml'}:1:1: not a regular file (it is a device, pipe or "
        "socket); a manifest file must be a plain file"
    ]


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    manifest_folder(tmp_path)
    (tmp_path / "a.yaml").symlink_to("nowhere.yaml")
    (tmp_path / "people" / "z.yml").symlink_to("nowhere.yml")

    lines = problems_of(tmp_path)

    assert [line.split(":1:1:")[0] for line in lines] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "people" / "z.yml"),
    ]


def test_what_the_rule_ignores_stays_ignored(tmp_path: Path) -> None:
    manifest_folder(tmp_path)
    write(tmp_path, {"README.md": "# hi", ".draft.yaml": "not: [valid", "notes.txt": "x"})
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD.yaml").symlink_to("nowhere")
    (tmp_path / ".cache").symlink_to(tmp_path / "people")  # hidden: by the rule, not read
    (tmp_path / "people" / "ada.yaml.orig").write_text("x")

    loaded = load_manifest(tmp_path, today=TODAY)

    assert loaded.sources == (str(tmp_path / "org.yaml"), str(tmp_path / "people" / "ada.yaml"))


def test_a_symlink_to_a_file_is_read_like_the_file(tmp_path: Path) -> None:
    write(tmp_path / "shared", {"ada.yaml": ADA})
    write(tmp_path / "repo", {"org.yaml": ORG})
    (tmp_path / "repo" / "ada.yaml").symlink_to(tmp_path / "shared" / "ada.yaml")

    loaded = load_manifest(tmp_path / "repo", today=TODAY)

    assert [u.email for u in loaded.manifest.users] == ["ada@acme.io"]


def test_the_root_may_be_a_symlink_to_the_manifest_folder(tmp_path: Path) -> None:
    manifest_folder(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")

    assert len(load_manifest(tmp_path / "link", today=TODAY).manifest.users) == 1


def test_a_device_as_the_manifest_is_refused_unread(tmp_path: Path) -> None:
    assert problems_of("/dev/zero") == [
        "/dev/zero:1:1: cannot read: not a regular file (it is a character device)"
    ]


# -- the total cap ---------------------------------------------------------------------
def test_the_files_together_are_capped_before_any_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_TOTAL_BYTES", 1024)
    files = {
        "org.yaml": ORG,
        **{f"t{n}.yaml": "version: 1\n# " + "x" * 300 + "\n" for n in range(4)},
    }
    write(tmp_path, files)
    parsed: list[str] = []
    monkeypatch.setattr(loader, "check_file", lambda text, name, **_: parsed.append(name))

    assert problems_of(tmp_path) == [
        f"{tmp_path}:1:1: the manifest files below this folder hold more than 1 KiB together; "
        "is it the right folder? A larger org can raise the cap with "
        "RECONCILER_MANIFEST_MAX_MIB=N (MiB)"
    ]
    assert parsed == []


def test_the_default_total_cap_is_64_mebibytes_and_the_environment_raises_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert loader.total_cap() == 64 * 1024 * 1024
    monkeypatch.setenv("RECONCILER_MANIFEST_MAX_MIB", "100")
    assert loader.total_cap() == 100 * 1024 * 1024


def test_thirteen_five_mebibyte_files_are_refused_in_well_under_a_minute(tmp_path: Path) -> None:
    # Issue 12: ten 5 MB files took 127 s and 2.5 GB. Over the default cap, reading
    # stops at the file that crosses it and nothing is parsed.
    write(tmp_path, {"org.yaml": ORG})
    for n in range(13):
        (tmp_path / f"t{n}.yaml").write_bytes(b"#" * (5 * 1024 * 1024 - 16) + b"\nversion: 1\n")

    lines = problems_of(tmp_path)

    assert len(lines) == 1 and "more than 64 MiB together" in lines[0]


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5", "99999999999", "\u00b2", "9" * 5000])
def test_a_malformed_total_cap_names_the_variable(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest_folder(tmp_path)
    monkeypatch.setenv("RECONCILER_MANIFEST_MAX_MIB", value)

    with pytest.raises(ConfigError) as raised:
        load_manifest(tmp_path, today=TODAY)

    assert str(raised.value).startswith(f"RECONCILER_MANIFEST_MAX_MIB={value!r} is not a whole")


def test_a_tree_of_too_many_folders_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_FOLDERS", 3)
    manifest_folder(tmp_path)
    for name in ("a/b", "c", "d"):
        (tmp_path / name).mkdir(parents=True)

    assert problems_of(tmp_path) == [
        f"{tmp_path}:1:1: more than 3 folders below this folder; is it the right one?"
    ]
