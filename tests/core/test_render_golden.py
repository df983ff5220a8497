"""Golden files for the rendered plan. Regenerate deliberately: UPDATE_GOLDEN=1 pytest."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.render.markdown import render_markdown
from reconciler.render.style import Style
from reconciler.render.text import NO_CHANGES, render_text
from tests.core.test_planner import manifest, person

GOLDEN = Path(__file__).parent.parent / "golden"


def sample_plan() -> Plan:
    desired = manifest(
        [
            person("ada@acme.io", "Ada", "Lovelace"),
            person("bob@acme.io", "Bob", "Builder", expires="2026-11-01"),
            person("carol.jones@acme.io", "Carol", "Jones", previous_emails=["carol@acme.io"]),
            person("dan@acme.io", "Dan", "Brown"),
        ],
        [
            {
                "name": "Data Science",
                "previous_names": ["Data"],
                "members": ["ada@acme.io", "carol.jones@acme.io"],
            },
            {"name": "Growth", "members": ["ada@acme.io", "dan@acme.io"]},
        ],
        protected=["owner@acme.io"],
    )
    live = LiveState.of(
        [
            LiveUser("u1", "bob@acme.io", "Bob", "Builder"),
            LiveUser("u2", "carol@acme.io", "Carol", "Smith"),
            LiveUser("u3", "dan@acme.io", "Dan", "Brown", None, False),
            LiveUser("u4", "stray@acme.io", "Stray", "Cat"),
        ],
        [LiveGroup("g1", "Data", frozenset({"u1", "u2"}))],
    )
    return make_plan(
        desired,
        live,
        today=date(2026, 11, 22),
        target="https://mixpanel.com/api/app/scim/v2",
        manifest_digest="sha256:" + "0" * 64,
    )


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_text_plan_matches_golden() -> None:
    check("plan.txt", render_text(sample_plan()))


def test_markdown_plan_matches_golden() -> None:
    check("plan.md", render_markdown(sample_plan()))


def test_json_plan_matches_golden() -> None:
    check("plan.json", sample_plan().to_json())


def test_text_plan_ends_with_the_summary_line() -> None:
    last = render_text(sample_plan()).splitlines()[-1]
    assert last == "Plan: 2 to create, 3 to change, 1 to deactivate, 4 membership changes."


def test_an_empty_plan_says_no_changes() -> None:
    desired = manifest([person("ada@acme.io")])
    live = LiveState.of([LiveUser("1", "ada@acme.io", "Given", "Family")], [])
    plan = make_plan(
        desired, live, today=date(2026, 11, 22), target="https://x", manifest_digest="d"
    )
    assert render_text(plan).splitlines()[-1] == NO_CHANGES
    assert NO_CHANGES in render_markdown(plan)


@pytest.mark.parametrize("enabled", [True, False])
def test_colour_codes_appear_only_when_enabled(enabled: bool) -> None:
    text = render_text(sample_plan(), Style(enabled))
    assert ("\x1b[" in text) is enabled
