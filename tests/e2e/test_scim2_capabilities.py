"""Capabilities that were exercised end to end only on the sandbox, now also on the
independent scim2-server (one process, a fresh tenant per org): several orgs in one
repository, the audit report in every format, and apply with parallel lanes and
small membership chunks. Then scim2-server configured as other servers are (its
``--service-provider-config``): ETags on, pages capped by maxResults, no filters (501),
no PATCH (501)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.reader import read_live_state
from reconciler.scim import builders
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from tests.e2e.conftest import TODAY, person, run, write_manifest
from tests.support.scim2_server import scim2_server, scim2_tenants

TOKEN = "scim2-TOKEN-5b7e0c9a13"


@pytest.fixture(scope="module")
def tenants() -> Iterator[Callable[[], str]]:
    with scim2_tenants(TOKEN) as factory:
        yield factory


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MIXPANEL_SCIM_URL", raising=False)
    monkeypatch.delenv("MIXPANEL_SCIM_TOKEN", raising=False)
    return tmp_path


def keys(base_url: str) -> list[str]:
    with ScimClient.connect(base_url, Token(TOKEN)) as client:
        return [u.key for u in read_live_state(client).users]


def test_each_org_on_its_own_scim2_tenant_is_planned_and_applied_alone(
    env: Path,
    tenants: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    us, eu = tenants(), tenants()
    for org, email in (("us", "ada@acme.io"), ("eu", "bob@acme.io")):
        (env / "orgs" / org).mkdir(parents=True)
        teams = [{"name": f"Team {org}", "members": [email]}]
        write_manifest(env / "orgs" / org / "org.yaml", [person(email)], teams)
    config = {
        "version": 1,
        "orgs": [
            {"name": "us", "manifest": "orgs/us", "url": us, "token_env": "TOKEN_US"},
            {"name": "eu", "manifest": "orgs/eu", "url": eu, "token_env": "TOKEN_EU"},
        ],
    }
    (env / "reconciler.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("TOKEN_US", TOKEN)
    monkeypatch.setenv("TOKEN_EU", TOKEN)

    assert run("plan") == 1
    assert "pass --org with one of: us, eu" in capsys.readouterr().err
    assert run("--org", "us", "plan", "--detailed-exitcode") == 2
    assert run("--org", "us", "apply", "--auto-approve") == 0
    assert (keys(us), keys(eu)) == (["ada@acme.io"], [])
    assert (env / ".reconciler" / "us" / "journal.jsonl").exists()
    # A broken manifest of one org stops that org only, before any request.
    (env / "orgs" / "eu" / "org.yaml").write_text("version: 1\nusers: [oops\n")
    assert run("--org", "eu", "apply", "--auto-approve") == 1
    assert keys(eu) == []
    assert run("--org", "us", "plan", "--detailed-exitcode") == 0


def test_the_report_in_every_format_reads_a_scim2_server(
    env: Path,
    tenants: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_URL", tenants())
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    users = [person("ada@acme.io", "Ada", "L"), person("bob@acme.io", "Bob", "B")]
    teams = [
        {"name": "DS", "members": ["ada@acme.io", "bob@acme.io"]},
        {"name": "Ops", "members": []},
    ]
    manifest = write_manifest(env / "org.yaml", users, teams)
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    capsys.readouterr()

    assert run("report", "-m", str(manifest), "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    text = json.dumps(report)
    assert "ada@acme.io" in text and "bob@acme.io" in text and "DS" in text

    assert run("report", "-m", str(manifest), "--format", "csv") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    flat = {cell for row in rows for cell in row}
    assert {"ada@acme.io", "bob@acme.io", "DS"} <= flat

    for form in ("text", "markdown"):
        assert run("report", "-m", str(manifest), "--format", form) == 0
        out = capsys.readouterr().out
        assert "ada@acme.io" in out and "DS" in out


def test_apply_in_parallel_lanes_with_small_chunks_converges_on_scim2(
    env: Path,
    tenants: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = tenants()
    monkeypatch.setenv("MIXPANEL_SCIM_URL", base)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    emails = [f"user{i}@acme.io" for i in range(7)]
    teams = [{"name": "All", "members": emails}, {"name": "Half", "members": emails[::2]}]
    manifest = write_manifest(env / "org.yaml", [person(e) for e in emails], teams)
    apply = ("apply", "-m", str(manifest), "--auto-approve", "--concurrency", "8")
    assert run(*apply, "--chunk-size", "2") == 0
    assert "every change is there" in capsys.readouterr().out
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    # Shrink both teams in one run: removals chunked and verified the same way.
    teams = [{"name": "All", "members": emails[:2]}, {"name": "Half", "members": []}]
    write_manifest(manifest, [person(e) for e in emails], teams)
    allow = ("--allow-membership-removals", "9", "--allow-teams-emptied", "1")
    assert run(*apply, "--chunk-size", "3", *allow) == 0
    assert "every change is there" in capsys.readouterr().out
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    with ScimClient.connect(base, Token(TOKEN)) as client:
        live = read_live_state(client)
    members = {g.display_name: live.member_keys(g) for g in live.groups}
    assert members == {"All": set(emails[:2]), "Half": set()}


FEATURES: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    "patch": {"supported": True},
    "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
    "filter": {"supported": True, "maxResults": 100},
    "changePassword": {"supported": False},
    "sort": {"supported": False},
    "etag": {"supported": False},
    "authenticationSchemes": [],
}
PEOPLE = [person(f"user{i}@acme.io") for i in range(5)]
TEAM = [{"name": "T", "members": ["user1@acme.io", "user2@acme.io"]}]


def configured(
    env: Path, monkeypatch: pytest.MonkeyPatch, **changes: Any
) -> contextlib.AbstractContextManager[str]:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    return scim2_server(TOKEN, config={**FEATURES, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"etag": {"supported": True}},  # versioned resources; If-Match stays optional
        {"filter": {"supported": True, "maxResults": 2}},  # pages of 2, whatever is asked
    ],
)
def test_a_configured_scim2_server_converges(
    changes: dict[str, Any], env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(env / "org.yaml", PEOPLE, TEAM)
    with configured(env, monkeypatch, **changes) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        assert run("doctor", "-m", str(manifest), "--max-attempts", "1") == 0
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
        assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
        assert len(keys(url)) == 5


def test_scim2_without_filters_refuses_a_new_team_then_manages_it_once_made_by_hand(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(env / "org.yaml", PEOPLE, TEAM)
    with configured(env, monkeypatch, filter={"supported": False}) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve") == 1
        err = capsys.readouterr().err
        assert "HTTP 501" in err and "does not support the displayName eq filter" in err
        assert "create the team 'T' by hand" in err
        assert keys(url) == []  # nothing was written
        with ScimClient.connect(url, Token(TOKEN)) as client:  # the fix: made by hand
            client.create_group(builders.group_resource("T"))
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
        assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_scim2_without_patch_fails_doctor_and_each_patch_naming_the_reason(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(env / "org.yaml", PEOPLE, TEAM)
    with configured(env, monkeypatch, patch={"supported": False}) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        capsys.readouterr()
        assert run("doctor", "--max-attempts", "1") == 1
        assert "apply needs PATCH, which is off" in capsys.readouterr().out
        assert run("apply", "-m", str(manifest), "--auto-approve") == 5
        out = capsys.readouterr().out
        assert "HTTP 501" in out and "never with a whole-resource PUT" in out
