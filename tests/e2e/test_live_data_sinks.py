"""Live data is data in every sink: each kind of hostile string x every output.

Issue 12, item 6, by kind: a live name holding a terminal control (ESC, a C1 CSI,
DEL), a bidi control, a line or paragraph separator, a newline that forges the "No
changes" line, HTML that closes a ``<details>`` block, a backtick, Markdown table
and link syntax, or a spreadsheet formula, is put in a user's names and a team's
name on the sandbox (real HTTP on 127.0.0.1). Then plan (text, Markdown), report
(text, Markdown, CSV), doctor and the drift issue's body (posted to a fake GitHub
on 127.0.0.1) must show it escaped: no raw control reaches a terminal, no forged
line, no tag or code span escapes, no cell a spreadsheet evaluates.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import requests

from reconciler.render.text import NO_CHANGES
from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest
from tests.e2e.test_github_redaction import FakeGitHub, github_api

HOSTILE = {
    "esc": f"\x1b[2K\r{NO_CHANGES}",
    "c1": "x\x9b2Ky\x85z\x7f",
    "bidi": "ab\u202ecd\u2066e\u200b",
    "separators": "a\u2028b\u2029c",
    "newline": f"Ops\n{NO_CHANGES}\n",
    "html": "</details><h1>No changes</h1><!--",
    "backtick": "a`b``c",
    "markdown": "a|b]*_~[x](https://evil.example) @acme/security #1",
    "formula": '=HYPERLINK("https://evil.example")',
}
# What no terminal or Markdown output may hold raw: C0 (but \n), DEL, C1, bidi,
# invisible format characters, line and paragraph separators.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    users = [person(f"u{i}@acme.io", "Kept") for i in range(len(HOSTILE))]
    return write_manifest(tmp_path / "org.yaml", users, [])


def _seed(base_url: str) -> None:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {TOKEN}"})
    for i, value in enumerate(HOSTILE.values()):
        name = {"givenName": value, "familyName": value}
        body = {"schemas": [USER], "userName": f"u{i}@acme.io", "name": name, "active": True}
        made = session.post(f"{base_url}/Users", json=body, timeout=10)
        made.raise_for_status()
        team = {"schemas": [GROUP], "displayName": value, "members": [{"value": made.json()["id"]}]}
        session.post(f"{base_url}/Groups", json=team, timeout=10).raise_for_status()


def _terminal_safe(text: str) -> None:
    assert RAW.findall(text) == [], text
    assert NO_CHANGES not in [line.strip() for line in text.splitlines()], text


def _markdown_safe(text: str) -> None:
    _terminal_safe(text)
    assert "<h1>" not in text and text.count("<details>") == text.count("</details>")
    assert "<!--" not in re.sub(r"<!-- mixpanel-scim-reconciler:[\w:-]+ -->", "", text)
    # Outside code spans (shown literally), no live link, autolink, mention or issue link.
    prose = re.sub(r"`[^`]*`", "", text)
    assert "https://evil" not in prose and "](" not in prose.replace("\\](", ""), prose
    assert "@acme/security" not in prose and "#1" not in prose


def _out(capsys: pytest.CaptureFixture[str], code: int) -> str:
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    _terminal_safe(err)
    return out


def test_every_hostile_live_string_is_escaped_in_every_sink(
    org: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = str(org)
    with Sandbox(token=TOKEN) as box:
        _seed(box.base_url)
        url = ("--url", box.base_url)
        capsys.readouterr()
        for fmt in ("text", "markdown"):
            text = _out(capsys, run("plan", "-m", manifest, *url, "--format", fmt))
            _markdown_safe(text) if fmt == "markdown" else _terminal_safe(text)
            # shown, escaped: \x1b (a notice) or \u001b (a JSON-quoted value)
            assert re.search(r"\\(x1b|u001b)", text) and "\\u202e" in text
        run("plan", "-m", manifest, *url, "--format", "markdown", "--detail", "full")
        (tmp_path / "plan.md").write_text(capsys.readouterr().out, encoding="utf-8")
        for fmt in ("text", "markdown"):
            text = _out(capsys, run("report", "-m", manifest, *url, "--format", fmt))
            _markdown_safe(text) if fmt == "markdown" else _terminal_safe(text)
        cells = _out(capsys, run("report", "-m", manifest, *url, "--format", "csv"))
        _terminal_safe(_out(capsys, run("doctor", *url)))
    rows = list(csv.reader(io.StringIO(cells)))
    assert rows and all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for c in r)
    assert any(c.startswith("'=HYPERLINK") for r in rows for c in r)

    state = FakeGitHub()
    with github_api(state) as api, pytest.MonkeyPatch.context() as env:
        env.setenv("GITHUB_TOKEN", "ghs_0123456789abcdefghij")
        env.setenv("GITHUB_REPOSITORY", "acme/access")
        env.setenv("GITHUB_API_URL", api)
        assert run("github", "drift-issue", "--plan-markdown", str(tmp_path / "plan.md")) == 0
    body = json.loads(state.sent[0])["body"]
    _markdown_safe(body)
    assert "&lt;/details&gt;&lt;h1&gt;" in body and "a\\`b\\`\\`c" in body


def test_import_leaves_out_a_live_username_no_manifest_could_hold_and_plans_empty(
    org: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A live userName that is not an email address (HTML in it) cannot be written as
    # a manifest user: import used to write it, then refuse its own output as a bug.
    with Sandbox(token=TOKEN) as box:
        _seed(box.base_url)
        odd = {"schemas": [USER], "userName": "</details>`<b>@acme.io", "active": True}
        odd["name"] = {"givenName": "Odd", "familyName": "One"}
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {TOKEN}"})
        made = session.post(f"{box.base_url}/Users", json=odd, timeout=10)
        made.raise_for_status()
        url = ("--url", box.base_url)
        capsys.readouterr()
        assert run("import", *url, "--out", str(tmp_path / "imported")) == 0
        err = capsys.readouterr().err
        assert "1 userName is not an email address" in err and "</details>`<b>@acme.io" in err
        assert "bug" not in err
        imported = (tmp_path / "imported" / "org.yaml").read_text(encoding="utf-8")
        assert "</details>`<b>@acme.io" not in imported
        assert run("plan", "-m", str(tmp_path / "imported"), *url, "--detailed-exitcode") == 0
