"""r6: characters that print as nothing but are neither format (Cf) nor control
characters (Unicode Default_Ignorable_Code_Point: the combining grapheme joiner,
variation selectors, Hangul fillers, Khmer inherent vowels, Mongolian variation
selectors) and the blank Braille pattern are look-alikes like U+200B, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Server, person, run, write_manifest
from tests.e2e.test_identity import _live, _team, _user

BLANKS = [
    "\u034f",
    "\ufe0f",
    "\u115f",
    "\u1160",
    "\u17b4",
    "\u180b",
    "\u3164",
    "\u2800",
    "\U000e0100",
]


# A combining mark NFKC does not compose onto an ASCII letter (or onto a dotless i):
# "\u0131\u0307da@acme.io" prints as "ida@acme.io", "ada\u0358@acme.io" as "ada@acme.io".
# A character NFKC maps to one ASCII punctuation mark ("\u2024" one dot leader, "\ufe52"
# small full stop: "ada.x@acme.io"), and a digit of another script in a Latin word
# (Arabic-Indic zero U+0660, a dot to the eye): flagged before, printed as they are.
PUNCTUATION = ["ada\u2024x@acme.io", "ada\ufe52x@acme.io", "ada\u0660x@acme.io"]
MARKED = ["\u0131\u0307da@acme.io", "ada\u0358@acme.io", "ada\u20d2@acme.io", "adi\u0307@acme.io"]


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _spelled(name: str) -> str:
    return "".join(c if c.isascii() else _escape(c) for c in name)


@pytest.mark.parametrize(
    "name",
    [f"ada{c}@acme.io" for c in BLANKS] + MARKED + PUNCTUATION,
    ids=[f"U+{ord(c):04X}" for c in BLANKS]
    + [f"mark-{i}" for i in range(len(MARKED))]
    + [f"punctuation-{i}" for i in range(len(PUNCTUATION))],
)
def test_a_username_that_prints_like_a_plain_address_is_a_spelled_lookalike(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    blank = next(c for c in reversed(name) if not c.isascii())
    lookalike = _user(server, name)
    ada = _user(server, "ada@acme.io")
    _team(server, "Eng", [lookalike, ada])
    manifest = write_manifest(
        tmp_path / "org.yaml",
        [person("ada@acme.io")],
        [{"name": "Eng", "members": ["ada@acme.io"]}],
        unmanaged_users="deactivate",
    )
    capsys.readouterr()
    assert run("plan", "-m", str(manifest)) == 0
    out = capsys.readouterr().out
    assert blank not in out, out  # never printed as it is: it would read "ada@acme.io"
    assert f"{_spelled(name)}: look-alike userName" in out, out
    assert "deactivated" not in out and "remove" not in out, out
    capsys.readouterr()
    assert run("report", "-m", str(manifest), "--format", "csv") == 0
    assert blank not in capsys.readouterr().out
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    assert _live(server).users_by_id[lookalike].active
