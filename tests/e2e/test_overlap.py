"""The manifest loads while the live read runs; the manifest's outcome still comes first.

Over real HTTP against the sandbox: the overlapped load and read give exactly what
loading and then reading give; a bad manifest stops the read early and is the error
reported; a read failure is reported only for a valid manifest. And the cyclic
garbage collector is paused for the bulk phase and restored after it, even on error.
"""

from __future__ import annotations

import gc
import threading
from datetime import date
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import LiveStateError, ManifestError
from reconciler.gcpolicy import bulk_phase
from reconciler.manifest.loader import load_manifest
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.retry import RetryPolicy
from reconciler.scim.secret import Token
from reconciler.workflow import ReadOptions, load_and_read
from scim_sandbox import Faults, Sandbox
from tests.support.scripted_server import Scripted, scim_user, scripted_server

TOKEN = "overlap-TOKEN-1234"
TODAY = date(2026, 11, 22)
ORG = "version: 1\norganization: {claimed_domains: [acme.io, acmelabs.io]}\n"
GOOD = ORG + "users:\n  - {email: ada@acme.io, given_name: Ada, family_name: L}\n"
BAD = ORG + "users:\n  - {email: not-an-email, given_name: Ada, family_name: L}\n"


def _manifest(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "live-read"]


def test_overlapped_load_and_read_equal_the_sequential_ones(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, GOOD)
    with Sandbox(token=TOKEN, seed="random:300") as sandbox:
        client = ScimClient.connect(sandbox.base_url, Token(TOKEN))
        loaded, live = load_and_read(manifest, client, today=TODAY, read=ReadOptions(100))
        expected = read_live_state(client, page_size=100)
    assert loaded == load_manifest(manifest, today=TODAY)
    assert [(u.id, u.user_name) for u in live.users] == [
        (u.id, u.user_name) for u in expected.users
    ]
    assert [(g.id, g.member_ids) for g in live.groups] == [
        (g.id, g.member_ids) for g in expected.groups
    ]
    assert _readers() == []


def test_a_bad_manifest_is_the_error_and_stops_the_read(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, BAD)
    seen: list[tuple[str, int, int]] = []
    with Sandbox(token=TOKEN, seed="random:2000", faults=Faults(latency_ms=20)) as sandbox:
        client = ScimClient.connect(sandbox.base_url, Token(TOKEN))
        read = ReadOptions(100, on_progress=lambda *step: seen.append(step))
        with pytest.raises(ManifestError) as raised:
            load_and_read(manifest, client, today=TODAY, read=read)
        sent = sum(sandbox.stats.requests().values())
    assert "not-an-email" in str(raised.value.problems[0])
    assert _readers() == []  # joined, not left running
    full = 20 + 1 + 40  # user pages + group pages + team reads at page size 100
    assert sent < full  # cancelled at its next page, not read to the end
    assert gc.isenabled()


def test_a_read_failure_is_reported_for_a_valid_manifest(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, GOOD)
    with Sandbox(token=TOKEN, seed="random:50", faults=Faults(rate_5xx=1.0)) as sandbox:
        retry = RetryPolicy(max_attempts=1)
        client = ScimClient.connect(sandbox.base_url, Token(TOKEN), retry=retry)
        with pytest.raises(LiveStateError):
            load_and_read(manifest, client, today=TODAY)
    assert _readers() == []
    assert gc.isenabled()


def test_the_manifest_error_comes_before_a_missing_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _manifest(tmp_path, BAD)
    monkeypatch.delenv("MIXPANEL_SCIM_TOKEN", raising=False)
    monkeypatch.setenv("MIXPANEL_SCIM_URL", "http://127.0.0.1:9/scim/v2")
    assert main(["plan", "-m", str(manifest)]) == 1
    err = capsys.readouterr().err
    assert "not-an-email" in err
    assert "MIXPANEL_SCIM_TOKEN" not in err


def test_bulk_phase_pauses_collection_and_restores_it() -> None:
    assert gc.isenabled()
    with bulk_phase():
        assert not gc.isenabled()
        with bulk_phase():
            assert not gc.isenabled()
        assert not gc.isenabled()  # nested: the outer phase is still open
    assert gc.isenabled()
    with pytest.raises(RuntimeError), bulk_phase():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_bulk_phase_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with bulk_phase():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Watching:
    """A real client whose user-page requests are counted while in flight."""

    def __init__(self, client: ScimClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.in_flight = self.most = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def list_users_page(self, start_index: int, count: int) -> object:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            return self._client.list_users_page(start_index, count)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_pages_read_ahead_together_are_the_pages_of_a_page_by_page_read(
    concurrency: int,
) -> None:
    with Sandbox(token=TOKEN, seed="random:300", faults=Faults(latency_ms=30)) as sandbox:
        client = ScimClient.connect(sandbox.base_url, Token(TOKEN))
        expected = read_live_state(client, page_size=1000)  # one page of each: the reference
        before = sandbox.stats.requests().get("GET /Users", 0)
        watching = _Watching(client)
        live = read_live_state(watching, page_size=20, concurrency=concurrency)  # type: ignore[arg-type]
        pages = sandbox.stats.requests().get("GET /Users", 0) - before
    assert live.users == expected.users and live.groups == expected.groups
    assert pages == 300 // 20  # each page once, nothing past totalResults
    assert watching.in_flight == 0
    if concurrency == 1:
        assert watching.most == 1  # one page ahead at most: never two at once
    else:  # 30 ms a page: the window fills while each page is converted
        assert 2 <= watching.most <= concurrency


def test_a_page_that_fails_while_pages_are_read_ahead_ends_the_read_with_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Page 2 (users 6-10 at --page-size 5) holds a user without a userName; pages 3-5
    # are under way when it fails to convert. The plan fails on that user, nothing is
    # written, and no request of the read is still under way when the command returns.
    users = [scim_user(f"u{n}", f"user{n}@acme.io") for n in range(1, 26)]
    del users[7]["userName"]
    state = Scripted(users=users, list_delay=0.1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    manifest = _manifest(tmp_path, GOOD)
    with scripted_server(state) as url:
        code = main(["plan", "-m", str(manifest), "--url", url, "--page-size", "5"])
        alive = [t for t in threading.enumerate() if t.name == "read-ahead" and t.is_alive()]
        listed = [line for line in state.log if line.endswith("/Users")]
    err = capsys.readouterr().err
    assert code == 1 and "u8" in err and "userName" in err and "nothing was planned" in err
    assert alive == []
    assert 2 < len(listed) <= 5  # page 1, page 2 and the pages read ahead with it
    assert state.writes() == [] and 2 <= state.most_in_flight <= 4
