"""The fail-closed reader: the whole live org in the fewest requests, or an error.

A read that is incomplete in any way (a page failing after retries, totals that
do not add up, duplicates, dangling or nested members) raises LiveStateError before
anything is planned: a failed read must never look like "absent", or the planner
would deprovision people because of a network blip.

Requests: ceil(N/P) user pages + ceil(G/P) group pages + R team reads, where P is
the smaller of ``page_size`` and the server's own page size (one page each when the
org has no users or no groups: totalResults is only known from a first page), plus
one ``GET /Users/{id}`` per team member that no listed user has (none on an honest
server; see ``reconciler.evidence`` for what they prove), plus, only when a page of
teams with members fails (too large, 400, 413, 5xx; see ``_list_teams``), ceil(G/P)
more group pages without members (R is then G).

R is G - T + C: T teams whose listed members users' ``groups`` corroborate are not
read (``reconciler.evidence.listed_members_trusted``), and C is 1 when one of them
has members (the canary, read to test the listing; if it disagrees, the other T-1
are read too). On a server that fills ``groups`` and lists members honestly R = 1;
on one that does not fill ``groups`` R = G.

The R team reads are independent, so they go through a small thread pool
(``concurrency``): on a real network each costs a round trip, and even on loopback
the server's work overlaps ours. Results are still checked in list order, so the
first failing team is the one reported, as in a sequential read. A listing's pages
are read ahead the same way, up to ``concurrency`` at once, and taken in order
(``_read_all``): on a real network a 100k-user org's 100 pages cost about 100 /
``concurrency`` round trips instead of 100.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from reconciler.errors import LiveStateError
from reconciler.evidence import (
    MemberTrust,
    check_member_lists,
    listed_members_trusted,
    resolve_unlisted_members,
)
from reconciler.gcpolicy import bulk_phase
from reconciler.grammar import count
from reconciler.livestate import LiveGroup, LiveState, LiveUser, MembersRead
from reconciler.profile import PRODUCT
from reconciler.scim.errors import (
    ScimAnswerTooLarge,
    ScimBadRequest,
    ScimBudgetExceeded,
    ScimCircuitOpen,
    ScimError,
    ScimPayloadTooLarge,
    ScimRateLimited,
    ScimServerError,
    ScimTransportError,
    ScimUnsupportedError,
)
from reconciler.scim.parse import ListPage, parse_group, parse_user, parse_user_groups
from reconciler.scim.protocols import ScimReader
from reconciler.scim.transport import ByteBudget

Progress = Callable[[str, int, int], None]
"""``on_progress(kind, done, total)``: kind is "users" or "teams"; the one definition."""
T = TypeVar("T")
_ABORT = "; nothing was planned, re-run when it is resolved"
# Pages allowed beyond what totalResults and the first page's size imply.
PAGE_SLACK = 2
# The most pages one listing may need (totalResults / the first page's size): a total
# that lies (10**12) at a small page size would otherwise page "forever" while each
# page answers the startIndex asked for with a fresh resource. 100,000 pages is
# 1,000,000 users at a page size of 10, or 100 million at 1,000.
MAX_PAGES = 100_000


def read_live_state(
    client: ScimReader,
    *,
    page_size: int = 1000,
    on_progress: Progress | None = None,
    concurrency: int = 4,
    max_read_bytes: int | None = None,
) -> LiveState:
    """Read every user and team with its members; ``on_progress(kind, done, total)``.

    ``concurrency`` is how many requests of one listing's pages, or team reads, may be
    in flight at once (1: one page read ahead, team reads one by one; ``_read_all``).
    ``max_read_bytes`` bounds the bytes received by the whole read (all requests);
    None takes the client's configured budget (``--max-read-mib``, 256 MiB by default).
    The LiveState's ``members_read`` says how many teams' members came from the
    Groups pages and why the others were read one by one.
    Runs with cyclic garbage collection paused (``gcpolicy.bulk_phase``, no freeze):
    a read builds one long-lived object per user and no cycles, and the collector,
    triggered by those allocations, would walk the growing heap again and again.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    with bulk_phase(freeze=False):
        return _read_live_state(client, page_size, on_progress, concurrency, max_read_bytes)


