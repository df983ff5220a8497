"""The token never leaves the process: every channel x every encoding x every command.

A hostile server on 127.0.0.1 echoes the ``Authorization`` header back in one
encoding at a time: in a 401 body (plan, import, report, apply: stderr; doctor:
stdout), in a 400 to a PATCH (apply: stdout and the journal), in a 2xx field that
the "malformed answer" message quotes, and reflected into a user's name (plan file,
imported files, stdout). The token holds ``/`` and ``+``, which JSON and URLs
escape, so only a redactor working after decoding catches it.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from reconciler.redact import Redactor
from tests.e2e.conftest import person, run, write_manifest
from tests.support.hostile_server import Hostile, hostile_server, user

TOKEN = "h0st/ile+TOKEN=abc/123+xyz_9f8e7d"


def _bearer_token(header: str) -> str:
    return header.removeprefix("Bearer ")


def _percent_lower(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(text, safe=""))


ENCODINGS: dict[str, Callable[[str], str]] = {
    # JSON bodies from this server escape "/" as "\/" on the wire: "raw" is that case.
    "raw": lambda h: f"you sent Authorization: {h}",
    "unicode-escaped": lambda h: "".join(f"\\u{ord(c):04x}" for c in _bearer_token(h)),
    "unicode-escaped-upper": lambda h: "".join(f"\\u{ord(c):04X}" for c in _bearer_token(h)),
    "slash-escaped": lambda h: h.replace("/", "\\/"),
    "url-encoded": lambda h: quote(h, safe=""),
    "url-encoded-lower": _percent_lower,
    "form-encoded": lambda h: "auth=" + quote_plus(h),
    "base64-token": lambda h: base64.b64encode(_bearer_token(h).encode()).decode(),
    "base64-urlsafe": lambda h: base64.urlsafe_b64encode(_bearer_token(h).encode()).decode(),
    "base64-header": lambda h: base64.b64encode(h.encode()).decode(),
    "base64-basic-auth": lambda h: base64.b64encode(b":" + _bearer_token(h).encode()).decode(),
    "base64-user-basic": lambda h: base64.b64encode(b"ad:" + _bearer_token(h).encode()).decode(),
    # HTML character references, as an HTML error page or a templated message shows them.
    "html-hex": lambda h: _entities(h, lambda c: f"&#x{ord(c):X};"),
    "html-decimal": lambda h: _entities(h, lambda c: f"&#{ord(c)};"),
    "html-named": lambda h: _entities(h, lambda c: "&" + _NAMED[c]),
    "html-mixed": lambda h: _entities(h, _mixed_entity),
    "html-escaped-twice": lambda h: _entities(h, lambda c: f"&amp;#{ord(c)};"),
    "html-escape": lambda h: html.escape(h.replace("/", "&#x2F;")),
    # The token cut in two by a line break (a wrapped line, an escaped newline in JSON).
    "split-by-newline": lambda h: f"{h[:17]}\n{h[17:]}",
    "split-by-escaped-newline": lambda h: f"{h[:17]}\\n  {h[17:]}",
    "split-by-spaces": lambda h: " ".join(_bearer_token(h)),
    "hex": lambda h: h.encode().hex(),
    "hex-upper": lambda h: h.encode().hex().upper(),
    "upper-cased": str.upper,
    "lower-cased": str.lower,
}
_NAMED = {"/": "sol;", "+": "plus;", "=": "equals;", "_": "lowbar;"}


def _entities(header: str, encode: Callable[[str], str]) -> str:
    return "".join(encode(c) if c in _NAMED else c for c in header)


def _mixed_entity(char: str) -> str:
    forms = {"/": "&#x2f;", "+": "&#43;", "=": "&equals;", "_": "&#X5F"}
    return forms[char]


COMMANDS = {
    "plan": ("plan", "-m", "org.yaml"),
    "import": ("import", "--out", "imported"),
    "report": ("report", "-m", "org.yaml"),
    "apply": ("apply", "-m", "org.yaml", "--auto-approve"),
    "doctor": ("doctor",),
}


def _leaks(text: str, echoed: str) -> list[str]:
    """What of the secret is in ``text``: the token, the echoed text, or any encoding."""
    found = [form for form in (TOKEN, echoed) if form in text]
    if Redactor([TOKEN]).found(text):
        found.append("an encoding of the token")
    return found


def _leaking(texts: dict[str, str], echoed: str) -> dict[str, list[str]]:
    """Each channel (stdout, stderr, a file) that leaks, with what it leaks."""
    return {name: _leaks(text, echoed) for name, text in texts.items() if _leaks(text, echoed)}


def _outputs(tmp_path: Path, captured: pytest.CaptureFixture[str]) -> dict[str, str]:
    out, err = captured.readouterr()
    texts = {"stdout": out, "stderr": err}
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "org.yaml":
            texts[str(path.relative_to(tmp_path))] = path.read_text(errors="replace")
    return texts


@pytest.fixture
def org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    monkeypatch.setenv("NO_COLOR", "1")
    users = [person("user0@acme.io", given="Renamed")]
    return write_manifest(tmp_path / "org.yaml", users, [])


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_401_echoing_the_token_never_reaches_any_channel(
    command: str,
    encoding: str,
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encode = ENCODINGS[encoding]
    state = Hostile(users=[user(0)], echo=encode)
    with hostile_server(state) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        code = run(*COMMANDS[command])
    texts = _outputs(tmp_path, capsys)
    assert code == 1
    channel = "stdout" if command == "doctor" else "stderr"
    assert "***" in texts[channel]  # the echo did reach the output, masked
    assert _leaking(texts, encode(f"Bearer {TOKEN}")) == {}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_patch_error_echoing_the_token_reaches_neither_output_nor_the_journal(
    encoding: str,
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encode = ENCODINGS[encoding]
    state = Hostile(users=[user(0)], patch_echo=encode)
    with hostile_server(state) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        code = run("apply", "-m", "org.yaml", "--auto-approve", "--journal", "journal.jsonl")
    texts = _outputs(tmp_path, capsys)
    assert code == 5
    journal = [json.loads(line) for line in texts["journal.jsonl"].splitlines()]
    failed = [e for e in journal if e.get("status") == "failed"]
    assert len(failed) == 1 and "***" in failed[0]["detail"]
    assert _leaking(texts, encode(f"Bearer {TOKEN}")) == {}


@pytest.mark.parametrize("encoding", ["html-hex", "html-named", "html-mixed", "upper-cased"])
@pytest.mark.parametrize("command", ["plan", "doctor"])
def test_a_text_html_401_page_echoing_the_token_is_masked(
    command: str,
    encoding: str,
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encode = ENCODINGS[encoding]
    with hostile_server(Hostile(users=[user(0)], echo=encode, echo_html=True)) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        code = run(*COMMANDS[command])
    texts = _outputs(tmp_path, capsys)
    assert code == 1
    assert _leaking(texts, encode(f"Bearer {TOKEN}")) == {}


@pytest.mark.parametrize("encoding", ["raw", "url-encoded-lower", "html-hex", "html-mixed"])
def test_a_redirect_location_echoing_the_token_is_masked(
    encoding: str,
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encode = ENCODINGS[encoding]
    with hostile_server(Hostile(users=[user(0)], redirect_echo=encode)) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        code = run("plan", "-m", "org.yaml")
    texts = _outputs(tmp_path, capsys)
    assert code == 1
    assert "127.0.0.1:9/login" in texts["stderr"]  # the Location is shown, the token masked
    assert _leaking(texts, encode(f"Bearer {TOKEN}")) == {}


@pytest.mark.parametrize("encoding", ["raw", "slash-escaped", "url-encoded", "base64-header"])
def test_a_2xx_field_echoing_the_token_is_masked_in_the_malformed_answer_message(
    encoding: str,
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encode = ENCODINGS[encoding]
    with hostile_server(Hostile(malformed_echo=encode)) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        code = run("-vv", "--log-format", "json", "plan", "-m", "org.yaml")
    texts = _outputs(tmp_path, capsys)
    assert code == 1
    assert "not a boolean" in texts["stderr"] and "***" in texts["stderr"]
    assert _leaking(texts, encode(f"Bearer {TOKEN}")) == {}


@pytest.mark.parametrize(
    "encoding",
    ["raw", "unicode-escaped", "url-encoded", "base64-token", "html-named", "hex", "upper-cased"],
)
@pytest.mark.parametrize("command", ["plan", "import"])
def test_a_token_reflected_into_user_data_is_refused_for_files_and_masked_on_screen(
    command: str,
    encoding: str,
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encode = ENCODINGS[encoding]
    with hostile_server(Hostile(users=[user(0)], reflect=encode)) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        if command == "plan":
            shown = run("plan", "-m", "org.yaml", "--format", "json")
            code = run("plan", "-m", "org.yaml", "--out", "plan.json")
        else:
            shown = 0
            code = run("import", "--out", "imported")
    texts = _outputs(tmp_path, capsys)
    assert (shown, code) == (0, 1)
    assert "it would contain the SCIM token" in texts["stderr"]
    assert not (tmp_path / "plan.json").exists() and not (tmp_path / "imported").exists()
    if command == "plan":
        assert "***" in texts["stdout"]  # the plan on screen shows the value masked
    assert _leaking(texts, encode(f"Bearer {TOKEN}")) == {}
