"""Live data is data: one escaper per sink, used by every renderer."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date

import pytest

from reconciler.github import drift_body
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.logs import TEXT_FORMAT, TextFormatter
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.render.escape import csv_cell, markdown, markdown_code, terminal
from reconciler.render.markdown import render_markdown
from reconciler.render.report import render_csv
from reconciler.render.report import render_markdown as report_markdown
from reconciler.render.report import render_text as report_text
from reconciler.render.style import Style
from reconciler.render.text import NO_CHANGES, render_text
from reconciler.report import build_report
from tests.core.test_planner import manifest, person

TODAY = date(2026, 11, 22)
FORGED = f"x\n{NO_CHANGES}\n"
HTML = "</details><h1>No changes</h1>"


# -- terminal ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("ada@acme.io", "ada@acme.io"),
        ("josé Müller", "josé Müller"),
        ("ada\u200b@acme.io", "ada\\u200b@acme.io"),
        ("\x1b[2K\rNo changes", "\\x1b[2K\\rNo changes"),
        ("a\nb", "a\\nb"),
        ("a\tb", "a\\tb"),
        ("evil\u202eoi.emca@", "evil\\u202eoi.emca@"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
        ("a\x9bb\x7f", "a\\x9bb\\x7f"),  # C1 CSI and DEL
        ("a\u00a0b", "a\\xa0b"),
        ("\U000e0041tag", "\\U000e0041tag"),  # invisible tag character
    ],
)
def test_terminal_escapes_what_could_hide_move_or_forge_output(raw: str, shown: str) -> None:
    assert terminal(raw) == shown


# -- Markdown ------------------------------------------------------------------
def test_markdown_escapes_html_structure_and_invisibles() -> None:
    shown = markdown(HTML + "`x` [a](http://e) *b* | c\nd\u200b & e")
    assert "<" not in shown and ">" not in shown
    assert "&lt;/details&gt;&lt;h1&gt;" in shown
    assert "\\`x\\`" in shown and "\\[a\\]" in shown and "\\*b\\*" in shown and "\\|" in shown
    assert "\n" not in shown and "\\u200b" in shown and "&amp; e" in shown


@pytest.mark.parametrize(
    ("raw", "span"),
    [
        ("ada@acme.io", "`ada@acme.io`"),
        ("a`b", "<code>a\\`b</code>"),
        ("</code><h1>x", "<code>&lt;/code&gt;&lt;h1&gt;x</code>"),
        ("a\nb", "`a\\nb`"),
        ("ada\u200b@acme.io", "`ada\\u200b@acme.io`"),
    ],
)
def test_markdown_code_spans_cannot_be_closed_from_inside(raw: str, span: str) -> None:
    assert markdown_code(raw) == span


# -- CSV -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\\t=1"),
        ("\r=1", "'\\r=1"),
        ("ada\u200b@acme.io", "ada\\u200b@acme.io"),
        ("ada@acme.io", "ada@acme.io"),
    ],
)
def test_csv_cells_are_formula_safe_and_show_invisibles(raw: str, cell: str) -> None:
    assert csv_cell(raw) == cell


# -- renderers -------------------------------------------------------------------
def hostile_plan(given: str, user_name: str, team: str = "Eng") -> Plan:
    desired = manifest(
        [person("ada@acme.io", given)],
        [{"name": team, "members": ["ada@acme.io"]}],
        unmanaged_users="report",
    )
    live = LiveState.of(
        [LiveUser("u1", "ada@acme.io", "Old", "Family"), LiveUser("u2", user_name)],
        [LiveGroup("g1", "Eng", frozenset({"u2"}))],
    )
    return make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")


def test_the_markdown_plan_shows_an_html_given_name_as_text() -> None:
    md = render_markdown(hostile_plan(HTML, "bob@acme.io"))
    assert HTML not in md and "<h1>" not in md
    assert "&lt;/details&gt;&lt;h1&gt;No changes&lt;/h1&gt;" in md
    # The document keeps its own structure: every <details> it opens, it closes.
    assert md.count("<details>") == md.count("</details>")


def test_a_backtick_in_a_given_name_cannot_break_out_of_its_code_span() -> None:
    md = render_markdown(hostile_plan("Ada` <b>x</b> `", "bob@acme.io"))
    line = next(x for x in md.splitlines() if "given_name" in x)
    assert line.endswith('<code>"Ada\\` &lt;b&gt;x&lt;/b&gt; \\`"</code>')


def test_a_terminal_plan_cannot_forge_the_no_changes_line() -> None:
    hostile = "bob\x1b[1A\x1b[2K@acme.io" + FORGED
    for style in (Style(False), Style(True)):
        text = render_text(hostile_plan("Ada", hostile), style)
        assert NO_CHANGES not in text.splitlines()
        assert "\x1b[1A" not in text and "\x1b[2K" not in text
        assert "\\x1b[1A" in text


def test_the_plan_notices_show_a_lookalike_escaped_in_text_and_markdown() -> None:
    plan = hostile_plan("Ada", "ada\u200b@acme.io")
    assert "ada\\u200b@acme.io" in render_text(plan)
    assert "\u200b" not in render_text(plan)
    assert "ada\\u200b@acme.io" in render_markdown(plan)
    assert "\u200b" not in render_markdown(plan)


def test_the_report_escapes_for_each_format_and_flags_lookalikes() -> None:
    desired = manifest([person("ada@acme.io")])
    live = LiveState.of(
        [
            LiveUser("u1", "ada@acme.io", "Given", "Family"),
            LiveUser("u2", "ada\u200b@acme.io"),
            LiveUser("u3", "=cmd@acme.io"),
        ],
        [LiveGroup("g1", HTML + "\n" + NO_CHANGES, frozenset({"u1"}))],
    )
    report = build_report(desired, live, today=TODAY, expiring_days=14)
    assert report.lookalikes == ("ada\u200b@acme.io: invisible character U+200B at position 4",)
    text = report_text(report)
    assert "\u200b" not in text and NO_CHANGES not in text.splitlines()
    assert "Look-alike userNames" in text and "ada\\u200b@acme.io" in text
    md = report_markdown(report)
    assert "<h1>" not in md and "ada\\u200b@acme.io" in md
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    emails = [row[0] for row in rows[1:]]
    assert "'=cmd@acme.io" in emails and "ada\\u200b@acme.io" in emails


def test_the_drift_issue_body_carries_the_escaped_plan() -> None:
    body = drift_body(render_markdown(hostile_plan(HTML, "eve\u202e@acme.io")), None)
    assert "<h1>" not in body and "\u202e" not in body
    assert body.count("<details>") == body.count("</details>")


def test_text_log_lines_escape_the_message() -> None:
    record = logging.LogRecord("reconciler.x", logging.INFO, "f", 1, "adopted %s", (FORGED,), None)
    record.run_id = "r"
    line = TextFormatter(TEXT_FORMAT).format(record)
    assert "\n" not in line and f"x\\n{NO_CHANGES}\\n" in line


FORGED = "x\nNo changes. Mixpanel matches the manifest.\n\x1b[2K"


def _cli_error(error: Exception, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    import argparse

    from reconciler import cli

    def handler(_: argparse.Namespace) -> int:
        raise error

    code = cli._dispatch(argparse.Namespace(handler=handler, command="plan", verbose=0))
    return code, capsys.readouterr().err.splitlines()


def test_a_server_detail_holding_newlines_stays_one_escaped_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reconciler.errors import LiveStateError

    code, lines = _cli_error(LiveStateError(f"the server said: {FORGED}"), capsys)
    assert code == 1 and len(lines) == 1
    assert NO_CHANGES not in [line.strip() for line in lines] and "\x1b" not in lines[0]
    assert lines[0].startswith("error: the server said: x\\nNo changes.")


def test_a_composed_multi_line_error_keeps_its_own_line_breaks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reconciler.errors import StalePlanError

    message = f"saved plan is stale:\n  - {terminal(FORGED)}\nRun plan again."
    code, lines = _cli_error(StalePlanError(message), capsys)
    assert code == 3 and len(lines) == 3
    assert lines[0] == "error: saved plan is stale:" and lines[2] == "Run plan again."
    assert lines[1].startswith("  - x\\nNo changes.") and "\x1b" not in lines[1]


def test_quoted_shows_a_byte_that_is_not_utf8_as_that_byte_and_a_backslash_as_typed() -> None:
    from reconciler.render.escape import quoted

    assert quoted("ab\udcffc") == "'ab\\xffc'"
    assert quoted("\udc80") == "'\\x80'"
    assert quoted("a\\udcffb") == "'a\\\\udcffb'"  # typed as text: left as repr shows it
    assert quoted("\\\udcff") == "'\\\\\\xff'"
    assert quoted("it's") == repr("it's")
