"""One rule for every option that names something to write: its folder must exist.

``plan --out``, ``import --out``, ``apply --journal`` and ``sandbox --state`` create
the file or folder they name and never the folders above it. A missing folder (a
typo, most often) or a parent that is a file is refused with one line naming the
path and the fix (``mkdir -p ...``), exit 1, before any request reaches the server
and without creating anything. Against the real sandbox over HTTP on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url)
        yield box


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "org.yaml", [person("ada@acme.io")], [])


# (the command line with {path} for the path to write, what the message calls it, its fix)
WRITERS = {
    "plan --out": (
        ["plan", "-m", "org.yaml", "--out", "{path}"],
        "the plan file",
        "pass --out a file path in a writable folder",
    ),
    "import --out": (
        ["import", "--out", "{path}"],
        "the imported manifest",
        "pass --out a folder you can write to",
    ),
    "apply --journal": (
        ["apply", "-m", "org.yaml", "--auto-approve", "--journal", "{path}"],
        "the journal",
        "pass --journal a file path in a writable folder",
    ),
    "sandbox --state": (
        ["sandbox", "--port", "0", "--token", "t", "--state", "{path}"],
        "the sandbox state",
        "pass --state a file path in a writable folder",
    ),
}


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _argv(writer: str, path: str) -> list[str]:
    return [arg.replace("{path}", path) for arg in WRITERS[writer][0]]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_missing_folder_is_refused_naming_it_before_any_request(
    writer: str,
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, what, fix = WRITERS[writer]
    target = "typo/a b/out.json"

    assert run(*_argv(writer, target)) == 1

    assert _error_line(capsys) == (
        f"error: cannot write {what} {target}: its folder typo/a b does not exist (no folder "
        f"is created for you); create it first (mkdir -p 'typo/a b') or {fix}"
    )
    assert not (tmp_path / "typo").exists()
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_parent_that_is_a_file_is_refused_naming_it_before_any_request(
    writer: str,
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, what, fix = WRITERS[writer]
    (tmp_path / "notes.txt").write_text("keep\n")

    assert run(*_argv(writer, "notes.txt/out.json")) == 1

    assert _error_line(capsys) == (
        f"error: cannot write {what} notes.txt/out.json: notes.txt is not a folder; {fix}"
    )
    assert (tmp_path / "notes.txt").read_text() == "keep\n"
    assert sandbox.stats.total_requests == 0


def test_the_file_or_folder_named_is_created_in_an_existing_folder(
    sandbox: Sandbox, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()

    assert run("plan", "-m", "org.yaml", "--out", "out/plan.json") == 0
    assert run("apply", "-m", "org.yaml", "--auto-approve", "--journal", "out/j.jsonl") == 0
    assert run("import", "--out", "out/imported") == 0  # the named folder itself is new

    assert (tmp_path / "out" / "imported" / "org.yaml").is_file()
    assert (tmp_path / "out" / "plan.json").is_file()
    assert (tmp_path / "out" / "j.jsonl").is_file()


def test_importing_an_org_without_users_asks_for_the_claimed_domains(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", "--out", "imported") == 1

    assert _error_line(capsys) == (
        "error: cannot import: the live org has no users, so its claimed domains cannot be "
        "inferred; pass --claimed-domain DOMAIN (repeatable) for each domain your "
        "organization has claimed in Mixpanel"
    )
    assert not (tmp_path / "imported").exists()
    assert run("import", "--out", "imported", "--claimed-domain", "acme.io") == 0
    assert "acme.io" in (tmp_path / "imported" / "org.yaml").read_text()


@pytest.mark.parametrize(
    ("manifest_arg", "out"),
    [("org.yaml", "org.yaml"), ("org.yaml", "./org.yaml"), ("teams", "teams/new.yaml")],
)
def test_plan_out_never_replaces_or_adds_a_manifest_file(
    sandbox: Sandbox,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manifest_arg: str,
    out: str,
) -> None:
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "org.yaml").write_text(manifest.read_text())
    before = manifest.read_text()

    assert run("plan", "-m", manifest_arg, "--out", out) == 1

    assert _error_line(capsys) == (
        f"error: cannot write the plan file {Path(out)}: it is (or would be read as) a manifest "
        f"file of -m {manifest_arg}; pass --out a path like plan.json"
    )
    assert manifest.read_text() == before and not (tmp_path / "teams" / "new.yaml").exists()
    assert sandbox.stats.total_requests == 0
