"""Several orgs in one repository: two sandboxes, one config, strict isolation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, person, run, write_manifest


def write_config(path: Path, orgs: list[dict[str, str]]) -> None:
    path.write_text(yaml.safe_dump({"version": 1, "orgs": orgs}))


def users_of(box: Sandbox, token: str) -> list[str]:
    return [u.key for u in read_live_state(ScimClient.connect(box.base_url, Token(token))).users]


def test_each_org_is_planned_and_applied_alone_and_a_broken_one_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.delenv("MIXPANEL_SCIM_TOKEN", raising=False)
    monkeypatch.delenv("MIXPANEL_SCIM_URL", raising=False)
    (tmp_path / "orgs" / "us").mkdir(parents=True)
    (tmp_path / "orgs" / "eu").mkdir(parents=True)
    write_manifest(tmp_path / "orgs" / "us" / "org.yaml", [person("ada@acme.io")], [])
    write_manifest(tmp_path / "orgs" / "eu" / "org.yaml", [person("bob@acme.io")], [])
    with Sandbox(token="tok-us") as us, Sandbox(token="tok-eu") as eu:
        write_config(
            tmp_path / "reconciler.yaml",
            [
                {"name": "us", "manifest": "orgs/us", "url": us.base_url, "token_env": "TOKEN_US"},
                {"name": "eu", "manifest": "orgs/eu", "url": eu.base_url, "token_env": "TOKEN_EU"},
            ],
        )
        monkeypatch.setenv("TOKEN_US", "tok-us")
        monkeypatch.setenv("TOKEN_EU", "tok-eu")
        assert run("plan") == 1
        assert "pass --org with one of: us, eu" in capsys.readouterr().err
        assert run("--org", "us", "apply", "--auto-approve") == 0
        assert users_of(us, "tok-us") == ["ada@acme.io"]
        assert users_of(eu, "tok-eu") == []
        assert (tmp_path / ".reconciler" / "us" / "journal.jsonl").exists()
        # A mistake in eu's manifest never blocks or touches us.
        (tmp_path / "orgs" / "eu" / "org.yaml").write_text("version: 1\nusers: [oops\n")
        assert run("--org", "eu", "apply", "--auto-approve") == 1
        assert run("--org", "us", "plan", "--detailed-exitcode") == 0
        assert users_of(eu, "tok-eu") == []
        assert run("--org", "nope", "plan") == 1
        assert "no org named 'nope'" in capsys.readouterr().err


def test_a_bad_orgs_config_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path / "reconciler.yaml", [{"name": "Bad Name", "manifest": "x", "tokn_env": "X"}]
    )
    assert run("--org", "x", "validate") == 1
    err = capsys.readouterr().err
    assert "reconciler.yaml" in err and "tokn_env" in err


def test_a_malformed_config_stops_plan_with_located_problems_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOKEN_US", "tok-us")
    write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])
    with Sandbox(token="tok-us") as us:
        (tmp_path / "reconciler.yaml").write_text(
            "version: 1\norgs:\n"
            f"  - name: us\n    manifest: org.yaml\n    url: {us.base_url}\n"
            "    token_env: TOKEN_US\n    colour: blue\n"
        )

        assert run("--org", "us", "plan") == 1

        assert capsys.readouterr().err.splitlines() == [
            "reconciler.yaml:7:5: orgs[0]: unknown key 'colour'; valid keys are name, "
            "manifest, url, token_env",
            "error: 1 problem in the orgs config reconciler.yaml",
        ]
        assert us.stats.total_requests == 0


def test_an_orgs_missing_manifest_names_reconciler_yaml_not_dash_m(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOKEN_US", "tok-us")
    with Sandbox(token="tok-us") as us:
        write_config(
            tmp_path / "reconciler.yaml",
            [{"name": "us", "manifest": "orgs/us", "url": us.base_url, "token_env": "TOKEN_US"}],
        )

        assert run("--org", "us", "plan") == 1

        assert capsys.readouterr().err == (
            "error: reconciler.yaml: org us: its manifest orgs/us does not exist; fix its "
            "manifest: (a file or folder, relative to where reconciler runs) or pass -m\n"
        )
        assert us.stats.total_requests == 0
