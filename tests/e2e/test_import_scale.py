"""Import that scales: every file ``import`` writes is within the loader's per-file cap.

An org too big for one ``org.yaml`` used to be written as one file anyway, which
``plan`` then refused (at about 46k users with the 5 MiB cap). Here the cap is
lowered so a small org exercises the split: import over real HTTP, every file under
the cap, and ``plan`` of the import shows no changes.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.importer import import_manifest
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest import loader
from reconciler.manifest.loader import load_manifest
from reconciler.plan import Plan
from scim_sandbox import Sandbox

TOKEN = "import-TOKEN-5150"
CAP = 12_000  # bytes: about 150 users per file


def test_import_of_an_org_over_the_cap_splits_and_plans_like_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    split, whole = tmp_path / "split", tmp_path / "whole"
    with Sandbox(token=TOKEN, seed="random:600") as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        assert main(["import", "--out", str(whole)]) == 0
        assert [p.name for p in whole.rglob("*.yaml")] == ["org.yaml"]
        assert main(["plan", "-m", str(whole), "--out", str(tmp_path / "whole.json")]) == 0
        with monkeypatch.context() as lowered:
            lowered.setattr(loader, "MAX_FILE_BYTES", CAP)
            assert main(["import", "--out", str(split)]) == 0
            files = sorted(split.rglob("*.yaml"))
            assert len(files) > 3  # org.yaml, several people/ files, teams
            assert all(p.stat().st_size <= CAP for p in files)
            loaded = load_manifest(split, today=date(2026, 11, 22))
            assert len(loaded.manifest.users) == sandbox.store.counts()[0]
            assert main(["plan", "-m", str(split), "--out", str(tmp_path / "split.json")]) == 0
    plans = [
        Plan.from_json((tmp_path / f"{n}.json").read_text("utf-8")) for n in ("split", "whole")
    ]
    assert plans[0].operations == plans[1].operations  # splitting changes nothing
    summary = plans[0].summary
    assert (summary.create, summary.change, summary.deactivate, summary.delete) == (0, 0, 0, 0)
    assert summary.members_added == 0


def _org(users: int, *, everyone: bool) -> LiveState:
    people = [
        LiveUser(
            id=f"u{i}",
            user_name=f"person{i}@acme.io",
            given_name=f"Given{i}",
            family_name=f"Family{i}",
            active=True,
        )
        for i in range(users)
    ]
    teams = [LiveGroup(id="g2", display_name="Few", member_ids=frozenset(["u0", "u1", "u2"]))]
    if everyone:
        members = frozenset(p.id for p in people)
        teams.append(LiveGroup(id="g1", display_name="Everyone", member_ids=members))
    return LiveState.of(people, teams)


@pytest.mark.parametrize("split_teams", [False, True])
def test_split_files_are_under_the_cap_and_load_back_to_the_same_org(
    split_teams: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _org(600, everyone=False)
    imported = import_manifest(live, ["acme.io"], split_teams=split_teams, max_file_bytes=CAP)
    assert sum(name.startswith("people/") for name in imported.files) > 2
    assert all(len(text.encode()) <= CAP for text in imported.files.values())
    for name, text in imported.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", CAP)
    manifest = load_manifest(tmp_path, today=date(2026, 11, 22)).manifest
    assert sorted(u.email for u in manifest.users) == sorted(u.user_name for u in live.users)
    assert [(t.name, len(t.member_list)) for t in manifest.teams] == [("Few", 3)]


@pytest.mark.parametrize("split_teams", [False, True])
def test_a_team_too_big_for_any_file_is_named_in_the_notes(split_teams: bool) -> None:
    imported = import_manifest(
        _org(600, everyone=True), ["acme.io"], split_teams=split_teams, max_file_bytes=CAP
    )
    big = [name for name, text in imported.files.items() if len(text.encode()) > CAP]
    everyone = [n for n in imported.notes if "'Everyone' alone is larger" in n]
    assert len(big) == 1 and len(everyone) == 1
    assert big[0] in everyone[0]


def test_an_org_under_the_cap_is_still_one_file() -> None:
    imported = import_manifest(_org(20, everyone=True), ["acme.io"])
    assert list(imported.files) == ["org.yaml"]


def test_import_checks_without_positions_and_notices_place_the_same_from_the_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: the import's own check computes no position; a notice's is cheap and equal."""
    from reconciler.manifest import document
    from reconciler.manifest.yamlsource import parse_positions, parse_yaml

    calls: list[tuple[str, str]] = []

    def full(text: str, filename: str) -> object:
        calls.append(("full", Path(filename).name))
        return parse_yaml(text, filename)

    def events(text: str, filename: str) -> object:
        calls.append(("events", Path(filename).name))
        return parse_positions(text, filename)

    monkeypatch.setattr(document, "parse_yaml", full)
    monkeypatch.setattr(document, "parse_positions", events)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    out = tmp_path / "org"
    with Sandbox(token=TOKEN, seed="random:600") as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        assert main(["import", "--out", str(out)]) == 0
        assert calls == []  # the check of the written files placed nothing
        capsys.readouterr()
        assert main(["validate", "-m", str(out)]) == 0
        cheap = capsys.readouterr()
        assert "is declared active: false (" in cheap.err + cheap.out  # notices to place
        assert calls and {kind for kind, _ in calls} == {"events"}
        monkeypatch.setattr(document, "parse_positions", lambda _text, _filename: None)
        assert main(["validate", "-m", str(out)]) == 0
        assert capsys.readouterr() == cheap  # byte for byte what the full parse places
        assert ("full", "org.yaml") in calls


