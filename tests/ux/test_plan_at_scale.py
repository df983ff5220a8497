"""A plan touching 5,000 users stays readable and its PR comment fits GitHub (issue 15)."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import responses

from reconciler.cli import main
from reconciler.commands.common import options_from
from reconciler.commands.github_cmd import Options as GithubOptions
from reconciler.commands.github_cmd import run as github_run
from reconciler.github import BODY_LIMIT, fit_body, parse_digest
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.plan import OpKind, Plan
from reconciler.planner import make_plan
from reconciler.render import SUMMARY_SHOWN
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from scim_sandbox import Sandbox
from tests.core.test_planner import manifest, person
from tests.gitops.github_shapes import API, ENV, REPO, comment

USERS = 5_000
TOKEN = "scale-token"


@pytest.fixture(scope="module")
def big_plan() -> Plan:
    """5,000 users to create and one team gaining all of them: 5,001 operations."""
    people = [person(f"user{i:05}@acme.io", "Given", "Family") for i in range(USERS)]
    team = {"name": "Everyone", "members": [p["email"] for p in people]}
    live = LiveState.of([LiveUser("x1", "old@acme.io")], [LiveGroup("g1", "Everyone")])
    desired = manifest(people, [team], max_deprovision=10_000)
    return make_plan(
        desired,
        live,
        today=date(2026, 11, 22),
        target="https://mixpanel.com/api/app/scim/v2",
        manifest_digest="sha256:" + "0" * 64,
    )


def test_the_default_text_view_shows_counts_and_the_first_of_each_kind(big_plan: Plan) -> None:
    text = render_text(big_plan)
    creates = [line for line in text.splitlines() if line.startswith("  + user ")]
    members = [line for line in text.splitlines() if re.match(r"      \+ user\d+@", line)]
    assert len(creates) == SUMMARY_SHOWN
    assert len(members) == SUMMARY_SHOWN
    assert f"... and {USERS - SUMMARY_SHOWN} more create_user operations" in text
    assert f"... and {USERS - SUMMARY_SHOWN} more members" in text
    assert re.search(r"^  create_user +5,000$", text, re.M) and "Operations by kind" in text
    assert text.rstrip().endswith(
        "Plan: 5000 to create, 0 to change, 0 to deactivate, 5000 membership changes."
    )
    assert len(text.splitlines()) < 300


def test_the_full_view_shows_every_operation(big_plan: Plan) -> None:
    text = render_text(big_plan, shown=None)
    assert sum(line.startswith("  + user ") for line in text.splitlines()) == USERS
    assert "more create_user" not in text


def test_the_json_plan_holds_every_operation(big_plan: Plan) -> None:
    body = json.loads(big_plan.to_json())
    assert sum(op["op"] == OpKind.CREATE_USER for op in body["operations"]) == USERS


def test_the_markdown_of_5000_changes_fits_one_comment_uncut(big_plan: Plan) -> None:
    body = render_markdown(big_plan)
    assert len(body) <= BODY_LIMIT
    assert fit_body(body) == body  # nothing had to be cut
    assert parse_digest(body) == big_plan.digest
    assert "| `create_user` | 5,000 |" in body
    assert "more users with changes" in body
    assert body.count("<details>") == body.count("</details>")


def test_a_body_over_the_limit_is_cut_at_a_line_with_its_details_closed(big_plan: Plan) -> None:
    full = render_markdown(big_plan, shown=None)
    assert len(full) > BODY_LIMIT
    run = "https://github.com/acme/access/actions/runs/42"
    cut = fit_body(full, full_at=run)
    assert len(cut) <= BODY_LIMIT
    assert parse_digest(cut) == big_plan.digest
    assert f"[the job summary of this run]({run})" in cut
    assert cut.count("<details") == cut.count("</details>")
    before_note = cut.split("\n\n_… cut to fit")[0]
    assert before_note.splitlines()[-1] in full.splitlines()  # a whole line, never half


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_posting_an_oversized_plan_never_fails_and_links_the_run(
    big_plan: Plan, api: responses.RequestsMock, tmp_path: Path
) -> None:
    comments = f"{API}/repos/{REPO}/issues/7/comments"
    api.get(comments, json=[])
    api.post(comments, json=comment(9, "posted"), status=201)
    body_file = tmp_path / "plan.md"
    body_file.write_text(render_markdown(big_plan, shown=None))
    env = {**ENV, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42"}
    args = _github_args(["comment", "--pr", "7", "--body-file", str(body_file)])
    assert github_run(options_from(GithubOptions, args), lambda line: None, env) == 0
    sent = json.loads(api.calls[-1].request.body or b"{}")["body"]
    assert len(sent) <= BODY_LIMIT
    assert f"/{REPO}/actions/runs/42" in sent


def _github_args(argv: list[str]) -> argparse.Namespace:
    from reconciler.cli import build_parser

    return build_parser().parse_args(["github", *argv])


def test_the_cli_plan_of_5000_users_prints_the_summary_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("NO_COLOR", "1")
    users = "".join(
        f"  - {{email: u{i:05}@acme.io, given_name: G, family_name: F}}\n" for i in range(USERS)
    )
    path = tmp_path / "org.yaml"
    path.write_text(f"version: 1\norganization: {{claimed_domains: [acme.io]}}\nusers:\n{users}")
    with Sandbox(token=TOKEN) as sandbox:
        argv = ["plan", "-m", str(path), "--url", sandbox.base_url]
        assert main([*argv, "--out", str(tmp_path / "plan.json")]) == 0
        text = capsys.readouterr().out
        assert main([*argv, "--format", "markdown"]) == 0
        markdown = capsys.readouterr().out
    assert len(text.splitlines()) < 200
    assert re.search(r"^  create_user +5,000$", text, re.M)
    assert len(markdown) <= BODY_LIMIT
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert len(saved["operations"]) == USERS


def test_a_notice_about_thousands_of_unlisted_users_names_only_the_first() -> None:
    live = LiveState.of([LiveUser(str(i), f"stray{i:05}@acme.io") for i in range(USERS)], [])
    plan = make_plan(
        manifest([], []), live, today=date(2026, 11, 22), target="https://x", manifest_digest="d"
    )
    (notice,) = plan.notices
    assert notice.startswith("5000 active users in claimed domains are not in the manifest")
    assert notice.endswith(f"and {USERS - 20} more")
    assert notice.count("@acme.io") == 20


@pytest.mark.parametrize(
    "odd",
    [
        {"GITHUB_RUN_ID": "42) <img src=x> [x](https://evil.example"},
        {"GITHUB_RUN_ID": "42\n# forged heading"},
        {"GITHUB_SERVER_URL": "javascript:alert(1)//"},
        {"GITHUB_SERVER_URL": "https://github.com) [x](https://evil.example"},
    ],
)
def test_an_odd_run_url_part_is_left_out_of_the_link_not_pasted_into_markdown(
    odd: dict[str, str], big_plan: Plan, api: responses.RequestsMock, tmp_path: Path
) -> None:
    comments = f"{API}/repos/{REPO}/issues/7/comments"
    api.get(comments, json=[])
    api.post(comments, json=comment(9, "posted"), status=201)
    body_file = tmp_path / "plan.md"
    body_file.write_text(render_markdown(big_plan, shown=None))
    env = {**ENV, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42", **odd}
    args = _github_args(["comment", "--pr", "7", "--body-file", str(body_file)])
    assert github_run(options_from(GithubOptions, args), lambda line: None, env) == 0
    sent = json.loads(api.calls[-1].request.body or b"{}")["body"]
    assert "evil.example" not in sent and "forged heading" not in sent and "javascript" not in sent
    assert "actions/runs" not in sent and "the job summary" in sent


def _mixed_plan(padding: int) -> Plan:
    """About 5,000 changes of every common kind; ``padding`` lengthens every name."""
    pad = "x" * padding

    def email(i: int) -> str:
        return f"u{i:05}{pad}@acme.io"

    kept = [person(email(i), "Given", "Family") for i in range(3_000)]
    renamed = [person(email(i), "Renamed", "Family") for i in range(3_000, 4_000)]
    teams = [
        {"name": f"Team {t:03} {pad}", "members": [email(i) for i in range(t * 20, t * 20 + 20)]}
        for t in range(50)
    ]
    live_users = [LiveUser(f"id{i}", email(i)) for i in range(1_000, 4_000)]
    live_users += [LiveUser(f"s{i}", f"stray{i:04}{pad}@acme.io") for i in range(1_000)]
    live = LiveState.of(live_users, [])
    desired = manifest(
        [*kept, *renamed], teams, max_deprovision=10_000, unmanaged_users="deactivate"
    )
    return make_plan(
        desired,
        live,
        today=date(2026, 11, 22),
        target="https://mixpanel.com/api/app/scim/v2",
        manifest_digest="sha256:" + "0" * 64,
    )


def test_the_markdown_summary_shows_some_of_every_kind_and_its_counts_first() -> None:
    plan = _mixed_plan(padding=0)
    kinds = {op.op for op in plan.operations}
    assert {OpKind.CREATE_USER, OpKind.DEACTIVATE_USER, OpKind.CREATE_GROUP} <= kinds
    assert len(plan.operations) >= 5_000
    body = render_markdown(plan)
    assert len(body) <= BODY_LIMIT and fit_body(body) == body
    # The counts per kind come before the first section: a comment cut to fit keeps them.
    assert body.index("| operation | count |") < body.index("<details>")
    shown = {
        verb for verbs in re.findall(r"</b>: ([^<]*)</summary>", body) for verb in verbs.split(", ")
    }
    # The first users by e-mail would all be of one kind (every `stray...` deactivated).
    assert {kind.spec.markdown_verb for kind in kinds} <= shown


def test_a_cut_comment_keeps_the_counts_per_kind_and_says_where_the_rest_is() -> None:
    plan = _mixed_plan(padding=200)  # names of 200 characters: the summary is too long
    body = render_markdown(plan)
    assert len(body) > BODY_LIMIT
    run = "https://github.com/acme/access/actions/runs/42"
    cut = fit_body(body, full_at=run)
    assert len(cut) <= BODY_LIMIT
    assert "| `deactivate_user` | 1,000 |" in cut and "| `create_user` | 1,000 |" in cut
    assert f"this plan uncut is in [the job summary of this run]({run})" in cut
    assert "`reconciler plan --detail full` lists every operation" in cut
    assert parse_digest(cut) == plan.digest


def test_a_body_of_wide_characters_is_cut_to_the_limit_in_utf16_units() -> None:
    # An emoji outside the BMP is two UTF-16 code units (and four UTF-8 bytes): GitHub
    # has been seen to count both ways; the body fits either way.
    rows = "".join(f"- 🌈 team {i:05} 🌈\n" for i in range(3_500))
    footer = f"<sub>target `https://x`</sub>\n<sub>plan digest: `sha256:{'a' * 64}`</sub>\n"
    body = f"### plan\n\n{rows}\n{footer}"
    assert len(body) <= BODY_LIMIT < len(body.encode("utf-16-le")) // 2
    cut = fit_body(body)
    assert len(cut.encode("utf-16-le")) // 2 <= BODY_LIMIT
    assert len(cut.encode("utf-8")) <= 4 * BODY_LIMIT
    assert "cut to fit" in cut and cut.endswith(footer)


def test_a_422_body_too_long_is_posted_again_shorter_not_failed(
    big_plan: Plan, api: responses.RequestsMock, tmp_path: Path
) -> None:
    comments = f"{API}/repos/{REPO}/issues/7/comments"
    api.get(comments, json=[])
    too_long = {
        "message": "Validation Failed",
        "errors": [{"message": "Body is too long (maximum is 65536 characters)"}],
    }
    api.post(comments, json=too_long, status=422)
    api.post(comments, json=comment(9, "posted"), status=201)
    body_file = tmp_path / "plan.md"
    body_file.write_text(render_markdown(big_plan, shown=None))
    env = {**ENV, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42"}
    args = _github_args(["comment", "--pr", "7", "--body-file", str(body_file)])
    assert github_run(options_from(GithubOptions, args), lambda line: None, env) == 0
    first, second = (json.loads(c.request.body or b"{}")["body"] for c in api.calls[1:])
    assert len(first) <= BODY_LIMIT and len(second) <= BODY_LIMIT // 4
    assert parse_digest(second) == big_plan.digest
    assert f"/{REPO}/actions/runs/42" in second
