"""`reconciler doctor` end to end: good token, bad token, wrong path, server down, scim2-server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from scim_sandbox import Quirks, Sandbox
from tests.e2e.conftest import TOKEN, person, run, write_manifest
from tests.support.scim2_server import scim2_server


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("NO_COLOR", "1")


def doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = run("doctor", "--format", "json", "--max-attempts", "1", *argv)
    return code, json.loads(capsys.readouterr().out)


def statuses(report: dict[str, object]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}  # type: ignore[attr-defined,index]


def test_a_healthy_sandbox_passes_every_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])
    with Sandbox(token=TOKEN, seed="demo") as box:
        code, report = doctor(capsys, "--url", box.base_url, "-m", str(manifest))
    assert code == 0 and report["verdict"] == "ok"
    membership = next(c for c in report["checks"] if c["name"].startswith("team members"))  # type: ignore[attr-defined]
    assert "the server fills users' `groups`" in membership["detail"]
    assert statuses(report) == {
        "server reachable, SCIM answers": "ok",
        "token accepted": "ok",
        "features (ServiceProviderConfig)": "ok",
        "users readable": "ok",
        "teams readable": "ok",
        "team members cross-check (users' groups)": "ok",
        "whole org readable (every page, team members)": "ok",
        "claimed domains": "ok",
        "look-alike userNames": "ok",
        "look-alike team names": "ok",
    }
    # The sandbox's pages carry members and users' `groups` agree: one canary read.
    assert "Read path: 4 of 4 teams from the Groups pages" in membership["detail"]
    assert "1 GET /Groups/{id} instead of 4 (3 saved)" in membership["detail"]


def test_a_bad_token_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox(token="the-real-one") as box:
        code, report = doctor(capsys, "--url", box.base_url)
    assert code == 1
    token = next(c for c in report["checks"] if c["name"] == "token accepted")  # type: ignore[attr-defined]
    assert token["status"] == "fail"
    assert "generating one revokes the previous token" in token["detail"]
    assert "reconciler doctor" not in token["detail"]  # this is doctor: no advice to run it
    assert "make sure it is this organization's current token" in token["detail"]
    assert statuses(report)["users readable"] == "skip"


def test_a_wrong_path_says_what_the_base_url_looks_like(capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox(token=TOKEN) as box:
        wrong = box.base_url.replace("/api/app/scim/v2", "/scim/v2")
        code, report = doctor(capsys, "--url", wrong)
    assert code == 1
    first = report["checks"][0]  # type: ignore[index]
    assert first["status"] == "fail" and "/api/app/scim/v2" in first["detail"]


def test_a_server_that_is_down_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, report = doctor(capsys, "--url", f"http://127.0.0.1:{port}/api/app/scim/v2")
    assert code == 1
    assert report["checks"][0]["status"] == "fail"  # type: ignore[index]
    assert "check the URL" in report["checks"][0]["detail"]  # type: ignore[index]


def test_doctor_works_against_scim2_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])
    with scim2_server(token=TOKEN) as base_url:
        code, report = doctor(capsys, "--url", base_url, "-m", str(manifest))
    assert code == 0
    assert statuses(report)["token accepted"] == "ok"
    assert statuses(report)["claimed domains"] == "warn"  # acmelabs.io has no live users
    # scim2-server leaves users' `groups` out, so a cut member list would go unnoticed.
    membership = next(c for c in report["checks"] if c["name"].startswith("team members"))  # type: ignore[attr-defined]
    assert membership["status"] == "warn"
    assert "does not fill users' `groups`" in membership["detail"]


def test_text_output_ends_with_a_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox(token=TOKEN) as box:
        assert run("doctor", "--url", box.base_url) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Ready: reconciler can work with this org."


def test_doctor_json_reports_a_refused_setting_as_a_failed_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MIXPANEL_SCIM_TOKEN", raising=False)
    with Sandbox(token="doctor-json-token") as sandbox:
        url = sandbox.base_url
        code = run("doctor", "--format", "json", "--url", url)
        requests = sandbox.stats.total_requests

    captured = capsys.readouterr()
    body = json.loads(captured.out)
    assert code == 1 and requests == 0
    assert body["target"] == url and body["verdict"] == "fail"
    assert [(c["name"], c["status"]) for c in body["checks"]] == [
        ("settings (URL and token)", "fail")
    ]
    assert body["checks"][0]["detail"].startswith("no SCIM token: set MIXPANEL_SCIM_TOKEN")
    assert captured.err.startswith("error: no SCIM token")


def test_a_whole_read_that_fails_is_named_as_the_read_not_as_a_later_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The first pages answer well; the whole read fails closed (a team whose members
    # are not a list). Doctor names the read, and skips what would look at its result.
    with Sandbox(token=TOKEN, seed="demo", quirks=Quirks(members_not_list=True)) as box:
        code, report = doctor(capsys, "--url", box.base_url)
    checks = {c["name"]: c for c in report["checks"]}  # type: ignore[attr-defined,index]
    read = checks["whole org readable (every page, team members)"]
    assert code == 1 and read["status"] == "fail"
    assert "members" in read["detail"]
    assert "look-alike userNames" not in checks
