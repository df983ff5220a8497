"""How identities are compared: the one match key, and look-alike userNames. Pure.

Every place that decides "is this the same account?" goes through ``match_key``
(the diff, the live state's index, the reader's uniqueness check, the manifest's
cached keys, validation, the importer, the report, staleness, the executor).
Two rules, both chosen so that a different account can never match:

- **ASCII-only case folding.** SCIM ``userName`` is caseExact=false, so ``ADA@acme.io``
  and ``ada@acme.io`` are one account. Only the letters A-Z are folded: Unicode
  lowercasing maps e.g. the Kelvin sign U+212A to ``k``, which would let a
  different live account stand in for a manifest user.
- **Look-alikes never match.** A userName holding invisible (format, ``Cf``),
  bidirectional-control or control characters, one that NFKC normalisation would
  change (fullwidth at sign U+FF20, ligatures, the Kelvin sign), or one whose letters come
  from more than one script (Cyrillic U+0430 in a Latin address) looks like
  another address when printed. It is never matched to a manifest user, and the
  diff never changes it on its own (see ``Policy.lookalike_users``).

Team names are exact labels, and a live team name that is a look-alike (same
rules) is flagged and never matched to a manifest team it resembles; ``name_fold``
is only used to find a live team that differs from a manifest name in ASCII case or
ASCII whitespace (surrounding, or a run of spaces inside), so that it is renamed in
place instead of duplicated. Surrounding ASCII whitespace (a trailing tab) never makes
a name a look-alike: it is the plain name differently written, renamed in place.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_ASCII_SPACE = " \t\n\r\f\v"  # str.strip() alone would also drop U+2028, U+0085, ...
_ASCII_SPACE_RUN = re.compile(r"[ \t\n\r\f\v]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# Bidirectional controls (UAX #9): embeddings, overrides, isolates and marks.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that print as nothing though they are neither format (Cf) nor control
# characters: the Default_Ignorable_Code_Point ones outside Cf (DerivedCoreProperties:
# the combining grapheme joiner, Hangul fillers, Khmer inherent vowels) and the blank
# Braille pattern U+2800. "ada\u034f@acme.io" prints as "ada@acme.io".
_BLANK = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0\u2800")
# Variation selectors (and Mongolian free variation selectors) print as nothing too;
# after a symbol or an ideograph they choose its glyph (an emoji's presentation, an
# ideographic variant), after an ASCII character or at the start they only hide.
# Bases a combining mark may only disguise in a name: ASCII, and the dotless i and j
# (a dot above one prints as a plain "i" or "j").
_MARKABLE = frozenset(map(chr, range(0x80))) | {"\u0131", "\u0237"}
_SELECTORS = re.compile("[\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")
# The script of a letter, from the first word of its Unicode name where that word is
# not the script's name ("CJK UNIFIED IDEOGRAPH", "IDEOGRAPHIC ITERATION MARK" and
# "KATAKANA-HIRAGANA PROLONGED SOUND MARK", the long-vowel mark of both kana).
_SCRIPT_WORD = {
    "CJK": "HAN",
    "IDEOGRAPHIC": "HAN",
    "KATAKANA-HIRAGANA": "KATAKANA",
    "HALFWIDTH": "KATAKANA",
}
# Scripts ordinary text mixes, none of which look like another's letters: the
# "Highly Restrictive" profile of Unicode TS #39 (section 5.2). Latin with kanji and
# kana ("AWS推進チーム", "データ分析"), with Bopomofo, or with Hangul is not a look-alike;
# any other mix (Cyrillic or Greek letters in a Latin name) is.
_ORDINARY_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def ascii_lower(text: str) -> str:
    """``text`` with A-Z lowered and every other character kept as it is."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def match_key(user_name: str) -> str:
    """The key that identifies an account: surrounding ASCII whitespace off, A-Z lowered.

    Surrounding whitespace is dropped so that a live ``" ada@acme.io"`` is the same
    account as the manifest's ``ada@acme.io`` and is renamed in place rather than
    duplicated; the userName itself is still compared exactly when deciding
    whether to write it.
    """
    return ascii_lower(user_name.strip(_ASCII_SPACE))


def name_fold(name: str) -> str:
    """A team name with ASCII case and ASCII whitespace folded (surrounding runs dropped,
    inner runs made one space): twins, not keys. "Data  Science" and "data science "
    are one team differently written, renamed in place rather than duplicated."""
    if name.isascii() and " " not in name and name.isprintable():
        return name.lower()  # the usual one-word name
    return ascii_lower(" ".join(_ASCII_SPACE_RUN.split(name.strip(_ASCII_SPACE))))


def lookalike_fold(name: str) -> str:
    """``name`` as a reader may see it: NFKC-normalised, case-folded, surrounding
    whitespace off. Two different team names with one fold ("Growth" and fullwidth
    "\uff27rowth", "Stra\u00dfe" and "STRASSE") print alike; used only to refuse such twins."""
    if name.isascii():
        return name.lower().strip()
    return unicodedata.normalize("NFKC", name).casefold().strip()


def same_but_ascii_case(a: str, b: str) -> bool:
    """True when two userNames are one account written in a different A-Z case only."""
    return ascii_lower(a) == ascii_lower(b)


