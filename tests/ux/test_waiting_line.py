"""While the client waits to retry, stderr says what, why and when; it never looks hung."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.render.waiting import WaitingLine, waiting_text
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import RetryNotice, RetryPolicy
from reconciler.scim.secret import Token
from scim_sandbox import Faults, Sandbox

TOKEN = "waiting-line-token"
ROOT = Path(__file__).parent.parent.parent


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\norganization: {claimed_domains: [acme.io]}\nusers: []\nteams: []\n"
    )
    return path


def test_the_text_names_the_request_the_reason_and_the_time_of_the_next_attempt() -> None:
    notice = RetryNotice("GET /Users", "HTTP 429 (rate limited)", 2, 6, 30.0)
    text = waiting_text(notice, now=0.0)
    assert text == (
        "waiting to retry GET /Users: HTTP 429 (rate limited); attempt 2 of 6 in 30.0 s "
        "(at 00:00:30 UTC)"
    )


def test_on_a_terminal_the_line_updates_in_place_and_is_cleared_at_the_end() -> None:
    stream = io.StringIO()
    line = WaitingLine(stream, tty=True, clock=lambda: 0.0)
    line(RetryNotice("GET /Users", "refused", 2, 3, 1.0))
    line(RetryNotice("GET /Users", "refused", 3, 3, 2.0))
    line(None)
    assert stream.getvalue().count("\r") == 3
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().endswith("\r\x1b[2K")


def test_the_transport_reports_each_wait_then_the_end_and_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[RetryNotice | None] = []
    faults = Faults(rate_429=1.0, retry_after_s=0.01)
    with Sandbox(token=TOKEN, faults=faults) as sandbox:
        client = ScimClient.connect(
            sandbox.base_url,
            Token(TOKEN),
            retry=RetryPolicy(max_attempts=3, base_delay=0.01),
            on_retry=seen.append,
        )
        with client, pytest.raises(Exception, match="429"):
            client.list_users_page(1, 10)
    notices = [n for n in seen if n is not None]
    assert [n.attempt for n in notices] == [2, 3]
    assert all(n.request == "GET /Users" and "429" in n.reason for n in notices)
    assert all(n.delay == pytest.approx(0.01) for n in notices)
    assert seen[-1] is None
    assert capsys.readouterr() == ("", "")


def test_without_a_terminal_each_wait_is_one_plain_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    url = f"http://127.0.0.1:{_closed_port()}/api/app/scim/v2"
    code = main(["plan", "-m", str(_manifest(tmp_path)), "--url", url, "--max-attempts", "2"])
    err = capsys.readouterr().err
    assert code == 1
    waits = [line for line in err.splitlines() if line.startswith("waiting to retry")]
    assert len(waits) == 1
    assert re.fullmatch(
        r"waiting to retry GET /Users: could not connect \(refused or unresolvable host\); "
        r"attempt 2 of 2 in \d+\.\d s \(at \d\d:\d\d:\d\d UTC\)",
        waits[0],
    )
    assert "\r" not in err and "\x1b" not in err


def test_quiet_shows_no_waiting_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    url = f"http://127.0.0.1:{_closed_port()}/api/app/scim/v2"
    main(["-q", "plan", "-m", str(_manifest(tmp_path)), "--url", url, "--max-attempts", "2"])
    assert "waiting" not in capsys.readouterr().err


def _run_on_a_pty(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the CLI with stdin/stdout/stderr on a pseudo-terminal; all it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=cwd,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_on_a_tty_the_waiting_line_appears_while_a_429_is_waited_out(tmp_path: Path) -> None:
    faults = Faults(rate_429=1.0, retry_after_s=0.2)
    with Sandbox(token=TOKEN, faults=faults) as sandbox:
        env = {
            **os.environ,
            "MIXPANEL_SCIM_TOKEN": TOKEN,
            "PYTHONPATH": str(ROOT),
            "TERM": "xterm",
            "COLUMNS": "200",  # a terminal wide enough to redraw the line in place
        }
        argv = ["plan", "-m", str(_manifest(tmp_path)), "--url", sandbox.base_url]
        output = _run_on_a_pty([*argv, "--max-attempts", "3"], env, tmp_path)
    assert re.search(
        r"\rwaiting to retry GET /Users: HTTP 429 \(rate limited\); attempt 2 of 3 in 0\.2 s "
        r"\(at \d\d:\d\d:\d\d UTC\)\x1b\[K",
        output,
    ), output
    assert "attempt 3 of 3" in output
    assert "\r\x1b[2Kerror:" in output  # the line is cleared before the error is shown


@pytest.mark.parametrize(
    ("term", "columns"), [("xterm", "40"), ("dumb", "200")], ids=["narrow", "TERM=dumb"]
)
def test_a_narrow_or_dumb_terminal_gets_whole_lines_never_a_broken_redraw(
    tmp_path: Path, term: str, columns: str
) -> None:
    faults = Faults(rate_429=1.0, retry_after_s=0.2)
    with Sandbox(token=TOKEN, faults=faults) as sandbox:
        env = {
            **os.environ,
            "MIXPANEL_SCIM_TOKEN": TOKEN,
            "PYTHONPATH": str(ROOT),
            "TERM": term,
            "COLUMNS": columns,
        }
        env.pop("NO_COLOR", None)
        argv = ["plan", "-m", str(_manifest(tmp_path)), "--url", sandbox.base_url]
        output = _run_on_a_pty([*argv, "--max-attempts", "3"], env, tmp_path)
    lines = output.replace("\r\n", "\n").split("\n")
    waits = [line for line in lines if "waiting to retry" in line]
    # A line longer than the terminal wraps, and a carriage return cannot redraw it:
    # each wait is a whole line of its own; a dumb terminal gets no escape codes at all.
    assert [line.startswith("waiting to retry GET /Users") for line in waits] == [True, True]
    assert "\x1b[K" not in output
    if term == "dumb":
        assert "\x1b" not in output and "\r" not in output.replace("\r\n", "")


def test_a_broken_stderr_does_not_fail_the_request_being_waited_for() -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    line = WaitingLine(Broken(), tty=False)
    line(RetryNotice("GET /Users", "refused", 2, 3, 1.0))  # no exception


def test_a_post_sent_again_after_a_lost_answer_is_announced_too() -> None:
    from reconciler.scim import builders
    from reconciler.scim.errors import ScimTransportError

    seen: list[RetryNotice | None] = []
    faults = Faults(drop_rate=1.0, only=frozenset({"POST /Users"}))  # never processed
    with Sandbox(token=TOKEN, faults=faults) as sandbox:
        client = ScimClient.connect(
            sandbox.base_url,
            Token(TOKEN),
            retry=RetryPolicy(max_attempts=2, base_delay=0.01),
            on_retry=seen.append,
        )
        resource = builders.user_resource("ada@acme.io", "Ada", "L", None, True)
        with client, pytest.raises(ScimTransportError):
            client.create_user(resource)
    resend = [n for n in seen if n is not None and n.request == "POST /Users"]
    assert len(resend) == 1
    assert "the answer was lost" in resend[0].reason and resend[0].attempt == 2
    assert seen[seen.index(resend[0]) + 1] is None  # cleared once the wait is over


def test_the_plain_waiting_lines_match_the_golden_file() -> None:
    from tests.ux.golden import check_message

    stream = io.StringIO()
    line = WaitingLine(stream, tty=False, clock=lambda: 43_200.0)  # 12:00:00 UTC
    reason = "could not connect (refused or unresolvable host)"
    line(RetryNotice("GET /Users", reason, 2, 6, 0.4))
    line(RetryNotice("GET /Users", "HTTP 429 (rate limited)", 3, 6, 30.0))
    line(None)
    check_message("waiting_lines", stream.getvalue(), {})


def _pty_until_waiting(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the CLI on a pseudo-terminal until its first waiting line is drawn, then
    Ctrl-C it (as a user who thinks it hung would); all it wrote. Bounded: 30 s."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=cwd,
    )
    os.close(follower)
    output = b""
    interrupted = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not interrupted and b"\x1b[K" in output.split(b"waiting to retry", 1)[-1]:
                process.send_signal(signal.SIGINT)
                interrupted = True
            if process.poll() is not None and not ready:
                break
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return output.decode("utf-8", "replace")


def _pty_env() -> dict[str, str]:
    return {
        **os.environ,
        "MIXPANEL_SCIM_TOKEN": TOKEN,
        "PYTHONPATH": str(ROOT),
        "TERM": "xterm",
        "COLUMNS": "300",
    }


@pytest.mark.parametrize(
    ("faults", "says"),
    [
        (
            None,
            r"could not connect \(refused or unresolvable host\); attempt 2 of 6 in \d+\.\d s",
        ),
        (
            Faults(rate_429=1.0, retry_after_s=90.0),
            r"HTTP 429 \(rate limited\); the server asked to wait 90 s, this run waits at most "
            r"30 s per retry; attempt 2 of 6 in 30\.0 s",
        ),
        (Faults(rate_5xx=1.0), r"HTTP 50[023]; attempt 2 of 6 in \d+\.\d s"),
    ],
    ids=["refused", "429 with a long Retry-After", "5xx"],
)
def test_on_a_tty_a_long_wait_is_visible_at_once_with_the_default_settings(
    tmp_path: Path, faults: Faults | None, says: str
) -> None:
    # The cases without -v and with the defaults: the line is there while the
    # client waits (a 90 s Retry-After is not waited out here: Ctrl-C once it shows).
    argv = ["plan", "-m", str(_manifest(tmp_path))]
    if faults is None:
        url = f"http://127.0.0.1:{_closed_port()}/api/app/scim/v2"
        output = _pty_until_waiting([*argv, "--url", url], _pty_env(), tmp_path)
    else:
        with Sandbox(token=TOKEN, faults=faults) as sandbox:
            output = _pty_until_waiting([*argv, "--url", sandbox.base_url], _pty_env(), tmp_path)
    assert re.search(
        rf"\rwaiting to retry GET /Users: {says} \(at \d\d:\d\d:\d\d UTC\)\x1b\[K", output
    ), output
    assert "Traceback" not in output
    assert "\r\x1b[2K" in output.split("waiting to retry", 1)[1]  # cleared before exiting


def test_when_one_of_two_parallel_waits_ends_the_line_shows_the_other_not_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # apply --concurrency: two requests wait at once, each in its own thread.
    import threading

    monkeypatch.setenv("COLUMNS", "200")  # a terminal wide enough to redraw in place
    stream = io.StringIO()
    now = [100.0]
    line = WaitingLine(stream, tty=True, clock=lambda: now[0])
    long_wait = RetryNotice("PATCH /Groups/g1", "HTTP 429 (rate limited)", 2, 6, 30.0)
    short_wait = RetryNotice("PATCH /Groups/g2", "HTTP 503", 2, 6, 1.0)
    announced, over = threading.Event(), threading.Event()

    def long_request() -> None:  # announces, waits, then its wait ends: in one thread
        line(long_wait)
        announced.set()
        over.wait(timeout=10)
        line(None)

    other = threading.Thread(target=long_request)
    other.start()
    assert announced.wait(timeout=10)
    line(short_wait)
    now[0] = 110.0
    line(None)  # this thread's wait is over; the other thread still waits
    shown = stream.getvalue().rsplit("\r", 1)[-1]
    assert shown.startswith("waiting to retry PATCH /Groups/g1: HTTP 429 (rate limited)")
    assert "in 20.0 s" in shown  # the time it has left, not the 30 s it started with
    over.set()
    other.join(timeout=10)
    assert stream.getvalue().endswith("\r\x1b[2K")


def test_clearing_on_ctrl_c_forgets_every_wait() -> None:
    from reconciler.render.waiting import clear_waiting_lines

    stream = io.StringIO()
    line = WaitingLine(stream, tty=True, clock=lambda: 0.0)
    line(RetryNotice("GET /Users", "refused", 2, 3, 1.0))
    clear_waiting_lines()
    assert stream.getvalue().endswith("\r\x1b[2K")
    line(None)  # the request's own end afterwards draws nothing again
    assert stream.getvalue().endswith("\r\x1b[2K")
