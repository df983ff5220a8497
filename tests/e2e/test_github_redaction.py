"""The GitHub channel of the redaction matrix: comment and issue bodies, and GitHub's errors.

A fake GitHub REST API on 127.0.0.1 records every body it is sent. ``github comment``
and ``github drift-issue`` post a plan Markdown file that holds the SCIM token in one
encoding at a time (a plan rendered by hand, or by a tool that does not redact): the
body GitHub receives, and every output, hold the token masked. A GitHub that answers
403 with the ``Authorization`` header echoed in an encoding never puts the GitHub
token on stderr either.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.redact import Redactor
from tests.e2e.conftest import run
from tests.e2e.test_redaction_matrix import ENCODINGS, TOKEN
from tests.gitops.github_shapes import comment, issue

GITHUB_TOKEN = "ghs_9x/Gh+Tok=en/Value0123456789ab"
REPO = "acme/mixpanel-access"


@dataclass
class FakeGitHub:
    """Lists are empty, creates answer 201; ``echo`` makes every call a 403 echoing auth."""

    echo: Callable[[str], str] | None = None
    sent: list[str] = field(default_factory=list)


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            if state.echo is not None:
                echoed = state.echo(self.headers.get("Authorization", ""))
                self._send(403, {"message": f"Forbidden: {echoed}"})
                return
            if self.command == "GET":
                self._send(200, [])
                return
            state.sent.append(body)
            sent = json.loads(body)
            made = issue(9, sent["body"]) if "title" in sent else comment(70, sent["body"])
            self._send(201 if self.command == "POST" else 200, made)

        do_GET = do_POST = do_PATCH = _answer

    return Handler


@contextlib.contextmanager
def github_api(state: FakeGitHub) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("NO_COLOR", "1")


def _leaking(texts: list[str], token: str, echoed: str) -> list[str]:
    """The texts that hold the token, the echoed text, or any encoding of the token."""
    redactor = Redactor([token])
    return [t for t in texts if token in t or echoed in t or redactor.found(t)]


STEPS = {
    "comment": ("github", "comment", "--pr", "7", "--body-file", "plan.md"),
    "drift-issue": ("github", "drift-issue", "--plan-markdown", "plan.md"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("step", STEPS)
def test_a_body_holding_the_scim_token_reaches_github_masked(
    step: str,
    encoding: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    echoed = ENCODINGS[encoding](f"Bearer {TOKEN}")
    (tmp_path / "plan.md").write_text(f"## Plan\n\nserver said: {echoed}\n", encoding="utf-8")
    state = FakeGitHub()
    with github_api(state) as api:
        monkeypatch.setenv("GITHUB_API_URL", api)
        code = run(*STEPS[step])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(state.sent) == 1 and "***" in state.sent[0]
    posted = json.loads(state.sent[0])["body"]
    assert "server said: " in posted
    assert _leaking([posted, state.sent[0], out, err], TOKEN, echoed) == []


@pytest.mark.parametrize(
    "encoding",
    [
        "raw",
        "slash-escaped",
        "unicode-escaped",
        "url-encoded",
        "base64-token",
        "base64-header",
        "html-hex",
        "upper-cased",
    ],
)
@pytest.mark.parametrize("step", STEPS)
def test_a_github_error_echoing_its_token_is_masked_on_stderr(
    step: str,
    encoding: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encode = ENCODINGS[encoding]
    (tmp_path / "plan.md").write_text("## Plan\n", encoding="utf-8")
    state = FakeGitHub(echo=encode)
    with github_api(state) as api:
        monkeypatch.setenv("GITHUB_API_URL", api)
        code = run(*STEPS[step])
    out, err = capsys.readouterr()
    assert code == 1
    assert "403" in err and "***" in err and "Traceback" not in err
    echoed = encode(f"Bearer {GITHUB_TOKEN}")
    assert _leaking([out, err], GITHUB_TOKEN, echoed) == []
