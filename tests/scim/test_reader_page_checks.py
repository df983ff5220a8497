"""The reader's per-page id check, done with set operations, says what the loop said.

``_check_page`` refuses a page that repeats an id (within the page or from an earlier
page) and names the first repeat in page order; ids that are not strings are left
to the parser. The set-based check (issue 16: per-page cost at 100k users) must
name the same id, in the same words, and leave the same ids seen.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from reconciler.errors import LiveStateError
from reconciler.reader import _check_page
from reconciler.scim.parse import ListPage


def page(ids: list[Any], start: int = 1) -> ListPage:
    resources = tuple({"id": i} if i is not None else {} for i in ids)
    return ListPage(
        total_results=100, start_index=start, items_per_page=len(ids), resources=resources
    )


def loop_check(ids: list[Any], start: int, seen: set[str]) -> str | None:
    """The check as a plain loop: the message of the first repeat, or None."""
    for raw in ids:
        resource_id = id_text(raw)
        if resource_id is None:
            continue
        if resource_id in seen:
            return (
                f"users: duplicate id {resource_id!r} at startIndex {start}: an earlier "
                "page already returned it"
            )
        seen.add(resource_id)
    return None


def id_text(raw: Any) -> str | None:
    """Integer ids are ids: the parsers read them as text; other kinds are not ids."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return raw if isinstance(raw, str) else None


def outcome(ids: list[Any], seen: set[str]) -> str | None:
    try:
        _check_page("users", page(ids), 1, seen)
    except LiveStateError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("earlier", "ids", "repeat"),
    [
        ([], ["a", "b", "c"], None),
        ([], ["a", "b", "a"], "a"),
        ([], ["b", "a", "a", "b"], "a"),  # the first repeat in page order, not the first id
        (["c"], ["a", "c", "a"], "c"),
        (["z"], ["a", "b"], None),
        ([], ["a", None, True, None, "b"], None),  # not ids: the parser names them
        ([], ["a", 7, None, 7, "b"], "7"),  # integer ids are ids, read as text
        ([], ["a", "A"], None),  # ids are compared exactly
    ],
)
def test_a_repeated_id_is_named_as_the_loop_named_it(
    earlier: list[str], ids: list[Any], repeat: str | None
) -> None:
    seen = set(earlier)
    message = outcome(ids, seen)

    if repeat is None:
        assert message is None
        assert seen == set(earlier) | {id_text(i) for i in ids if id_text(i) is not None}
    else:
        assert message is not None and f"duplicate id {repeat!r} at startIndex 1" in message


def test_random_pages_agree_with_the_loop() -> None:
    chooser = random.Random(16)
    for _ in range(300):
        pool = [f"u{n}" for n in range(12)] + [3, None]
        earlier = set(chooser.sample(pool[:12], chooser.randint(0, 3)))
        ids = [chooser.choice(pool) for _ in range(chooser.randint(0, 8))]
        reference_seen, checked_seen = set(earlier), set(earlier)
        expected = loop_check(ids, 1, reference_seen)
        got = outcome(ids, checked_seen)

        assert (got is None) == (expected is None)
        if expected is not None:
            assert got is not None and expected in got
        else:
            assert checked_seen == reference_seen
