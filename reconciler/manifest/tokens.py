"""Refuse manifests that seem to contain a secret token.

A manifest lives in git and its text reaches PR comments and CI logs, so a pasted
SCIM token must fail validation rather than be committed. The raw text is scanned
(comments included, since "# token: ..." is the likeliest paste) for long runs of
token characters that mix letters and digits the way random strings do; names,
emails, team labels and URL path segments (commit hashes in links) are left
alone to keep false positives low. The messages never echo the suspected secret.
"""

from __future__ import annotations

import itertools
import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Iterator

from reconciler.errors import Problem
from reconciler.manifest.locations import JsonPath, Locations
from reconciler.profile import MIXPANEL

MESSAGE = f"this looks like a secret token; never commit tokens, set {MIXPANEL.token_env} instead"

MIN_LENGTH = 32
MIN_ENTROPY_BITS = 3.0
MIN_CLASS_SWITCHES = 6

_RUN_CHARACTERS = string.ascii_letters + string.digits + "_-"  # what _RUN matches
_RUN = re.compile(rf"[A-Za-z0-9_-]{{{MIN_LENGTH},}}")
# Each byte of UTF-8 text to "a" (a token character) or " " (anything else): every
# byte of a non-ASCII character is >= 0x80, so runs of "a" are exactly the runs of
# token characters, and a long one is found by a substring search, not a regex.
_RUN_BYTES = bytes(ord("a") if chr(b) in _RUN_CHARACTERS else ord(" ") for b in range(256))
_LONG_RUN = b"a" * MIN_LENGTH
_BEARER = re.compile(r"^\s*bearer\s", re.IGNORECASE)
_BEARER_VALUE = re.compile(r"bearer\s+[^\s'\"]+", re.IGNORECASE)


def looks_like_token(run: str) -> bool:
    """Long, varied, and switching between letters and digits like random text does."""
    return (
        len(run) >= MIN_LENGTH
        and _entropy(run) >= MIN_ENTROPY_BITS
        and _class_switches(run) >= MIN_CLASS_SWITCHES
    )


def token_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """(line, col, run) of each suspicious run in ``text``, 1-based."""
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _RUN.finditer(line):
            before = line[match.start() - 1] if match.start() else ""
            after = line[match.end()] if match.end() < len(line) else ""
            if "@" in (before, after) or before == "/":
                continue  # part of an email address or of a URL path
            if looks_like_token(match.group()):
                yield number, match.start() + 1, match.group()


def has_token_runs(text: str) -> bool:
    """Whether ``token_runs`` finds anything: one quick scan of the text when nothing is long.

    The quick scan (a byte translation and a substring search) answers the common
    case, no run of ``MIN_LENGTH`` token characters at all, ~20x faster than ``_RUN``.
    """
    utf8 = text.encode("utf-8", "surrogatepass")
    if _LONG_RUN not in utf8.translate(_RUN_BYTES):
        return False
    return next(token_runs(text), None) is not None


def find_tokens(
    text: str, strings: Iterable[tuple[JsonPath, str]], locations: Locations
) -> list[Problem]:
    """A problem for each value starting with "Bearer " and each token-like run of text."""
    problems: list[Problem] = []
    for path, value in strings:
        if _BEARER.match(value):
            problems.append(locations.problem(path, MESSAGE))
    bearer_lines = {p.line for p in problems}
    for line, col, _run in token_runs(text):
        if line not in bearer_lines:
            problems.append(Problem(locations.filename, line, col, MESSAGE))
    return problems


def redact(problem: Problem) -> Problem:
    """Keep a suspected secret out of messages that echo a value (an invalid email, say)."""
    message = _BEARER_VALUE.sub("Bearer <redacted>", problem.message)
    message = _RUN.sub(
        lambda m: "<redacted>" if looks_like_token(m.group()) else m.group(), message
    )
    return Problem(problem.path, problem.line, problem.col, message)


def _entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _class_switches(text: str) -> int:
    """How often the text switches between letters and digits, ignoring ``-`` and ``_``."""
    classes = [ch.isdigit() for ch in text if ch.isalnum()]
    return sum(1 for a, b in itertools.pairwise(classes) if a != b)
