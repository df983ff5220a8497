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