def _read_live_state(
    client: ScimReader,
    page_size: int,
    on_progress: Progress | None,
    concurrency: int,
    max_read_bytes: int | None,
) -> LiveState:
    progress = on_progress or _silent
    try:
        with client.byte_budget(max_read_bytes) as budget:
            keep = partial(_user, {})
            users, groups_of = _users(
                _read_all("users", client.list_users_page, page_size, progress, keep, concurrency)
            )
            spent = budget if isinstance(budget, ByteBudget) else None
            listed, refused = _list_teams(client, page_size, progress, concurrency, spent)
            trust = listed_members_trusted(listed, groups_of)
            if refused:
                trust = MemberTrust.none(refused)
            groups, members_read = _with_members(client, listed, trust, progress, concurrency)
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
    # The listing's cross-check table still holds when the lookups added no `groups`.
    derived = None if hidden.groups_of else trust.derived
    unvouched = check_member_lists(groups, groups_of, users, derived)
    if unvouched and members_read is not None:
        members_read = replace(members_read, unvouched=unvouched)
    return LiveState.of(users, groups, hidden.notices, members_read)


def _silent(kind: str, done: int, total: int) -> None:
    return None


def _read_all(  # noqa: PLR0917 - one private caller per listing
    kind: str,
    fetch: Callable[[int, int], ListPage],
    page_size: int,
    progress: Progress,
    keep: Callable[[dict[str, Any]], T],
    window: int = 1,
) -> list[T]:
    """``keep(resource)`` of every resource of a list endpoint, page by page.

    Each page is converted as it arrives, so a 300k-user read never holds every
    user's raw JSON (emails, roles, meta) at once. Advances by what each page really
    holds and stops on totalResults (no trailing empty page is fetched), so a server
    that caps ``count`` below ``page_size`` just costs more pages, never a silent
    truncation. Bounded: each page must answer the ``startIndex`` asked for and bring
    no id seen before (a server that ignores paging is caught at page 2), and the page
    count may not exceed what totalResults and the first page's size imply, plus
    PAGE_SLACK; a listing that would need more than MAX_PAGES pages is refused after
    its second.

    Read-ahead (``window`` requests at most in flight, each in a daemon thread): once
    a page has passed those checks, the pages after it are requested while it is
    converted, each at the startIndex a page-by-page read would ask for if every page
    held as many resources as this one (on an honest server, all but the last do).
    Pages are taken strictly in order, and only a page requested at the startIndex
    that the page-by-page read would ask for next is taken; any other request in
    flight is waited for and dropped, and that startIndex asked for again; from then
    on the listing reads one page ahead only. So the pages read, their checks, the
    errors and their order are those of a page-by-page read, and a listing costs at
    most ``window - 1`` requests that a read one page ahead would not make (a server
    whose pages change size, or a listing that fails), plus the page asked for again by
    itself when it failed beside others (``_taken``: a server that takes one request at
    a time).
    Nothing is requested past totalResults or beyond the page bounds above, and a
    listing whose size is not yet shown to be within MAX_PAGES reads one page ahead
    only. A read that fails ends only once every request under way has (Ctrl-C does
    not wait). ``window`` 1: one page ahead, never two requests at once.
    """
    kept: list[T] = []
    seen: set[str] = set()
    total: int | None = None
    max_pages = per_page = 1
    pages = 0
    steady = True
    wide = 1  # requests of this listing the last pages were asked for beside
    ahead: deque[tuple[int, _ReadAhead]] = deque()
    try:
        while total is None or len(kept) < total:
            start = len(kept) + 1
            problem = _paging_problem(
                kind, pages, max_pages=max_pages, per_page=per_page, total=total, done=len(kept)
            )
            if problem is not None:
                raise problem
            if ahead and ahead[0][0] == start:
                taken = _taken(ahead, together=wide > 1)
                steady = steady and taken is not None
                page = fetch(start, page_size) if taken is None else taken
            else:  # none ahead, or asked at another startIndex: the page changed size
                _drop(ahead)
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
            if not page.resources and len(kept) < total:
                raise _fail(
                    f"{kind}: empty page at startIndex {start} after {len(kept)} of "
                    f"{total} (totalResults)"
                )
            done = len(kept) + len(page.resources)
            if done > total:
                raise _fail(f"{kind}: {done} resources returned, totalResults says {total}")
            if ahead and ahead[0][0] != done + 1:  # this page's size differs from the last
                _drop(ahead)
                steady = False  # a server whose pages change size: one page ahead from now
            wide = window if steady and max_pages <= MAX_PAGES + PAGE_SLACK else 1
            bounds = partial(
                _paging_problem, kind, max_pages=max_pages, per_page=per_page, total=total
            )
            _fill(ahead, fetch, page_size, done, len(page.resources), total, wide, pages, bounds)
            kept.extend(map(keep, page.resources))
            progress(kind, len(kept), total)
    except Exception:
        # A page that fails to convert (or a progress callback that fails) while later
        # pages' requests are under way: the read ends with those requests, so no
        # request of this listing outlives it or runs beside the caller's next one.
        # Ctrl-C does not wait (daemon threads; the run is ending).
        _drop(ahead)
        raise
    _drop(ahead)  # none on an honest server: the last page asked for is the last one
    return kept


