"""Apply under sparse 429s: a request waiting out its Retry-After holds no lane.

``--concurrency N`` means at most N requests in flight, 429s or not. A request
that got a 429 waits its full ``Retry-After`` before it is sent again, and while it
waits another operation of the same phase runs in its lane. Proven over real HTTP
on 127.0.0.1: a counting proxy in front of the sandbox answers 429 to the first
attempt of chosen requests and records how many requests were in flight, and when
each retry came.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reconciler.executor import ApplyOptions, Status, apply_plan
from reconciler.journal import Journal
from reconciler.manifest.loader import load_manifest
from reconciler.planner import make_plan
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from scim_sandbox import Sandbox
from scim_sandbox.faults import Faults
from tests.e2e.conftest import TOKEN, person, run, write_manifest

RETRY_AFTER = 0.3  # seconds: long against a request's DELAY, short for a test
DELAY = 0.1  # seconds the proxy holds every request, so that requests overlap
CONCURRENCY = 3
TODAY = date(2026, 11, 22)  # RECONCILER_TODAY of the CLI runs


@dataclass
class Counting:
    """What the proxy saw: requests in flight, and each 429's wait and retry."""

    retry_after: float
    every: int  # the first attempt of every ``every``-th distinct id path gets a 429
    in_flight: int = 0
    max_in_flight: int = 0
    max_while_waiting: int = 0  # in flight while some 429'd request waited
    limited: dict[str, float] = field(default_factory=dict)  # path -> its 429, just before sent
    waited: dict[str, float] = field(default_factory=dict)  # path -> its retry came after
    answered: set[str] = field(default_factory=set)  # 429s sent: their requests now wait
    seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arrive(self, method: str, path: str) -> bool:
        """Count a request in; True when it gets a 429 instead of an answer."""
        key = f"{method} {path}"
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if key in self.limited and key not in self.waited:
                self.waited[key] = time.monotonic() - self.limited[key]
            if any(k not in self.waited for k in self.answered):
                self.max_while_waiting = max(self.max_while_waiting, self.in_flight)
            if method not in ("PATCH", "GET") or path.count("/") < 2 or key in self.seen:
                return False
            self.seen.append(key)
            return len(self.seen) % self.every == 0

    def rate_limited(self, method: str, path: str) -> None:
        with self.lock:
            self.limited[f"{method} {path}"] = time.monotonic()

    def answered_429(self, method: str, path: str) -> None:
        with self.lock:
            self.answered.add(f"{method} {path}")

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


