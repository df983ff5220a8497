"""The small error tree every module raises from, and the CLI maps to exit codes.

Each error carries a message meant for the person running the tool: it names the
object and the fix. The CLI prints ``str(error)`` and never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.grammar import count as counted


class ReconcilerError(Exception):
    """Base of every error the tool expects and explains. Exit code 1 unless overridden."""

    exit_code = 1
    # True for messages composed only of our own lines (live values in them escaped
    # where they were put in): the CLI keeps their line breaks. Any other message is
    # shown on one line, so a newline in server data cannot forge a line of output.
    multiline = False


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation finding, located in a source file (1-based line and column)."""

    path: str
    line: int
    col: int
    message: str
    # For a notice that is true only while someone still has access (a past expiry:
    # "will be deprovisioned at the next apply"): (userName key, team or None). The
    # plan drops the notice once live shows that access gone, so it stays true.
    while_access: tuple[str, str | None] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ManifestError(ReconcilerError):
    """The manifest is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        self.summary = f"{counted(count, 'problem')} in the manifest"
        super().__init__("\n".join([*map(str, self.problems), self.summary]))


class ConfigError(ReconcilerError):
    """A command-line or environment setting is wrong (URL, token file, options)."""


class UsageError(ReconcilerError):
    """Command-line options the command refuses together or in a value argparse cannot check.

    Exit 64 (EX_USAGE) like argparse's own usage errors, never 1 or 2; the CLI prints the
    command's usage line first, as argparse does. Raised before anything is done.
    """

    exit_code = 64


class ConfigFileError(ConfigError):
    """The orgs config (``reconciler.yaml``) is invalid; carries every problem found.

    Shown like a manifest's problems: one ``path:line:col: message`` line each, then
    the count (see cli.py).
    """

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        self.summary = f"{counted(len(self.problems), 'problem')} in the orgs config {path}"
        super().__init__("\n".join([*map(str, self.problems), self.summary]))


class RefusedPlanError(ConfigError):
    """A saved plan holds operations its manifest does not produce; lists each one."""

    multiline = True


class SecretInOutputError(ReconcilerError):
    """A file about to be written holds a secret (e.g. the token reflected in live data)."""


class LiveStateError(ReconcilerError):
    """The live state could not be read completely; nothing may be planned from it."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the live state or the manifest it was made from."""

    exit_code = 3
    multiline = True


class UnsafePlanError(ReconcilerError):
    """A blast-radius guard refused the plan; the message names the numbers and the override."""

    exit_code = 4
    multiline = True


class PartialApplyError(ReconcilerError):
    """Some operations of an apply failed or were skipped; a re-run does the rest."""

    exit_code = 5