def _fill(  # noqa: PLR0917 - the state of _read_all's loop, passed as it is
    ahead: deque[tuple[int, _ReadAhead]],
    fetch: Callable[[int, int], ListPage],
    page_size: int,
    done: int,
    size: int,
    total: int,
    window: int,
    pages: int,
    problem: Callable[..., LiveStateError | None],
) -> None:
    """Request the pages after ``done`` (``size`` resources a page) up to ``window`` in flight.

    ``ahead`` holds only pages at the startIndexes that follow ``done`` (the caller
    drops any other). A page is requested only if a page-by-page read with pages of
    ``size`` would request it: it starts within totalResults, and ``problem``
    (``_paging_problem`` for that many pages read and ``done`` resources) has no
    objection.
    """
    start = ahead[-1][0] + size if ahead else done + 1
    while len(ahead) < window and start <= total and size > 0:
        # Before page ``pages + len(ahead) + 1``, a page-by-page read checks the bounds
        # with that many pages read and ``start - 1`` resources done.
        if problem(pages + len(ahead), done=start - 1) is not None:
            return
        ahead.append((start, _ReadAhead(fetch, start, page_size)))
        start += size


def _taken(ahead: deque[tuple[int, _ReadAhead]], *, together: bool) -> ListPage | None:
    """The first page read ahead; None when it failed beside other requests (``together``).

    A server (or proxy) that takes one request at a time answers 503 or 429, or drops
    the connection, to requests sent beside others, even after every retry; a
    page-by-page read never sends two, so it reads there. Such a page's error is not
    the read's: the rest of the window is dropped and the caller asks for the page
    again by itself, one page ahead from then on. Its error then is what a page-by-page
    read would raise. Every other error is raised as it is, and so is the circuit
    breaker's (the run is stopped; the page asked again would not even be sent).
    """
    request = ahead.popleft()[1]
    try:
        return request.result()
    except ScimCircuitOpen:  # the run is stopped: asked again, it would not be sent
        raise
    except _BUSY:
        if not together:
            raise
    _drop(ahead)
    return None


def _drop(ahead: deque[tuple[int, _ReadAhead]]) -> None:
    """Wait for every request in flight to end, and forget their pages."""
    while ahead:
        ahead.popleft()[1].wait()


def _paging_problem(
    kind: str, pages: int, *, max_pages: int, per_page: int, total: int | None, done: int
) -> LiveStateError | None:
    """Why the next page of a listing must not be fetched (None: it may be)."""
    if pages == 2 and max_pages > MAX_PAGES + PAGE_SLACK:
        # Checked after page 2, so a server that ignores paging is named as such.
        return _fail(
            f"{kind}: totalResults is {total} and the first page held {per_page}, "
            "so the listing would take "
            f"{max_pages - PAGE_SLACK} pages, more than the {MAX_PAGES} one read may "
            "take; the server's total is wrong or its pages are far too small (check "
            "its paging with `reconciler doctor`)"
        )
    if pages >= max_pages:
        return _fail(
            f"{kind}: {count(pages, 'page')} read and only {done} of {total} "
            f"resources; totalResults and the first page's size imply at most "
            f"{count(max_pages, 'page')}"
        )
    return None


class _ReadAhead:
    """One page requested in a daemon thread while the caller converts the previous one.

    A daemon thread, so a run interrupted (Ctrl-C) never waits at exit for a request
    whose answer nobody needs; an error in the page before (it fails to convert) ends
    the read only once this request has ended (``wait``), so no request of a listing
    outlives the read. The request stays bounded by the client's per-request
    deadline and the read's byte budget.
    """

    def __init__(self, fetch: Callable[[int, int], ListPage], start: int, count: int) -> None:
        self._answer: Future[ListPage] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(fetch, start, count), name="read-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, fetch: Callable[[int, int], ListPage], start: int, count: int) -> None:
        try:
            self._answer.set_result(fetch(start, count))
        except BaseException as error:  # handed to the reader's thread, which raises it
            self._answer.set_exception(error)

    def result(self) -> ListPage:
        """The page, or the error its request raised (in the caller's thread)."""
        return self._answer.result()

    def wait(self) -> None:
        """Until the request has ended (answered or failed; the outcome is dropped).

        Bounded as the request is: the client's per-request deadline and retries."""
        self._thread.join()


