"""An on-call operator's bad day, over real HTTP against the sandbox on 127.0.0.1.

A run stopped by a run-level bound (the retry budget spent on a 429, or too many
connection failures in a row) while it lists the teams says what stopped it: the
request that was refused and why, never a fallback listing the stopped run did not
even send ("no answer: not sent").
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.scim.client import ScimClient
from scim_sandbox import Sandbox
from scim_sandbox.faults import Faults
from tests.e2e.conftest import TOKEN, person, run, write_manifest


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.parametrize(
    ("faults", "flags", "cause"),
    [
        (
            Faults(rate_429=1.0, retry_after_s=30.0, only=frozenset({"GET /Groups"})),
            ("--retry-budget", "2"),
            "HTTP 429: too many requests, retry later; the run was stopped: waiting for "
            "retries would exceed the run's retry budget of 2 s (limit --retry-budget)",
        ),
        (
            Faults(drop_rate=1.0, only=frozenset({"GET /Groups"})),
            ("--max-connection-failures", "2"),
            "the run was stopped: 2 connection failures in a row; the server is "
            "unreachable (limit --max-connection-failures)",
        ),
    ],
    ids=["retry-budget", "connection-failures"],
)
def test_a_run_stopped_while_listing_teams_names_what_stopped_it(
    faults: Faults,
    flags: tuple[str, ...],
    cause: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", [person("ann@acme.io")], [])
    with Sandbox(token=TOKEN, faults=faults) as box:
        code = run("plan", "-m", str(manifest), "--url", box.base_url, *flags)
    err = capsys.readouterr().err
    assert code == 1
    assert "SCIM GET /Groups failed" in err and cause in err, err
    assert "not sent" not in err  # the fallback listing a stopped run never sends
    assert "nothing was planned" in err
    assert "Traceback" not in err and TOKEN not in err


def test_a_refused_connection_names_the_host_and_port_and_what_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A wrong port (nothing listens there, on 127.0.0.1): after every attempt the error
    # names where it tried and what to check, not only "could not connect".
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manifest = write_manifest(tmp_path / "org.yaml", [person("ann@acme.io")], [])
    url = f"http://127.0.0.1:{port}/api/app/scim/v2"
    code = run("plan", "-m", str(manifest), "--url", url, "--max-attempts", "2")
    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"could not connect (refused or unresolvable host) to 127.0.0.1:{port}; check the "
        "host and port of the URL, and that the server runs; nothing was planned"
    ) in err, err
    # The waiting line says the run goes on by itself; it stays short.
    waiting = [line for line in err.splitlines() if line.startswith("waiting to retry")]
    assert waiting and all("check the host" not in line for line in waiting)
    assert "Traceback" not in err and TOKEN not in err


@pytest.mark.usefixtures("real_ctrl_c")
@pytest.mark.parametrize("saved", [False, True], ids=["manifest", "saved-plan"])
def test_a_ctrl_c_before_apply_writes_says_nothing_was_written(
    saved: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A real SIGINT while apply still reads the org (a slow server): exit 130, and the
    # operator is told that nothing was changed, not a bare "interrupted".
    manifest = write_manifest(tmp_path / "org.yaml", [person("ann@acme.io")], [])
    original = ScimClient.list_groups_page

    def slow_listing(self: ScimClient, *args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the main thread takes the signal meanwhile
        return original(self, *args, **kwargs)

    with Sandbox(token=TOKEN) as box:
        url = box.base_url
        argv = ["apply", "-m", str(manifest), "--url", url, "--auto-approve"]
        if saved:
            assert run("plan", "-m", str(manifest), "--url", url, "--out", "p.json") == 0
            argv = ["apply", "p.json", "--url", url]
        capsys.readouterr()
        monkeypatch.setattr(ScimClient, "list_groups_page", slow_listing)
        code = run(*argv)
        requests = box.stats.requests()
    err = capsys.readouterr().err
    assert requests.get("GET /Users") and not any(
        kind.split()[0] in {"POST", "PUT", "PATCH", "DELETE"} for kind in requests
    ), requests  # it read the org and wrote nothing
    assert code == 130
    assert err.strip().splitlines()[-1] == (
        "interrupted before any change: apply wrote nothing to Mixpanel; run it again when ready"
    ), err
    assert not (tmp_path / ".reconciler" / "journal.jsonl").exists()
    assert "Traceback" not in err and TOKEN not in err


@pytest.mark.parametrize(
    ("value", "shown"), [("-1", "'-1'"), ("\u00b2", "'\u00b2'"), ("2.5", "'2.5'")]
)
def test_a_report_window_that_is_not_a_count_of_days_says_what_is_expected(
    value: str, shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # -1 is a whole number: the message says what is asked (0 or more), and a digit
    # Python reads as one but int() refuses (a superscript) never names a function.
    with pytest.raises(SystemExit) as stopped:  # a usage error, as argparse raises it
        run("report", "--expiring-days", value)
    assert stopped.value.code == 64
    err = capsys.readouterr().err
    assert (
        "reconciler report: error: argument --expiring-days: must be a whole number of "
        f"days, 0 or more (e.g. 30), got {shown}"
    ) in err, err
    assert "_days" not in err and "Traceback" not in err


def test_access_ending_within_the_day_says_hours_not_in_0_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An hour-level expiry with an offset, a few hours away, and a date whose last day
    # is today (it ends at midnight UTC): the plan's notice and the report say how
    # long is left, never "in 0 days".
    monkeypatch.setenv("RECONCILER_NOW", "2026-12-01T12:00:00Z")
    users = [
        person("ann@acme.io", expires="2026-12-01T18:00:00+01:00"),  # 17:00Z: 5 hours
        person("bo@acme.io", expires="2026-12-01"),
        person("cy@acme.io", expires="2026-12-01T12:30:00Z"),
        person("di@acme.io", expires="2026-12-03"),
    ]
    manifest = str(write_manifest(tmp_path / "org.yaml", users, []))
    with Sandbox(token=TOKEN) as box:
        assert run("plan", "-m", manifest, "--url", box.base_url) == 0
        plan_out = capsys.readouterr().out
        assert run("report", "-m", manifest, "--url", box.base_url) == 0
        report_out = capsys.readouterr().out
    assert "ann@acme.io: access expires on 2026-12-01T17:00:00Z (in 5 hours)" in plan_out
    # A date is access through that day: it ends at the next midnight UTC.
    assert "bo@acme.io: access expires on 2026-12-01 (in 12 hours)" in plan_out
    assert "cy@acme.io: access expires on 2026-12-01T12:30:00Z (in under an hour)" in plan_out
    assert "di@acme.io: access expires on 2026-12-03 (in 2 days)" in plan_out
    assert "ann@acme.io: account ends on 2026-12-01T17:00:00Z (in 5 hours)" in report_out
    assert "bo@acme.io: account ends on 2026-12-01 (in 12 hours)" in report_out
    assert "in 0 days" not in plan_out + report_out


def test_a_ctrl_c_at_the_approval_prompt_says_nothing_was_written_on_its_own_line(
    tmp_path: Path,
) -> None:
    # The real CLI on a pseudo-terminal; the SIGINT a terminal sends for Ctrl-C comes
    # at "Enter a value:". The message starts a line of its own, not after the prompt.
    import pty
    import select
    import sys

    manifest = write_manifest(tmp_path / "org.yaml", [person("ann@acme.io")], [])
    with Sandbox(token=TOKEN) as box:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the CLI, never pytest again
            try:
                os.chdir(tmp_path)
                os.environ["MIXPANEL_SCIM_URL"] = box.base_url
                os.execv(
                    sys.executable,
                    [sys.executable, "-m", "reconciler", "apply", "-m", str(manifest)],
                )
            finally:
                os._exit(127)
        output, sent = b"", False
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:  # the child closed the terminal: it has ended
                        break
                    if not data:
                        break
                    output += data
                if not sent and b"Enter a value:" in output:
                    time.sleep(0.1)  # the prompt is waiting in input()
                    os.kill(pid, signal.SIGINT)
                    sent = True
        finally:
            os.close(fd)
            _, status = os.waitpid(pid, 0)
        writes = [kind for kind in box.stats.requests() if not kind.startswith("GET")]
    text = output.decode(errors="replace").replace("\r\n", "\n")
    assert sent and os.waitstatus_to_exitcode(status) == 130, text
    assert (
        "\ninterrupted before any change: apply wrote nothing to Mixpanel; run it again when ready"
    ) in text, text
    assert not writes and "Traceback" not in text
