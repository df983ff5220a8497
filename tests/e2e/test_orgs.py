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


def test_another_orgs_manifest_is_refused_for_this_org_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.delenv("MIXPANEL_SCIM_URL", raising=False)
    (tmp_path / "orgs" / "us").mkdir(parents=True)
    (tmp_path / "orgs" / "eu").mkdir(parents=True)
    (tmp_path / "draft").mkdir()
    write_manifest(tmp_path / "orgs" / "us" / "org.yaml", [person("ada@acme.io")], [])
    write_manifest(tmp_path / "orgs" / "eu" / "org.yaml", [person("bob@acme.io")], [])
    write_manifest(tmp_path / "draft" / "org.yaml", [person("cy@acme.io")], [])
    with Sandbox(token="tok-eu") as eu:
        write_config(
            tmp_path / "reconciler.yaml",
            [
                {
                    "name": "us",
                    "manifest": "orgs/us",
                    "url": "https://mixpanel.com/api/app/scim/v2",
                },
                {"name": "eu", "manifest": "orgs/eu", "url": eu.base_url},
            ],
        )
        monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", "tok-eu")
        for given in ("orgs/us", "./orgs/us/", "orgs/us/org.yaml", str(tmp_path / "orgs/us")):
            assert run("--org", "eu", "apply", "-m", given, "--auto-approve") == 1
            err = capsys.readouterr().err
            assert f"error: -m {given} is the manifest of org us in reconciler.yaml" in err
            assert "not of --org eu" in err and "drop -m" in err
        assert eu.stats.total_requests == 0
        assert users_of(eu, "tok-eu") == []
        # The org's own manifest, and a draft outside every org's folder, are fine.
        assert run("--org", "eu", "plan", "-m", "orgs/eu", "--detailed-exitcode") == 2
        assert run("--org", "eu", "plan", "-m", "draft", "--detailed-exitcode") == 2


@pytest.mark.parametrize(
    ("us", "eu", "key"),
    [
        ("orgs/us", "./orgs/us/", "manifest"),
        ("orgs/us", "orgs/US", "manifest"),
        ("orgs", "orgs/eu", "manifest"),  # plan -m orgs reads orgs/eu too
    ],
)
def test_two_orgs_reaching_one_manifest_are_refused_before_any_request(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    us: str,
    eu: str,
    key: str,
) -> None:
    # Before: --org eu planned us's people into eu's org (a copy-pasted config entry):
    # with unmanaged_users: deactivate, everyone in eu would be deprovisioned.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    (tmp_path / "orgs" / "us").mkdir(parents=True)
    (tmp_path / "orgs" / "eu").mkdir(parents=True)
    write_manifest(tmp_path / "orgs" / "us" / "org.yaml", [person("ada@acme.io")], [])
    write_manifest(tmp_path / "orgs" / "eu" / "org.yaml", [person("bob@acme.io")], [])
    with Sandbox(token="tok-eu") as box:
        write_config(
            tmp_path / "reconciler.yaml",
            [
                {"name": "us", "manifest": us, "url": "https://mixpanel.com/api/app/scim/v2"},
                {"name": "eu", "manifest": eu, "url": box.base_url},
            ],
        )
        monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", "tok-eu")
        assert run("--org", "eu", "plan") == 1
        err = capsys.readouterr().err
        assert "reconciler.yaml:" in err
        assert f"orgs[1].{key}: org 'eu' reaches the same manifest as org 'us'" in err
        assert "Traceback" not in err
        assert box.stats.total_requests == 0


def test_two_orgs_with_one_url_and_token_variable_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "https://mixpanel.com/api/app/scim/v2"
    write_config(
        tmp_path / "reconciler.yaml",
        [
            {"name": "us", "manifest": "orgs/us", "url": url, "token_env": "TOKEN_US"},
            {"name": "eu", "manifest": "orgs/eu", "url": url + "/", "token_env": "TOKEN_US"},
        ],
    )
    assert run("--org", "us", "validate") == 1
    err = capsys.readouterr().err
    assert "orgs[1].url: org 'eu' reaches the same url and token_env as org 'us'" in err