def _handler(upstream: str, counting: Counting) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)
    prefix = target.path.rstrip("/")

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            resource = urlsplit(self.path).path.removeprefix(prefix)
            limited = counting.arrive(self.command, resource)
            time.sleep(DELAY)
            if limited:
                try:
                    # Stamped before the answer is sent, so before the client can have it:
                    # the wait measured to the retry is never shorter than the client's.
                    counting.rate_limited(self.command, resource)
                    self._answer(429, b"", {"Retry-After": f"{counting.retry_after:g}"})
                finally:
                    counting.leave()
                counting.answered_429(self.command, resource)  # out of flight: it waits now
                return
            try:
                status, headers, content = self._forward(body)
                self._answer(status, content, headers)
            finally:
                counting.leave()

        def _forward(self, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
            connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
            try:
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() in ("authorization", "content-type", "accept")
                }
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                content = answer.read()
                kept = {"Content-Type", "Location", "ETag"}
                return answer.status, {k: v for k, v in answer.getheaders() if k in kept}, content
            finally:
                connection.close()

        def _answer(self, status: int, content: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _relay

    return Proxy


@contextmanager
def counting_proxy(upstream: str, counting: Counting) -> Iterator[str]:
    """A proxy on 127.0.0.1 in front of ``upstream``; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, counting))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{urlsplit(upstream).path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    monkeypatch.setenv("NO_COLOR", "1")


def _people(n: int, given: str) -> list[dict[str, str]]:
    return [person(f"user{i:02d}@acme.io", given=given) for i in range(n)]


@contextmanager
def _org(tmp_path: Path, n: int) -> Iterator[tuple[Sandbox, Path]]:
    """A sandbox holding ``n`` users and a manifest that renames every one of them."""
    with Sandbox(token=TOKEN) as box:
        first = write_manifest(tmp_path / "first.yaml", _people(n, "Before"), [])
        assert run("apply", "-m", str(first), "--url", box.base_url, "--auto-approve") == 0
        folder = tmp_path / "org"
        folder.mkdir()
        write_manifest(folder / "org.yaml", _people(n, "After"), [])
        yield box, folder


def _check(counting: Counting, concurrency: int) -> None:
    assert counting.limited, "the proxy sent no 429"
    assert counting.max_in_flight <= concurrency  # the promise of --concurrency
    # While a request waited out its 429, another took its lane: all lanes busy.
    assert counting.max_while_waiting == concurrency
    assert set(counting.waited) == set(counting.limited)  # every 429'd request came back
    early = {k: v for k, v in counting.waited.items() if v < counting.retry_after}
    assert not early, f"retried before Retry-After: {early}"


def test_cli_apply_lends_waiting_lanes_and_never_exceeds_the_concurrency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _org(tmp_path, 12) as (box, folder):
        counting = Counting(RETRY_AFTER, every=4)
        with counting_proxy(box.base_url, counting) as url:
            capsys.readouterr()
            code = run(
                "apply", "-m", str(folder), "--url", url, "--auto-approve",
                "--concurrency", str(CONCURRENCY),
            )  # fmt: skip
            err = capsys.readouterr().err
        assert code == 0
        _check(counting, CONCURRENCY)
        assert any(k.startswith("PATCH") for k in counting.limited)
        assert any(k.startswith("GET") for k in counting.limited)  # the read-back's pool too
        assert "waiting to retry PATCH /Users/" in err and "HTTP 429 (rate limited)" in err
        assert run("plan", "-m", str(folder), "--url", box.base_url, "--detailed-exitcode") == 0


def test_library_apply_bounds_in_flight_itself_with_an_unbounded_client(tmp_path: Path) -> None:
    # ScimClient.connect's default throttle limits nothing: the executor's lanes do.
    with _org(tmp_path, 12) as (box, folder):
        counting = Counting(RETRY_AFTER, every=4)
        with counting_proxy(box.base_url, counting) as url:
            client = ScimClient.connect(url, Token(TOKEN))
            loaded = load_manifest(folder, today=TODAY)
            live = read_live_state(client)
            plan = make_plan(loaded.manifest, live, today=TODAY, target=url, manifest_digest="d")
            with Journal(None, run_id="t") as journal:
                outcome = apply_plan(
                    plan,
                    client,
                    journal=journal,
                    options=ApplyOptions(concurrency=CONCURRENCY),
                    live=live,
                )
        assert len(plan.operations) == 12
        assert [r.op_id for r in outcome.results] == [op.id for op in plan.operations]
        assert all(r.status is Status.DONE for r in outcome.results)
        _check(counting, CONCURRENCY)


def test_sandbox_random_429s_apply_completes_and_converges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The sandbox's own 429 fault mode (seeded): plan, apply and the read-back all
    # meet random 429s; the run still completes every operation and converges.
    with _org(tmp_path, 30) as (box, folder):
        box.set_faults(Faults(latency_ms=5, rate_429=0.2, retry_after_s=0.05, seed=11))
        capsys.readouterr()
        code = run(
            "apply", "-m", str(folder), "--url", box.base_url, "--auto-approve",
            "--concurrency", "4", "--journal", "j.jsonl",
        )  # fmt: skip
        out, err = capsys.readouterr()
        assert box.stats.faults().get("429", 0) > 0
        assert code == 0, out + err
        assert "Traceback" not in out + err and TOKEN not in out + err
        box.set_faults(Faults())
        assert run("plan", "-m", str(folder), "--url", box.base_url, "--detailed-exitcode") == 0