def lookalike_reason(user_name: str) -> str | None:
    """Why ``user_name`` is a look-alike, or None for a plain one.

    ``"invisible character U+200B at position 4"``, ``"not NFKC-stable (U+FF20 ...)"``
    or ``"mixes scripts (LATIN, CYRILLIC)"``; positions count from 1.
    """
    if user_name.isascii() and user_name.isprintable():
        return None  # the usual case, and never a look-alike
    # Surrounding ASCII whitespace (a trailing tab or newline) is whitespace, not a
    # disguise: such a name is the plain one differently written, renamed in place.
    core = user_name.strip(_ASCII_SPACE)
    if core.isascii() and core.isprintable():
        return None
    return _reason(core, len(user_name) - len(user_name.lstrip(_ASCII_SPACE)))


def spelled(text: str) -> str:
    """``text`` with every character outside printable ASCII written as an escape.

    For naming a look-alike in a message: printed as is, Cyrillic U+0415 in "\\u0415ng"
    would read as "Eng". Controls are written as the terminal escaper writes them
    (``\\n``, ``\\x1b``), everything else as ``\\uXXXX`` (``\\UXXXXXXXX`` above U+FFFF).
    """
    if text.isascii() and text.isprintable():
        return text
    return "".join(_spelled_char(c) for c in text)


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _spelled_char(char: str) -> str:
    if char.isascii() and char.isprintable():
        return char
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF and not char.isprintable():
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def hidden_character(text: str) -> str | None:
    """The first invisible, bidirectional-control or control character of ``text``, or None.

    ``"invisible character U+200B at position 2"``; positions count from 1. Such a
    character prints as nothing (or reorders what follows), so a name holding one
    cannot be told from another by a reader.
    """
    if text.isascii() and text.isprintable():
        return None
    for position, char in enumerate(text, start=1):
        kind = _hidden_kind(char)
        if kind:
            return f"{kind} character U+{ord(char):04X} at position {position}"
    return None


def is_lookalike(user_name: str) -> bool:
    """True when ``user_name`` could be mistaken for a different address when printed."""
    return lookalike_reason(user_name) is not None


@lru_cache(maxsize=4096)
def _reason(text: str, offset: int = 0) -> str | None:
    for index, char in enumerate(text):
        kind = _hidden_kind(char) or _blank_kind(
            char, text[index - 1 : index] if index else "", text[index + 1 : index + 2]
        )
        if kind:
            return f"{kind} character U+{ord(char):04X} at position {index + 1 + offset}"
    normal = unicodedata.normalize("NFKC", text)
    if normal != text:
        changed = next((c for c in text if unicodedata.normalize("NFKC", c) != c), None)
        if changed is None:  # a combining sequence that composes, e.g. e + U+0301
            return f"not NFKC-stable (reads as {normal!r})"
        return f"not NFKC-stable (U+{ord(changed):04X} reads as {normal!r})"
    for index, char in enumerate(text[1:], start=1):
        if (
            unicodedata.category(char) == "Mn"  # not an enclosing keycap or circle (Me)
            and text[index - 1] in _MARKABLE
            and not _SELECTORS.match(char)  # judged above, with what follows
        ):
            # NFKC composes nothing here: "\u0131\u0307" and "i\u0307" print as "i".
            return f"combining mark U+{ord(char):04X} at position {index + 1 + offset}"
    scripts = frozenset(s for s in map(_script, text) if s)
    if len(scripts) > 1 and not any(scripts <= mix for mix in _ORDINARY_MIXES):
        return f"mixes scripts ({', '.join(sorted(scripts))})"
    return None


def _hidden_kind(char: str) -> str | None:
    if char in _BIDI:
        return "bidirectional-control"
    category = unicodedata.category(char)
    if category == "Cf":
        return "invisible"
    if category in ("Cc", "Zl", "Zp", "Co", "Cn", "Cs"):
        return "control"
    if category == "Zs" and char != " ":
        return "invisible"  # no-break and other spaces print like a space, or like nothing
    return None


def _blank_kind(char: str, before: str, after: str) -> str | None:
    """ "invisible" for a character that prints as nothing in a name (``_BLANK``, or a
    variation selector that follows an ASCII character or nothing, unless a keycap
    U+20E3 follows: "1\ufe0f\u20e3"), else None. ``before`` and ``after``: the
    character on each side, "" at the start or the end."""
    if char in _BLANK:
        return "invisible"
    if not _SELECTORS.match(char) or after == "\u20e3":
        return None
    return "invisible" if not before or before.isascii() else None


def _script(char: str) -> str | None:
    """The script of a letter, or of a digit other than 0-9, from its Unicode name
    (LATIN, CYRILLIC, GREEK, ARABIC for U+0660 ARABIC-INDIC DIGIT ZERO, ...)."""
    category = unicodedata.category(char)
    if category == "Nd" and not char.isascii():
        # Digits 0-9 belong to every script; another script's digits do not: an
        # Arabic-Indic zero in "ada\u0660x@acme.io" reads as a dot.
        word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
        return _DIGIT_SCRIPT.get(word, word)
    if not category.startswith("L"):
        return None  # punctuation and marks belong to every script
    word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_WORD.get(word, word)


# The first word of a digit's name where it is not its script's: U+0660 ARABIC-INDIC,
# U+06F0 EXTENDED ARABIC-INDIC, U+1D7CE MATHEMATICAL ... (NFKC-unstable, judged before).
_DIGIT_SCRIPT = {"ARABIC-INDIC": "ARABIC", "EXTENDED": "ARABIC", "NKO": "NKO"}
