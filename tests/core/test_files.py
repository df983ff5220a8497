"""Local files: a set of files is written whole or not at all; reads are bounded."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from reconciler import files
from reconciler.files import (
    FileWriteError,
    ReadRefused,
    read_bounded,
    size_text,
    write_file_set,
    write_output,
)

FIX = "pass --out a folder you can write to"


def everything_below(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_file_set_is_written_with_its_folders(tmp_path: Path) -> None:
    write_file_set(
        tmp_path / "out", {"org.yaml": "a", "teams/data.yaml": "b"}, what="the set", fix=FIX
    )

    assert everything_below(tmp_path) == ["out", "out/org.yaml", "out/teams", "out/teams/data.yaml"]
    assert (tmp_path / "out" / "teams" / "data.yaml").read_text() == "b"


def test_a_name_the_file_system_refuses_leaves_nothing_written(tmp_path: Path) -> None:
    long_name = "teams/" + "x" * 300 + ".yaml"

    with pytest.raises(FileWriteError) as raised:
        write_file_set(tmp_path / "out", {"org.yaml": "a", long_name: "b"}, what="the set", fix=FIX)

    assert "a name longer than 255 bytes" in str(raised.value)
    assert str(raised.value).endswith(f"; {FIX}")
    assert everything_below(tmp_path) == []  # not even org.yaml, nor the folders


def test_a_failure_while_staging_removes_what_was_staged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_stage = files._stage
    staged: list[Path] = []

    def disk_full_on_the_second(path: Path, payload: bytes) -> Path:
        if staged:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        staged.append(real_stage(path, payload))
        return staged[-1]

    monkeypatch.setattr(files, "_stage", disk_full_on_the_second)
    (tmp_path / "out").mkdir()

    with pytest.raises(FileWriteError) as raised:
        write_file_set(tmp_path / "out", {"a.yaml": "a", "b.yaml": "b"}, what="the set", fix=FIX)

    assert "No space left on device" in str(raised.value)
    assert everything_below(tmp_path) == ["out"]  # the folder was there before: kept


def test_a_file_set_below_a_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("keep")

    with pytest.raises(FileWriteError) as raised:
        write_file_set(tmp_path / "out", {"org.yaml": "a"}, what="the set", fix=FIX)

    assert str(raised.value) == (
        f"cannot write the set {tmp_path / 'out'}: it is a file, not a folder; {FIX}"
    )
    assert (tmp_path / "out").read_text() == "keep"


def test_write_output_names_a_folder_as_such(tmp_path: Path) -> None:
    with pytest.raises(FileWriteError) as raised:
        write_output(tmp_path, "x", what="the plan file", fix="pass another path")

    assert (
        str(raised.value)
        == f"cannot write the plan file {tmp_path}: it is a folder; pass another path"
    )


def test_read_bounded_reads_a_file_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)

    assert read_bounded(path, 10) == b"x" * 10
    with pytest.raises(ReadRefused) as raised:
        read_bounded(path, 9)
    assert raised.value.too_large and raised.value.reason == "larger than 9 bytes"


def test_read_bounded_stops_a_pipe_at_the_limit() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"y" * 100)
    os.close(write_end)
    try:
        with pytest.raises(ReadRefused) as raised:
            read_bounded(Path(f"/proc/self/fd/{read_end}"), 50)
    finally:
        os.close(read_end)

    assert raised.value.too_large


@pytest.mark.parametrize(
    ("limit", "text"), [(16 * 1024, "16 KiB"), (5 * 1024 * 1024, "5 MiB"), (1536, "1.5 KiB")]
)
def test_sizes_are_said_in_the_unit_people_write(limit: int, text: str) -> None:
    assert size_text(limit) == text
