"""What ``import`` writes reads back as exactly the live strings, whichever emitter wrote it.

The importer uses libyaml's emitter when PyYAML has it (about 4x faster than the
pure-Python one at 300k users). The two fold long double-quoted strings differently;
both must load back to the same data, hidden characters included (written as
``\\uXXXX`` escapes so a reviewer sees them).
"""

from __future__ import annotations

import random

import yaml

from reconciler import importer

PIECES = [
    *"abcXYZ019 :-#'\"\\@&*!|>%{}[],?\t",
    *"\u00e9\u0130\u200b\u202e\u0085\u2028\ufeff\U0001f600",
    *["yes", "no", "on", "0755", "1e3", "2026-01-01", "null", "~", "- ", ": ", "Bearer"],
]


def _strings(count: int) -> list[str]:
    chance = random.Random(7)
    return [
        "".join(chance.choice(PIECES) for _ in range(chance.randint(0, 140))) for _ in range(count)
    ]


def test_every_string_reads_back_as_it_was() -> None:
    users = [{"email": s, "given_name": s[:7], "teams": [s, s[::-1]]} for s in _strings(400)]
    document = {"version": 1, "users": users}

    text = importer._yaml(document, "schema.json")

    assert yaml.safe_load(text) == document
    assert "\u200b" not in text and "\u202e" not in text  # shown as escapes, not raw


def test_libyaml_emitter_is_used_when_available() -> None:
    expected = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    assert issubclass(importer._Dumper, expected)
