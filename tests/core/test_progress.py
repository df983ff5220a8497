"""Apply progress: a redrawn bar on a terminal, one line per operation elsewhere."""

from __future__ import annotations

import io

from reconciler.executor import ApplyResult, OpResult, Status
from reconciler.plan import OpKind
from reconciler.render.progress import ProgressReporter, render_apply_summary
from reconciler.render.style import Style

RESULTS = [
    OpResult("create_user:a@acme.io", OpKind.CREATE_USER, "a@acme.io", Status.DONE, "created"),
    OpResult("create_user:b@acme.io", OpKind.CREATE_USER, "b@acme.io", Status.FAILED, "HTTP 409"),
]


def test_off_a_terminal_every_operation_is_one_numbered_line() -> None:
    out = io.StringIO()
    reporter = ProgressReporter(out, 2, tty=False, style=Style(False))
    for result in RESULTS:
        reporter(result)
    assert out.getvalue().splitlines() == [
        "[1/2] ✓ create_user a@acme.io: created",
        "[2/2] ✗ create_user b@acme.io: HTTP 409",
    ]


def test_on_a_terminal_a_bar_is_redrawn_and_only_problems_get_a_line() -> None:
    out = io.StringIO()
    reporter = ProgressReporter(out, 2, tty=True, style=Style(False))
    for result in RESULTS:
        reporter(result)
    reporter.finish()
    text = out.getvalue()
    assert "applying [###############...............] 1/2" in text
    assert "applying [##############################] 2/2" in text
    assert "✗ create_user b@acme.io: HTTP 409\n" in text
    assert "✓ create_user a@acme.io" not in text


def test_the_summary_lists_what_did_not_complete_and_what_to_do() -> None:
    text = render_apply_summary(ApplyResult(tuple(RESULTS)))
    assert text.splitlines()[0] == "Apply incomplete: 1 done, 1 failed."
    assert "  failed: create_user b@acme.io: HTTP 409" in text
    assert "run apply again" in text
