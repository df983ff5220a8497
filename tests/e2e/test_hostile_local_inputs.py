"""Hostile local inputs found by probing the real CLI (issues 12, 13 and 15, local kinds).

Each test is an input of a kind the issues name that the CLI still mishandled: an
environment value holding a byte that is not UTF-8, a Ctrl-C caught while a module
was imported under ``python -m``, a plan file with duplicate keys, a plan written
where the next run reads it as a manifest, look-alike team names, ``expires`` values
that are not RFC 3339, and wording. Driven through the CLI against the sandbox on
127.0.0.1 where a server is involved.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest

USERS = [person("ada@acme.io", "Ada", "Lovelace"), person("bob@acme.io", "Bob", "Builder")]
NOT_UTF8 = os.fsdecode(b"\xff")  # what Python makes of byte 0xff in an environment value


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        yield box


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "org.yaml", USERS, [{"name": "Data", "members": []}])


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return err.strip().splitlines()


# -- environment values that are not UTF-8 --------------------------------------------
@pytest.mark.parametrize("command", ["validate", "plan", "report"])
def test_a_token_variable_holding_a_byte_that_is_not_utf8_is_named_not_a_traceback(
    command: str,
    sandbox: Sandbox,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every command registers the token variable with the redactor first, so this
    # broke even `validate`, which never sends the token.
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN + NOT_UTF8)

    code = run(command, "-m", str(manifest))

    lines = error_lines(capsys.readouterr().err)
    if command == "validate":
        assert code == 0
        return
    assert code == 1
    assert lines == [
        "error: MIXPANEL_SCIM_TOKEN: the token holds a non-ASCII character (a typographic "
        "quote or dash pasted with it?); copy the token again as plain text"
    ]
    assert sum(sandbox.stats.requests().values()) == 0  # refused before any request


def test_a_token_variable_that_is_not_utf8_is_refused_by_the_real_cli(
    manifest: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "MIXPANEL_SCIM_TOKEN": "tok" + NOT_UTF8, "NO_COLOR": "1"}

    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "-m", str(manifest)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr


BYTE_QUOTED = [
    ("RECONCILER_TODAY", "RECONCILER_TODAY='ab\\xffc' is not a date"),
    ("RECONCILER_NOW", "RECONCILER_NOW='ab\\xffc' is not a date"),
    ("RECONCILER_MANIFEST_MAX_MIB", "RECONCILER_MANIFEST_MAX_MIB='ab\\xffc' is not a whole"),
    ("MIXPANEL_SCIM_URL", "got 'ab\\xffc'"),
]


@pytest.mark.parametrize(("variable", "expected"), BYTE_QUOTED)
def test_an_environment_value_quoted_in_a_message_shows_a_bad_byte_as_that_byte(
    variable: str,
    expected: str,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv(variable, f"ab{NOT_UTF8}c")

    code = run("plan", "-m", str(manifest))

    err = capsys.readouterr().err
    assert code == 1 and expected in err, err
    assert "udc" not in err and len(error_lines(err)) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--page-size", f"1{NOT_UTF8}"],
        ["plan", "--format", f"1{NOT_UTF8}"],
        [f"{NOT_UTF8}"],
        ["report", "--expiring-days", f"1{NOT_UTF8}"],
        ["import", "--claimed-domain", f"x{NOT_UTF8}.io"],
    ],
)
def test_an_argument_quoted_in_a_usage_error_shows_a_bad_byte_as_that_byte(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        run(*argv)

    err = capsys.readouterr().err
    assert stop.value.code == 64 and "\\xff" in err, err
    assert "udc" not in err and "Traceback" not in err


# -- Ctrl-C under python -m -----------------------------------------------------------
# A Ctrl-C that lands while ``dataclasses`` runs its generated code (``exec`` of a
# string, during a module's import) is caught by the CLI, which prints "interrupted"
# and returns 130; CPython still remembered it and ended ``python -m`` with SIGINT.
CHILD_MODULE = """
from reconciler import cli, entry


