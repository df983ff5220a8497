"""Whatever the arguments, environment and files, the CLI exits cleanly: no traceback.

Issue 12: "a property-based test drives the CLI with random arguments, environment
values and files, and asserts a clean exit with no traceback". Every command but
the long-running ``sandbox`` and ``demo`` is driven in-process through ``main``;
the only network address it can reach is a closed port on 127.0.0.1 (every URL
the strategies produce, and the URL environment variables are always set, so no
default public host is ever tried), with at most two attempts per request.
"""

from __future__ import annotations

import io
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.cli import main

# A non-UTF-8 byte as repr shows it (\udc80..\udcff), not the low half of a pair.
LONE_BYTE = re.compile(r"(?<!\\ud[89ab][0-9a-f]{2})\\udc[89a-f][0-9a-f]")

# The exit codes README documents.
DOCUMENTED = {0, 1, 2, 3, 4, 5, 64, 130}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again once the socket is


CLOSED = f"http://127.0.0.1:{_closed_port()}"
MANIFEST = (
    "version: 1\norganization: {claimed_domains: [acme.io]}\n"
    "policy: {unmanaged_users: deactivate}\n"
    "users:\n  - {email: ada@acme.io, given_name: Ada, family_name: Lovelace}\n"
    "teams:\n  - {name: Data, members: [ada@acme.io]}\n"
)
CONFIG = f"version: 1\norgs:\n  - {{name: acme, manifest: good, url: {CLOSED}/scim/v2}}\n"

# Files every example gets (the strategy below adds random bytes to some of them).
PATHS = [
    "good",
    "good/org.yaml",
    "random.bin",
    "token",
    "plan.json",
    "reconciler.yaml",
    "folder",
    "broken-link.yaml",
    "fifo",
    "missing/plan.json",
    "good/org.yaml/below-a-file",
    "x" * 300,
    "/dev/zero",
    "/dev/null",
    "/",
]

# What argv and the environment can hold: no NUL, and no surrogates except the
# ones Python decodes undecodable bytes to (surrogateescape, U+DC80..U+DCFF).
text = st.text(
    st.one_of(
        st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
        st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
    ),
    max_size=40,
)
path = st.one_of(st.sampled_from(PATHS), text.filter(bool))
url = st.one_of(
    st.sampled_from(
        [
            f"{CLOSED}/scim/v2",
            f"{CLOSED}",
            f"{CLOSED}/api/app/scim/v2?x=1#f",
            "http://127.0.0.1:0/x",
            "ftp://127.0.0.1/x",
            "http://[::1",
            "not a url",
            "",
            "http://user:pw@127.0.0.1:1/",
        ]
    ),
    text.map(lambda t: f"{CLOSED}/{t}"),
)


