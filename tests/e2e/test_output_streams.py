"""Standard output in any encoding, closed, or full: one clear line, never a crash.

Run as a real process (the stream encoding and a closed descriptor are set when
Python starts) against the sandbox on 127.0.0.1.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, person, run, write_manifest

NAME = "\u0410nn \U0001f600"  # a Cyrillic A and an emoji: not in ASCII nor Latin-1


def _reconciler(
    *argv: str, env: dict[str, str], close_stdout: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *argv],
        env={**os.environ, **env},
        capture_output=not close_stdout,
        stderr=subprocess.PIPE if close_stdout else None,
        preexec_fn=(lambda: os.close(1)) if close_stdout else None,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "ascii"},
        {"PYTHONIOENCODING": "latin-1"},
        {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
    ],
    ids=["ascii", "latin-1", "C-locale"],
)
def test_a_name_the_output_encoding_cannot_hold_is_shown_escaped(
    env: dict[str, str], server: Server, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", [person("ann@acme.io", given=NAME)], [])

    done = _reconciler("plan", "-m", str(manifest), env=env)

    assert done.returncode == 0, done.stderr
    assert "unexpectedly" not in done.stderr
    assert "\\u0410nn \\U0001f600" in done.stdout


@pytest.mark.parametrize("argv", [("schema",), ("validate", "-m", "org.yaml"), ("plan",)])
def test_a_closed_stdout_is_one_error_line_before_anything_runs(
    argv: tuple[str, ...], server: Server, tmp_path: Path
) -> None:
    write_manifest(tmp_path / "org.yaml", [person("ann@acme.io")], [])
    if argv == ("plan",):
        argv = ("plan", "-m", "org.yaml")

    done = _reconciler(*argv, env={}, close_stdout=True)

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: reconciler {argv[0]}: standard output is closed, so its output would be lost; "
        "send it to a file, a pipe or /dev/null instead of closing it"
    ]


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_stdout_names_standard_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", _FullDisk())

    code = run("schema")

    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [
        "error: cannot write to standard output: No space left on device; send the output "
        "to a file on a disk with free space or to a pipe, and re-run"
    ]
