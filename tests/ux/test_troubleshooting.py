"""README's troubleshooting table quotes the real, current messages (issue 15).

Each common failure is produced here by the real CLI (over real HTTP on 127.0.0.1
where a server is involved) and kept as a golden file under tests/golden/messages/;
the last test reads README's table and checks every quoted message against those
files, so a message changed in the code without README fails here.
"""

from __future__ import annotations

import http.server
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from scim_sandbox import Sandbox
from tests.support.scripted_server import Scripted, scim_user, scripted_server
from tests.ux.golden import MESSAGES, check_message

TOKEN = "troubleshooting-token"
ROOT = Path(__file__).parent.parent.parent
MANIFEST = "version: 1\norganization: {claimed_domains: [acme.io]}\nusers: []\nteams: []\n"


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps its usage lines to the terminal
    monkeypatch.delenv("MIXPANEL_SCIM_URL", raising=False)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    return tmp_path


def _port(url: str) -> str:
    return url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


# -- 409 without scimType: explained once, and only as what is known ------------------------

NEW_USER = (
    "version: 1\norganization: {claimed_domains: [acme.io]}\nusers:\n"
    "  - {email: ann@acme.io, given_name: Given, family_name: Family}\n"
    "  - {email: new@acme.io, given_name: New, family_name: Hire}\n"
)


def _apply_against_a_409(detail: str, capsys: pytest.CaptureFixture[str]) -> str:
    org = Scripted(users=[scim_user("u-ann", "ann@acme.io")])
    org.create_conflict = ("", detail)  # a 409 without scimType
    Path("org.yaml").write_text(NEW_USER)
    with scripted_server(org) as url:
        code = main(["apply", "-m", "org.yaml", "--url", url, "--auto-approve"])
    out, err = capsys.readouterr()
    assert code == 5
    assert [r["userName"] for r in org.users] == ["ann@acme.io"]  # nothing was created
    return out + err