def mostly(
    valid: st.SearchStrategy[str], invalid: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    """``valid`` nine times in ten: most command lines should get past the parser."""
    return st.integers(0, 9).flatmap(lambda n: valid if n else invalid)


number = mostly(
    st.sampled_from(["1", "2", "3", "100"]),
    st.one_of(st.sampled_from(["0", "-1", "many", "9" * 30]), text),
)
attempts = mostly(st.sampled_from(["1", "2"]), st.sampled_from(["0", "x", "-3"]))


def opt(flag: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return value.map(lambda v: [flag, v])


def flag(name: str) -> st.SearchStrategy[list[str]]:
    return st.just([name])


seconds = mostly(st.sampled_from(["0.2", "1"]), st.sampled_from(["0", "-1", "nan", "inf", "x"]))
TARGET = [
    opt("--url", url),
    opt("--token-file", path),
    opt("--page-size", number),
    opt("--request-deadline", seconds),
    opt("--retry-budget", seconds),
    opt("--max-connection-failures", number),
    opt("--max-read-mib", number),
]
MANIFEST_OPT = [opt("-m", path), opt("--manifest", path)]
FORMATS = mostly(st.sampled_from(["text", "markdown", "json", "csv"]), st.sampled_from(["xml", ""]))
COMMANDS: dict[str, list[st.SearchStrategy[list[str]]]] = {
    "validate": [*MANIFEST_OPT, opt("--format", FORMATS)],
    "schema": [],
    "plan": [
        *MANIFEST_OPT,
        *TARGET,
        opt("--out", path),
        opt("--format", FORMATS),
        opt("--detail", st.sampled_from(["full", "summary", "x"])),
        flag("--detailed-exitcode"),
    ],
    "apply": [
        *MANIFEST_OPT,
        *TARGET,
        path.map(lambda p: [p]),
        flag("--auto-approve"),
        opt("--concurrency", number),
        opt("--chunk-size", number),
        opt("--journal", path),
        flag("--fail-fast"),
        opt("--allow-deprovision", number),
    ],
    "import": [
        *TARGET,
        opt("--out", path),
        opt("--claimed-domain", text),
        flag("--split-teams"),
        flag("--force"),
    ],
    "doctor": [*MANIFEST_OPT, *TARGET, opt("--format", FORMATS)],
    "report": [
        *MANIFEST_OPT,
        *TARGET,
        opt("--format", FORMATS),
        opt("--expiring-days", number),
    ],
    "orgs": [flag("--json")],
}
GITHUB_STEPS: dict[str, list[st.SearchStrategy[list[str]]]] = {
    "comment": [opt("--pr", number), opt("--body-file", path)],
    "verify-plan": [
        opt("--plan", path),
        opt("--pr", number),
        opt("--commit", text),
        opt("--confirm-digest", text),
        flag("--require-approval"),
    ],
    "drift-issue": [opt("--plan-markdown", path), flag("--clean")],
    "explain": [
        opt("--exit-code", number),
        opt("--stage", st.sampled_from(["plan", "verify", "apply", "drift", "x"])),
        opt("--log", path),
    ],
}
GLOBAL = [
    opt("--org", st.sampled_from(["acme", "other", "ACME", ""])),
    opt("--config", path),
    flag("-q"),
    opt("--log-format", mostly(st.sampled_from(["text", "json"]), st.just("xml"))),
    flag("-v"),
]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    argv: list[str] = []
    for option in draw(st.lists(st.sampled_from(GLOBAL), max_size=2)):
        argv += draw(option)
    command = draw(mostly(st.sampled_from([*COMMANDS, "github"]), st.just("nonsense")))
    argv.append(command)
    if command == "github":
        step = draw(st.sampled_from([*GITHUB_STEPS, "nope"]))
        argv.append(step)
        options = GITHUB_STEPS.get(step, [])
    else:
        options = COMMANDS.get(command, [])
    for option in draw(st.lists(st.sampled_from(options), max_size=5)) if options else []:
        argv += draw(option)
    if command in ("plan", "apply", "import", "doctor", "report"):
        argv += ["--max-attempts", draw(attempts)]
    if draw(st.integers(0, 9)) == 0:
        argv += draw(st.lists(text, max_size=2))  # stray arguments, now and then
    return argv


environments = st.fixed_dictionaries(
    {
        "MIXPANEL_SCIM_URL": url.filter(bool),  # never empty: no default public host
        "GITHUB_API_URL": st.just(CLOSED),
        "MIXPANEL_SCIM_TOKEN": st.one_of(st.just("tok-123"), text),
        "GITHUB_TOKEN": st.one_of(st.just("ghs_abc"), text),
        "GITHUB_REPOSITORY": st.one_of(st.just("acme/access"), text),
        "RECONCILER_TODAY": st.one_of(st.just("2026-11-22"), text),
        "RECONCILER_MANIFEST_MAX_MIB": st.one_of(st.just(""), number),
    }
)
contents = st.fixed_dictionaries(
    {name: st.one_of(st.none(), st.binary(max_size=200)) for name in PATHS[1:6]}
)


@contextmanager
def workspace(files: dict[str, bytes | None]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "good").mkdir()
        (root / "folder").mkdir()
        (root / "good" / "org.yaml").write_text(MANIFEST)
        (root / "reconciler.yaml").write_text(CONFIG)
        (root / "token").write_text("tok-123\n")
        (root / "broken-link.yaml").symlink_to("nowhere.yaml")
        os.mkfifo(root / "fifo")
        for name, data in files.items():
            if data is not None:
                (root / name).write_bytes(data)
        yield root


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(argv=command_lines(), env=environments, files=contents)
def test_any_command_line_exits_with_a_documented_code_and_no_traceback(
    argv: list[str],
    env: dict[str, str],
    files: dict[str, bytes | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    with workspace(files) as root, monkeypatch.context() as patch:
        patch.chdir(root)
        for name, value in env.items():
            patch.setenv(name, value)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as stop:  # argparse: --help (0) or a usage error (64)
                code = stop.code if isinstance(stop.code, int) else -1

    event(f"exit {code}")
    assert code in DOCUMENTED, (argv, err.getvalue())
    assert "Traceback" not in err.getvalue() + out.getvalue(), (argv, err.getvalue())
    assert "this is a bug" not in err.getvalue(), (argv, err.getvalue())
    # A byte that is not UTF-8 (in argv, the environment or a file name) is shown as
    # the byte (\xff), never as the surrogate Python decoded it to (\udcff). JSON
    # output keeps the exact text, escaped by JSON (a surrogate pair is not a byte).
    shown = err.getvalue() + ("" if "json" in argv else out.getvalue())
    assert not LONE_BYTE.search(shown), (argv, shown)
