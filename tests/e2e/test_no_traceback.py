"""Filesystem, environment and decode errors: one line naming the path or variable, exit 1.

Each test is one of the failing inputs of issue 12 (item 8), run through the real
CLI against the sandbox on 127.0.0.1; none may print a traceback or leave a file
half written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest

USERS = [person("ada@acme.io", "Ada", "Lovelace"), person("bob@acme.io", "Bob", "Builder")]


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        yield box


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "org.yaml", USERS, [{"name": "Data", "members": []}])


def one_error_line(err: str) -> str:
    """The single line of stderr, checked to be an error and not a traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# -- output files -------------------------------------------------------------------
def test_plan_out_an_existing_folder_names_it_and_writes_nothing(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()

    code = run("plan", "-m", str(manifest), "--out", str(folder))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        f"error: cannot write the plan file {folder}: it is a folder; "
        "pass --out a file path in a writable folder"
    )
    assert list(folder.iterdir()) == []
    assert sandbox.stats.requests() == {}  # refused before the org was read


def test_plan_out_a_path_that_cannot_be_written_names_it(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    out = blocker / "plan.json"

    code = run("plan", "-m", str(manifest), "--out", str(out))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith(f"error: cannot write the plan file {out}: ")
    assert line.endswith("; pass --out a file path in a writable folder")


def test_plan_out_on_a_read_only_file_system_names_the_path(
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Tests run as root, for whom chmod does not make a folder read-only: the file
    # system's refusal is simulated where the temporary file is created.
    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    out = tmp_path / "plan.json"

    code = run("plan", "-m", str(manifest), "--out", str(out))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        f"error: cannot write the plan file {out}: Read-only file system; "
        "pass --out a file path in a writable folder"
    )
    assert not out.exists()


def test_import_out_an_existing_file_is_refused_before_the_org_is_read(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "manifests"
    existing.write_text("keep me")
    requests_before = sum(sandbox.stats.requests().values())

    code = run("import", "--out", str(existing))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == f"error: --out {existing} is a file; pass a folder (new or empty) for --out"
    assert existing.read_text() == "keep me"
    assert sum(sandbox.stats.requests().values()) == requests_before


def test_import_split_teams_with_a_300_character_team_name_round_trips(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_name = "Data " + "x" * 295
    sandbox.store.create_user(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@acme.io",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
        }
    )
    sandbox.store.create_group(
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": long_name}
    )
    out = tmp_path / "manifests"

    assert run("import", "--split-teams", "--out", str(out)) == 0
    capsys.readouterr()

    team_files = list((out / "teams").iterdir())
    assert len(team_files) == 1 and len(team_files[0].name) <= 90
    assert long_name in team_files[0].read_text()
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0


# -- the journal ----------------------------------------------------------------------
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_apply_with_the_journal_on_a_device_applies_nothing_and_says_so(
    sandbox: Sandbox, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A device is refused as a journal before anything is written (issue 12 review,
    # finding 3); a disk filling up midway is the next test.
    code = run("apply", "-m", str(manifest), "--auto-approve", "--journal", "/dev/full")

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        "error: cannot open the journal /dev/full: it is a character device, not a regular "
        "file; nothing was applied; pass --journal a writable file on a disk with free space"
    )
    assert sandbox.store.users() == []


def test_a_journal_that_fills_up_midway_stops_apply_with_exit_5_and_a_rerun_finishes(
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reconciler import journal

    real_write = os.write
    writes: list[int] = []

    def disk_fills_after_the_first_event(fd: int, data: bytes) -> int:
        writes.append(fd)
        if len(writes) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    journal_file = tmp_path / "journal.jsonl"
    with monkeypatch.context() as patch:
        patch.setattr(journal.os, "write", disk_fills_after_the_first_event)
        code = run("apply", "-m", str(manifest), "--auto-approve", "--journal", str(journal_file))

    line = one_error_line(capsys.readouterr().err)
    assert code == 5
    assert line.startswith(f"error: cannot write the journal {journal_file}: No space left")
    assert "apply stopped midway" in line and "re-run apply" in line
    assert run("apply", "-m", str(manifest), "--auto-approve", "--journal", str(journal_file)) == 0
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_apply_with_the_journal_path_a_folder_applies_nothing(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("apply", "-m", str(manifest), "--auto-approve", "--journal", str(tmp_path))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith(f"error: cannot open the journal {tmp_path}: ")
    assert "nothing was applied" in line
    assert sandbox.store.users() == []


# -- tokens, environment, plan files ----------------------------------------------------
def test_a_token_with_a_non_ascii_character_names_the_variable(
    sandbox: Sandbox,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN + "\u2019")
    requests_before = sum(sandbox.stats.requests().values())

    code = run("plan", "-m", str(manifest))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith("error: MIXPANEL_SCIM_TOKEN: the token holds a non-ASCII character")
    assert TOKEN not in line
    assert sum(sandbox.stats.requests().values()) == requests_before  # refused before any request


def test_a_token_file_holding_byte_0xff_names_the_file(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(TOKEN.encode() + b"\xff\n")
    token_file.chmod(0o600)

    code = run("plan", "-m", str(manifest), "--token-file", str(token_file))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        f"error: token file {token_file} is not UTF-8 text (byte 0xff at offset "
        f"{len(TOKEN)}); pass --token-file a plain-text file holding only the SCIM token"
    )


def test_a_token_file_with_a_non_ascii_token_names_the_file(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("\u201c" + TOKEN + "\u201d\n", encoding="utf-8")
    token_file.chmod(0o600)

    code = run("plan", "-m", str(manifest), "--token-file", str(token_file))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith(f"error: token file {token_file}: the token holds a non-ASCII")


def test_reconciler_today_garbage_names_the_variable(
    sandbox: Sandbox,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECONCILER_TODAY", "garbage")

    codes = [run("validate", "-m", str(manifest)), run("plan", "-m", str(manifest))]

    err = capsys.readouterr().err
    assert codes == [1, 1]
    assert "Traceback" not in err
    for line in err.strip().splitlines():
        assert line.startswith("error: RECONCILER_TODAY='garbage' is not a date")


def test_a_plan_file_that_is_not_utf8_names_the_file(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(b'{"format_version": 1, "x": "\xff\xfe"}')

    code = run("apply", str(plan_file), "--auto-approve")

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        f"error: plan file {plan_file} is not UTF-8 text (byte 0xff at offset 28); "
        "pass the JSON file that `reconciler plan --out FILE` wrote"
    )


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null", "a folder"])
def test_a_plan_file_that_is_not_a_regular_file_is_refused_unread(
    special: str, sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path) if special == "a folder" else special
    if not Path(path).exists():
        pytest.skip(f"no {path}")

    code = run("apply", path, "--auto-approve")

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith(f"error: cannot read plan file {path}: not a regular file (it is")


# -- GitHub answering something else than its API --------------------------------------
def _github_handler(body: bytes, content_type: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = _answer

    return Handler


@contextlib.contextmanager
def github_api(body: bytes, content_type: str) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _github_handler(body, content_type))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


GITHUB_ANSWERS = {
    "html": (b"<html><body>Unicorn! Service unavailable</body></html>", "text/html"),
    "object for a list": (json.dumps({"message": "ok", "items": []}).encode(), "application/json"),
    "list of strings": (json.dumps(["a", "b"]).encode(), "application/json"),
    "comment without id": (json.dumps([{"body": "x", "user": 3}]).encode(), "application/json"),
    "bad timestamp": (
        json.dumps([{"id": 1, "body": "", "user": {}, "updated_at": "soon"}]).encode(),
        "application/json",
    ),
}


@pytest.mark.parametrize("answer", GITHUB_ANSWERS, ids=list(GITHUB_ANSWERS))
def test_github_comment_on_an_answer_that_is_not_the_api_is_one_line(
    answer: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body_file = tmp_path / "plan.md"
    body_file.write_text("## Plan\n")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + "t" * 36)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
    with github_api(*GITHUB_ANSWERS[answer]) as api:
        monkeypatch.setenv("GITHUB_API_URL", api)
        code = run("github", "comment", "--pr", "7", "--body-file", str(body_file))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith("error: cannot list the comments of #7: ")
    assert "GITHUB_API_URL" in line and "ghs_" not in line


# -- the last resort ------------------------------------------------------------------------
def test_an_unforeseen_error_is_one_line_naming_the_command_and_asking_for_a_report(
    manifest: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.manifest import loader

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(loader, "load_manifest", broken)

    code = run("validate", "-m", str(manifest))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        "error: reconciler validate failed unexpectedly (RuntimeError); this is a bug, "
        "please report it with the command you ran (re-run with -vv to include the traceback)"
    )
    assert run("-vv", "validate", "-m", str(manifest)) == 1
    assert "Traceback" in capsys.readouterr().err  # asked for, with -vv


def test_an_unforeseen_os_error_names_its_path(
    manifest: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.manifest import loader

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/x.yaml")

    monkeypatch.setattr(loader, "load_manifest", denied)

    code = run("validate", "-m", str(manifest))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        "error: /somewhere/x.yaml: Permission denied; check the path and its permissions, "
        "and re-run"
    )


def test_a_github_token_with_a_non_ascii_character_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body_file = tmp_path / "plan.md"
    body_file.write_text("## Plan\n")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_abc\u00e9")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
    with github_api(b"[]", "application/json") as api:
        monkeypatch.setenv("GITHUB_API_URL", api)
        code = run("github", "comment", "--pr", "7", "--body-file", str(body_file))

    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith("error: GITHUB_TOKEN: the token holds a non-ASCII character")
