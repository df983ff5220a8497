"""Servers that do the work but answer badly, or serve data of the wrong shape.

Found by probing the real CLI against misbehaving servers on 127.0.0.1 (issues 11
and 12): a write answered 2xx with HTML, a JSON list or a resource without an id was
reported as failed although it was made (and a create's account was then left out of
its teams); a user whose ``name`` is a string was read as having no names, and apply
overwrote names it could not see. Each test runs the real CLI and checks what the
server holds afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest
from tests.support.scripted_server import Scripted, scim_group, scim_user, scripted_server

HTML = (200, "text/html", b"<html><body>Saved!</body></html>")
NO_ID = (200, "application/scim+json", b'{"status": "ok"}')
A_LIST = (201, "application/json", b"[]")


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Scripted]:
    """ann, ben, zed (active); team Eng = [ann, ben, zed]; the server at $MIXPANEL_SCIM_URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    state = Scripted(
        users=[
            scim_user("u-ann", "ann@acme.io"),
            scim_user("u-ben", "ben@acme.io"),
            scim_user("u-zed", "zed@acme.io"),
        ],
        groups=[scim_group("g-eng", "Eng", ["u-ann", "u-ben", "u-zed"])],
    )
    with scripted_server(state) as url:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", url)
        yield state


def leaver_and_hire(tmp_path: Path) -> Path:
    """zed leaves (deactivated, out of Eng); new@acme.io is hired into Eng."""
    return write_manifest(
        tmp_path / "org.yaml",
        [
            person("ann@acme.io"),
            person("ben@acme.io"),
            person("zed@acme.io", active=False),
            person("new@acme.io"),
        ],
        [{"name": "Eng", "members": ["ann@acme.io", "ben@acme.io", "new@acme.io"]}],
        max_deprovision_percent=100,
    )


def user(state: Scripted, name: str) -> dict[str, object]:
    return next(u for u in state.users if u["userName"] == name)


def eng(state: Scripted) -> set[str]:
    group = next(g for g in state.groups if g["id"] == "g-eng")
    return {m["value"] for m in group.get("members", [])}


@pytest.mark.parametrize("answer", [HTML, NO_ID, A_LIST], ids=["html", "no-id", "json-list"])
def test_writes_done_but_answered_unreadably_are_confirmed_by_read_back_and_lookup(
    org: Scripted,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    answer: tuple[int, str, bytes],
) -> None:
    org.write_answer = answer  # every POST and PATCH is applied, then answered so
    assert run("apply", "-m", str(leaver_and_hire(tmp_path)), "--auto-approve") == 0
    out = capsys.readouterr().out
    created = next(x for x in out.splitlines() if "create_user new@acme.io:" in x)
    assert "✓" in created and "created (its answer was unusable; found by a lookup)" in created
    assert "answer cannot be read" in out and "read back: it is there" in out
    assert "Apply complete: 4 done." in out
    new_id = user(org, "new@acme.io")["id"]
    assert eng(org) == {"u-ann", "u-ben", new_id}  # the hire joined the team in this run
    assert user(org, "zed@acme.io")["active"] is False
    assert sum(1 for w in org.writes() if w == "POST /scim/v2/Users") == 1  # never resent
    # The next plan has nothing left to do.
    assert run("plan", "-m", str(tmp_path / "org.yaml"), "--detailed-exitcode") == 0


def test_without_verification_an_unreadable_write_answer_fails_and_says_why(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.write_answer = HTML
    manifest = leaver_and_hire(tmp_path)
    assert run("apply", "-m", str(manifest), "--auto-approve", "--no-verify") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "deactivate_user zed@acme.io:" in x)
    assert "✗" in line and "cannot be read" in line and "content type 'text/html'" in line
    assert "with --no-verify nothing else shows whether the change was made" in line


