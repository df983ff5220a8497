"""The Console: where a command's words go (stdout lines, stderr lines, a prompt).

It is the one object through which commands print, so the CLI and the renderers stay
the only places that write to the terminal, and tests capture what a command says.
Must not: render or escape anything (commands pass finished, escaped lines), or
decide exit codes.
"""

from __future__ import annotations

import sys
from typing import TextIO


class Console:
    """Where a command's words go: stdout lines (call it), stderr lines, raw text, a prompt.

    ``stdout`` and ``stderr`` are the CLI's (redacting) streams; ``ask`` reads one
    answer from stdin. A Console is an ``Out``, so a command that only prints lines
    can take a plain callable in tests.
    """

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr

    def __call__(self, line: str) -> None:
        """One line on stdout, flushed (CI logs interleave stdout and stderr)."""
        print(line, file=self.stdout, flush=True)

    def err(self, line: str) -> None:
        """One line on stderr: notices, warnings, next steps."""
        print(line, file=self.stderr)

    def write(self, text: str) -> None:
        """Text on stdout as it is (a rendered plan ends with its own newline)."""
        self.stdout.write(text)

    def ask(self, prompt: str) -> str:
        """One answer typed on stdin after ``prompt``; EOFError when stdin is closed."""
        return input(prompt)

    @property
    def interactive(self) -> bool:
        """True when a person can answer: stdin is a terminal."""
        return sys.stdin.isatty()
