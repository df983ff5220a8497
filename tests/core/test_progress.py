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


def test_the_summary_counts_what_did_not_complete_without_repeating_each_failure() -> None:
    # Each failure was printed once by the progress line; the summary does not repeat it.
    text = render_apply_summary(ApplyResult(tuple(RESULTS)))
    assert text.splitlines()[0] == "Apply incomplete: 1 done, 1 failed."
    assert "HTTP 409" not in text
    assert "run apply again" in text


def test_a_stopped_run_reports_the_operations_not_attempted_in_one_line() -> None:
    reason = "the run was stopped: 5 connection failures in a row"
    rest = [
        OpResult(
            f"create_user:{i}",
            OpKind.CREATE_USER,
            f"u{i}@acme.io",
            Status.SKIPPED,
            f"not attempted: {reason}",
        )
        for i in range(300)
    ]
    result = ApplyResult((*RESULTS, *rest), stopped=reason)
    out = io.StringIO()
    reporter = ProgressReporter(out, len(result.results), tty=False, style=Style(False))
    for one in result.results:
        reporter(one)
    reporter.finish()
    assert len(out.getvalue().splitlines()) == 2  # the done one and the failure, once
    text = render_apply_summary(result)
    assert f"  300 operations not attempted: {reason}." in text.splitlines()
    assert text.count("not attempted") == 1
