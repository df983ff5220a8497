"""The fail-closed reader: the whole live org in the fewest requests, or an error.

A read that is incomplete in any way (a page failing after retries, totals that
do not add up, duplicates, dangling or nested members) raises LiveStateError before
anything is planned: a failed read must never look like "absent", or the planner
would deprovision people because of a network blip.

Requests: ceil(N/P) user pages + ceil(G/P) group pages + G group reads, where P is
the smaller of ``page_size`` and the server's own page size (one page each when the
org has no users or no groups: totalResults is only known from a first page), plus
one ``GET /Users/{id}`` per team member that no listed user has (none on an honest
server; see ``reconciler.evidence`` for what they prove).

The G team reads are independent, so they go through a small thread pool
(``concurrency``): on a real network each costs a round trip, and even on loopback
the server's work overlaps ours. Results are still checked in list order, so the
first failing team is the one reported, as in a sequential read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from reconciler.attributes import USER_ATTRIBUTES
from reconciler.errors import LiveStateError
from reconciler.evidence import check_member_lists, resolve_unlisted_members
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.profile import PRODUCT
from reconciler.scim.errors import ScimError, ScimUnsupportedError
from reconciler.scim.parse import ListPage, parse_group, parse_user, parse_user_groups
from reconciler.scim.protocols import ScimReader

Progress = Callable[[str, int, int], None]
"""``on_progress(kind, done, total)``: kind is "users" or "teams"; the one definition."""
T = TypeVar("T")
_ABORT = "; nothing was planned, re-run when it is resolved"
# Pages allowed beyond what totalResults and the first page's size imply.
PAGE_SLACK = 2


def read_live_state(
    client: ScimReader,
    *,
    page_size: int = 1000,
    on_progress: Progress | None = None,
    concurrency: int = 4,
    max_read_bytes: int | None = None,
) -> LiveState:
    """Read every user and team with its members; ``on_progress(kind, done, total)``.

    ``concurrency`` is how many team reads may be in flight at once (1: sequential).
    ``max_read_bytes`` bounds the bytes received by the whole read (all requests);
    None takes the client's configured budget (``--max-read-mib``, 256 MiB by default).
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    progress = on_progress or _silent
    try:
        with client.byte_budget(max_read_bytes):
            pages = _slim(client.list_users_page)
            users, groups_of = _users(_read_all("users", pages, page_size, progress))
            listed = _groups(_read_all("teams", client.list_groups_page, page_size, progress))
            groups = _with_members(client, listed, progress, concurrency)
    except ScimUnsupportedError as error:  # data a person must fix: re-running cannot help
        raise LiveStateError(
            f"could not read the live state: {error}; nothing was planned"
        ) from error
    except ScimError as error:
        raise LiveStateError(f"could not read the live state: {error}{_ABORT}") from error
    # Evidence beyond the listings (reconciler.evidence): members no listed user has
    # are looked up, then member lists are cross-checked with users' `groups`.
    hidden = resolve_unlisted_members(client, users, groups)
    users.extend(hidden.users)
    groups_of.update(hidden.groups_of or {})
    check_member_lists(groups, groups_of, {u.id: u.user_name for u in users})
    return LiveState.of(users, groups, hidden.notices)


def _silent(kind: str, done: int, total: int) -> None:
    return None


# What the reader keeps of each user: the id, the top-level attribute of every managed
# attribute (from the one table, so a new one is never dropped here), and ``groups``.
_USER_KEYS = tuple(
    dict.fromkeys(("id", *(a.scim_path.partition(".")[0] for a in USER_ATTRIBUTES), "groups"))
)


def _slim(fetch: Callable[[int, int], ListPage]) -> Callable[[int, int], ListPage]:
    """``fetch`` keeping only what the reader uses of each user, page by page.

    A 300k-user read then never holds every user's full JSON (emails, roles, meta)
    at once: about 1.5 KB less per user at the peak. Anything that is not an object
    is kept as it is, for ``parse_user`` to refuse.
    """

    def slim(start: int, count: int) -> ListPage:
        page = fetch(start, count)
        kept = tuple(
            {key: r[key] for key in _USER_KEYS if key in r} if isinstance(r, dict) else r
            for r in page.resources
        )
        return replace(page, resources=kept)

    return slim