def _teams_org(sandbox: Sandbox, teams: int) -> None:
    user = sandbox.store.create_user(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@acme.io",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "active": True,
        }
    )
    ada = json.loads(user.body)["id"]
    for n in range(teams):
        schema = "urn:ietf:params:scim:schemas:core:2.0:Group"
        sandbox.store.create_group(
            {"schemas": [schema], "displayName": f"team{n:04d}", "members": [{"value": ada}]}
        )


def test_import_split_teams_of_an_org_with_more_teams_than_1000_plans_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # One file per team: the loader's cap on the number of files must not refuse
    # what import wrote for an org of 1001 teams (it was 1000, with no override).
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    out = tmp_path / "imported"
    with Sandbox(token=TOKEN) as sandbox:
        _teams_org(sandbox, 1001)
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        assert main(["import", "--split-teams", "--out", str(out)]) == 0, capsys.readouterr()
        assert len(list(out.rglob("*.yaml"))) == 1002
        assert main(["plan", "-m", str(out), "--detailed-exitcode"]) == 0


def test_the_file_count_cap_is_overridden_by_its_variable_and_import_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    monkeypatch.setenv("RECONCILER_MANIFEST_MAX_FILES", "3")
    out = tmp_path / "imported"
    with Sandbox(token=TOKEN) as sandbox:
        _teams_org(sandbox, 3)
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        refused = main(["import", "--split-teams", "--out", str(out)])
        err = capsys.readouterr().err
        assert refused == 1 and not out.exists()  # refused before anything is written
        assert "4 files" in err and "RECONCILER_MANIFEST_MAX_FILES" in err, err
        assert "Traceback" not in err and "bug" not in err
        monkeypatch.setenv("RECONCILER_MANIFEST_MAX_FILES", "4")
        assert main(["import", "--split-teams", "--out", str(out)]) == 0
        assert main(["plan", "-m", str(out), "--detailed-exitcode"]) == 0
        monkeypatch.setenv("RECONCILER_MANIFEST_MAX_FILES", "3")
        assert main(["validate", "-m", str(out)]) == 1
        err = capsys.readouterr().err
        assert "more than 3 manifest files" in err and "RECONCILER_MANIFEST_MAX_FILES=N" in err
