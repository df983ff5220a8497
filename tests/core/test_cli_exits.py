"""Usage errors exit 64 (never 2, "changes present"); Ctrl-C at any moment exits 130.

Issue 12, items 8 and 10. Usage errors go through ``main`` in-process and once
through the installed console script; Ctrl-C is delivered to a real child process
while it is still importing the CLI.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler import cli
from reconciler.cli import main

USAGE_ERRORS = [
    [],
    ["frobnicate"],
    ["plan", "--bogus"],
    ["plan", "--format", "csv"],
    ["validate", "--format", "markdown"],
    ["apply", "--concurrency", "0"],
    ["apply", "--concurrency", "many"],
    ["apply", "--allow-deprovision", "-3"],
    ["report", "--expiring-days", "soon"],
    ["github"],
    ["github", "comment", "--pr", "7"],
    ["github", "explain", "--exit-code", "x", "--stage", "plan"],
    ["--log-format", "xml", "validate"],
]


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=[" ".join(a) or "nothing" for a in USAGE_ERRORS])
def test_a_usage_error_exits_64_with_the_usage_and_one_error_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)

    err = capsys.readouterr().err
    assert stop.value.code == 64
    assert err.startswith("usage: reconciler")
    assert err.strip().splitlines()[-1].startswith("reconciler")
    assert ": error: " in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["--version"]])
def test_help_and_version_exit_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)

    assert stop.value.code == 0
    assert capsys.readouterr().out


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["--version"]])
def test_help_or_version_that_cannot_be_written_is_an_error_exit(argv: list[str]) -> None:
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )

    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot write to standard output: No space left")
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_help_cut_short_by_a_closed_pipe_is_quiet() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        reader.stdout.close()  # nobody reads the help
        err = reader.stderr.read().decode()
        assert reader.wait(timeout=60) in (0, 1)
    assert "Traceback" not in err and "Exception ignored" not in err


def test_the_console_script_exits_64_on_a_usage_error() -> None:
    script = Path(sys.executable).with_name("reconciler")
    if not script.exists():
        pytest.skip("the console script is not installed")

    done = subprocess.run(
        [str(script), "plan", "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 64
    assert "invalid choice: 'csv'" in done.stderr and "Traceback" not in done.stderr


# -- Ctrl-C ---------------------------------------------------------------------------------
def test_ctrl_c_while_the_parser_is_built_exits_130_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)

    assert main(["validate"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


# A child that raises KeyboardInterrupt at the moment it first imports ``module``,
# as a Ctrl-C during that import would, then runs the console script's entry point.
CHILD = """
import sys

