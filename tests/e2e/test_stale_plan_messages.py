"""Saved-plan staleness reads true (issue 15): a plan's own changes are not drift.

Over real HTTP against both servers: re-applying an applied plan says so and exits
0; a rename never reads "renamed to X" with X the name it already has; the advice
names the manifest the plan was made from.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from reconciler.scim import builders
from tests.e2e.conftest import Server, person, run, write_manifest
from tests.ux.golden import check_message

USERS = [person("ada@acme.io", "Ada", "Lovelace"), person("bob@acme.io", "Bob", "Builder")]


def _seed_team(server: Server, name: str, member: str) -> str:
    client = server.client()
    user = client.create_user(builders.user_resource(member, "Ada", "Lovelace", None, True))
    group = client.create_group(builders.group_resource(name))
    client.patch_group(group.id, builders.add_members([user.id]))
    return group.id


def test_re_applying_an_applied_plan_says_so_and_exits_0(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(
        tmp_path / "org.yaml", USERS, [{"name": "Growth", "members": ["ada@acme.io"]}]
    )
    assert run("plan", "-m", str(manifest), "--out", "plan.json") == 0
    assert run("apply", "plan.json") == 0
    capsys.readouterr()
    assert run("apply", "plan.json") == 0
    out, err = capsys.readouterr()
    assert "this plan was already applied" in out
    assert "stale" not in err and "since the plan" not in err
    check_message("plan_already_applied", out, {})


def test_a_rename_done_by_hand_never_reads_renamed_to_the_same_name(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group_id = _seed_team(server, "Data", "ada@acme.io")
    teams = [{"name": "Data Science", "previous_names": ["Data"], "members": ["ada@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", USERS, teams)
    assert run("plan", "-m", str(manifest), "--out", "plan.json") == 0
    server.client().patch_group(group_id, builders.rename_group("Data Science"))
    capsys.readouterr()
    assert run("apply", "plan.json") == 3  # Bob's create is still to do: a partial plan
    err = capsys.readouterr().err
    assert 'renamed to "Data Science" since the plan' not in err
    assert 'team "Data Science": already renamed since the plan was made' in err
    check_message("stale_plan_partly_applied", err, {str(tmp_path): "{tmp}"})


def test_a_rename_to_another_name_by_hand_names_both_names(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group_id = _seed_team(server, "Data", "ada@acme.io")
    teams = [{"name": "Data Science", "previous_names": ["Data"], "members": ["ada@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", USERS[:1], teams)
    assert run("plan", "-m", str(manifest), "--out", "plan.json") == 0
    server.client().patch_group(group_id, builders.rename_group("Analytics"))
    capsys.readouterr()
    assert run("apply", "plan.json") == 3
    err = capsys.readouterr().err
    assert (
        'team "Data" (this plan renames it to "Data Science"): renamed to "Analytics" '
        "in Mixpanel since the plan"
    ) in err


def test_the_stale_advice_names_the_manifest_the_plan_was_made_from(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [])
    assert run("plan", "-m", str(manifest), "--out", "reviewed.json") == 0
    client = server.client()
    client.create_user(builders.user_resource("ada@acme.io", "Ada", "Other", None, True))
    capsys.readouterr()
    assert run("apply", "reviewed.json") == 3
    err = capsys.readouterr().err
    assert f"Run `reconciler plan -m {manifest} --out reviewed.json` again" in err


def _advised(err: str) -> list[str]:
    """The command the stale advice gives, as argv (without `reconciler`)."""
    command = err.split("Run `", 1)[1].split("`", 1)[0]
    words = shlex.split(command)
    assert words[0] == "reconciler"
    return words[1:]


@pytest.mark.parametrize("where", ["default folder", "org of reconciler.yaml"])
def test_the_stale_advice_is_a_command_that_works_as_given(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    # The advice is run as printed: with several orgs it must name the org (--org),
    # or plan refuses to guess; without -m it names the folder plan read.
    folder = tmp_path / ("manifests" if where == "default folder" else "eu")
    folder.mkdir()
    write_manifest(folder / "org.yaml", USERS, [])
    org: list[str] = []
    if where != "default folder":
        monkeypatch.delenv("MIXPANEL_SCIM_URL")
        (tmp_path / "reconciler.yaml").write_text(
            "version: 1\norgs:\n"
            "  - {name: us, manifest: us, url: 'http://127.0.0.1:1/api/app/scim/v2'}\n"
            f"  - {{name: eu, manifest: eu, url: '{server.base_url}'}}\n"
        )
        org = ["--org", "eu"]
    assert run(*org, "plan", "--out", "reviewed.json") == 0
    server.client().create_user(builders.user_resource("ada@acme.io", "Ada", "X", None, True))
    capsys.readouterr()
    assert run(*org, "apply", "reviewed.json") == 3
    advice = _advised(capsys.readouterr().err)
    assert advice[: len(org)] == org
    assert run(*advice) == 0, capsys.readouterr().err
    assert run(*org, "apply", "reviewed.json", "--auto-approve") == 0


def test_a_plan_applied_then_edited_by_hand_says_what_differs_not_created_since(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The plan's own create is not someone else's: the line says what differs from it.
    manifest = write_manifest(
        tmp_path / "org.yaml", USERS[:1], [{"name": "Eng", "members": ["ada@acme.io"]}]
    )
    assert run("plan", "-m", str(manifest), "--out", "plan.json") == 0
    assert run("apply", "plan.json") == 0
    client = server.client()
    ada = client.find_user("ada@acme.io")
    assert ada is not None
    client.patch_user(ada.id, builders.replace_user_attributes({"given_name": "Adeline"}))
    capsys.readouterr()
    assert run("apply", "plan.json") == 3
    err = capsys.readouterr().err
    assert "(2 of 3 operations already done)" in err
    assert (
        'ada@acme.io: created in Mixpanel since the plan, with given_name "Adeline" where '
        'the plan has "Ada"'
    ) in err
    assert 'team "Eng": already created since the plan was made' in err
