"""Reads by id are evidence only about that id, over real HTTP on 127.0.0.1.

A server that answers ``GET /Users/{id}`` (or ``/Groups/{id}``) with another
resource (a cache, a routing bug, ids matched ignoring case) must not let a
verification pass on someone else's record, nor merge a team member into another
account. Each test runs the real CLI against the sandbox's read-by-id quirk modes
(``read_returns_other``, ``member_ids_case``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scim_sandbox import Quirks, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest
from tests.e2e.test_quirks_writes import LOOSE, live_user, member_names, seed_user


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        yield box


def test_a_verification_read_answered_with_another_user_does_not_verify_a_deactivation(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # old is inactive and seeded first: the quirk answers GET /Users/{zed} with old's
    # record, which shows exactly the state the deactivation intended.
    seed_user(sandbox, "old", active=False)
    seed_user(sandbox, "zed")
    seed_user(sandbox, "ann")
    sandbox.set_quirks(
        Quirks.from_specs(["ignore-writes=zed@acme.io", "read-returns-other=zed@acme.io"])
    )
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [
            person("old@acme.io", active=False),
            person("zed@acme.io", active=False),
            person("ann@acme.io"),
        ],
        [],
        **LOOSE,
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    assert "every change is there" not in out
    line = next(x for x in out.splitlines() if "failed: deactivate_user zed@acme.io" in x)
    assert "describes another user ('old@acme.io'" in line
    assert live_user(sandbox, "zed")["active"] is True  # the truth the read hid


def test_a_verification_read_answered_with_another_team_does_not_verify_a_removal(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_user(sandbox, "ann")
    zed = seed_user(sandbox, "zed")
    sandbox.store.create_group({"displayName": "Empty"})
    sandbox.store.create_group({"displayName": "Finance", "members": [{"value": zed}]})
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("zed@acme.io")],
        [{"name": "Empty", "members": []}, {"name": "Finance", "members": []}],
        **LOOSE,
    )
    # Once Finance is written to, reads of it answer with the empty team.
    sandbox.set_quirks(Quirks.from_specs(["ignore-writes=Finance", "read-returns-other=Finance"]))
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    assert "every change is there" not in out
    line = next(x for x in out.splitlines() if "failed: remove_members Finance" in x)
    assert "describes another team ('Empty'" in line
    assert member_names(sandbox, "Finance") == {"zed@acme.io"}


def test_member_ids_that_differ_from_user_ids_in_case_fail_the_read_closed(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_user(sandbox, "ann")
    zed = seed_user(sandbox, "zed", active=False)
    sandbox.store.create_group({"displayName": "Eng", "members": [{"value": zed}]})
    sandbox.set_quirks(Quirks(member_ids_case=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("zed@acme.io", active=False)],
        [{"name": "Eng", "members": ["ann@acme.io"]}],
        **LOOSE,
    )
    # Before: zed was taken as a second, "hidden" account and his membership of Eng
    # (under the upper-cased id) matched no one, so the plan kept him in Eng.
    assert run("plan", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert f"could not look up team member {zed.upper()!r}" in err
    assert "the ids differ only in case" in err
    assert "nothing was planned" in err
    assert member_names(sandbox, "Eng") == {"zed@acme.io"}


def test_the_read_by_id_quirks_are_named_by_their_specs() -> None:
    quirks = Quirks.from_specs(["member-ids-case", "read-returns-other=Zed@Acme.io"])
    assert quirks.names() == ["member_ids_case", "read_returns_other=zed@acme.io"]
    with pytest.raises(ValueError, match="needs a target"):
        Quirks.from_specs(["read-returns-other"])


def test_members_a_patch_dropped_without_being_asked_fail_the_verification(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = seed_user(sandbox, "ann")
    ben = seed_user(sandbox, "ben")
    seed_user(sandbox, "new")
    sandbox.store.create_group({"displayName": "Eng", "members": [{"value": ann}, {"value": ben}]})
    sandbox.set_quirks(Quirks(add_replaces_members=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("ben@acme.io"), person("new@acme.io")],
        [{"name": "Eng", "members": ["ann@acme.io", "ben@acme.io", "new@acme.io"]}],
        **LOOSE,
    )
    # Before: the read-back checked only that new was added: "every change is there",
    # exit 0, while ann and ben had lost the team.
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    assert "every change is there" not in out
    line = next(x for x in out.splitlines() if "failed: add_members Eng" in x)
    assert "ann@acme.io is no longer a member of 'Eng'" in line
    assert "ben@acme.io is no longer a member of 'Eng'" in line
    assert member_names(sandbox, "Eng") == {"new@acme.io"}  # what the server really did


def test_a_create_answered_200_with_an_existing_account_is_an_adoption_not_a_create(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dan is active and matches the manifest, but the capped listing (2, lying total)
    # hides him; the server answers the POST 200 with dan instead of 409.
    for name in ("ann", "ben", "dan"):
        seed_user(sandbox, name)
    sandbox.store.create_group({"displayName": "Eng"})
    sandbox.set_quirks(Quirks(list_cap=2, lying_total=True, post_returns_existing=True))
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io"), person("ben@acme.io"), person("dan@acme.io")],
        [{"name": "Eng", "members": ["dan@acme.io"]}],
        **LOOSE,
    )
    # Before: "create_user dan@acme.io: created", exit 0, and nobody learnt that the
    # listing hides active accounts (which unmanaged_users could never deprovision).
    assert run("apply", "-m", str(manifest), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_user dan@acme.io" in x)
    assert "adopted (not in the listing)" in line and ": created" not in line
    assert "The listing is incomplete: dan@acme.io already existed" in out
    assert member_names(sandbox, "Eng") == {"dan@acme.io"}
    assert len([u for u in sandbox.store.users() if u["userName"] == "dan@acme.io"]) == 1