TARGET = sys.argv[1]

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == TARGET:
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["reconciler", "validate", "-m", sys.argv[2]]
from reconciler.entry import run
run()
"""


@pytest.mark.parametrize("module", ["reconciler.cli", "yaml", "pydantic", "reconciler.manifest"])
def test_ctrl_c_during_any_import_exits_130_without_a_traceback(
    module: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, module, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (done.returncode, done.stderr) == (130, "interrupted\n")


# Does what the console script does (import the entry point, call it) and says
# "ready" in between: Python's own start-up before that is not ours to guard.
READY_CHILD = """
import os, sys
sys.argv = ["reconciler", "validate", "-m", sys.argv[1]]
from reconciler.entry import run
os.write(1, b"ready\\n")
run()
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3])
def test_a_real_ctrl_c_in_the_first_moments_exits_130_without_a_traceback(
    delay: float, tmp_path: Path
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", READY_CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert "Traceback" not in err
    # Interrupted (130), or the run was already over when the signal came (1: no
    # manifest in an empty folder) - never a traceback, never another code.
    assert child.returncode in (130, 1), err
    assert err.strip().splitlines()[-1] in ("interrupted", "error: 1 problem in the manifest")


def test_python_dash_m_is_guarded_the_same_way(tmp_path: Path) -> None:
    child = CHILD.replace(
        "from reconciler.entry import run\nrun()",
        "import runpy\nrunpy.run_module('reconciler', run_name='__main__')",
    )
    done = subprocess.run(
        [sys.executable, "-c", child, "reconciler.cli", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (done.returncode, done.stderr) == (130, "interrupted\n")


def test_the_job_summary_explains_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["github", "explain", "--exit-code", "64", "--stage", "plan"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("### ❌ plan failed: exit 64, usage error")
    assert "Fix the workflow step's arguments." in out


def _lock_error_during_ctrl_c() -> RuntimeError:
    """What CPython's import lock raises when a Ctrl-C lands inside an import."""
    try:
        try:
            raise KeyboardInterrupt
        finally:
            raise RuntimeError("cannot release un-acquired lock")
    except RuntimeError as error:
        return error


@pytest.mark.parametrize("where", ["handler", "parser"])
def test_an_error_raised_while_a_ctrl_c_is_handled_is_the_ctrl_c(
    where: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Seen in CI: a real Ctrl-C 0.3 s into `validate` surfaced as a RuntimeError from
    # the import machinery and was reported as a bug (exit 1) instead of exit 130.
    def broken(*_: object) -> None:
        raise _lock_error_during_ctrl_c()

    if where == "handler":
        monkeypatch.setattr(cli, "_run", broken)
    else:
        monkeypatch.setattr(cli, "build_parser", broken)

    assert main(["validate", "-m", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_ctrl_c_an_earlier_run_in_this_process_received_is_not_the_next_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Tests and library callers run several commands in one process: the next run's
    # unforeseen error is a bug report, not "interrupted".
    from reconciler import ctrl_c

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ctrl_c._State, "received", True)  # an earlier run's Ctrl-C
    monkeypatch.setattr(cli, "_run", broken)

    assert main(["validate", "-m", str(tmp_path)]) == 1
    assert "failed unexpectedly (RuntimeError)" in capsys.readouterr().err


def test_an_unrelated_error_is_still_reported_as_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_run", broken)

    assert main(["validate", "-m", str(tmp_path)]) == 1
    assert "failed unexpectedly (RuntimeError)" in capsys.readouterr().err


def test_an_error_after_a_ctrl_c_without_it_in_the_chain_is_still_the_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The import system can swallow the KeyboardInterrupt and fail later; the SIGINT
    # handler's record still says the run was interrupted.
    from reconciler import ctrl_c

    def broken(*_: object) -> None:
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.interrupted(2, None)
        raise RuntimeError("cannot release un-acquired lock")

    monkeypatch.setattr(ctrl_c._State, "received", False)
    monkeypatch.setattr(cli, "_run", broken)

    assert main(["validate", "-m", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    ("argv", "usage", "error"),
    [
        (["plan", "--bogus"], "usage: reconciler plan", "reconciler plan: error: "),
        (["apply", "x.json", "y.json"], "usage: reconciler apply", "reconciler apply: error: "),
        (["--bogus", "plan"], "usage: reconciler [-h]", "reconciler: error: "),
    ],
)
def test_an_unknown_argument_is_refused_by_the_parser_of_where_it_was_given(
    argv: list[str], usage: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)

    err = capsys.readouterr().err
    assert stop.value.code == 64
    assert err.startswith(usage), err
    assert err.strip().splitlines()[-1].startswith(f"{error}unrecognized arguments: "), err


def test_a_global_option_after_the_command_says_to_put_it_before(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["validate", "--org", "us"])

    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert stop.value.code == 64
    assert last.startswith("reconciler validate: error: unrecognized arguments: --org us")
    assert "--org is a global option: put it before the command" in last


def test_once_the_run_is_over_a_late_ctrl_c_is_ignored_during_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Ctrl-C while the interpreter shuts down (streams flushed, threads joined) would
    # print a traceback after the outcome was already reported.
    previous = signal.getsignal(signal.SIGINT)
    try:
        from reconciler import entry

        monkeypatch.setattr(cli, "main", lambda: 0)
        monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # restored after
        with pytest.raises(SystemExit) as stop:
            entry.run()
        assert stop.value.code == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


# A child whose Ctrl-C lands in a weakref callback, where Python cannot raise it (it
# would print "Exception ignored in" with a traceback and carry on): seen in CI with
# the import system's module-lock callback.
SWALLOWED_CHILD = """
import gc, sys, weakref
sys.argv = ["reconciler", "validate", "-m", sys.argv[1]]
from reconciler import cli, entry

class Thing:
    pass

def run_it():
    thing = Thing()
    def callback(_ref):
        raise KeyboardInterrupt  # what the SIGINT handler does inside the callback
    ref = weakref.ref(thing, callback)
    del thing  # the callback runs here; its KeyboardInterrupt is unraisable
    print("carried on", file=sys.stderr)
    return 0

cli.main = run_it
entry.run()
"""


def test_a_ctrl_c_swallowed_in_a_callback_ends_the_run_with_130(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWED_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (done.returncode, done.stderr) == (130, "interrupted\n")


def test_a_ctrl_c_held_off_while_a_run_closes_never_breaks_the_close(
    real_ctrl_c: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The note a second Ctrl-C prints runs inside the signal handler, between two
    # bytecodes of the close: a note that fails there (a write to the stderr the close
    # is writing raises "reentrant call") must not surface in the close.
    import os

    from reconciler import ctrl_c

    def failing_note() -> None:
        raise RuntimeError("reentrant call inside <_io.BufferedWriter name='<stderr>'>")

    monkeypatch.setattr(ctrl_c._State, "received", False)  # put back after the test
    steps = []
    with ctrl_c.held(failing_note):
        os.kill(os.getpid(), signal.SIGINT)
        for step in range(1000):  # the handler runs within these bytecodes
            steps.append(step)
    assert len(steps) == 1000 and ctrl_c.received()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