def _check_page(kind: str, page: ListPage, start: int, seen: set[str]) -> None:
    """The page answers the startIndex asked for, and repeats no resource already read."""
    # Integer ids are ids too (parse_user / parse_group take them as their text); other
    # kinds are left to those parsers, which name them.
    ids = [i for i in map(_id_text, (r.get("id") for r in page.resources)) if i is not None]
    fresh = set(ids)
    if len(fresh) < len(ids) or not seen.isdisjoint(fresh):  # name the first repeat
        for resource_id in ids:
            if resource_id in seen:
                raise _fail(
                    f"{kind}: duplicate id {resource_id!r} at startIndex {start}: an earlier "
                    "page already returned it"
                )
            seen.add(resource_id)
    seen.update(fresh)
    # No startIndex at all (RFC 7644 §3.4.2 requires it only on partial results) is not
    # a wrong one: a server that ignores paging repeats ids, caught above.
    if page.start_index is not None and page.start_index != start and page.resources:
        raise _fail(
            f"{kind}: asked for startIndex {start}, the server answered startIndex "
            f"{page.start_index}; it does not page as asked, so the read cannot be complete"
        )


def _id_text(value: object) -> str | None:
    """An id as the parsers read it: a string, or an integer's digits (RFC 7643 §3.1
    makes ids strings; integers are seen in the wild); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _user(
    shared: dict[frozenset[str], frozenset[str]], resource: dict[str, Any]
) -> tuple[LiveUser, frozenset[str] | None]:
    """A listed user and the ids in its ``groups`` (None when the server left them out).

    Equal ``groups`` sets are one object (``shared``, one dict per read): users of
    the same teams share it, about 200 bytes a user less at the peak.
    """
    try:
        user, member_of = parse_user(resource), parse_user_groups(resource)
    except ScimError as error:  # located at the listing it came from
        raise error.at("GET", "/Users") from None
    if member_of is not None:
        member_of = shared.setdefault(member_of, member_of)
    return user, member_of


def _users(
    read: list[tuple[LiveUser, frozenset[str] | None]],
) -> tuple[list[LiveUser], dict[str, frozenset[str] | None]]:
    """The users, and each one's ``groups`` ids (None when the server left them out)."""
    users = [user for user, _ in read]
    groups_of = {user.id: member_of for user, member_of in read}
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


def _list_teams(
    client: ScimReader,
    page_size: int,
    progress: Progress,
    window: int,
    budget: ByteBudget | None = None,
) -> tuple[list[LiveGroup], str]:
    """Every team, with the members its listing carries, and why none may be taken ("").

    Pages are asked for with members. When such a page fails (too large for
    ``max_response_bytes``, or the server answers 400, 413 or 5xx after retries, or
    the connection fails, as a page of big teams can make it), the teams are listed
    again without members (``excludedAttributes=members``, what servers are asked
    for most) and each is read by itself: a big team costs requests, never the read.
    A rate limit is not worked around: the second listing would meet it too; nor is a
    stopped run (the retry budget spent, connection failures in a row), whose error
    names what stopped it.
    No ``attributes=`` narrowing is asked for (``members.value`` is a sub-attribute
    servers handle unevenly, and one that drops ``members`` for it would cost a read
    per team): the whole resource, as a plain listing answers it.

    The listing with members is thrown away then, so what it received is given back
    to the read's byte ``budget``: the pages it kept, and the pages refused as too
    large, which stream up to the cap before they are (several at once, read ahead);
    otherwise they could use up the budget the second listing and the team reads
    need. For the same reason the budget running out in that listing is one more
    reason to list without members, not the end of the read.
    """
    spent = None if budget is None else budget.used
    try:
        fetch = partial(_groups_page, client, with_members=True)
        return _groups(_read_all("teams", fetch, page_size, progress, _team, window)), ""
    except (ScimRateLimited, ScimCircuitOpen):  # the second listing would meet it too,
        raise  # or, the run being stopped, not even be sent ("not sent" would hide why)
    except (*_REFUSED, ScimBudgetExceeded) as error:
        refused = (
            f"a page of teams with members failed ({error}), so teams were listed "
            "without members (excludedAttributes=members)"
        )
    if budget is not None and spent is not None:
        budget.rewind(spent)  # no request in flight: _read_all ended with its last one
    fetch = partial(_groups_page, client, with_members=False)
    return _groups(_read_all("teams", fetch, page_size, progress, _team, window)), refused


