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
from reconciler.sandbox import Quirks, Sandbox
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
