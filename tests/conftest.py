"""Project-wide pytest hooks: figure lines that tests report are printed in the summary.

Benchmarks and the chaos suite report measured figures; printing them from inside a
test would be swallowed by output capture, so they are collected and shown at the end.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES: list[str] = []


@pytest.fixture
def report_figure() -> Callable[[str], None]:
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