# How a page requested beside others can fail where it would not by itself.
_BUSY = (ScimRateLimited, ScimServerError, ScimTransportError)
# How a page of teams with members can fail where one without them may not.
_REFUSED = (
    ScimAnswerTooLarge,
    ScimPayloadTooLarge,
    ScimBadRequest,
    ScimServerError,
    ScimTransportError,
)


def _groups_page(client: ScimReader, start: int, count: int, *, with_members: bool) -> ListPage:
    return client.list_groups_page(start, count, with_members=with_members)


def _team(resource: dict[str, Any]) -> LiveGroup:
    """A listed team; members the listing cannot describe make it a team read by itself.

    A listing's member that does not parse (no value, a nested team) is not an error
    here: the team's own ``GET /Groups/{id}`` decides, with its own error if it too
    carries that member.
    """
    try:
        return parse_group(resource)
    except ScimError as error:
        if not isinstance(resource, dict) or resource.get("members") is None:
            raise error.at("GET", "/Groups") from None
    return _located(parse_group, {**resource, "members": None}, "/Groups")


def _groups(groups: list[LiveGroup]) -> list[LiveGroup]:
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
    client: ScimReader,
    listed: list[LiveGroup],
    trust: MemberTrust,
    progress: Progress,
    concurrency: int,
) -> tuple[list[LiveGroup], MembersRead]:
    """Every team with its members: from the listing where ``trust`` allows, else read.

    The canary (the trusted team with the most members) is read too; when it reads
    back otherwise than listed, the listing cuts or invents members, so every team is
    then read by itself (and cross-checked as on any other read).
    """
    first = [g for g in listed if g.id not in trust.trusted or g.id == trust.canary]
    done = len(listed) - len(first)
    tick = _ticker(progress, done, len(listed))
    read = _read_teams(client, first, concurrency, tick)
    if listed and not first:  # every team from the pages: no read ticked
        progress("members", len(listed), len(listed))
    if trust.canary is not None:
        canary = next(g for g in listed if g.id == trust.canary)
        if not _agrees(canary, read[canary.id]):
            trust = trust.refuted(canary, read[canary.id])
            rest = [g for g in listed if g.id not in read]
            tick = _ticker(progress, len(listed) - len(rest), len(listed))
            read.update(_read_teams(client, rest, concurrency, tick))
    return [read.get(g.id, g) for g in listed], trust.summary(len(listed), len(read))


def _agrees(listed: LiveGroup, read: LiveGroup) -> bool:
    return read.members_listed and read.member_ids == listed.member_ids


def _ticker(progress: Progress, done: int, total: int) -> Callable[[], None]:
    count = [done]

    def tick() -> None:
        count[0] += 1
        progress("members", count[0], total)

    return tick


def _read_teams(
    client: ScimReader, teams: list[LiveGroup], concurrency: int, tick: Callable[[], None]
) -> dict[str, LiveGroup]:
    """``GET /Groups/{id}`` of each of ``teams``, a few in flight, checked in list order."""
    workers = min(concurrency, len(teams))
    if workers <= 1:
        return _checked(teams, (client.get_group(g.id) for g in teams), tick)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="read-teams") as pool:
        futures = [pool.submit(client.get_group, group.id) for group in teams]
        try:
            return _checked(teams, (future.result() for future in futures), tick)
        finally:
            for future in futures:  # after a failure: do not start the reads still queued
                future.cancel()


def _checked(
    listed: list[LiveGroup], reads: Iterable[LiveGroup], tick: Callable[[], None]
) -> dict[str, LiveGroup]:
    """The teams as read, by id in list order, each checked against its list entry."""
    groups = {}
    for group, full in zip(listed, reads, strict=True):
        if (full.id, full.display_name) != (group.id, group.display_name):
            raise _fail(
                f"team {group.display_name!r} ({group.id}) read back as "
                f"{full.display_name!r} ({full.id}); it changed during the read"
            )
        groups[group.id] = full
        tick()
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
