"""The reader builds the whole LiveState in the fewest requests, or fails closed."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import reconciler.reader as reader_module
from reconciler.errors import LiveStateError
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.errors import ScimCircuitOpen, ScimServerError
from reconciler.scim.parse import ListPage, parse_group, parse_user, parse_user_groups


def user(i: int, name: str | None = None) -> dict[str, Any]:
    return {"id": f"u{i}", "userName": name or f"user{i}@acme.io", "active": True}


def group(i: int, *members: str, name: str | None = None) -> dict[str, Any]:
    return {
        "id": f"g{i}",
        "displayName": name or f"team {i}",
        "members": [{"value": m, "type": "User"} for m in members],
    }


@dataclass
class FakeDirectory(ScimClient):
    """An in-memory SCIM directory with a server page size and knobs for misbehaviour."""

    users: list[dict[str, Any]]
    groups: list[dict[str, Any]] = field(default_factory=list)
    server_page_size: int = 10_000
    calls: list[str] = field(default_factory=list)
    total_drift: int = 0  # added to totalResults after the first page
    short_pages: bool = False  # return nothing after the first page
    broken_get: str | None = None
    hidden: list[dict[str, Any]] = field(default_factory=list)  # found by id, never listed

    def _page(self, items: list[dict[str, Any]], start: int, count: int) -> ListPage:
        size = min(count, self.server_page_size)
        first = start == 1
        chunk = [] if self.short_pages and not first else items[start - 1 : start - 1 + size]
        total = len(items) + (0 if first else self.total_drift)
        return ListPage(total, start, len(chunk), tuple(chunk))

    def list_users_page(self, start_index: int, count: int) -> ListPage:
        self.calls.append(f"GET /Users {start_index} {count}")
        return self._page(self.users, start_index, count)

    def list_groups_page(
        self, start_index: int, count: int, *, with_members: bool = False
    ) -> ListPage:
        self.calls.append(f"GET /Groups {start_index} {count}")
        listed = [
            {k: v for k, v in g.items() if with_members or k != "members"} for g in self.groups
        ]
        return self._page(listed, start_index, count)

    def get_group(self, group_id: str) -> LiveGroup:
        self.calls.append(f"GET /Groups/{group_id}")
        if group_id == self.broken_get:
            raise ScimServerError("down", status=503, method="GET", path=f"/Groups/{group_id}")
        return parse_group(next(g for g in self.groups if g["id"] == group_id))

    def confirm_user_name(self, user_name: str) -> LiveUser | None:
        self.calls.append(f"GET /Users?filter=userName eq {user_name}")
        for resource in [*self.users, *self.hidden]:
            if resource["userName"].lower() == user_name.lower():
                return parse_user(resource)
        return None

    def confirm_user_id(self, user_id: str) -> tuple[LiveUser, frozenset[str] | None] | None:
        self.calls.append(f"GET /Users/{user_id}")
        for resource in [*self.users, *self.hidden]:
            if resource["id"] == user_id:
                return parse_user(resource), parse_user_groups(resource)
        return None


def directory(n_users: int, n_groups: int, **knobs: Any) -> FakeDirectory:
    users = [user(i) for i in range(n_users)]
    groups = [group(i, *(f"u{j}" for j in range(i % max(n_users, 1)))) for i in range(n_groups)]
    return FakeDirectory(users=users, groups=groups, **knobs)


@pytest.mark.parametrize(
    ("n_users", "n_groups", "page_size", "server_page_size"),
    [
        (25, 7, 10, 10_000),  # pages of the size asked
        (30, 10, 10, 10_000),  # exact multiples: no trailing empty page
        (25, 3, 100, 10),  # the server caps the page below what was asked
        (1, 1, 1, 1),
        (1000, 2, 1000, 1000),
    ],
)
def test_the_read_takes_the_minimum_number_of_requests(
    n_users: int, n_groups: int, page_size: int, server_page_size: int
) -> None:
    fake = directory(n_users, n_groups, server_page_size=server_page_size)
    live = read_live_state(fake, page_size=page_size)
    p = min(page_size, server_page_size)
    assert len(fake.calls) == math.ceil(n_users / p) + math.ceil(n_groups / p) + n_groups
    assert len(live.users) == n_users and len(live.groups) == n_groups


def test_an_empty_org_takes_one_request_per_list() -> None:
    fake = directory(0, 0)
    assert read_live_state(fake) == LiveState()
    assert fake.calls == ["GET /Users 1 1000", "GET /Groups 1 1000"]


def test_pages_advance_by_what_the_server_returned() -> None:
    fake = directory(25, 0, server_page_size=10)
    read_live_state(fake, page_size=100)
    assert fake.calls == [
        "GET /Users 1 100",
        "GET /Users 11 100",
        "GET /Users 21 100",
        "GET /Groups 1 100",
    ]


def test_the_live_state_holds_users_groups_and_member_ids() -> None:
    fake = FakeDirectory(
        users=[user(1, "Ada@acme.io"), {**user(2), "active": False}],
        groups=[group(1, "u1", "u2", name="DS"), group(2, name="Empty")],
    )
    live = read_live_state(fake, page_size=1)
    assert live.users_by_key["ada@acme.io"] == LiveUser("u1", "Ada@acme.io")
    assert live.users_by_id["u2"].active is False
    assert live.groups_by_name["DS"].member_ids == {"u1", "u2"}
    assert live.member_keys(live.groups_by_name["DS"]) == {"ada@acme.io", "user2@acme.io"}
    assert live.groups_by_name["Empty"].member_ids == frozenset()


def test_progress_is_reported_per_page_and_per_team() -> None:
    seen: list[tuple[str, int, int]] = []
    read_live_state(directory(3, 2), page_size=2, on_progress=lambda *a: seen.append(a))
    assert seen == [
        ("users", 2, 3),
        ("users", 3, 3),
        ("teams", 2, 2),
        ("members", 1, 2),
        ("members", 2, 2),
    ]


def fails(fake: FakeDirectory, match: str, page_size: int = 10) -> None:
    with pytest.raises(LiveStateError, match=match) as caught:
        read_live_state(fake, page_size=page_size)
    assert "nothing was planned" in str(caught.value)


def test_a_request_failing_after_retries_fails_closed() -> None:
    fake = directory(2, 2, broken_get="g1")
    fails(fake, r"could not read the live state: SCIM GET /Groups/g1 failed: HTTP 503")


def test_total_results_changing_between_pages_fails_closed() -> None:
    fails(directory(25, 0, total_drift=1), "totalResults changed from 25 to 26")


def test_an_empty_page_before_total_results_fails_closed() -> None:
    fails(directory(25, 0, short_pages=True), r"empty page at startIndex 11 after 10 of 25")


def test_more_resources_than_total_results_fails_closed() -> None:
    class Overflowing(FakeDirectory):
        def list_users_page(self, start_index: int, count: int) -> ListPage:
            return ListPage(1, 1, 2, (user(1), user(2)))

    fails(Overflowing(users=[]), "2 resources returned, totalResults says 1")


def test_a_duplicate_user_id_across_pages_fails_closed() -> None:
    fails(FakeDirectory(users=[user(1), user(2), user(1, "x@acme.io")]), "duplicate id .*'u1'", 2)


def test_a_duplicate_user_name_in_another_case_fails_closed() -> None:
    users = [user(1, "Ada@acme.io"), user(2, "ada@ACME.io")]
    fails(FakeDirectory(users=users), r"differ only in case.*'Ada@acme.io' \(id 'u1'\)", 1)


def test_a_duplicate_team_name_fails_closed() -> None:
    groups = [group(1, name="DS"), group(2, name="DS")]
    fails(FakeDirectory(users=[], groups=groups), "teams: duplicate displayName .*'DS'")


def test_a_member_that_is_no_user_fails_closed() -> None:
    fake = FakeDirectory(users=[user(1)], groups=[group(1, "u1", "u404", name="DS")])
    fails(fake, "team 'DS' has member id 'u404' that matches no user")


def test_a_nested_group_fails_closed_by_type_or_by_id() -> None:
    typed = FakeDirectory(
        users=[],
        groups=[{"id": "g1", "displayName": "A", "members": [{"value": "g2", "type": "Group"}]}],
    )
    fails(typed, "nested teams are not supported")
    untyped = FakeDirectory(users=[], groups=[group(1, "g2", name="A"), group(2, name="B")])
    fails(untyped, "team 'A' has the team 'B' as a member; nested teams are not supported")


def test_a_team_whose_members_are_an_empty_non_list_fails_closed() -> None:
    """A team answered with ``"members": {}`` (listed and read by itself) is not one
    seen to be empty: its members would be invisible and never removed."""
    odd = {"id": "g1", "displayName": "DS", "members": {}}
    fake = FakeDirectory(users=[user(1)], groups=[odd])
    fails(fake, "Group 'DS' field 'members' is not a list")
    assert "GET /Groups/g1" in fake.calls  # the listing's answer was read again first


def test_a_team_changed_between_list_and_read_fails_closed() -> None:
    class Renaming(FakeDirectory):
        def get_group(self, group_id: str) -> LiveGroup:
            return LiveGroup(group_id, "renamed")

    fails(Renaming(users=[], groups=[group(1, name="DS")]), "read back as 'renamed'")


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        read_live_state(directory(0, 0), page_size=0)


def test_a_server_ignoring_start_index_fails_closed_on_the_repeated_page() -> None:
    class IgnoringStart(FakeDirectory):
        def list_users_page(self, start_index: int, count: int) -> ListPage:
            return self._page(self.users, 1, count)

    fails(IgnoringStart(users=[user(i) for i in range(4)]), "duplicate id", 2)


@dataclass
class Watched(FakeDirectory):
    """Records how many list requests are in flight at once, and lets the next page's
    request be observed starting (``next_started``) while a page is being converted."""

    in_flight: int = 0
    most_in_flight: int = 0
    next_started: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def list_users_page(self, start_index: int, count: int) -> ListPage:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if start_index > 1:
            self.next_started.set()
        try:
            time.sleep(0.005)  # a round trip, so overlapping requests would show
            return super().list_users_page(start_index, count)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_the_next_page_is_requested_while_this_one_is_converted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = Watched(users=[user(i) for i in range(25)], server_page_size=10)
    overlapped: list[bool] = []
    convert = reader_module._user

    def slow_convert(shared: Any, resource: dict[str, Any]) -> Any:
        if resource["id"] == "u0":  # converting page 1: has page 2 been asked for yet?
            overlapped.append(directory.next_started.wait(timeout=5))
        return convert(shared, resource)

    monkeypatch.setattr(reader_module, "_user", slow_convert)
    live = read_live_state(directory, page_size=10, concurrency=1)
    assert overlapped == [True]
    assert len(live.users) == 25
    # concurrency 1: exactly the requests of a page-by-page read, in order, never two at once
    assert [c for c in directory.calls if c.startswith("GET /Users")] == [
        "GET /Users 1 10",
        "GET /Users 11 10",
        "GET /Users 21 10",
    ]
    assert directory.most_in_flight == 1


def test_a_failing_read_ahead_is_reported_where_a_page_by_page_read_reports_it() -> None:
    directory = FakeDirectory(users=[user(i) for i in range(25)], server_page_size=10)

    def failing(start_index: int, count: int) -> ListPage:
        directory.calls.append(f"GET /Users {start_index} {count}")
        if start_index == 21:
            raise ScimServerError("down", status=503, method="GET", path="/Users")
        return directory._page(directory.users, start_index, count)

    directory.list_users_page = failing  # type: ignore[method-assign]
    with pytest.raises(LiveStateError, match="down"):
        read_live_state(directory, page_size=10)
    # pages 2 and 3 were asked for together (the order of two threads' calls is theirs);
    # page 3, failing beside page 2, is asked for again by itself: its error is the read's
    assert sorted(directory.calls) == [
        "GET /Users 1 10",
        "GET /Users 11 10",
        "GET /Users 21 10",
        "GET /Users 21 10",
    ]
    assert directory.calls[-1] == "GET /Users 21 10"


def test_a_read_ahead_stopped_by_the_circuit_breaker_is_not_asked_again() -> None:
    # The breaker open ends the run: asking the page again by itself would only be
    # refused before it is sent, and its error would hide the limit that stopped it.
    directory = FakeDirectory(users=[user(i) for i in range(25)], server_page_size=10)

    def failing(start_index: int, count: int) -> ListPage:
        directory.calls.append(f"GET /Users {start_index} {count}")
        if start_index == 21:
            raise ScimCircuitOpen(
                "5 connection failures in a row",
                reason="5 connection failures in a row",
                attempted=True,
                method="GET",
                path="/Users",
            )
        return directory._page(directory.users, start_index, count)

    directory.list_users_page = failing  # type: ignore[method-assign]
    with pytest.raises(LiveStateError, match="5 connection failures in a row"):
        read_live_state(directory, page_size=10)
    assert sorted(directory.calls) == ["GET /Users 1 10", "GET /Users 11 10", "GET /Users 21 10"]


def test_no_page_is_read_ahead_past_a_paging_bound() -> None:
    # A total that lies (10**12) is refused after page 2; page 3 is never asked for.
    directory = FakeDirectory(users=[user(i) for i in range(30)], server_page_size=10)
    directory.total_drift = 0

    def lying(start_index: int, count: int) -> ListPage:
        directory.calls.append(f"GET /Users {start_index} {count}")
        page = directory._page(directory.users, start_index, count)
        return ListPage(10**12, page.start_index, page.items_per_page, page.resources)

    directory.list_users_page = lying  # type: ignore[method-assign]
    with pytest.raises(LiveStateError, match="more than the"):
        read_live_state(directory, page_size=10)
    assert directory.calls == ["GET /Users 1 10", "GET /Users 11 10"]
