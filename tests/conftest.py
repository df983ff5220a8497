"""Project-wide pytest hooks: figure lines that tests report are printed in the summary.

Benchmarks and the chaos suite report measured figures; printing them from inside a
test would be swallowed by output capture, so they are collected and shown at the end.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator

import pytest

_FIGURES: list[str] = []


@pytest.fixture(autouse=True)
def first_read_back_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """apply's second look at a read-back that differs waits 2 s by default (servers
    that show a write a moment late); tests of servers that never make the change
    would each wait it, so the first read-back decides unless a test asks for the
    second look (``--verify-settle``)."""
    monkeypatch.setenv("RECONCILER_VERIFY_SETTLE", "0")


@pytest.fixture
def report_figure() -> Callable[[str], None]:
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def real_ctrl_c() -> Iterator[None]:
    """A real SIGINT raises KeyboardInterrupt here, as at an interactive prompt.

    A process started in the background by a non-interactive shell (``cmd &``, nohup,
    some CI runners) inherits SIGINT ignored, and Python then leaves it ignored: a
    test that sends itself a Ctrl-C would see nothing happen. Python's own handler
    is installed for the test and the inherited one put back after it.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
