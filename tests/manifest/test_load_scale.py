"""What makes a large manifest load fast and small, without changing any answer.

The quick scans (printable characters, token-like runs) must answer exactly as the
regular expressions they stand in for; the loader pauses cyclic garbage collection
without freezing a long-lived process's garbage; repeated names are one string; a
user's match key shares the email's string when they are equal. Timings are in the
bench (``make bench``), not here.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifest import document, tokens, yamlsource
from reconciler.manifest.loader import load_manifest, load_manifest_text
from reconciler.manifest.models import User
from tests.manifest.support import ORG, TODAY, write

TOKEN = "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"

SCANNED = [
    "",
    "a: 1\n",
    f"a: {TOKEN}\n",
    f"# {TOKEN}\n",
    f"a: x@{TOKEN}\n",
    f"a: https://x.io/{TOKEN}\n",
    "a: " + "x" * 31 + "\n",
    "a: " + "x" * 32 + "\n",
    "a: " + "x" * 16 + "é" + "x" * 16 + "\n",  # a non-ASCII letter breaks a run
    "a: " + "x" * 16 + "日" + "1" * 16 + "\n",
    "a: " + "a1" * 16 + "\n",
    "a: " + "a1" * 8 + "\u200b" + "a1" * 8 + "\n",
    "a: " + "Ab1-_" * 8 + "\n",
    "a: " + "Ab1-_" * 8 + "\ud800\n",  # a lone surrogate (text given in memory)
    "a: '" + "Zz9" * 11 + "'\nb: " + "9z" * 20 + "\n",
]


@pytest.mark.parametrize("text", SCANNED)
def test_the_quick_token_scan_answers_as_the_run_pattern(text: str) -> None:
    assert tokens.has_token_runs(text) == (next(tokens.token_runs(text), None) is not None)
    quick = tokens._LONG_RUN in text.encode("utf-8", "surrogatepass").translate(tokens._RUN_BYTES)
    assert quick == (tokens._RUN.search(text) is not None)


PRINTABLE = [
    "a: 1\n",
    "a:\tb\r\n",
    "a: \x7f\n",
    "a: \x00\n",
    "a: \x1f\n",
    "a: \x85\n",
    "a: \xa0é日\n",
    "a: \ufeff\n",
    "a: \ufffe\n",
    "a: \ud800\n",
    "a: \U0001f600\n",
    "".join(chr(c) for c in range(128)),
]


@pytest.mark.parametrize("text", PRINTABLE)
def test_the_printable_check_answers_as_the_yaml_reader(text: str) -> None:
    expected = yaml.reader.Reader.NON_PRINTABLE.search(text) is None
    assert yamlsource._printable(text) == expected


def test_the_loader_pauses_collection_without_freezing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    check = document.check_file

    def watching(text: str, filename: str, **more: Any) -> document.FileResult:
        seen.append(gc.isenabled())
        return check(text, filename, **more)

    monkeypatch.setattr("reconciler.manifest.loader.check_file", watching)
    frozen = gc.get_freeze_count()
    root = write(tmp_path, {"org.yaml": ORG, "users.yaml": ORG.split("\n")[0] + "\nusers: []\n"})
    load_manifest(root, today=TODAY)
    load_manifest_text(ORG, filename="m.yaml", today=TODAY)
    assert seen == [False, False, False]
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_a_failed_load_restores_collection(tmp_path: Path) -> None:
    root = write(tmp_path, {"org.yaml": ORG + "users: [{email: nope}]\n"})
    with pytest.raises(Exception, match="users"):
        load_manifest(root, today=TODAY)
    assert gc.isenabled()


def test_repeated_names_are_one_string_in_memory() -> None:
    text = (
        ORG
        + "users:\n"
        + "".join(
            f"  - {{email: u{i}@acme.io, given_name: Ada, family_name: 'Lovelace', "
            f"display_name: Ada L}}\n"
            for i in range(3)
        )
    )
    users = load_manifest_text(text, filename="m.yaml", today=TODAY).manifest.users
    assert len({id(u.given_name) for u in users}) == 1
    assert len({id(u.family_name) for u in users}) == 1
    assert [u.given_name for u in users] == ["Ada"] * 3


@pytest.mark.parametrize(
    ("email", "key", "shared"),
    [("ada@acme.io", "ada@acme.io", True), ("Ada@ACME.io", "ada@acme.io", False)],
)
def test_the_match_key_shares_the_email_string_when_equal(
    email: str, key: str, shared: bool
) -> None:
    user = User(email=email, given_name="Ada", family_name="L")
    assert user.key == key
    assert (user.key is user.email) is shared
    assert user.key is user.key  # computed once
    assert "key" not in user.model_dump()  # never part of the data (or the digest)


def test_the_fast_parse_leaves_no_cyclic_garbage() -> None:
    # With collection paused during a load, a reference cycle in the parser would keep
    # each file's data alive until the end of the load (+60 MB at 100k, once).
    text = _many_names(50)
    gc.collect()
    gc.disable()
    try:
        assert yamlsource.parse_plain(text) != yamlsource.UNUSUAL
        assert document.check_file(text, "m.yaml").users
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0


def _many_names(count: int) -> str:
    return (
        ORG
        + "users:\n"
        + "".join(
            f"  - {{email: u{i}@acme.io, given_name: Ada, family_name: 'L', active: yes}}\n"
            for i in range(count)
        )
        + "teams:\n  - {name: T, members: [u1@acme.io, {email: u2@acme.io}]}\n"
    )
