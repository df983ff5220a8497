"""Local reads are bounded: a device, a silent pipe or a huge file is refused, fast.

Issue 12, item 9: ``--token-file /dev/zero`` read 5 GB, a FIFO token file hung,
``--config /dev/zero`` did the same, and manifest files had no total cap. Each
case runs the real CLI against the sandbox on 127.0.0.1.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import files
from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest

FIX = "pass --token-file a plain-text file holding only the SCIM token"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIXPANEL_SCIM_TOKEN", raising=False)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        yield box


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_token_file_that_is_a_device_is_refused_unread(
    sandbox: Sandbox, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("plan", "-m", str(manifest), "--token-file", "/dev/zero")

    assert code == 1
    assert error_line(capsys) == (
        "error: cannot read token file /dev/zero: not a regular file (it is a character "
        f"device); {FIX}"
    )


def test_a_token_file_over_the_cap_is_refused(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "token"
    big.write_bytes(TOKEN.encode() + b"\n" + b"#" * (16 * 1024))
    big.chmod(0o600)

    code = run("plan", "-m", str(manifest), "--token-file", str(big))

    assert code == 1
    assert error_line(capsys) == f"error: cannot read token file {big}: larger than 16 KiB; {FIX}"


def test_a_fifo_token_file_nobody_writes_to_does_not_hang(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()

    code = run("plan", "-m", str(manifest), "--token-file", str(fifo))

    assert code == 1
    assert time.monotonic() - started < 5
    assert error_line(capsys) == (
        f"error: token file {fifo} is empty; put the SCIM token on its first line"
    )


def test_a_fifo_whose_writer_stays_silent_gives_up_at_the_deadline(
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(files, "PIPE_TIMEOUT_S", 0.2)
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo)
    done = threading.Event()

    def silent_writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)  # blocks until the CLI opens the FIFO
        done.wait(5)
        os.close(fd)

    writer = threading.Thread(target=silent_writer)
    writer.start()
    try:
        code = run("plan", "-m", str(manifest), "--token-file", str(fifo))
    finally:
        done.set()
        writer.join(5)

    assert code == 1
    assert error_line(capsys) == (
        f"error: cannot read token file {fifo}: a pipe that sent no end of file within 0.2 s; {FIX}"
    )


def test_a_token_from_a_pipe_is_read(
    sandbox: Sandbox, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--token-file <(vault read ...)`: the shell passes /dev/fd/N, a pipe.
    read_end, write_end = os.pipe()
    os.write(write_end, TOKEN.encode() + b"\n")
    os.close(write_end)
    try:
        code = run("plan", "-m", str(manifest), "--token-file", f"/proc/self/fd/{read_end}")
    finally:
        os.close(read_end)

    assert code == 0
    assert "ada@acme.io" in capsys.readouterr().out


def test_a_config_that_is_a_device_is_refused_unread(
    sandbox: Sandbox, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("--config", "/dev/zero", "validate")

    assert code == 1
    line = error_line(capsys)
    assert line.startswith(
        "error: cannot read orgs config /dev/zero: not a regular file (it is a character device)"
    )


def test_a_config_over_the_cap_or_not_utf8_is_refused(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big, latin = tmp_path / "big.yaml", tmp_path / "latin.yaml"
    big.write_bytes(b"version: 1\n" + b"#" * (1024 * 1024))
    latin.write_bytes(b"version: 1\norgs:\n  - {name: caf\xe9, manifest: m}\n")

    assert run("--config", str(big), "validate") == 1
    assert error_line(capsys).startswith(f"error: cannot read orgs config {big}: larger than 1 MiB")
    assert run("--config", str(latin), "validate") == 1
    # Like a manifest's problem: the line and column of the first bad byte, then the count.
    assert capsys.readouterr().err.splitlines() == [
        f"{latin}:3:15: not UTF-8 text (byte 0xe9); save it as UTF-8",
        f"error: 1 problem in the orgs config {latin}",
    ]


def test_manifest_files_over_the_total_cap_stop_plan_before_any_request(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_MANIFEST_MAX_MIB", "1")
    root = tmp_path / "manifests"
    root.mkdir()
    write_manifest(root / "org.yaml", [person("ada@acme.io")], [])
    for n in range(3):
        (root / f"pad{n}.yaml").write_bytes(b"version: 1\n" + b"#" * 400_000 + b"\n")

    code = run("plan", "-m", str(root))

    err = capsys.readouterr().err
    assert code == 1
    assert f"{root}:1:1: the manifest files below this folder hold more than 1 MiB together" in err
    assert "RECONCILER_MANIFEST_MAX_MIB=N" in err
    assert sandbox.stats.requests() == {}


@pytest.mark.parametrize("kind", ["device", "fifo", "unreadable"])
def test_a_manifest_file_that_cannot_be_read_stops_plan_before_any_request(
    kind: str,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A file the loader cannot read is known before any parsing: no request is sent
    # (against a slow or unreachable server the run would otherwise wait on it).
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    root = tmp_path / "manifests"
    root.mkdir()
    write_manifest(root / "org.yaml", [person("ada@acme.io")], [])
    bad = Path("/dev/zero") if kind == "device" else root / "bob.yaml"
    if kind == "fifo":
        os.mkfifo(bad)
    elif kind == "unreadable":
        write_manifest(bad, [person("bob@acme.io")], [])
    real_open = os.open

    def fake_open(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        # Tests run as root, which reads any file: EACCES is simulated for one path.
        if isinstance(path, (str, os.PathLike)) and Path(path) == bad:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kw)

    with monkeypatch.context() as patched:  # undone before the sandbox's teardown
        if kind == "unreadable":
            patched.setattr("reconciler.files.os.open", fake_open)
        code = run("plan", "-m", str(bad if kind == "device" else root))

    err = capsys.readouterr().err
    assert code == 1 and f"{bad}:1:1: " in err and "Traceback" not in err
    assert sandbox.stats.requests() == {}


@pytest.mark.parametrize("state", ["/dev/zero", "a folder"])
def test_a_sandbox_state_file_that_is_not_a_file_is_refused_unread(
    state: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path) if state == "a folder" else state

    code = run("sandbox", "--state", path, "--port", "0", "--token", TOKEN)

    assert code == 1
    assert error_line(capsys) == (
        f"error: sandbox state file {path} is not a regular file; pass --state a file path"
    )
