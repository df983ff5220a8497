"""Everything is bounded: hostile servers on 127.0.0.1 end a run quickly and clearly.

Each test uses small budgets (flags every user can pass) so that it is bounded in
time by design, and asserts the outcome: exit code, message, no token, and for
apply the operations that were not attempted.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from scim_sandbox import Sandbox
from scim_sandbox.faults import Faults
from tests.e2e.conftest import TOKEN, person, run, write_manifest
from tests.support.hostile_server import Hostile, hostile_server, user

# Generous upper bounds: without the bounds these runs take minutes or never end.
QUICK = 15.0


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    monkeypatch.setenv("NO_COLOR", "1")


def _manifest(tmp_path: Path, n_users: int = 1) -> str:
    users = [person(f"user{i}@acme.io") for i in range(n_users)]
    return str(write_manifest(tmp_path / "org.yaml", users, []))


def _plan(url: str, manifest: str, *flags: str) -> tuple[int, float]:
    started = time.monotonic()
    code = run("plan", "-m", manifest, "--url", url, *flags)
    return code, time.monotonic() - started


@pytest.mark.parametrize("mode", ["drip", "stall"])
def test_a_server_that_drips_or_stalls_hits_the_per_request_deadline(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # drip: a byte every 0.2 s never trips the 30 s read timeout, which is per recv.
    state = Hostile(drip=0.2) if mode == "drip" else Hostile(stall=True)
    with hostile_server(state) as url:
        code, elapsed = _plan(url, _manifest(tmp_path), "--request-deadline", "0.5")
    err = capsys.readouterr().err
    assert code == 1 and elapsed < QUICK
    assert "no complete answer within 0.5 s" in err and "--request-deadline" in err
    assert state.requests == 1  # an attempt that ran out its deadline is not retried
    assert "Traceback" not in err and TOKEN not in err


def test_a_server_that_ignores_start_index_is_caught_at_page_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = Hostile(endless=True)  # totalResults 10**12, the same page every time
    with hostile_server(state) as url:
        code, elapsed = _plan(url, _manifest(tmp_path), "--page-size", "1")
    err = capsys.readouterr().err
    assert code == 1 and elapsed < QUICK
    assert "duplicate id 'u1' at startIndex 2" in err
    assert state.requests == 2


def test_a_server_that_answers_the_wrong_start_index_is_caught_at_page_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = Hostile(endless_fresh=True)  # a new user each time, always "startIndex 1"
    with hostile_server(state) as url:
        code, _ = _plan(url, _manifest(tmp_path), "--page-size", "1")
    err = capsys.readouterr().err
    assert code == 1
    assert "asked for startIndex 2, the server answered startIndex 1" in err
    assert state.requests == 2


def test_a_lying_total_at_one_user_a_page_is_refused_at_the_second_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each page answers the startIndex asked for with a fresh user, and claims 10**12:
    # no duplicate, no wrong startIndex, a few hundred bytes a page. Before the page
    # cap, only the 256 MiB byte budget stopped it, about a million requests later.
    state = Hostile(endless_paged=True)
    with hostile_server(state) as url:
        code, elapsed = _plan(url, _manifest(tmp_path))
    err = capsys.readouterr().err
    assert code == 1 and elapsed < QUICK
    assert "totalResults is 1000000000000 and the first page held 1" in err
    assert "more than the 100000 one read may take" in err and "nothing was planned" in err
    assert state.requests == 2


def test_fat_pages_stop_at_the_byte_budget_of_the_whole_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = Hostile(fat=300_000)  # every page a fresh user with 300 kB of filler
    with hostile_server(state) as url:
        code, elapsed = _plan(url, _manifest(tmp_path), "--page-size", "1", "--max-read-mib", "1")
    err = capsys.readouterr().err
    assert code == 1 and elapsed < QUICK
    assert "exceeded its byte budget of 1048576 bytes" in err and "--max-read-mib" in err
    # 3 pages fit in 1 MiB; the 4th is cut off while read, and the pages read ahead
    # with it (up to --concurrency 4 in flight) end with it. Together they never
    # receive more than the budget: every chunk is charged as it arrives.
    received = int(re.search(r"\((\d+) already received\)", err)[1])  # type: ignore[index]
    assert 3 * 300_000 < received <= 1_048_576
    assert 4 <= state.requests <= 4 + 3


def _apply(url: str, manifest: str, *flags: str) -> tuple[int, float]:
    started = time.monotonic()
    code = run(
        "apply", "-m", manifest, "--url", url, "--auto-approve", "--journal", "j.jsonl", *flags
    )
    return code, time.monotonic() - started


def _journal(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "j.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _check_stopped_run(tmp_path: Path, out: str, err: str, n_ops: int, reason: str) -> None:
    events = _journal(tmp_path)
    outcomes = [e for e in events if e["event"] == "operation"]
    not_attempted = [e for e in outcomes if str(e["detail"]).startswith("not attempted: ")]
    failed = [e for e in outcomes if e["status"] == "failed"]
    assert len(outcomes) == n_ops  # every operation has an outcome in the journal
    assert not_attempted and all(reason in str(e["detail"]) for e in not_attempted)
    end = events[-1]
    assert end["event"] == "apply_end" and reason in str(end["stopped"])
    # One summary line for everything not attempted, not one line per operation.
    summary = [line for line in out.splitlines() if "not attempted" in line]
    assert summary == [f"  {len(not_attempted)} operations not attempted: {end['stopped']}."]
    # Each failure is printed once (its progress line), not again in the summary.
    for event in failed:
        shown = f" {event['op']} {event['key']}: "
        assert sum(shown in line for line in out.splitlines()) == 1, shown
    # The waiting line ("waiting to retry ...") may come first; the error follows it.
    assert "\nerror: " in "\n" + err and "did not complete" in err
    assert "Traceback" not in out + err and TOKEN not in out + err


def test_a_server_that_dies_mid_apply_stops_the_run_within_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 400  # the failing input: a 400-operation apply
    state = Hostile(die_after_writes=3)
    with hostile_server(state) as url:
        code, elapsed = _apply(url, _manifest(tmp_path, n), "--max-connection-failures", "3")
    out, err = capsys.readouterr()
    assert code == 5 and elapsed < QUICK
    done = [e for e in _journal(tmp_path) if e.get("status") == "done"]
    assert len(done) == 3
    _check_stopped_run(tmp_path, out, err, n, "connection failures in a row")


@pytest.mark.parametrize("concurrency", ["1", "8"])
def test_a_black_hole_for_writes_stops_at_the_connection_failure_limit_at_any_concurrency(
    concurrency: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Past 3 writes every request is read and never answered: each attempt runs out its
    # deadline, the lookups that resolve a lost create too. At
    # --concurrency 8 the attempts overlap without end (one always under way), yet
    # they are failures in a row all the same: the run stops, it does not fail every
    # operation one deadline at a time.
    n = 64
    state = Hostile(stall_after_writes=3)
    with hostile_server(state) as url:
        code, elapsed = _apply(
            url,
            _manifest(tmp_path, n),
            "--concurrency",
            concurrency,
            "--request-deadline",
            "0.3",
            "--max-connection-failures",
            "3",
        )
    out, err = capsys.readouterr()
    assert code == 5 and elapsed < QUICK
    assert state.writes < n // 2  # stopped early, not one deadline per operation
    _check_stopped_run(tmp_path, out, err, n, "connection failures in a row")


def test_constant_429_with_a_long_retry_after_stops_at_the_retry_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 20
    state = Hostile(writes_429=True)  # every write: 429, Retry-After: 30
    with hostile_server(state) as url:
        code, elapsed = _apply(url, _manifest(tmp_path, n), "--retry-budget", "1")
    out, err = capsys.readouterr()
    assert code == 5 and elapsed < QUICK
    assert state.writes <= 4  # the writes in flight when the first 429 came back
    _check_stopped_run(tmp_path, out, err, n, "retry budget of 1 s")


def test_a_read_that_only_gets_429_stops_at_the_retry_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same budget bounds a read: plan fails closed, exit 1, in seconds.
    state = Hostile(users=[user(0)], reads_429=True)
    with hostile_server(state) as url:
        code, elapsed = _plan(url, _manifest(tmp_path), "--retry-budget", "1")
    err = capsys.readouterr().err
    assert code == 1 and elapsed < QUICK
    assert "HTTP 429" in err and "retry budget of 1 s" in err and "nothing was planned" in err
    assert state.requests == 1


# -- the same bounds against the built-in sandbox -------------------------------
def test_sandbox_constant_429_on_creates_stops_at_the_budget_and_a_rerun_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 30
    manifest = _manifest(tmp_path, n)
    always_429 = Faults(rate_429=1.0, retry_after_s=30, only=frozenset({"POST /Users"}))
    with Sandbox(token=TOKEN, faults=always_429) as box:
        code, elapsed = _apply(box.base_url, manifest, "--retry-budget", "1")
        out, err = capsys.readouterr()
        assert code == 5 and elapsed < QUICK
        _check_stopped_run(tmp_path, out, err, n, "retry budget of 1 s")
        box.set_faults(Faults())
        (tmp_path / "j.jsonl").unlink()
        assert _apply(box.base_url, manifest)[0] == 0  # the re-run does the rest
        assert run("plan", "-m", manifest, "--url", box.base_url, "--detailed-exitcode") == 0


def test_a_sandbox_stopped_mid_apply_ends_the_run_within_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 200
    manifest = _manifest(tmp_path, n)
    with Sandbox(token=TOKEN) as box:
        url = box.base_url
        stopped = threading.Event()

        def kill_after_three_creates() -> None:
            for _ in range(1000):  # bounded: 10 s at most
                if box.stats.requests().get("POST /Users", 0) >= 3:
                    box.stop()
                    break
                time.sleep(0.01)
            stopped.set()

        killer = threading.Thread(target=kill_after_three_creates)
        killer.start()
        code, elapsed = _apply(
            url, manifest, "--concurrency", "1", "--max-connection-failures", "2"
        )
        killer.join(timeout=15)
    out, err = capsys.readouterr()
    assert stopped.is_set() and code == 5 and elapsed < QUICK
    _check_stopped_run(tmp_path, out, err, n, "connection failures in a row")
