"""Counted nouns for every message: "1 team", "2 teams", never "1 teams" or "team(s)".

The one place that decides a plural, so renderers, the CLI and the pure layers all
say it the same way; and the one way an attribute value is quoted in a message
(``quoted``). Pure; English only. Must not: escape for a sink (that is
``reconciler.render.escape``'s job) or import anything of the project.
"""

from __future__ import annotations

import json

# Nouns whose plural is not noun + "s"; the rest follow the default rule below.
_IRREGULAR = {"is": "are", "was": "were", "has": "have", "this": "these", "it": "they"}


def plural(noun: str, count: int, plural_form: str | None = None) -> str:
    """``noun`` as it reads after ``count``: "team" for 1, "teams" otherwise.

    ``plural_form`` overrides the rule for an irregular noun ("person", "people").
    The default rule: ``y`` after a consonant becomes ``ies``; ``s``/``x``/``ch``/``sh``
    take ``es``; everything else takes ``s``.
    """
    if count == 1:
        return noun
    if plural_form is not None:
        return plural_form
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def count(number: int, noun: str, plural_form: str | None = None) -> str:
    """``number`` and its noun: ``count(1, "team")`` is "1 team", ``count(2, "team")``
    "2 teams"."""
    return f"{number} {plural(noun, number, plural_form)}"


def with_article(phrase: str) -> str:
    """``phrase`` after "a" or "an", chosen by its first letter: "a control character",
    "an invisible character". By spelling, which is right for every phrase the
    messages build (none starts with a silent h or a "you" sound)."""
    article = "an" if phrase[:1].lower() in ("a", "e", "i", "o", "u") else "a"
    return f"{article} {phrase}"


def quoted(value: str | int | float | bool | None) -> str:
    """A scalar attribute value as it reads in a message: JSON, so a string is quoted
    (surrounding spaces show) and None reads ``null``; not escaped for any sink."""
    return json.dumps(value, ensure_ascii=False)