def main(argv=None):
    try:
        exec("raise KeyboardInterrupt")
    except KeyboardInterrupt:
        print("interrupted", file=__import__("sys").stderr)
        return 130


cli.main = main
entry.run()
"""


def test_a_caught_ctrl_c_under_python_m_exits_130_not_by_the_signal(tmp_path: Path) -> None:
    (tmp_path / "ctrl_c_child.py").write_text(CHILD_MODULE)

    done = subprocess.run(
        [sys.executable, "-m", "ctrl_c_child"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (done.returncode, done.stderr) == (130, "interrupted\n")


# -- saved plans with repeated keys or non-JSON constants -------------------------------
def saved_plan(manifest: Path, tmp_path: Path) -> str:
    out = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(out)) == 0
    return out.read_text()


@pytest.mark.parametrize(
    "edit",
    [
        # Python kept the last "digest": the file applied though a reader taking the
        # first one sees another digest.
        lambda text: text.replace('"digest":', '"digest": "sha256:00", "digest":', 1),
        # Two operation lists: a reviewer's viewer may show the first (empty) one.
        lambda text: text.replace('"operations":', '"operations": [], "operations":', 1),
        # A repeated key inside one operation.
        lambda text: text.replace('"op":', '"op": "delete_user", "op":', 1),
        lambda text: text.replace('"format_version": 1', '"format_version": NaN', 1),
    ],
    ids=["digest twice", "operations twice", "op twice", "NaN"],
)
def test_a_plan_file_with_a_repeated_key_or_a_non_json_constant_is_refused(
    edit: object,
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert callable(edit)
    tampered = tmp_path / "tampered.json"
    text = saved_plan(manifest, tmp_path)
    tampered.write_text(edit(text))
    assert tampered.read_text() != text
    capsys.readouterr()

    code = run("apply", str(tampered), "--auto-approve")

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"error: {tampered} is not a plan file")
    assert "appears twice" in lines[0] or "NaN, which is not JSON" in lines[0]
    assert not [kind for kind in sandbox.stats.requests() if not kind.startswith("GET")]
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 2  # nothing applied


@pytest.mark.parametrize("version", ["[]", "{}", "[1]", '{"v": 1}', "1.0", "true", '"1"'])
def test_a_plan_file_whose_format_version_is_not_a_number_is_named(
    version: str,
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A list or a mapping there was "failed unexpectedly (TypeError)".
    tampered = tmp_path / "tampered.json"
    text = saved_plan(manifest, tmp_path)
    tampered.write_text(text.replace('"format_version": 1', f'"format_version": {version}'))
    capsys.readouterr()

    code = run("apply", str(tampered), "--auto-approve")

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert len(lines) == 1
    assert f"its format_version is {version}, written by an unknown writer" in lines[0]


def test_a_plan_file_with_a_huge_format_version_is_named_in_one_short_line(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = tmp_path / "tampered.json"
    text = saved_plan(manifest, tmp_path)
    tampered.write_text(text.replace('"format_version": 1', '"format_version": 1' + "0" * 3000))
    capsys.readouterr()

    code = run("apply", str(tampered), "--auto-approve")

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert "its format_version is 10000" in lines[0] and "…, written by a newer" in lines[0]
    assert len(lines[0]) < 500


# -- look-alike team names ------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "second", "shown"),
    [
        ("Growth", "\uff27rowth", "'\\uff27rowth'"),  # fullwidth G
        ("\ufb01nance", "Finance", "'Finance'"),  # the fi ligature, and Unicode case
        ("Stra\u00dfe", "STRASSE", "'STRASSE'"),  # sharp s case-folds to ss
    ],
)
def test_team_names_that_print_alike_are_refused_naming_both(
    first: str, second: str, shown: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(
        tmp_path / "org.yaml", USERS, [{"name": first, "members": []}, {"name": second}]
    )

    code = run("validate", "-m", str(manifest))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert f"team name {shown} differs only in look-alike characters" in lines[0]
    assert "rename one so reviewers can tell them apart" in lines[0]


def test_a_previous_name_may_print_like_its_own_team_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # How a live look-alike team is renamed to the plain name.
    team = {"name": "Ops", "previous_names": ["\uff2f\uff30\uff33"], "members": []}
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [team])

    assert run("validate", "-m", str(manifest)) == 0


@pytest.mark.parametrize(
    ("character", "phrase"),
    [
        ("\n", "contains a control character U+000A"),
        ("\u202e", "contains a bidirectional-control character U+202E"),
        ("\u200b", "contains an invisible character U+200B"),
    ],
)
def test_a_hidden_character_in_a_team_name_is_named_with_the_right_article(
    character: str, phrase: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [{"name": f"Da{character}ta"}])

    code = run("validate", "-m", str(manifest))

    assert code == 1
    assert phrase in capsys.readouterr().err


# -- plan --out where the next run reads it as a manifest -----------------------------
@pytest.mark.parametrize("name", ["NEW.YAML", "plan.Yml", "sub/plan.yAmL"])
def test_plan_out_never_adds_a_manifest_file_whatever_the_case_of_its_suffix(
    name: str, sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The loader reads *.YAML as it reads *.yaml: a plan written there would be read
    # as a manifest file by the next run.
    folder = tmp_path / "teams"
    (folder / "sub").mkdir(parents=True)
    (folder / "org.yaml").write_text(manifest.read_text())
    out = folder / name

    code = run("plan", "-m", str(folder), "--out", str(out))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert lines == [
        f"error: cannot write the plan file {out}: it is (or would be read as) a manifest "
        f"file of -m {folder}; pass --out a path like plan.json"
    ]
    assert not out.exists()
    assert sandbox.stats.total_requests == 0
    assert run("validate", "-m", str(folder)) == 0


# -- expires: RFC 3339 only -------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        "2027-W05-1",  # an ISO week date (Monday 2027-02-01)
        "20270131",  # ISO basic format
        "2027-01-31T18:00:00+0100",  # an offset without its colon
        "2027-01-31T18:00:00+01:00:30",  # an offset with seconds
        "2027-01-31T18Z",  # an hour alone
        "2027-01-31T18:00:00,5Z",  # a decimal comma
    ],
)
def test_an_expires_that_is_not_rfc_3339_is_refused_with_the_fix(
    written: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = person("ada@acme.io", "Ada", "Lovelace", expires=written)
    manifest = write_manifest(tmp_path / "org.yaml", [user], [])

    code = run("validate", "-m", str(manifest))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert f"users[0].expires: {written!r} is not a date or a timestamp; write a date" in lines[0]


def test_an_expires_with_an_offset_but_no_seconds_names_the_missing_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = person("ada@acme.io", "Ada", "Lovelace", expires="2027-01-31T18:00+01:00")
    manifest = write_manifest(tmp_path / "org.yaml", [user], [])

    assert run("validate", "-m", str(manifest)) == 1
    assert (
        "timestamp '2027-01-31T18:00+01:00' has no seconds, which RFC 3339 requires; "
        "write 2027-01-31T18:00:00+01:00" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "written",
    ["2027-01-31", "2027-01-31T18:00:00Z", "2027-01-31t18:00:00.5z", "2027-01-31 18:00:00-12:00"],
)
def test_every_rfc_3339_form_of_expires_is_still_accepted(written: str, tmp_path: Path) -> None:
    user = person("ada@acme.io", "Ada", "Lovelace", expires=written)
    manifest = write_manifest(tmp_path / "org.yaml", [user], [])

    assert run("validate", "-m", str(manifest)) == 0


def test_reconciler_now_as_a_week_date_is_refused_naming_the_variable(
    manifest: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_NOW", "2026-W48-1")

    code = run("validate", "-m", str(manifest))

    assert code == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: RECONCILER_NOW='2026-W48-1' is not a date or a timestamp with an offset; "
        "write it like 2026-12-01 or 2026-12-01T18:00:00Z, or unset it to use the clock"
    ]


# -- help: every optional value says what happens without it ---------------------------
def test_every_optional_option_with_a_value_says_what_happens_without_it() -> None:
    # An option whose default is "unset" still has a behaviour when left out (the
    # policy's guard holds, the sandbox keeps its directory in memory, ...): help says it.
    from tests.ux.test_help import _options

    silent = [
        f"{path} {'/'.join(action.option_strings)}"
        for path, action in _options()
        if action.nargs != 0
        and not action.required
        and "default" not in (action.help or "")
        and path != "reconciler github verify-plan"  # one of --pr/--commit/--confirm-digest
        and path != "reconciler github drift-issue"  # one of --plan-markdown/--clean
    ]

    assert silent == []


def test_apply_help_says_the_guard_overrides_default_to_the_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        run("apply", "--help")

    text = " ".join(capsys.readouterr().out.split())
    assert "--allow-deprovision N accept up to N deprovisions even above the policy's" in text
    assert text.count("(default: none; the policy's limits hold)") == 3


# -- URLs a token would be sent to ------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "https://m\u0456xpanel.com/api/app/scim/v2",
            "a non-ASCII character U+0456 at position 10",
        ),
        ("https://mixpanel.com/api app/scim/v2", "a space at position 25"),
        ("https://mixpanel.com/api/\x1b[31m/v2", "a control character U+001B at position 26"),
        ("http://127.0.0.1:9/api/" + NOT_UTF8, "the byte 0xff, which is not UTF-8"),
    ],
)
def test_a_scim_url_that_is_not_plain_ascii_is_refused_before_any_request(
    url: str,
    says: str,
    sandbox: Sandbox,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A look-alike host (Cyrillic U+0456 for "i") would receive the token.
    monkeypatch.setenv("MIXPANEL_SCIM_URL", url)

    code = run("plan", "-m", str(manifest))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"error: MIXPANEL_SCIM_URL: the SCIM base URL holds {says}")
    assert "type the URL again in plain ASCII" in lines[0]
    assert sandbox.stats.total_requests == 0


def test_an_idn_host_in_its_xn_form_is_still_accepted() -> None:
    from reconciler.scim.url import normalise_base_url

    url = "https://xn--mxpanel-7jg.example/api/app/scim/v2"
    assert normalise_base_url(url) == url


@pytest.mark.parametrize(
    ("api_url", "says"),
    [
        ("http://github.example", "must be an https:// URL (plain http:// only to loopback)"),
        ("file:///etc/passwd", "must be an https:// URL"),
        ("https://user:secret-pass@api.github.com", "must not hold credentials"),
        ("https://api.github.com/?token=secret-pass", "must not hold credentials"),
        ("https://api.gith\u0443b.com", "a non-ASCII character at position 17 (not shown)"),
    ],
)
def test_a_github_api_url_the_token_must_not_go_to_is_refused_before_any_request(
    api_url: str,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = tmp_path / "plan.md"
    body.write_text("plan\n")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_h2TestToken0123456789")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
    monkeypatch.setenv("GITHUB_API_URL", api_url)

    code = run("github", "comment", "--pr", "7", "--body-file", str(body))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("error: GITHUB_API_URL ")
    assert says in lines[0]
    assert "secret-pass" not in lines[0] and "ghs_h2TestToken" not in lines[0]


# -- commands suggested to the user, with the paths they were given ---------------------
def test_the_apply_command_suggested_after_plan_out_can_be_pasted_as_is(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my plans"
    folder.mkdir()
    out = folder / "plan for review.json"

    assert run("plan", "-m", str(manifest), "--out", str(out)) == 0

    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"Saved the plan to {out}; apply exactly it with: reconciler apply '{out}'")


def test_a_plan_file_name_with_an_escape_sequence_is_shown_escaped(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan\x1b[2J.json"  # ESC [2J clears the screen

    assert run("plan", "-m", str(manifest), "--out", str(out)) == 0

    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert f"Saved the plan to {tmp_path}/plan\\x1b[2J.json" in err
    # bash's $'...' form: pasted, it names the same file
    assert f"reconciler apply $'{tmp_path}/plan\\x1b[2J.json'" in err


def test_a_file_name_byte_that_is_not_utf8_is_shown_as_the_byte(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("plan" + NOT_UTF8 + ".json")

    assert run("plan", "-m", str(manifest), "--out", str(out)) == 0

    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"Saved the plan to {tmp_path}/plan\\xff.json; apply exactly it with: "
        f"reconciler apply $'{tmp_path}/plan\\xff.json'"
    )
    assert "udcff" not in last


def test_the_stale_advice_quotes_the_manifest_and_plan_paths(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "access repo"
    folder.mkdir()
    manifest = write_manifest(folder / "org.yaml", USERS, [])
    out = folder / "reviewed plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(out)) == 0
    # The manifest changes after the plan was made: the saved plan is stale.
    write_manifest(manifest, [*USERS, person("carol@acme.io", "Carol", "Jones")], [])
    capsys.readouterr()

    code = run("apply", str(out), "-m", str(manifest), "--auto-approve")

    err = capsys.readouterr().err
    assert code == 3
    assert f"Run `reconciler plan -m '{manifest}' --out '{out}'` again" in err


# -- names in ordinary mixed scripts are not look-alikes -------------------------------
ORDINARY_NAMES = ["データ", "データ分析", "AWS推進チーム", "人々", "데이터팀 Seoul", "數據組ㄅ"]


def test_team_names_in_ordinary_cjk_mixes_are_imported_and_plan_is_empty(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Latin with kanji and kana (or Hangul, or Bopomofo) is how such names are
    # written (Unicode TS #39, "Highly Restrictive"); before, the long-vowel mark of
    # "データ" counted as a second script and the team was left out of the import.
    teams = [{"name": name, "members": ["ada@acme.io"]} for name in ORDINARY_NAMES]
    seeded = write_manifest(tmp_path / "seed.yaml", USERS, teams)
    assert run("apply", "-m", str(seeded), "--auto-approve") == 0
    out = tmp_path / "imported"
    capsys.readouterr()

    assert run("import", "--out", str(out), "--split-teams") == 0
    err = capsys.readouterr().err
    assert "look-alike" not in err and "was not imported" not in err
    assert run("plan", "-m", str(out), "--detailed-exitcode") == 0
    imported = "".join(p.read_text() for p in (out / "teams").glob("*.yaml"))
    for name in ORDINARY_NAMES:
        assert name in imported


@pytest.mark.parametrize(
    ("name", "scripts"),
    [("D\u0430ta", "CYRILLIC, LATIN"), ("D\u0430ta 分析", "CYRILLIC, HAN, LATIN")],
)
def test_a_cyrillic_letter_in_a_latin_or_cjk_name_is_still_a_lookalike(
    name: str, scripts: str
) -> None:
    from reconciler.identity import lookalike_reason

    assert lookalike_reason(name) == f"mixes scripts ({scripts})"


# -- the approval prompt ------------------------------------------------------------------
def _answer_prompt_on_a_terminal(argv: list[str], answer: bytes) -> tuple[int, str]:
    """Run the real CLI on a pseudo-terminal, send ``answer`` at the prompt; (code, output)."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, with the test's environment; never pytest again
        try:
            os.execv(sys.executable, [sys.executable, "-m", "reconciler", *argv])
        finally:
            os._exit(127)
    output, sent = b"", False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # the child closed the terminal: it has ended
                break
            if not data:
                break
            output += data
            if not sent and b"Enter a value:" in output:
                os.write(fd, answer)
                sent = True
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_ctrl_d_at_the_approval_prompt_cancels_the_apply_in_one_line(
    sandbox: Sandbox, manifest: Path
) -> None:
    code, output = _answer_prompt_on_a_terminal(["apply", "-m", str(manifest)], b"\x04")

    assert "Traceback" not in output and "failed unexpectedly" not in output, output
    assert code == 1
    assert output.rstrip().endswith("Apply cancelled.")
    assert not [kind for kind in sandbox.stats.requests() if not kind.startswith("GET")]


