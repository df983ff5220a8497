"""One escaper per output sink, for every string that came from Mixpanel or a manifest.

Live data is data: a userName, a team name or a server's error detail must never
be able to move the cursor, forge a line ("No changes. Mixpanel matches the
manifest."), close a Markdown block, or become a spreadsheet formula. Every
renderer (plan text and Markdown, the report in every format, the drift issue,
doctor) and the CLI's messages pass such strings through this module, and only
this module decides how.

- ``terminal``: a byte that is not UTF-8 (in a file name or an environment value) as
  ``\\xff``; C0 and C1 controls (ESC included), DEL, newlines and carriage
  returns inside a value, invisible format characters (Unicode ``Cf``, e.g.
  U+200B), bidirectional controls (U+202E ...), line and paragraph separators,
  spaces other than U+0020, private-use and unassigned code points are shown as
  ``\\x1b`` / ``\\n`` / ``\\u200b`` escapes; a word (a run without whitespace)
  that is a look-alike (``reconciler.identity.lookalike_reason``: mixing scripts, or
  holding a character NFKC maps to letters or digits, as Cyrillic U+0430 or the
  Kelvin sign U+212A in an address; not the ellipsis U+2026) is
  spelled out whole (``\\u212aim@acme.io``), so it never prints like the account or
  team it imitates; everything else prints as is.
- ``markdown``: the terminal escapes, then HTML (``& < >``) as entities and the
  Markdown metacharacters that change structure (``\\ ` * _ [ ] ~ |``) with a
  backslash, so a value is shown as text in a comment, a table cell or a list item;
  a mention's ``@`` and every ``#`` as entities and ``://`` / ``www.`` broken, so GitHub makes no
  mention, issue reference or autolink of it.
- ``markdown_code``: monospace that no backtick or tag in the value can close.
- ``shell_word``: a path or value inside a command a person is told to run, quoted
  for a POSIX shell (``'my plan.json'``), then the terminal escapes.
- ``quoted``: a value quoted as Python's ``repr`` does, for messages that quote an
  environment value or an argument (``RECONCILER_TODAY='ab\\xff'``), except that a
  byte that is not UTF-8 is shown as the byte (``\\xff``), not as ``\\udcff``.
- ``csv_cell``: the terminal escapes, then a leading ``'`` for a cell a spreadsheet
  would read as a formula (``= + - @``, tab, carriage return; OWASP CSV injection).
"""

from __future__ import annotations

import re
import unicodedata