def _read_all(
    kind: str, fetch: Callable[[int, int], ListPage], page_size: int, progress: Progress
) -> list[dict[str, Any]]:
    """All resources of a list endpoint, advancing by what each page really holds.

    Stops on totalResults (no trailing empty page is fetched), so a server that caps
    ``count`` below ``page_size`` just costs more pages, never a silent truncation.
    Bounded: each page must answer the ``startIndex`` asked for and bring no id seen
    before (a server that ignores paging is caught at page 2), and the page count may
    not exceed what totalResults and the first page's size imply, plus PAGE_SLACK.
    """
    resources: list[dict[str, Any]] = []
    seen: set[str] = set()
    total: int | None = None
    max_pages = 1
    pages = 0
    while total is None or len(resources) < total:
        start = len(resources) + 1
        if pages >= max_pages:
            raise _fail(
                f"{kind}: {pages} pages read and only {len(resources)} of {total} "
                f"resources; totalResults and the first page's size imply at most "
                f"{max_pages} pages"
            )
        page = fetch(start, page_size)
        pages += 1
        _check_page(kind, page, start, seen)
        if total is None:
            total = page.total_results
            per_page = max(1, len(page.resources))
            max_pages = -(-total // per_page) + PAGE_SLACK
        elif page.total_results != total:
            raise _fail(
                f"{kind}: totalResults changed from {total} to {page.total_results} between "
                "pages (someone changed the org during the read)"
            )
        if not page.resources and len(resources) < total:
            raise _fail(
                f"{kind}: empty page at startIndex {start} after {len(resources)} of "
                f"{total} (totalResults)"
            )
        resources.extend(page.resources)
        if len(resources) > total:
            raise _fail(f"{kind}: {len(resources)} resources returned, totalResults says {total}")
        progress(kind, len(resources), total)
    return resources


def _check_page(kind: str, page: ListPage, start: int, seen: set[str]) -> None:
    """The page answers the startIndex asked for, and repeats no resource already read."""
    for resource in page.resources:
        resource_id = resource.get("id")
        if not isinstance(resource_id, str):
            continue  # parse_user / parse_group name the missing id
        if resource_id in seen:
            raise _fail(
                f"{kind}: duplicate id {resource_id!r} at startIndex {start}: an earlier "
                "page already returned it"
            )
        seen.add(resource_id)
    if page.start_index != start and page.resources:
        raise _fail(
            f"{kind}: asked for startIndex {start}, the server answered startIndex "
            f"{page.start_index}; it does not page as asked, so the read cannot be complete"
        )


def _users(
    resources: Iterable[dict[str, Any]],
) -> tuple[list[LiveUser], dict[str, frozenset[str] | None]]:
    """The users, and each one's ``groups`` ids (None when the server left them out)."""
    users, groups_of = [], {}
    for resource in resources:
        user = _located(parse_user, resource, "/Users")
        users.append(user)
        groups_of[user.id] = _located(parse_user_groups, resource, "/Users")
    _unique("users", "id", [u.id for u in users])
    _unique_user_names(users)
    return users, groups_of


def _unique_user_names(users: list[LiveUser]) -> None:
    """Two accounts whose userNames differ only in case are data only a person can fix.

    SCIM userNames are case-insensitive (caseExact=false), so such accounts are one
    login to the manifest; a re-run reads the same accounts, so the message says
    what to change in Mixpanel instead.
    """
    if len({u.key for u in users}) == len(users):
        return
    by_key: dict[str, list[LiveUser]] = {}
    for user in users:
        by_key.setdefault(user.key, []).append(user)
    twins = [group for group in by_key.values() if len(group) > 1]
    shown = "; ".join(
        ", ".join(f"{u.user_name!r} (id {u.id!r})" for u in group) for group in twins[:5]
    )
    more = f" and {len(twins) - 5} more" if len(twins) > 5 else ""
    raise LiveStateError(
        "the live state cannot be used: accounts whose userNames differ only in case or "
        f"surrounding spaces: {shown}{more}. userNames are case-insensitive, so they cannot "
        f"be told apart; nothing was planned. Fix: in {PRODUCT}, delete (or rename) all but "
        "one account of each login, then run the command again"
    )


def _groups(resources: Iterable[dict[str, Any]]) -> list[LiveGroup]:
    # Members in a list answer are ignored even if the server sent them anyway:
    # only the per-team read is trusted to be complete.
    groups = [_located(parse_group, {**r, "members": None}, "/Groups") for r in resources]
    _unique("teams", "id", [g.id for g in groups])
    _unique("teams", "displayName", [g.display_name for g in groups])
    return groups


def _located(parse: Callable[[object], T], resource: object, path: str) -> T:
    """``parse(resource)``, its error located at the listing (``GET path``) it came from."""
    try:
        return parse(resource)
    except ScimError as error:
        raise error.at("GET", path) from None


def _with_members(
    client: ScimReader, listed: list[LiveGroup], progress: Progress, concurrency: int
) -> list[LiveGroup]:
    workers = min(concurrency, len(listed))
    if workers <= 1:
        return _checked(listed, (client.get_group(g.id) for g in listed), progress)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="read-teams") as pool:
        futures = [pool.submit(client.get_group, group.id) for group in listed]
        try:
            return _checked(listed, (future.result() for future in futures), progress)
        finally:
            for future in futures:  # after a failure: do not start the reads still queued
                future.cancel()


def _checked(
    listed: list[LiveGroup], reads: Iterable[LiveGroup], progress: Progress
) -> list[LiveGroup]:
    """The teams as read, in list order, each checked against its list entry."""
    groups = []
    for done, (group, full) in enumerate(zip(listed, reads, strict=True), start=1):
        if (full.id, full.display_name) != (group.id, group.display_name):
            raise _fail(
                f"team {group.display_name!r} ({group.id}) read back as "
                f"{full.display_name!r} ({full.id}); it changed during the read"
            )
        groups.append(full)
        progress("members", done, len(listed))
    return groups


def _unique(kind: str, what: str, keys: list[str]) -> None:
    if len(set(keys)) == len(keys):
        return  # the usual case; Counter only to name the duplicates
    duplicates = sorted(key for key, count in Counter(keys).items() if count > 1)
    if duplicates:
        shown = ", ".join(repr(d) for d in duplicates[:5])
        raise _fail(f"{kind}: duplicate {what} in the listing: {shown}")


def _fail(reason: str) -> LiveStateError:
    return LiveStateError(f"the live state read is inconsistent: {reason}{_ABORT}")
