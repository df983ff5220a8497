"""Golden files for user-facing messages. Regenerate deliberately: UPDATE_GOLDEN=1 pytest."""

from __future__ import annotations

import os
from pathlib import Path

MESSAGES = Path(__file__).parent.parent / "golden" / "messages"


def check_message(name: str, text: str, replacements: dict[str, str]) -> None:
    """Compare ``text`` (variable parts replaced by their ``{placeholders}``) with
    tests/golden/messages/<name>.txt."""
    for value, placeholder in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(value, placeholder)
    path = MESSAGES / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path} differs"