from reconciler.identity import lookalike_reason, spelled

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Printed as an escape: controls, format (invisible), separators, private use,
# unassigned and surrogate code points; and any space but U+0020.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
# A backslash only escapes ASCII punctuation (CommonMark 2.4), so one before a letter
# (the ``\u200b`` this module writes) is shown as is.
_MARKDOWN_META = re.compile(r"([`*_\[\]~|]|\\(?=[!-/:-@\[-`{-~]))")
_CODE_UNSAFE = re.compile(r"[`<>&]")
# What GitHub turns into a mention (@team; not the @ inside an email address), an
# issue link (#1) or an autolink (https://, www.): written as entities, shown the
# same, linked to nothing.
_REFERENCE_ENTITY = {"@": "&#64;", "#": "&#35;", ":": "&#58;", ".": "&#46;"}
_GITHUB_REFERENCE = re.compile(r"(?<![\w.+\-])@|#|:(?=//)|(?<=www)\.", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A word holding a character outside ASCII: the only kind that can be a look-alike.
_NON_ASCII_WORD = re.compile(r"[^\s]*[^\x00-\x7f][^\s]*")
# A lone surrogate as ``repr`` writes it (``\udcff``), not preceded by an escaped
# backslash: a byte that was not UTF-8 (surrogateescape).
_REPR_BYTE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")


def terminal(text: str) -> str:
    """``text`` with every character that could hide, move or forge output escaped,
    and every look-alike word spelled out (``\\u212aim@acme.io``)."""
    if text.isascii() and text.isprintable():
        return text  # the usual case
    shown = "".join(_visible(c) for c in text)
    if shown.isascii():
        return shown
    return _NON_ASCII_WORD.sub(_spelled_if_lookalike, shown)


def _spelled_if_lookalike(match: re.Match[str]) -> str:
    word = match.group(0)
    return spelled(word) if _passes_for_another(word) else word


def _passes_for_another(word: str) -> bool:
    """A look-alike word that prints like other letters or digits: mixed scripts, or a
    character NFKC maps to letters or digits (Kelvin sign, fullwidth, ligatures) or a
    combining mark, or a character NFKC maps to one ASCII character (the one dot
    leader U+2024 for "."). Typography that NFKC only respells as several
    punctuation marks (the ellipsis U+2026 as "...") passes for nothing and prints
    as is."""
    reason = lookalike_reason(word)
    if reason is None:
        return False
    if not reason.startswith("not NFKC-stable"):
        return True
    for char in word:
        if unicodedata.category(char).startswith("M"):
            return True
        normal = unicodedata.normalize("NFKC", char)
        if normal != char and any(c.isalnum() for c in normal):
            return True
        if normal != char and len(normal) == 1 and normal.isascii():
            return True  # one mark for one: "\u2024" or "\ufe52" for ".", "\uff20" for "@"
    return False


def terminal_value(value: object) -> str:
    """``str(value)`` escaped for a terminal; for values that may not be strings."""
    return terminal(str(value))


def markdown(text: str) -> str:
    """``text`` as literal Markdown text: no HTML, no structure, nothing invisible."""
    shown = _MARKDOWN_META.sub(r"\\\1", terminal(text))
    shown = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _GITHUB_REFERENCE.sub(lambda m: _REFERENCE_ENTITY[m.group(0)], shown)


def markdown_code(text: str) -> str:
    """``text`` in monospace that nothing in it can close or turn into HTML.

    A plain value is a code span; one holding a backtick, ``<``, ``>`` or ``&`` is a
    ``<code>`` element around the ``markdown`` escape instead (a code span can show
    neither an entity nor, safely, a backtick run).
    """
    shown = terminal(text)
    if _CODE_UNSAFE.search(shown) or not shown.strip():
        return f"<code>{markdown(text)}</code>"
    return f"`{shown}`"


def shell_word(text: str) -> str:
    """``text`` as one word of a suggested shell command, safe on a terminal.

    ``reconciler apply my plan.json`` would name two files when pasted; the word is
    quoted as ``shlex.quote`` does (nothing for plain words). A word holding a control
    or invisible character, or a byte that is not UTF-8, is written in bash's
    ``$'...'`` form with ``\\xNN`` escapes: it pastes as the same bytes, and nothing
    reaches the terminal raw.
    """
    import shlex

    if terminal(text) == text:
        return shlex.quote(text)
    return "$'" + "".join(_shell_escaped(char) for char in text) + "'"


def _shell_escaped(char: str) -> str:
    """One character inside ``$'...'``: as is when it prints, else its bytes as ``\\xNN``."""
    if char in ("'", "\\"):
        return "\\" + char
    if terminal(char) == char:
        return char
    raw = char.encode("utf-8", "surrogateescape")
    return "".join(f"\\x{byte:02x}" for byte in raw)


def quoted(text: str) -> str:
    """``repr(text)``, with each byte that is not UTF-8 shown as ``\\xNN``.

    An environment value or a command-line argument that is not UTF-8 reaches
    Python as lone surrogates (U+DC80..U+DCFF); ``repr`` would show ``\\udcff``,
    which names no byte the user typed.
    """
    return bytes_shown(repr(text))


def bytes_shown(text: str) -> str:
    """``text`` (holding ``repr`` output) with each ``\\udcNN`` repr escape of a
    non-UTF-8 byte written ``\\xNN``; a literal backslash (``\\\\``) is left alone."""
    if "\\udc" not in text:
        return text
    return _REPR_BYTE.sub(lambda m: f"{m.group(1)}\\x{m.group(2)}", text)


def csv_cell(text: str) -> str:
    """A CSV cell that shows ``text`` and that no spreadsheet evaluates as a formula."""
    if text.startswith(_FORMULA_START):
        return "'" + terminal(text)
    return terminal(text)


def _visible(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        # A byte that is not UTF-8 in a file name or an environment value, as Python
        # hands it over (surrogateescape): shown as the byte it was, not as U+DCxx.
        return f"\\x{code - 0xDC00:02x}"
    category = unicodedata.category(char)
    if category in _HIDDEN_CATEGORIES or (category == "Zs" and char != " "):
        if code <= 0xFF:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char
