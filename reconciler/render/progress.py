"""Apply progress: a bar on a terminal, one line per operation in CI logs."""

from __future__ import annotations

from typing import TextIO

from reconciler.executor import NOT_ATTEMPTED, ApplyResult, OpResult, Status
from reconciler.grammar import count
from reconciler.render.escape import terminal
from reconciler.render.reading import read_progress as read_progress  # noqa: PLC0414
from reconciler.render.style import Style, clip

_MARK = {
    Status.DONE: ("✓", "green"),
    Status.ADOPTED: ("!", "yellow"),
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
        self.not_attempted = 0

    def __call__(self, result: OpResult) -> None:
        self.done += 1
        if result.detail.startswith(NOT_ATTEMPTED):
            # A stopped run: one summary line in the summary, not one line per operation.
            self.not_attempted += 1
            return
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
        self.stream.write(f"\r{clip(f'applying [{bar}] {self.done}/{self.total}', self.stream)}")

    def _clear(self) -> None:
        self.stream.write("\r\x1b[2K")


def render_apply_summary(result: ApplyResult, *, interrupted_of: int | None = None) -> str:
    """Counts, the read-back, why the run stopped (one line for every operation not
    attempted), the operations the read-back failed, and the run-level notes.

    Each failure seen while running was already shown once by the progress lines, so
    it is not repeated; a read-back failure is found after them, so it is shown here.
    ``interrupted_of``: the run was interrupted (Ctrl-C), and the plan had that many
    operations (``result`` holds only those that finished).
    """
    if interrupted_of is not None:
        return _interrupted_summary(result, interrupted_of)
    counts = {s: result.count(s) for s in Status}
    head = "Apply complete" if result.complete else "Apply incomplete"
    parts = [f"{counts[s]} {s.value}" for s in Status if counts[s] or s is Status.DONE]
    lines = [f"{head}: {', '.join(parts)}."]
    verified = _verification_line(result)
    if verified:
        lines.append(verified)
    skipped = result.not_attempted
    if skipped:
        plural = "operation" if skipped == 1 else "operations"
        reason = result.stopped or "the run stopped"
        lines.append(f"  {skipped} {plural} not attempted: {terminal(reason)}.")
    checked = result.verification
    for r in result.results:
        if checked is not None and r.op_id in checked.differences:
            lines.append(
                f"  {r.status.value}: {r.op.value} {terminal(r.key)}: {terminal(r.detail)}"
            )
    lines.extend(terminal(note) for note in result.notes)
    if result.unfinished:
        lines.append("Fix what is listed above and run apply again: it plans only what is left.")
    return "\n".join(lines) + "\n"


def _verification_line(result: ApplyResult) -> str:
    checked = result.verification
    if checked is None:
        return "Not verified (--no-verify): the touched objects were not read back."
    if checked.skipped:
        return f"Not verified: {checked.skipped}, so nothing was read back."
    if not checked.objects:
        return ""
    failed = checked.failed_operations
    verdict = (
        "every change is there"
        if not failed
        else f"{count(failed, 'operation')} answered success but the change is not there"
    )
    again = (
        f" ({count(checked.read_again, 'object')} read again after a wait, as the first "
        "read-back differed)"
        if checked.read_again
        else ""
    )
    return f"Verified: read back {count(checked.objects, 'touched object')}{again}; {verdict}."


def _interrupted_summary(result: ApplyResult, total: int) -> str:
    if result.count_done == total:  # the last operations finished while Ctrl-C drained them
        lines = [
            f"Apply interrupted: {result.count_done} of {total} done; nothing is left, but "
            "the read-back was skipped: run `reconciler plan` to confirm."
        ]
    else:
        lines = [f"Apply interrupted: {result.count_done} of {total} done; re-run to finish."]
    for r in result.results:
        if r.status is not Status.DONE:
            lines.append(
                f"  {r.status.value}: {r.op.value} {terminal(r.key)}: {terminal(r.detail)}"
            )
    lines.append(
        "Re-running apply plans from the live state again and does only what is left; in CI, "
        "re-run the apply job (a remainder of the reviewed plan needs no new review)."
    )
    return "\n".join(lines) + "\n"
