"""The one redaction point: every text leaving the process passes through ``redact``.

A server can echo the token back in any encoding (an error body that repeats the
``Authorization`` header as JSON, a reflected value in a user's name), and decoding
happens in many places, so masking raw bytes before decoding is not enough. Instead
each output channel (stdout and stderr through ``RedactingStream``, the log
formatter, the journal writer, the crash-safe file writer, GitHub bodies) masks the
*decoded* text just before it leaves, for every registered secret in each form:

- raw;
- JSON-escaped: any character as ``\\uXXXX`` (either hex case), ``/`` as ``\\/``,
  also escaped twice (``\\\\/``, as in a repr or a JSON string inside JSON);
- URL-encoded: any character as ``%XX`` (either case), also twice (``%252F``);
  ``+`` for a space cannot occur, since a token never holds whitespace;
- base64, standard and URL-safe, padded or not: the part of the encoding that depends
  only on the secret, at each of the three byte alignments, so the base64 of
  ``Bearer <token>`` or ``user:<token>`` (basic auth) is caught too. Those forms are
  themselves matched JSON-escaped and URL-encoded.

Secrets are registered when they are loaded (``settings``, the GitHub client) inside
``secrets_scope``, which the CLI opens per command, so one run's secrets never mask
another run's output in a long-lived process (tests, embedding tools).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from typing import Any, TextIO

from reconciler.errors import ReconcilerError

__all__ = [
    "MASK",
    "OutputClosedError",
    "RedactingStream",
    "Redactor",
    "contains_secret",
    "redact",
    "redact_value",
    "register_secret",
    "secrets_scope",
]

MASK = "***"
# Shorter base64 fragments would match ordinary text; the raw secret is always masked.
_MIN_FRAGMENT = 8


class Redactor:
    """Masks a set of secrets in every encoding listed in the module docstring.

    Thread-safe; ``add`` compiles one regular expression for all secrets, longest
    alternative first, so a secret's encodings never leave a partial match behind.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._state: _Compiled | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Register ``secret`` (ignored when empty or already known)."""
        if not secret:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.append(secret)
            forms = sorted({f for s in self._secrets for f in _forms(s)}, key=len, reverse=True)
            self._state = _Compiled(forms)

    def __call__(self, text: str) -> str:
        state = self._state
        if state is None or not text:
            return text
        return state.sub(text)

    def found(self, text: str) -> bool:
        """True when ``text`` holds a registered secret in any supported encoding."""
        state = self._state
        return state is not None and bool(text) and state.search(text)

    def clear(self) -> None:
        self.reset(())

    @property
    def secrets(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._secrets)

    def reset(self, secrets: Iterable[str]) -> None:
        """Forget every secret, then register ``secrets``."""
        with self._lock:
            self._secrets.clear()
            self._state = None
        for secret in secrets:
            self.add(secret)


# Characters JSON (or a repr) writes with a backslash in front.
_BACKSLASHED = frozenset('/"\\')
# An escape that can encode a character of a secret (or split it: an escaped line
# break); ``\"`` and ``\\`` only count when a secret holds that character (JSON text
# is full of ``\"``).
_ESCAPE = (
    r"\\+(?:[uU][0-9a-fA-F]{4}|[xX][0-9a-fA-F]{2}|[/nrt])"
    r"|%(?:25)*[0-9a-fA-F]{2}"
    r"|&(?:amp;)*(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*;)"
)
# Between two characters of a secret: a line break or space (a wrapped line, a value
# split in two), also as a JSON escape.
_SEPARATOR = r"(?:\s|\\+[nrt]){0,8}"
# Whitespace and escaped line breaks, dropped to find a secret split by them.
_WHITESPACE = b" \t\n\r\x0b\x0c"
_ESCAPED_BREAKS = (b"\\n", b"\\r", b"\\t")
# About the longest encoding of one character: ``&amp;#x0002f;``, ``\\\\u002f``.
_LONGEST_CHAR = 16


