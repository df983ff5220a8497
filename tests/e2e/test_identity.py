"""Identities are exact and live data is data, over real HTTP against both servers.

Look-alike userNames are never matched, never changed, flagged escaped in plan,
report and doctor; names with whitespace round-trip through import; a whitespace-only
difference is a rename in place; live strings cannot forge output lines or Markdown.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.livestate import LiveState
from reconciler.reader import read_live_state
from reconciler.render.text import NO_CHANGES
from reconciler.scim import builders
from tests.e2e.conftest import Server, person, run, write_manifest

ZWSP_ADA = "ada\u200b@acme.io"
SHOWN_ADA = "ada\\u200b@acme.io"


def _live(server: Server) -> LiveState:
    with server.client() as client:
        return read_live_state(client)


def _user(server: Server, user_name: str, given: str = "Given") -> str:
    with server.client() as client:
        resource = builders.user_resource(user_name, given, "Family", None, True)
        return client.create_user(resource).id


def _team(server: Server, name: str, member_ids: list[str]) -> str:
    with server.client() as client:
        group = client.create_group(builders.group_resource(name))
        if member_ids:
            client.patch_group(group.id, builders.add_members(member_ids))
        return group.id


def _no_raw(text: str) -> None:
    assert "\u200b" not in text and "\x1b" not in text
    assert NO_CHANGES not in [line.strip() for line in text.splitlines()]


def test_a_zero_width_lookalike_is_flagged_escaped_and_never_changed(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lookalike = _user(server, ZWSP_ADA)
    bob = _user(server, "bob@acme.io")
    _team(server, "Eng", [lookalike, bob])
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ada@acme.io"), person("bob@acme.io")],
        [{"name": "Eng", "members": ["ada@acme.io", "bob@acme.io"]}],
        unmanaged_users="deactivate",
    )
    capsys.readouterr()
    assert run("plan", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    _no_raw(out)
    assert f"! {SHOWN_ADA}: look-alike userName (invisible character U+200B" in out
    assert "+ user ada@acme.io will be created" in out  # never matched to the look-alike
    assert "deactivated" not in out and "remove members" not in out

    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    live = _live(server)
    kept = live.users_by_id[lookalike]
    assert kept.user_name == ZWSP_ADA and kept.active
    assert lookalike in live.groups_by_name["Eng"].member_ids
    assert {u.user_name for u in live.users} == {ZWSP_ADA, "ada@acme.io", "bob@acme.io"}

    capsys.readouterr()
    assert run("report", "-m", str(manifest)) == 0
    report = capsys.readouterr().out
    _no_raw(report)
    assert "Look-alike userNames" in report and SHOWN_ADA in report

    assert run("doctor", "-m", str(manifest), "--max-attempts", "1") == 0
    doctor = capsys.readouterr().out
    _no_raw(doctor)
    assert "look-alike userNames:" in doctor and SHOWN_ADA in doctor


def test_a_lookalike_named_in_the_policy_is_deactivated_like_any_unlisted_user(
    server: Server, tmp_path: Path
) -> None:
    lookalike = _user(server, ZWSP_ADA)
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("bob@acme.io")],
        [],
        unmanaged_users="deactivate",
        lookalike_users=[ZWSP_ADA],
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert _live(server).users_by_id[lookalike].active is False


def test_import_round_trips_names_with_whitespace_exactly(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = _user(server, "ann@acme.io", given="Ann ")
    design = _team(server, "Design ", [ann])
    out = tmp_path / "imported"
    assert run("import", "--out", str(out), "--claimed-domain", "acme.io") == 0
    text = (out / "org.yaml").read_text(encoding="utf-8")
    assert "'Design '" in text and "'Ann '" in text  # quoted, so YAML keeps the space
    capsys.readouterr()
    assert run("validate", "-m", str(out)) == 0
    assert "trailing whitespace, kept exactly as written" in capsys.readouterr().err
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0
    live = _live(server)
    assert [(g.id, g.display_name) for g in live.groups] == [(design, "Design ")]


def test_a_team_that_differs_only_in_whitespace_is_renamed_in_place(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = _user(server, "ann@acme.io", given="Ann ")
    design = _team(server, "Design ", [ann])
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io", "Ann")],
        [{"name": "Design", "members": ["ann@acme.io"]}],
    )
    capsys.readouterr()
    assert run("plan", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert 'team "Design" will be renamed' in out and "will be created" not in out
    assert '~ given_name: "Ann " -> "Ann"' in out
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    live = _live(server)
    assert [(g.id, g.display_name) for g in live.groups] == [(design, "Design")]
    assert live.groups[0].member_ids == {ann}
    assert live.users_by_id[ann].given_name == "Ann"
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_live_names_cannot_forge_terminal_lines_or_markdown(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _user(server, "eve\x1b[1A\x1b[2K@acme.io")
    _user(server, "ada@acme.io", given="</details><h1>No changes</h1>")
    _team(server, f"Ops\n{NO_CHANGES}", [])
    _team(server, "Back`tick", [])
    manifest = write_manifest(tmp_path / "org.yaml", [person("ada@acme.io", "Ada")], [])
    capsys.readouterr()
    assert run("plan", "-m", str(manifest)) == 0
    text = capsys.readouterr().out
    _no_raw(text)
    assert "eve\\x1b[1A\\x1b[2K@acme.io" in text and f"Ops\\n{NO_CHANGES}" in text

    assert run("plan", "-m", str(manifest), "--format", "markdown") == 0
    md = capsys.readouterr().out
    _no_raw(md)
    assert "<h1>" not in md and md.count("<details>") == md.count("</details>")
    assert "&lt;/details&gt;&lt;h1&gt;No changes&lt;/h1&gt;" in md
    assert "Back\\`tick" in md

    assert run("report", "-m", str(manifest), "--format", "markdown") == 0
    report = capsys.readouterr().out
    _no_raw(report)
    assert "Back\\`tick" in report

    assert run("plan", "-m", str(manifest), "--format", "json") == 0
    plan = json.loads(capsys.readouterr().out)  # JSON keeps the exact text, escaped by JSON
    assert any("eve\x1b[1A\x1b[2K@acme.io" in n for n in plan["notices"])


@pytest.mark.parametrize(
    ("live_name", "shown"),
    [
        ("\u212aim@acme.io", "\\u212aim@acme.io"),  # Kelvin sign: Unicode lowercases it to k
        ("k\u0456m@acme.io", "k\\u0456m@acme.io"),  # Cyrillic i among Latin letters
        ("\uff4bim@acme.io", "\\uff4bim@acme.io"),  # fullwidth k
    ],
    ids=["kelvin", "cyrillic", "fullwidth"],
)
def test_confusable_lookalikes_are_spelled_out_in_every_output_and_never_matched(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    live_name: str,
    shown: str,
) -> None:
    # Printed as they are, these read exactly like kim@acme.io (or Eng); each output
    # must spell them out, flag them, and never act on them.
    lookalike = _user(server, live_name)
    bob = _user(server, "bob@acme.io")
    _team(server, "Eng", [lookalike, bob])
    _team(server, "\u0415ng", [lookalike])  # Cyrillic IE
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("kim@acme.io"), person("bob@acme.io")],
        [{"name": "Eng", "members": ["kim@acme.io", "bob@acme.io"]}],
        unmanaged_users="deactivate",
    )
    outputs = []
    for argv in (
        ("plan", "-m", str(manifest)),
        ("plan", "-m", str(manifest), "--format", "markdown"),
        ("report", "-m", str(manifest)),
        ("report", "-m", str(manifest), "--format", "markdown"),
        ("report", "-m", str(manifest), "--format", "csv"),
        ("doctor", "-m", str(manifest), "--max-attempts", "1"),
    ):
        capsys.readouterr()
        assert run(*argv) == 0, argv
        out = capsys.readouterr().out
        assert live_name not in out and "\u0415ng" not in out, argv
        outputs.append(out)
    plan, plan_md, report, report_md, _, doctor = outputs
    assert f"! {shown}: look-alike userName" in plan
    assert "+ user kim@acme.io will be created" in plan  # never matched to the look-alike
    assert "will be deactivated" not in plan and "remove members" not in plan
    assert shown in plan_md and "\\u0415ng" in plan_md
    for text in (report, report_md):
        assert "Look-alike userNames" in text and shown in text
        assert "Look-alike team names" in text and '"\\u0415ng" (id ' in text
    assert f"1 userName with invisible, bidi or confusable characters: {shown}" in doctor
    assert "look-alike team names: 1 team name with invisible, bidi or confusable" in doctor
    assert '"\\u0415ng" (id ' in doctor
    # A server may itself fold the Kelvin sign (the sandbox's uniqueness check lowercases
    # with Unicode rules) and refuse kim@acme.io with a 409 (exit 5); either way the
    # look-alike is never renamed, deactivated or removed from a team.
    assert run("apply", "-m", str(manifest), "--auto-approve") in (0, 5)
    live = _live(server)
    assert live.users_by_id[lookalike].user_name == live_name and live.users_by_id[lookalike].active
    assert live.groups_by_name["Eng"].member_ids >= {lookalike, bob}


@pytest.mark.parametrize(
    "live_name", ["Data  Science", "Data Science\t", "\nData Science", " data  science "]
)
def test_a_team_that_differs_in_any_ascii_whitespace_is_renamed_in_place_not_duplicated(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], live_name: str
) -> None:
    ann = _user(server, "ann@acme.io")
    team = _team(server, live_name, [ann])
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io")],
        [{"name": "Data Science", "members": ["ann@acme.io"]}],
    )
    capsys.readouterr()
    assert run("plan", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert 'team "Data Science" will be renamed' in out and "will be created" not in out
    assert "look-alike" not in out
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    live = _live(server)
    assert [(g.id, g.display_name, g.member_ids) for g in live.groups] == [
        (team, "Data Science", {ann})
    ]
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


@pytest.mark.parametrize("live_name", ["ann@acme.io\t", " ann@acme.io", "ann@acme.io\n"])
def test_a_user_whose_user_name_differs_only_in_surrounding_whitespace_is_renamed_in_place(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], live_name: str
) -> None:
    if server.kind == "sandbox":
        pytest.skip("the sandbox, as Mixpanel, refuses a userName that is not an address")
    ann = _user(server, live_name)
    _team(server, "Eng", [ann])
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ann@acme.io")],
        [{"name": "Eng", "members": ["ann@acme.io"]}],
        unmanaged_users="deactivate",
    )
    capsys.readouterr()
    assert run("plan", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert "user ann@acme.io will be updated" in out and "will be created" not in out
    assert "look-alike" not in out and "deactivated" not in out
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    live = _live(server)
    assert [(u.id, u.user_name) for u in live.users] == [(ann, "ann@acme.io")]
    assert live.groups_by_name["Eng"].member_ids == {ann}
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0


def test_import_leaves_out_a_team_whose_name_holds_a_tab_and_its_plan_stays_empty(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = _user(server, "ann@acme.io")
    _team(server, "Design\t", [ann])
    _team(server, "Data  Science", [ann])
    out = tmp_path / "imported"
    assert run("import", "--out", str(out), "--claimed-domain", "acme.io") == 0
    notes = capsys.readouterr().err
    assert 'team "Design\\t"' in notes and "was not imported" in notes
    assert "Data  Science" in (out / "org.yaml").read_text(encoding="utf-8")
    assert run("validate", "-m", str(out)) == 0
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0
