"""One pluralisation rule for every message: "1 team", "2 teams", never "1 teams"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.grammar import count, plural
from reconciler.plan import Summary
from reconciler.render.text import summary_line

SOURCE = Path(__file__).parent.parent.parent / "reconciler"


@pytest.mark.parametrize(
    ("number", "noun", "expected"),
    [
        (0, "team", "0 teams"),
        (1, "team", "1 team"),
        (2, "team", "2 teams"),
        (1, "membership change", "1 membership change"),
        (3, "safety threshold", "3 safety thresholds"),
        (2, "policy", "2 policies"),
        (2, "day", "2 days"),
        (2, "pass", "2 passes"),
        (1, "person", "1 person"),
    ],
)
def test_count_reads_as_english(number: int, noun: str, expected: str) -> None:
    assert count(number, noun) == expected


def test_an_irregular_plural_can_be_given() -> None:
    assert count(2, "person", "people") == "2 people"
    assert plural("is", 1) == "is" and plural("is", 2) == "are"


def test_the_plan_summary_says_one_membership_change_in_the_singular() -> None:
    line = summary_line(
        Summary(create=1, change=0, deactivate=0, delete=0, members_added=1, members_removed=0)
    )
    assert "1 membership change." in line and "changes" not in line


def test_no_message_in_the_package_hedges_a_plural_with_parenthesised_s() -> None:
    offenders = [
        f"{path.relative_to(SOURCE)}:{number}: {line.strip()}"
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if path.name != "grammar.py"
        and re.search(r"\b(?!http\(|count\()[A-Za-z]+\(s\)(?=[ .;:'\"])", line)
    ]
    assert offenders == []


def test_no_message_in_the_package_pluralises_by_hand() -> None:
    # The hand-rolled `{'s' if n != 1 else ''}` is how "1 teams" bugs come back.
    offenders = [
        f"{path.relative_to(SOURCE)}:{number}"
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""['"]s['"] if .*!= ?1""", line)
    ]
    assert offenders == []


# -- the output itself: every command, with counts of one -------------------------------------

# Words ending in "s" that are not plurals of a counted noun.
NOT_PLURALS = frozenset({"is", "was", "has", "this", "access", "status", "s", "its", "as"})
ONE_PLURAL = re.compile(r"(?<![\d.,:/-])\b1 ([a-z]+(?:s|ies))\b")


def _one_plurals(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        for word in ONE_PLURAL.findall(line)
        if word not in NOT_PLURALS
    ]


def test_no_command_prints_one_with_a_plural_noun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counts of exactly one everywhere: one user, team, member, operation, problem,
    # failure, guard, stale operation, import, report row; over real HTTP.
    from reconciler.cli import main
    from scim_sandbox import Sandbox

    token = "grammar-token-one"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", token)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    head = "version: 1\norganization: {claimed_domains: [acme.io]}\n"
    one = "users:\n  - {email: ann@acme.io, given_name: Ann, family_name: A}\n"
    team = "teams:\n  - {name: Eng, members: [ann@acme.io]}\n"
    (tmp_path / "org.yaml").write_text(head + one + team)
    stranger = "teams:\n  - {name: Eng, members: [x@acme.io]}\n"
    (tmp_path / "bad.yaml").write_text(head + one + stranger)
    (tmp_path / "out").mkdir()
    (tmp_path / "imported").mkdir()
    printed: list[str] = []

    def cli(*argv: str) -> int:
        code = main(list(argv))
        out, err = capsys.readouterr()
        printed.append(out + err)
        return code

    with Sandbox(token=token, outside_org_emails=["ext@acme.io"]) as sandbox:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", sandbox.base_url)
        assert cli("validate", "-m", "bad.yaml") == 1  # 1 problem
        assert cli("plan", "-m", "org.yaml", "--out", "out/plan.json") == 0
        assert cli("plan", "-m", "org.yaml", "--format", "markdown") == 0
        assert cli("plan", "-m", "org.yaml", "--detail", "full") == 0
        assert cli("apply", "out/plan.json") == 0  # 1 user, 1 team, 1 member
        assert cli("apply", "out/plan.json") == 0  # already applied
        assert cli("report", "-m", "org.yaml") == 0
        assert cli("report", "-m", "org.yaml", "--format", "markdown") == 0
        assert cli("doctor", "-m", "org.yaml") == 0
        assert cli("import", "--out", "imported", "--force") == 0
        # One stale operation, one failure (an account outside the org), one guard.
        stale = head + one + "  - {email: bob@acme.io, given_name: Bob, family_name: B}\n" + team
        (tmp_path / "org.yaml").write_text(stale)
        assert cli("plan", "-m", "org.yaml", "--out", "out/stale.json") == 0
        sandbox.store.create_user({"userName": "bob@acme.io", "name": {"givenName": "Bo"}})
        assert cli("apply", "out/stale.json") == 3
        ext = head + one + "  - {email: ext@acme.io, given_name: E, family_name: X}\n" + team
        (tmp_path / "org.yaml").write_text(ext)
        assert cli("apply", "-m", "org.yaml", "--auto-approve") == 5
        # bob unlisted: 1 deprovision over a limit of 0.
        policy = "policy: {unmanaged_users: deactivate, max_deprovision: 0}\n"
        (tmp_path / "org.yaml").write_text(head + policy + one + team)
        assert cli("plan", "-m", "org.yaml") == 0
        assert cli("apply", "-m", "org.yaml", "--auto-approve") == 4
    text = "\n".join(printed)
    assert "ann@acme.io" in text and "Eng" in text
    assert _one_plurals(text) == []


def test_the_output_check_finds_a_hand_made_plural() -> None:
    assert _one_plurals("Imported 1 users and 2 teams.\nread 1 of 3 pages") == [
        "Imported 1 users and 2 teams."
    ]
