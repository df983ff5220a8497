"""Apply progress: a bar on a terminal, one line per operation in CI logs."""

from __future__ import annotations

from typing import TextIO

from reconciler.executor import ApplyResult, OpResult, Status
from reconciler.render.escape import terminal
from reconciler.render.style import Style

_MARK = {
    Status.DONE: ("✓", "green"),
    Status.PARTIAL: ("~", "yellow"),
    Status.FAILED: ("✗", "red"),
    Status.SKIPPED: ("-", "dim"),
}


class ProgressReporter:
    """Receives results in plan order; draws a bar on a TTY, else prints a line each."""

    def __init__(self, stream: TextIO, total: int, *, tty: bool, style: Style) -> None:
        self.stream = stream
        self.total = total
        self.tty = tty
        self.style = style
        self.done = 0

    def __call__(self, result: OpResult) -> None:
        self.done += 1
        if self.tty:
            if result.status is not Status.DONE:
                self._clear()
                self.stream.write(self._line(result) + "\n")
            self._bar()
        else:
            self.stream.write(f"[{self.done}/{self.total}] {self._line(result)}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self._clear()

    def _line(self, result: OpResult) -> str:
        mark, colour = _MARK[result.status]
        detail = terminal(result.detail or result.status.value)
        text = f"{mark} {result.op.value} {terminal(result.key)}: {detail}"
        return self.style(text, colour)

    def _bar(self) -> None:
        width = 30
        filled = width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\rapplying [{bar}] {self.done}/{self.total}")

    def _clear(self) -> None:
        self.stream.write("\r\x1b[2K")


def render_apply_summary(result: ApplyResult) -> str:
    counts = {s: result.count(s) for s in Status}
    head = "Apply complete" if result.complete else "Apply incomplete"
    parts = [f"{counts[s]} {s.value}" for s in Status if counts[s] or s is Status.DONE]
    lines = [f"{head}: {', '.join(parts)}."]
    problems = [r for r in result.results if r.status is not Status.DONE]
    for r in problems:
        lines.append(f"  {r.status.value}: {r.op.value} {terminal(r.key)}: {terminal(r.detail)}")
    if problems:
        lines.append("Fix what is listed above and run apply again: it plans only what is left.")
    return "\n".join(lines) + "\n"