def test_a_create_accepted_unreadably_that_no_lookup_finds_fails_and_joins_nothing(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.create_accepted = True  # POST /Users creates nothing yet...
    org.write_answer = HTML  # ...and answers an HTML page
    assert run("apply", "-m", str(leaver_and_hire(tmp_path)), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "create_user new@acme.io:" in x)
    assert "✗" in line and "the server accepted the create (HTTP 200)" in line
    assert "a lookup does not find the user 'new@acme.io'" in line
    assert "run `reconciler plan` again" in line
    assert eng(org) == {"u-ann", "u-ben"}  # zed removed, nobody added
    assert sum(1 for w in org.writes() if w == "POST /scim/v2/Users") == 1


@pytest.mark.parametrize("name", ["Ann Lee", ["Ann", "Lee"], 0])
def test_a_user_whose_name_is_not_an_object_fails_the_read_and_nothing_is_written(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: object
) -> None:
    org.users[0]["name"] = name  # read as "no names", apply would overwrite them blind
    assert run("apply", "-m", str(leaver_and_hire(tmp_path)), "--auto-approve") == 1
    err = capsys.readouterr().err
    assert "User 'ann@acme.io' field 'name' is" in err and "not an object" in err
    assert "nothing was planned" in err
    assert org.writes() == []


def test_a_member_add_whose_answer_was_lost_and_whose_retry_got_409_is_done_by_read_back(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The add is made, answered 503; the retry meets "member already exists".
    org.lose_member_adds = 1
    org.conflict_on_present_member = True
    assert run("apply", "-m", str(leaver_and_hire(tmp_path)), "--auto-approve") == 0
    out = capsys.readouterr().out
    assert "Apply complete: 4 done." in out
    assert "a retry was answered HTTP 409: member already exists" in out
    assert "read back: it is there" in out
    assert eng(org) == {"u-ann", "u-ben", user(org, "new@acme.io")["id"]}
    assert run("plan", "-m", str(tmp_path / "org.yaml"), "--detailed-exitcode") == 0


def test_patches_done_then_answered_500_after_every_retry_are_done_by_read_back(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.patch_status_after_work = 500
    manifest = leaver_and_hire(tmp_path)
    assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "2") == 0
    out = capsys.readouterr().out
    assert "Apply complete: 4 done." in out and "✗" not in out
    assert "the server answered HTTP 500: upstream failed" in out
    assert "read back: it is there" in out
    assert user(org, "zed@acme.io")["active"] is False
    assert eng(org) == {"u-ann", "u-ben", user(org, "new@acme.io")["id"]}


def test_without_verification_a_500_to_a_patch_stays_a_failure(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org.patch_status_after_work = 502
    manifest = leaver_and_hire(tmp_path)
    flags = ("--auto-approve", "--max-attempts", "1", "--no-verify")
    assert run("apply", "-m", str(manifest), *flags) == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "deactivate_user zed@acme.io:" in x)
    assert "✗" in line and "HTTP 502: upstream failed" in line


@pytest.mark.parametrize("status", [412, 428])
def test_a_server_that_wants_versioned_writes_gets_the_fix_named_and_nothing_changes(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    org.patch_refusal = (status, "If-Match required")
    assert run("apply", "-m", str(leaver_and_hire(tmp_path)), "--auto-approve") == 5
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "deactivate_user zed@acme.io:" in x)
    assert "✗" in line and f"HTTP {status}: If-Match required" in line
    assert "the server wants a versioned write (an If-Match ETag header" in line
    assert line.count("RFC 7644 §3.14") == 1, line  # the fix once, not twice
    assert user(org, "zed@acme.io")["active"] is True


@pytest.mark.parametrize("status", [500, 502])
def test_a_write_answered_5xx_stays_a_failure_when_the_read_back_that_judges_it_is_not_made(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    # Every PATCH is refused with a 5xx and changes nothing; then the token is refused
    # (401 to the POST), so there is no read-back to judge the PATCHes. Nothing proves
    # them done: they must not be reported done.
    org.patch_refusal = (status, "upstream failed")
    org.create_refusal = (401, "token revoked")
    manifest = leaver_and_hire(tmp_path)
    flags = ("--auto-approve", "--max-attempts", "1", "--concurrency", "1")
    assert run("apply", "-m", str(manifest), *flags) == 5
    out = capsys.readouterr().out
    assert user(org, "zed@acme.io")["active"] is True  # nothing was changed
    summary = out[out.index("Apply incomplete") :]
    assert summary.startswith("Apply incomplete: 0 done, 3 failed, 1 skipped."), out
    assert "read back: it is there" not in out
    line = next(x for x in summary.splitlines() if "deactivate_user zed@acme.io:" in x)
    assert line.startswith("  failed: deactivate_user zed@acme.io: the server answered HTTP")
    assert f"HTTP {status}: upstream failed" in line
    assert "was not made (the server refused the token)" in line


def test_a_401_mid_apply_stops_the_run_with_token_advice_that_says_check_first(
    org: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The revokes go through; then the token is refused (401 to the POST): the run
    # stops there, and only now is token advice given, saying what a new one costs.
    org.create_refusal = (401, "token revoked")
    manifest = leaver_and_hire(tmp_path)
    flags = ("--auto-approve", "--max-attempts", "1", "--concurrency", "1")
    assert run("apply", "-m", str(manifest), *flags) == 5
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert user(org, "zed@acme.io")["active"] is False  # done before the refusal
    assert "HTTP 401" in text
    assert "`reconciler doctor`" in text
    assert "revokes the previous token (the current one)" in text
    assert text.count("revokes the previous token") == 1, text


@pytest.mark.parametrize("concurrency", ["1", "4"])
@pytest.mark.parametrize(
    ("status", "detail"),
    [(404, "no such resource"), (400, "attribute is read-only"), (409, "version conflict")],
)
def test_a_4xx_refusing_the_patches_fails_those_operations_only_and_the_hire_goes_on(
    org: Scripted,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    status: int,
    detail: str,
    concurrency: str,
) -> None:
    # Every PATCH (zed's deactivation, Eng's member changes) is refused; the POST of
    # the hire is not, so it goes on, and the server's own detail is shown per object.
    org.patch_refusal = (status, detail)
    manifest = leaver_and_hire(tmp_path)
    flags = ("--auto-approve", "--max-attempts", "1", "--concurrency", concurrency)
    assert run("apply", "-m", str(manifest), *flags) == 5
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert user(org, "zed@acme.io")["active"] is True
    assert any(u["userName"] == "new@acme.io" for u in org.users)  # independent: done
    refused = [line for line in captured.out.splitlines() if line.startswith("[") and "✗" in line]
    assert refused and all(f"HTTP {status}" in line and detail in line for line in refused)
    assert "token" not in text