# -- an empty expires never means "access never ends" ----------------------------------
@pytest.mark.parametrize("written", ["expires:", "expires: null", "expires: ~"])
def test_an_empty_expires_is_refused_not_read_as_no_end_date(
    written: str, sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `expires:` left to fill in (or an empty template value) silently meant "access
    # never ends", as if the key were absent, while an empty `active:` is refused.
    manifest = tmp_path / "org.yaml"
    manifest.write_text(
        "version: 1\n"
        "organization: {claimed_domains: [acme.io]}\n"
        "users:\n"
        "  - email: ada@acme.io\n"
        "    given_name: Ada\n"
        "    family_name: Lovelace\n"
        f"    {written}\n"
        "teams:\n"
        "  - name: Data\n"
        "    members:\n"
        "      - email: ada@acme.io\n"
        f"        {written}\n"
    )

    code = run("plan", "-m", str(manifest))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    fix = "found nothing (null); fill in a value, or remove the key for access that does not expire"
    assert len(lines) == 3 and lines[-1] == "error: 2 problems in the manifest"
    assert lines[0].startswith(f"{manifest}:7:") and "users[0].expires: expected a date" in lines[0]
    assert lines[1].startswith(f"{manifest}:12:") and "teams[0].members[0].expires:" in lines[1]
    assert all(line.endswith(fix) for line in lines[:2])
    assert not [kind for kind in sandbox.stats.requests() if not kind.startswith("GET")]


# -- numbers YAML 1.1 reads otherwise than people do -------------------------------------
@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("010", "'010' is read by YAML as the number 8 (octal: a leading 0)"),
        ("0x10", "'0x10' is read by YAML as the number 16 (hexadecimal)"),
        ("0b11", "'0b11' is read by YAML as the number 3 (binary)"),
        ("1:30", "'1:30' is read by YAML as the number 90 (base 60)"),
        ("1_000", "'1_000' is read by YAML as the number 1000 (underscores are dropped)"),
        (".inf", "'.inf' is not a finite number"),
    ],
)
def test_a_guard_limit_not_written_in_decimal_is_refused_naming_what_yaml_read(
    written: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # max_deprovision: 1:30 was a limit of 90; 010 one of 8.
    manifest = tmp_path / "org.yaml"
    manifest.write_text(
        "version: 1\n"
        "organization: {claimed_domains: [acme.io]}\n"
        f"policy: {{max_deprovision: {written}}}\n"
        "users: []\n"
    )

    code = run("validate", "-m", str(manifest))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert lines[0].startswith(f"{manifest}:3:27: policy.max_deprovision: {says}")


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ('"5"', "write the number without quotes"),
        ("1e3", "write it in plain decimal digits, like 5"),  # YAML 1.1 reads a word
        ("10%", "write it in plain decimal digits, like 5"),
    ],
)
def test_a_word_where_a_number_belongs_gets_the_hint_that_fits_it(
    written: str, hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "org.yaml"
    manifest.write_text(
        "version: 1\n"
        "organization: {claimed_domains: [acme.io]}\n"
        f"policy: {{max_deprovision: {written}}}\n"
        "users: []\n"
    )

    assert run("validate", "-m", str(manifest)) == 1
    assert error_lines(capsys.readouterr().err)[0].endswith(hint)


# -- counted nouns in doctor's checklist -----------------------------------------------
def test_doctor_on_an_org_of_one_user_and_no_team_reads_as_english(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "org.yaml"
    manifest.write_text(
        "version: 1\norganization: {claimed_domains: [acme.io]}\nusers:\n"
        "  - {email: ada@acme.io, given_name: Ada, family_name: Lovelace}\n"
    )
    assert run("apply", "-m", str(manifest), "--auto-approve") == 0
    capsys.readouterr()

    run("doctor", "-m", str(manifest))

    out = capsys.readouterr().out
    assert "(empty for the one user read)" in out
    assert "Read path: no teams to read" in out
    assert "the one live user is in claimed domains (acme.io)" in out
    assert "the first 1 users" not in out and "each of the 0 teams" not in out
    assert "all 1 live user" not in out


# -- a token copied with its variable name -------------------------------------------------
def test_a_token_file_holding_a_dotenv_line_is_refused_before_any_request(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"MIXPANEL_SCIM_TOKEN={TOKEN}\n")
    token_file.chmod(0o600)

    code = run("plan", "-m", str(manifest), "--token-file", str(token_file))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert lines == [
        f"error: token file {token_file}: the token starts with an upper-case NAME= (a line "
        "copied from a .env file or a shell script?); keep only what follows the '='"
    ]
    assert sandbox.stats.total_requests == 0


def test_a_token_ending_in_base64_padding_is_still_a_token() -> None:
    from reconciler.scim.secret import Token

    assert Token("QUJDREVGR0g=").reveal() == "QUJDREVGR0g="
    assert Token("ABCDEF==").reveal() == "ABCDEF=="


# -- -m naming one file of a manifest folder ------------------------------------------------
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_m_naming_one_team_file_hints_at_the_folder_that_declares_the_users(
    command: str, sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each problem says "declare ada@acme.io under users:", which is the wrong fix: the
    # user is declared, in org.yaml, which -m left out.
    folder = tmp_path / "access repo"
    (folder / "teams").mkdir(parents=True)
    write_manifest(folder / "org.yaml", USERS, [])
    team = folder / "teams" / "data.yaml"
    team.write_text("version: 1\nteams:\n  - name: Data\n    members: [ada@acme.io]\n")

    code = run(command, "-m", str(team))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert lines[-2] == "error: 2 problems in the manifest"
    assert lines[-1] == (
        f"hint: -m names the one file {team}, read alone; {folder / 'org.yaml'} declares "
        f"the organization or its users: to read the manifest as a whole, pass -m '{folder}'"
    )
    assert run("validate", "-m", str(folder)) == 0


def test_no_hint_when_the_file_stands_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team = tmp_path / "data.yaml"
    team.write_text("version: 1\nteams:\n  - name: Data\n    members: [ada@acme.io]\n")
    (tmp_path / "notes.yaml").write_text("title: not a manifest\n")

    assert run("validate", "-m", str(team)) == 1
    assert "hint:" not in capsys.readouterr().err


def test_the_one_file_hint_matches_its_golden_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.ux.golden import check_message

    monkeypatch.chdir(tmp_path)
    (tmp_path / "teams").mkdir()
    write_manifest(tmp_path / "org.yaml", USERS, [])
    (tmp_path / "teams" / "data.yaml").write_text(
        "version: 1\nteams:\n  - name: Data\n    members: [ada@acme.io]\n"
    )

    assert run("validate", "-m", "teams/data.yaml") == 1

    check_message("one_file_of_a_folder", capsys.readouterr().err, {})


# -- SIGTERM is an interrupt too ---------------------------------------------------------------
def test_sigterm_during_apply_journals_what_finished_and_exits_130(tmp_path: Path) -> None:
    # `timeout`, `docker stop` and schedulers stop a job with SIGTERM: it used to kill
    # the apply mid-request, with no "interrupted" record and no "N of M done".
    import json
    import signal
    import time

    from scim_sandbox import Faults

    users = [person(f"u{i:02d}@acme.io", "U", "Ser") for i in range(20)]
    manifest = write_manifest(tmp_path / "org.yaml", users, [])
    journal = tmp_path / "journal.jsonl"
    with Sandbox(token=TOKEN, faults=Faults(latency_ms=100)) as box:
        env = {
            **os.environ,
            "MIXPANEL_SCIM_URL": box.base_url,
            "MIXPANEL_SCIM_TOKEN": TOKEN,
            "RECONCILER_TODAY": TODAY,
            "NO_COLOR": "1",
        }
        argv = ["apply", "-m", str(manifest), "--auto-approve", "--journal", str(journal)]
        child = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and child.poll() is None:
                if journal.exists() and journal.read_text().count('"status": "done"') >= 2:
                    break
                time.sleep(0.02)
            child.send_signal(signal.SIGTERM)
            out, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        created = {user["userName"] for user in box.store.users()}

    records = [json.loads(line) for line in journal.read_text().splitlines()]
    done = {r["key"] for r in records if r["event"] == "operation" and r["status"] == "done"}
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert re.search(r"Apply interrupted: \d+ of 20 done; re-run to finish\.", out + err)
    assert records[-1]["event"] == "interrupted"
    assert records[-1]["done"] == len(done) and 2 <= len(done) < 20
    assert done == created  # every operation the server did is in the journal


# -- sandbox flags that would hold every request for ever ---------------------------------
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--latency-ms", "1e308"], "argument --latency-ms: must be at most 600,000, got 1e308"),
        (["--retry-after", "1e9"], "argument --retry-after: must be at most 86,400, got 1e9"),
    ],
)
def test_a_sandbox_wait_beyond_its_bound_is_a_usage_error(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        run("sandbox", "--port", "0", *argv)

    assert stop.value.code == 64
    assert capsys.readouterr().err.strip().endswith(f"reconciler sandbox: error: {says}")


def test_the_stale_advice_quotes_a_manifest_path_taken_from_an_edited_plan_file(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # manifest_path is display only (outside the digest): an edited one must not turn
    # the advice into another command when pasted.
    import json

    out = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(out)) == 0
    body = json.loads(out.read_text())
    body["manifest_path"] = "teams; touch pwned"
    out.write_text(json.dumps(body))
    # One operation of the plan is done behind its back: the plan is stale.
    sandbox.store.create_user(
        {"userName": "ada@acme.io", "name": {"givenName": "Ada", "familyName": "Lovelace"}}
    )
    capsys.readouterr()

    code = run("apply", str(out), "--auto-approve")

    err = capsys.readouterr().err
    assert code == 3, err
    assert f"Run `reconciler plan -m 'teams; touch pwned' --out {out}` again" in err


# -- a file where a folder goes ------------------------------------------------------------
def test_a_file_named_reconciler_where_the_journal_folder_goes_is_named(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".reconciler").write_text("not a folder\n")  # cwd is tmp_path

    code = run("apply", "-m", str(manifest), "--auto-approve")

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert lines[-1] == (
        "error: cannot open the journal .reconciler/journal.jsonl: .reconciler is a file, "
        "not a folder; nothing was applied; move that file away, or pass --journal a file "
        "path in a writable folder"
    )
    assert not [kind for kind in sandbox.stats.requests() if not kind.startswith("GET")]


def test_an_output_path_below_a_file_names_the_file_not_mkdir(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").write_text("a file\n")
    out = tmp_path / "out" / "plans" / "plan.json"

    code = run("plan", "-m", str(manifest), "--out", str(out))

    lines = error_lines(capsys.readouterr().err)
    assert code == 1
    assert lines == [
        f"error: cannot write the plan file {out}: {tmp_path / 'out'}, above its folder "
        f"{out.parent}, is a file, not a folder; pass --out a file path in a writable folder"
    ]


def test_a_saved_plan_of_one_operation_applied_twice_says_the_one_operation(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS[:1], [])
    out = tmp_path / "plan.json"
    assert run("plan", "-m", str(manifest), "--out", str(out)) == 0
    assert run("apply", str(out)) == 0
    capsys.readouterr()

    assert run("apply", str(out)) == 0

    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"this plan was already applied: Mixpanel already holds the one operation of {out}; "
        "nothing to do"
    )


@pytest.mark.parametrize("value", ["65", "100000", "9" * 30])
def test_apply_concurrency_above_its_bound_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # One worker thread per operation in flight: 100000 meant a thread and a
    # connection per operation of a large plan, all at once.
    with pytest.raises(SystemExit) as stop:
        run("apply", "--concurrency", value)

    assert stop.value.code == 64
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            f"reconciler apply: error: argument --concurrency: must be at most 64, got {value}"
        )
    )
