"""Connection failures say what is wrong and how to fix it, once, without pointless retries.

Each case runs the real CLI against the sandbox on 127.0.0.1; the exact stderr is a
golden file (tests/golden/messages/), the same text README's troubleshooting quotes.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from scim_sandbox import Sandbox
from tests.ux.golden import check_message

TOKEN = "connection-messages-token"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.delenv("MIXPANEL_SCIM_URL", raising=False)
    (tmp_path / "m.yaml").write_text(
        "version: 1\norganization: {claimed_domains: [acme.io]}\nusers: []\nteams: []\n"
    )
    with Sandbox(token=TOKEN) as running:
        yield running


def _port(sandbox: Sandbox) -> str:
    return sandbox.base_url.split("//")[1].split("/")[0].split(":")[1]


def _plan(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["plan", "-m", "m.yaml", "--url", url, *extra])
    return code, capsys.readouterr().err


def test_https_to_a_plain_http_server_says_so_and_does_not_retry(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sandbox.base_url.replace("http://", "https://")
    code, err = _plan(url, capsys)
    assert code == 1
    assert "speaks plain HTTP, not HTTPS" in err
    assert "certificate" not in err and "attempts" not in err and "waiting" not in err
    check_message("plain_http_behind_https", err, {_port(sandbox): "{port}"})


def test_a_wrong_path_under_plan_gives_doctor_s_base_url_hint(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sandbox.base_url.replace("/api/app/scim/v2", "/api/scim")
    code, err = _plan(url, capsys)
    assert code == 1
    assert "Mixpanel's base URL ends with /api/app/scim/v2" in err
    check_message("wrong_base_path", err, {_port(sandbox): "{port}"})


@pytest.mark.parametrize(
    "suffix", ["/Users", "/Users/", "/groups/abc123", "/ServiceProviderConfig"]
)
def test_a_base_url_ending_in_a_resource_path_is_refused_before_any_request(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    code, err = _plan(sandbox.base_url + suffix, capsys)
    assert code == 1
    assert "not found" not in err
    assert "ends with the resource path" in err
    assert f"use the base URL without it: {sandbox.base_url} " in err
    if suffix == "/Users":
        check_message("resource_path_in_base_url", err, {_port(sandbox): "{port}"})


def test_a_refused_token_from_the_environment_names_the_variable(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", "not-the-token")
    code, err = _plan(sandbox.base_url, capsys)
    assert code == 1
    assert "the refused token came from the environment variable MIXPANEL_SCIM_TOKEN" in err
    assert "not-the-token" not in err
    check_message("token_refused_env", err, {_port(sandbox): "{port}"})


def test_a_refused_token_from_a_file_names_the_file(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token_file = tmp_path / "scim-token"
    token_file.write_text("not-the-token\n")
    token_file.chmod(0o600)
    code, err = _plan(sandbox.base_url, capsys, "--token-file", str(token_file))
    assert code == 1
    assert f"the refused token came from --token-file {token_file}" in err
    assert "MIXPANEL_SCIM_TOKEN" not in err.split("came from")[1]
    check_message("token_refused_file", err, {_port(sandbox): "{port}", str(tmp_path): "{tmp}"})


def test_a_refused_connection_says_so_after_the_attempts(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    code, err = _plan(f"http://127.0.0.1:{port}/api/app/scim/v2", capsys, "--max-attempts", "1")
    assert code == 1
    check_message("connection_refused", err, {port: "{port}"})


@pytest.mark.parametrize(
    ("raised", "expected", "attempts"),
    [
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", "plain HTTP", 1),
        ("[SSL] record layer failure (_ssl.c:1000)", "plain HTTP", 1),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "certificate", 1),
        ("[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred", "TLS handshake", 3),
    ],
)
def test_tls_failures_are_named_by_kind_and_only_transient_ones_are_retried(
    raised: str, expected: str, attempts: int
) -> None:
    import requests
    import responses

    from reconciler.scim.errors import ScimTransportError
    from reconciler.scim.retry import RetryPolicy
    from reconciler.scim.secret import Token
    from reconciler.scim.transport import Transport

    url = "https://scim.example.com/api/app/scim/v2"
    with responses.RequestsMock() as api:
        api.get(f"{url}/Users", body=requests.exceptions.SSLError(raised))
        transport = Transport(
            url, Token("t"), retry=RetryPolicy(max_attempts=3), sleep=lambda s: None
        )
        with pytest.raises(ScimTransportError) as caught:
            transport.request("GET", "/Users")
        assert len(api.calls) == attempts
    assert expected in str(caught.value)
    assert "scim.example.com" in str(caught.value)
    if expected != "certificate":
        assert "certificate" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/me/scim/v2",
        "https://example.com/groups-api/scim/v2",
        "https://example.com/api/app/scim/v2",
        "https://example.com/users/scim",
    ],
)
def test_a_base_url_that_merely_contains_a_resource_word_is_accepted(url: str) -> None:
    from reconciler.scim.url import normalise_base_url

    assert normalise_base_url(url) == url


@pytest.mark.parametrize(
    ("suffix", "says"),
    [
        ("?token=s3cret", "must not have a query or fragment, got '{url}' followed by one"),
        ("#users", "must not have a query or fragment, got '{url}' followed by one"),
    ],
)
def test_a_url_with_a_query_or_fragment_names_the_flag_and_the_url_to_use(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], suffix: str, says: str
) -> None:
    code, err = _plan(sandbox.base_url + suffix, capsys)

    assert code == 1
    assert err.startswith("error: --url: the SCIM base URL ")
    assert says.format(url=sandbox.base_url) in err
    assert f"use the base URL alone: {sandbox.base_url} " in err
    assert "s3cret" not in err and "users'" not in err  # the query is never echoed
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("127.0.0.1:1/api/app/scim/v2", "must be an https:// URL, got '127.0.0.1:1/api/app/"),
        ("http://[::1", "is invalid (Invalid IPv6 URL); write it like https://mixpanel.com/"),
        ("http://admin:pw@127.0.0.1:1/v2", "remove the part before '@' and pass the token"),
    ],
)
def test_a_malformed_url_says_how_to_write_it(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], url: str, says: str
) -> None:
    code, err = _plan(url, capsys)

    assert code == 1 and err.startswith("error: --url: ") and says in err, err
    assert "pw" not in err and err.count("\n") == 1


def test_a_bad_url_from_the_environment_or_reconciler_yaml_names_that_setting(
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url + "?x=1")
    assert main(["plan", "-m", "m.yaml"]) == 1
    assert capsys.readouterr().err.startswith("error: MIXPANEL_SCIM_URL: the SCIM base URL ")

    (tmp_path / "reconciler.yaml").write_text(
        "version: 1\norgs:\n  - name: us\n    manifest: m.yaml\n"
        f"    url: {sandbox.base_url}/Users\n"
    )
    assert main(["plan"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: url of org us in reconciler.yaml: the SCIM base URL ends with")
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (f'"{TOKEN}"', "the token is wrapped in quotes; set it without the quotes"),
        (f"'{TOKEN}'", "the token is wrapped in quotes; set it without the quotes"),
        (f"Bearer {TOKEN}", "the token starts with 'Bearer '; set the token alone"),
        (f"{TOKEN} extra", "the token holds whitespace or control characters; copy the token"),
    ],
)
@pytest.mark.parametrize("source", ["env", "file"])
def test_a_token_pasted_with_quotes_or_bearer_is_refused_naming_its_source(
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    token: str,
    says: str,
    source: str,
) -> None:
    extra: list[str] = []
    if source == "env":
        monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", token)
        named = "MIXPANEL_SCIM_TOKEN"
    else:
        (tmp_path / "token").write_text(token + "\r\n")
        (tmp_path / "token").chmod(0o600)
        extra, named = ["--token-file", "token"], "token file token"

    code, err = _plan(sandbox.base_url, capsys, *extra)

    assert code == 1 and err == f"error: {named}: {says}" + err.split(says, 1)[1], err
    assert sandbox.stats.total_requests == 0


def test_a_token_file_with_a_bom_and_crlf_works(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "token").write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n\r\n")
    (tmp_path / "token").chmod(0o600)

    code, err = _plan(sandbox.base_url, capsys, "--token-file", "token")

    assert code == 0, err


@pytest.mark.parametrize("value", ["", "  "])
def test_a_token_variable_set_but_empty_is_told_apart_from_an_unset_one(
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", value)
    code, err = _plan(sandbox.base_url, capsys)
    assert code == 1
    assert err.startswith(
        "error: no SCIM token: MIXPANEL_SCIM_TOKEN is set but empty (in GitHub Actions: the "
        "secret is missing, misspelled, or not given to this job"
    )

    monkeypatch.delenv("MIXPANEL_SCIM_TOKEN")
    code, err = _plan(sandbox.base_url, capsys)
    assert code == 1 and err.startswith("error: no SCIM token: set MIXPANEL_SCIM_TOKEN or pass")
    assert sandbox.stats.total_requests == 0


@contextlib.contextmanager
def _answering(status: int, content_type: str, body: bytes) -> Iterator[str]:
    """A web server on 127.0.0.1 that answers every GET the same way (no SCIM at all)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("status", "content_type", "body", "path"),
    [
        (200, "text/html", b"<html><body>Sign in</body></html>", "/"),
        (200, "text/html; charset=utf-8", b"<!doctype html><p>app</p>", "/api/app"),
        (405, "text/plain", b"Method Not Allowed", "/api/scim"),
        (404, "application/json", b'{"error": "no route"}', "/scim"),
    ],
    ids=["web page at the host", "web page under a path", "405", "404 JSON"],
)
def test_a_wrong_base_url_answered_by_a_web_server_gets_the_base_url_hint_under_plan(
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    status: int,
    content_type: str,
    body: bytes,
    path: str,
) -> None:
    # Not only a 404: a web page (the product's own site) or a 405 at the wrong path.
    with _answering(status, content_type, body) as host:
        code, err = _plan(host + path, capsys)
        port = host.rsplit(":", 1)[1]
    assert code == 1
    assert err.count("Mixpanel's base URL ends with /api/app/scim/v2") == 1, err
    assert "`reconciler doctor` checks the setup" in err
    if path == "/":
        check_message("web_page_at_base_url", err, {port: "{port}"})