class _Compiled:
    """The forms of the registered secrets, matched fast on large texts (plan files).

    Raw forms are plain substring replacements (C speed). Escaped forms need an escape
    character (a backslash, ``%`` or ``&``), so the full per-character regex only runs
    in windows around those, wide enough to hold the longest escaped form whole. A
    form in another letter case or split by whitespace (a wrapped line) has no such
    character: it is found in a lower-cased copy without whitespace (bytes, C speed),
    and only then is a regex allowing line breaks between characters run over the
    whole text (seconds on a plan of many megabytes, but only when a secret is there).
    """

    def __init__(self, forms: list[str]) -> None:
        self.forms = forms
        extra = [r'\\+"'] if any('"' in f for f in forms) else []
        extra += [r"\\{2,}"] if any("\\" in f for f in forms) else []
        self.escape = re.compile("|".join([_ESCAPE, *extra]))
        self.reach = max(len(f) for f in forms) * _LONGEST_CHAR
        self.folded = sorted({_fold(f) for f in forms}, key=len, reverse=True)

    # The per-character expressions are compiled when first needed (tens of
    # milliseconds each, on every start that registers a token; most runs never
    # print an escape near which they must look, nor a disguised form).
    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.forms, "")

    @cached_property
    def split(self) -> re.Pattern[str]:
        """``pattern`` with line breaks allowed between characters (slower: only when
        ``_disguised``)."""
        return _compile(self.forms, _SEPARATOR)

    def sub(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        if self._disguised(text):
            return self.split.sub(MASK, text)
        pieces: list[str] = []
        cursor = 0
        for start, end in self._windows(text):
            pieces.append(text[cursor:start])
            pieces.append(self.pattern.sub(MASK, text[start:end]))
            cursor = end
        if not pieces:
            return text
        pieces.append(text[cursor:])
        return "".join(pieces)

    def search(self, text: str) -> bool:
        if any(form in text for form in self.forms):
            return True
        if self._disguised(text):
            return bool(self.split.search(text))
        return any(self.pattern.search(text, start, end) for start, end in self._windows(text))

    def _disguised(self, text: str) -> bool:
        """True when a form is in ``text`` in another letter case or split by whitespace."""
        data = text.encode("utf-8", "surrogatepass").lower().translate(None, _WHITESPACE)
        for escaped in _ESCAPED_BREAKS:
            data = data.replace(escaped, b"")
        return any(form in data for form in self.folded)

    def _windows(self, text: str) -> Iterator[tuple[int, int]]:
        """Merged spans of ``reach`` characters around every relevant escape."""
        span: tuple[int, int] | None = None
        for position in _escapes(text, self.escape):
            start = max(0, position - self.reach)
            end = min(len(text), position + self.reach)
            if span is not None and start <= span[1]:
                span = (span[0], end)
                continue
            if span is not None:
                yield span
            span = (start, end)
        if span is not None:
            yield span


def _fold(form: str) -> bytes:
    return form.encode("utf-8", "surrogatepass").lower()


def _escapes(text: str, escape: re.Pattern[str]) -> list[int]:
    """Positions of escapes, found with ``str.find`` (far faster than a regex scan)."""
    found: list[int] = []
    for lead in "\\%&":
        position = text.find(lead)
        while position != -1:
            match = escape.match(text, position)
            if match is None:
                position = text.find(lead, position + 1)
                continue
            found.append(position)
            position = text.find(lead, match.end())
    return sorted(found)


def _forms(secret: str) -> set[str]:
    """The secret, its hex encoding and the secret-only parts of its base64 encodings."""
    forms = {secret}
    data = _raw_bytes(secret)
    forms.add(data.hex())  # byte-aligned, so also inside the hex of "Bearer <token>"
    for offset in range(3):
        # Bytes that start on a 3-byte boundary encode to the same characters wherever
        # they sit in a longer base64 text with that alignment.
        whole = (len(data) - offset) // 3 * 3
        core = base64.b64encode(data[offset : offset + whole]).decode("ascii")
        if len(core) >= _MIN_FRAGMENT:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    return forms


def _raw_bytes(secret: str) -> bytes:
    """The bytes ``secret`` stands for: UTF-8, with the undecodable bytes of an
    environment value (``surrogateescape``) given back as they were."""
    try:
        return secret.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte stands for
        return secret.encode("utf-8", "surrogatepass")


def _compile(forms: list[str], separator: str) -> re.Pattern[str]:
    """Any of ``forms``, each character raw or encoded, ``separator`` between them."""
    return re.compile("|".join(_pattern_for(f, separator) for f in forms), re.IGNORECASE)


def _pattern_for(form: str, separator: str = "") -> str:
    """A regex matching ``form`` with each character raw or encoded."""
    return separator.join(_char_pattern(ch) for ch in form)


def _char_pattern(ch: str) -> str:
    """One character raw or encoded (the pattern is compiled case-insensitive).

    Backslashes and ``%25`` / ``&amp;`` prefixes repeat for text escaped twice (a JSON
    string inside a JSON string, a repr of an escaped value, a doubly encoded URL).
    """
    code = ord(ch)
    alternatives = [re.escape(ch), rf"\\+u{code:04x}"]
    if code < 0x80:
        alternatives += [rf"%(?:25)*{code:02x}", rf"\\+x{code:02x}"]
    alternatives += [rf"&(?:amp;)*#0*{code};?", rf"&(?:amp;)*#x0*{code:x};?"]
    named = _entity_names().get(ch)
    if named:
        alternatives.append("&(?:amp;)*(?:" + "|".join(map(re.escape, named)) + ")")
    if ch == "\\":  # a backslash escaped once or more: \\ or \\\\
        alternatives.append(r"\\{2,}")
    elif ch in _BACKSLASHED:  # \/ and \" (or more backslashes)
        alternatives.append(r"\\+" + re.escape(ch))
    return "(?:" + "|".join(alternatives) + ")"


@cache  # built when a pattern is first compiled, not on every start
def _entity_names() -> dict[str, list[str]]:
    """Each character with the HTML5 named references for it (``/``: ``sol;``)."""
    import html.entities

    names: dict[str, list[str]] = {}
    for name, value in html.entities.html5.items():
        if len(value) == 1:
            names.setdefault(value, []).append(name)
    return {ch: sorted(found, key=len, reverse=True) for ch, found in names.items()}


# -- the process-wide redactor -------------------------------------------------
_REDACTOR = Redactor()
_OPEN_SCOPES: list[tuple[str, ...]] = []  # the secrets each open scope started with


def register_secret(secret: str) -> None:
    """Mask ``secret`` in every output channel from now until the scope closes."""
    _REDACTOR.add(secret)


def redact(text: str) -> str:
    """``text`` with every registered secret masked as ``***``."""
    return _REDACTOR(text)


def contains_secret(text: str) -> bool:
    """True when ``text`` holds a registered secret in any supported encoding."""
    return _REDACTOR.found(text)


def redact_value(value: Any) -> Any:
    """A JSON-like value with every string (keys included) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


@contextmanager
def secrets_scope() -> Iterator[None]:
    """Secrets registered inside are forgotten on exit (one CLI command is one scope).

    The outermost scope starts empty; a nested one (``demo`` runs commands inside a
    command) keeps the outer secrets and gives them back on exit.
    """
    outermost = not _OPEN_SCOPES
    _OPEN_SCOPES.append(() if outermost else _REDACTOR.secrets)
    if outermost:
        _REDACTOR.clear()
    try:
        yield
    finally:
        _REDACTOR.reset(_OPEN_SCOPES.pop())


class OutputClosedError(ReconcilerError):
    """Standard output or standard error cannot be written (closed, full disk, I/O error)."""


class RedactingStream:
    """A text stream that masks registered secrets in everything written through it.

    Wraps ``sys.stdout`` / ``sys.stderr`` for the duration of a command; every other
    attribute (``isatty``, ``fileno``, ``encoding``) is the wrapped stream's. A
    character the stream's encoding cannot hold (``PYTHONIOENCODING=ascii``, a C
    locale) is written as a ``\\uXXXX`` escape instead of failing. A stream that is
    closed (``None``: the command ran with ``>&-``) swallows writes; the CLI refuses
    to start when standard output is closed. A write that fails (``> /dev/full``)
    raises OutputClosedError naming the stream; a closed pipe stays BrokenPipeError.
    """

    def __init__(self, stream: TextIO | None, name: str = "standard output") -> None:
        self._stream = stream
        self._name = name

    @property
    def wrapped(self) -> TextIO | None:
        return self._stream

    @property
    def closed_at_start(self) -> bool:
        return self._stream is None

    def write(self, text: str) -> int:
        if self._stream is None:
            return len(text)
        shown = redact(text)
        try:
            try:
                self._stream.write(shown)
            except UnicodeEncodeError:
                encoding = getattr(self._stream, "encoding", None) or "ascii"
                self._stream.write(shown.encode(encoding, "backslashreplace").decode(encoding))
        except BrokenPipeError:
            raise
        except OSError as error:
            raise self._failed(error) from None
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise self._failed(error) from None

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def _failed(self, error: OSError) -> OutputClosedError:
        reason = error.strerror or type(error).__name__
        return OutputClosedError(
            f"cannot write to {self._name}: {reason}; send the output to a file on a disk "
            "with free space or to a pipe, and re-run"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
