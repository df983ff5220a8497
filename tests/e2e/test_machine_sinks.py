"""The journal is ASCII: live data reaches no terminal raw.

It is a machine format that people also read in a terminal (``tail -f``). JSON
escapes C0 controls but, written
with ``ensure_ascii=False``, leaves bidirectional overrides (U+202E), invisible
characters (U+200B) and C1 controls (U+009B, a CSI on 8-bit terminals) raw, so a
server detail could reorder or hide what the operator reads. Over real HTTP on
127.0.0.1 against the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.journal import read_journal
from scim_sandbox import Quirks, Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest
from tests.e2e.test_quirks_writes import LOOSE, seed_user

HIDDEN = ("\u202e", "\u200b", "\u009b", "\u2066")
DETAIL = "owner \u202ecod.exe\u200b \u009b2J \u2066x"


def test_a_server_detail_with_bidi_and_c1_characters_is_journaled_as_ascii(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        seed_user(box, "boss")
        box.set_quirks(Quirks(forbid_user=(("boss@acme.io", DETAIL),)))
        manifest = write_manifest(
            tmp_path / "org.yaml", [person("boss@acme.io", active=False)], [], **LOOSE
        )
        assert run("apply", "-m", str(manifest), "--auto-approve", "--journal", "j.jsonl") == 5
    capsys.readouterr()
    raw = (tmp_path / "j.jsonl").read_bytes()
    assert raw.isascii()
    assert not any(char in raw.decode() for char in HIDDEN)
    failed = next(e for e in read_journal(tmp_path / "j.jsonl") if e.get("status") == "failed")
    assert DETAIL in json.dumps(failed, ensure_ascii=False)  # the value itself is kept


@pytest.mark.parametrize("hidden", ["\u200b", "\u202e", "\u2066", "\u00a0", "\u0007"])
def test_a_manifest_team_name_with_an_invisible_character_is_refused(
    hidden: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "E\u200bng" was valid and apply created a second team that prints as
    # "Eng", so a PR could grant a team that only looks like the one reviewed.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        seed_user(box, "ann")
        box.store.create_group({"displayName": "Eng"})
        manifest = write_manifest(
            tmp_path / "org.yaml",
            [person("ann@acme.io")],
            [{"name": "Eng", "members": []}, {"name": f"E{hidden}ng", "members": ["ann@acme.io"]}],
        )
        assert run("apply", "-m", str(manifest), "--auto-approve") == 1
        assert [g["displayName"] for g in box.store.groups()] == ["Eng"]
    err = capsys.readouterr().err
    assert "teams[1].name: team name 'E\\u" in err or "teams[1].name: team name 'E\\x" in err
    assert "reviewers cannot see it" in err
    assert hidden not in err


def test_team_names_in_any_script_stay_valid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    names = ["データ Team", "Équipe Paris", "Ω Ops"]
    manifest = write_manifest(
        tmp_path / "org.yaml", [person("ann@acme.io")], [{"name": n, "members": []} for n in names]
    )
    assert run("validate", "-m", str(manifest)) == 0


def test_import_writes_hidden_characters_of_live_names_as_escapes_and_round_trips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # YAML counts U+202E and U+200B as printable and wrote them raw into the imported
    # files that a PR then shows to reviewers (reordered or joined text).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    given = "Ann\u202eelif.exe\u200b José"
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        seed_user(box, "ann", given=given)
        seed_user(box, "ben", given="Benoît")
        assert run("import", "--out", "imported", "--claimed-domain", "acme.io") == 0
        text = (tmp_path / "imported" / "org.yaml").read_text(encoding="utf-8")
        assert "\u202e" not in text and "\u200b" not in text
        assert '"Ann\\u202eelif.exe\\u200b José"' in text
        assert "Benoît" in text  # ordinary letters stay as they are
        capsys.readouterr()
        assert run("plan", "-m", "imported") == 0
    assert "No changes. Mixpanel matches the manifest." in capsys.readouterr().out
