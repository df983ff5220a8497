"""The read's byte budget when a page of teams with members is refused as too large.

Over real HTTP on 127.0.0.1 (``tests/support/scripted_server.py``). Pages of teams
with members that are over the per-answer cap make the reader list the teams again
without members and read each team by itself. The refused pages are thrown away; the
bytes they streamed before the cap stopped them (charged chunk by chunk, and several
are read ahead together) must not use up the budget the fallback then needs: the
budget bounds what one read keeps, and a listing that is discarded keeps nothing.
"""

from __future__ import annotations

import functools

import pytest

from reconciler.errors import LiveStateError
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from tests.support.scripted_server import Scripted, scim_group, scim_user, scripted_server

TOKEN = "t0k3n-budget-window"
CAP = 200_000  # one big team (about 150 KB) fits; a page of two does not
PAD = "x" * 10_000


def _org() -> Scripted:
    """15 users; teams t0, t1 empty, then t2..t5 of 15 members (about 150 KB each)."""
    users = [scim_user(f"u{i:02}", f"user{i:02}@acme.io") for i in range(15)]
    groups = [scim_group("t0", "team 0", []), scim_group("t1", "team 1", [])]
    for g in range(2, 6):
        team = scim_group(f"t{g}", f"team {g}", [])
        team["members"] = [{"value": u["id"], "display": PAD} for u in users]
        groups.append(team)
    return Scripted(users=users, groups=groups, chunked=True)


def _read(url: str, budget: int, concurrency: int) -> list[int]:
    with ScimClient.connect(url, Token(TOKEN), max_response_bytes=CAP) as client:
        live = read_live_state(client, page_size=2, concurrency=concurrency, max_read_bytes=budget)
    assert live.members_read is not None and "is larger than" in live.members_read.why
    return sorted(len(g.member_ids) for g in live.groups)


@functools.cache
def _kept_bytes() -> int:
    """What a read keeps: every answer the cap lets through (the refused ones are over it)."""
    state = _org()
    with scripted_server(state) as url:
        _read(url, 10 * 2**20, 1)
    assert sum(1 for size in state.sent if size > CAP) >= 1  # a page was refused
    return sum(size for size in state.sent if size <= CAP)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_pages_refused_as_too_large_do_not_use_up_the_budget_the_fallback_needs(
    concurrency: int,
) -> None:
    budget = _kept_bytes() + CAP // 2  # less than one refused page streams before the cap
    state = _org()
    with scripted_server(state) as url:
        assert _read(url, budget, concurrency) == [0, 0] + [15] * 4
    assert sum(1 for size in state.sent if size > CAP) >= 1


def test_a_budget_too_small_for_what_the_read_keeps_still_fails_closed() -> None:
    budget = _kept_bytes() // 2
    with scripted_server(_org()) as url, pytest.raises(LiveStateError) as caught:
        _read(url, budget, 4)
    assert "too much data: the read exceeded its byte budget" in str(caught.value)
    assert "--max-read-mib" in str(caught.value)