@pytest.mark.parametrize("detail", ["Conflict", "userName is not unique", ""])
def test_a_409_without_scim_type_gives_both_possible_causes_once(
    here: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    printed = _apply_against_a_409(detail, capsys)
    # Said once in the whole output, as a possibility, never as the fact.
    assert printed.count("outside this organization") == 1, printed
    assert printed.count("no scimType") == 1, printed
    assert "new@acme.io already has a Mixpanel account" not in printed
    (line,) = [x for x in printed.splitlines() if "create_user new@acme.io:" in x]
    assert "possible causes:" in line and "the server's lookup does not return" in line
    if detail == "Conflict":
        check_message("conflict_without_scimtype", line, {})


def test_a_409_whose_detail_names_the_outside_account_gets_only_the_fix(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = _apply_against_a_409(
        "new@acme.io already has a Mixpanel account outside this organization", capsys
    )
    assert printed.count("outside this organization") == 1, printed
    assert "no scimType" not in printed and "possible causes" not in printed
    (line,) = [x for x in printed.splitlines() if "create_user new@acme.io:" in x]
    check_message("conflict_outside_org", line, {})


def test_the_sandbox_s_outside_org_409_reads_the_same_through_the_cli(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("org.yaml").write_text(NEW_USER)
    with Sandbox(token=TOKEN, outside_org_emails=["new@acme.io"]) as sandbox:
        code = main(["apply", "-m", "org.yaml", "--url", sandbox.base_url, "--auto-approve"])
    out, err = capsys.readouterr()
    assert code == 5
    assert (out + err).count("outside this organization") == 1
    assert "fix: invite the user by hand in Mixpanel, or remove them from the manifest" in out


# -- connection ---------------------------------------------------------------------------


def test_a_refused_connection_after_its_attempts(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}/api/app/scim/v2"
    assert main(["-q", "plan", "-m", "m.yaml", "--url", url, "--max-attempts", "2"]) == 1
    check_message("connection_refused_after_attempts", capsys.readouterr().err, {port: "{port}"})


def test_a_rate_limit_longer_than_the_retry_budget(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scim_sandbox import Faults

    with Sandbox(token=TOKEN, faults=Faults(rate_429=1.0, retry_after_s=5.0)) as sandbox:
        argv = ["plan", "-m", "m.yaml", "--url", sandbox.base_url, "--retry-budget", "4"]
        assert main(argv) == 1
        assert sandbox.stats.total_requests == 1  # a wait past the budget is not begun
    check_message("retry_budget_spent", capsys.readouterr().err, {})


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (made by openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [openssl, *request, "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api/app/scim/v2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_untrusted_certificate_is_named_and_not_retried(
    here: Path, tls_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "-m", "m.yaml", "--url", tls_server]) == 1
    err = capsys.readouterr().err
    assert "waiting to retry" not in err and "attempts" not in err
    check_message("certificate_not_trusted", err, {_port(tls_server): "{port}"})


# -- local set-up -------------------------------------------------------------------------


def test_a_url_with_a_query(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://127.0.0.1:1/api/app/scim/v2"
    assert main(["plan", "-m", "m.yaml", "--url", url + "?token=s3cret"]) == 1
    check_message("query_in_base_url", capsys.readouterr().err, {})


def test_a_token_variable_set_but_empty(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", "")
    assert main(["plan", "-m", "m.yaml", "--url", "http://127.0.0.1:1/api/app/scim/v2"]) == 1
    check_message("token_set_but_empty", capsys.readouterr().err, {})


def test_a_missing_output_folder(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://127.0.0.1:1/api/app/scim/v2"
    assert main(["plan", "-m", "m.yaml", "--url", url, "--out", "out/plan.json"]) == 1
    check_message("output_folder_missing", capsys.readouterr().err, {})


def test_a_malformed_orgs_config(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "reconciler.yaml").write_text("version: 1\norgs:\n  - name: us\n")
    assert main(["plan"]) == 1
    check_message("orgs_config_problem", capsys.readouterr().err, {})


def test_a_refused_flag_value(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["sandbox", "--quirk", "bogus"])
    assert stop.value.code == 64
    err = capsys.readouterr().err
    assert err.startswith("usage: reconciler sandbox [-h]")
    # The usage line and the list of quirks grow with new flags: the error itself is kept.
    last = err.splitlines()[-1]
    assert "; known quirks: " in last and "add_replaces_members, " in last  # sorted list
    kept = f"usage: reconciler sandbox ...\n{last.split('; known quirks:')[0]}; known quirks: ..."
    check_message("usage_unknown_quirk", kept, {})


def test_import_of_an_empty_org(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "imported").mkdir()
    with Sandbox(token=TOKEN) as sandbox:
        code = main(["import", "--url", sandbox.base_url, "--out", "imported"])
    assert code == 1
    check_message("import_empty_org", capsys.readouterr().err, {})


# -- README -------------------------------------------------------------------------------

# Placeholders README uses for what varies; each stands for one word of the real text.
WORDS = ("HOST", "FILE", "PATH", "NAME", "DOMAIN", "N")
# A row about an old version's message (kept so people who meet it find the fix).
OLD_VERSIONS = ("a version before",)


def _troubleshooting_rows() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Troubleshooting\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [(row.split(" | ")[0][2:], row.split(" | ")[1]) for row in rows]


def _pattern(quoted: str) -> re.Pattern[str]:
    parts = [re.escape(part.strip()) for part in quoted.strip().split("...")]
    pattern = ".*".join(part for part in parts if part)
    for word in WORDS:
        pattern = re.sub(rf"\b{word}\b", r"\\S+", pattern)
    return re.compile(pattern, re.S)


def test_readme_troubleshooting_quotes_only_real_current_messages() -> None:
    goldens = {p.name: p.read_text(encoding="utf-8") for p in MESSAGES.glob("*.txt")}
    rows = _troubleshooting_rows()
    assert len(rows) >= 15
    untrue = []
    for message, cause in rows:
        if cause.startswith(OLD_VERSIONS):
            continue
        quotes = re.findall(r"``? (.+?) ``?|`([^`]+)`", message)
        assert quotes, message
        for spaced, plain in quotes:
            pattern = _pattern(spaced or plain)
            if not any(pattern.search(text) for text in goldens.values()):
                untrue.append(spaced or plain)
    assert untrue == [], "README quotes messages no golden file holds (fix README)"


@pytest.mark.parametrize(
    "name",
    [
        "conflict_without_scimtype",
        "certificate_not_trusted",
        "token_refused_env",
        "plain_http_behind_https",
        "web_page_at_base_url",
        "wrong_base_path",
        "resource_path_in_base_url",
        "plan_already_applied",
        "stale_plan_partly_applied",
        "seed_ignored",
        "retry_budget_spent",
        "connection_refused_after_attempts",
    ],
)
def test_readme_troubleshooting_lists_each_common_failure(name: str) -> None:
    text = (MESSAGES / f"{name}.txt").read_text(encoding="utf-8")
    quoted = [
        _pattern(spaced or plain)
        for message, _ in _troubleshooting_rows()
        for spaced, plain in re.findall(r"``? (.+?) ``?|`([^`]+)`", message)
    ]
    assert any(pattern.search(text) for pattern in quoted), f"README has no row for {name}"
