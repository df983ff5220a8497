"""`reconciler doctor`: is this setup able to work? A checklist with a verdict.

What Entra calls "Test connection", done properly: each check says what it found
and, when it fails, what to do. Checks after a fatal one are skipped rather than
piling up errors that all have the same cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.grammar import count, plural
from reconciler.livestate import LiveState, MembersRead
from reconciler.profile import MIXPANEL, PRODUCT, TargetProfile
from reconciler.reader import read_live_state
from reconciler.report import lookalike_lines, lookalike_team_lines
from reconciler.scim.errors import (
    ScimAuthError,
    ScimBadRequest,
    ScimForbidden,
    ScimNotFound,
    ScimProtocolError,
    ScimTransportError,
)
from reconciler.scim.protocols import ScimProbe

MEMBERSHIP = "team members cross-check (users' groups)"
_SAMPLE = 100
LOOKALIKES = "look-alike userNames"
LOOKALIKE_TEAMS = "look-alike team names"
WHOLE_READ = "whole org readable (every page, team members)"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Diagnosis:
    target: str
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)


def diagnose(
    client: ScimProbe,
    target: str,
    claimed_domains: Iterable[str] | None,
    profile: TargetProfile = MIXPANEL,
) -> Diagnosis:
    """Every setup check in order; a failure skips the checks that depend on it.

    ``profile`` names the service in the advice (what its base URL looks like).
    """
    _run = partial(_check, profile=profile)
    checks: list[Check] = []
    config = _run(checks, "server reachable, SCIM answers", lambda: _reach(client, target))
    steps: list[tuple[str, Callable[[], tuple[Check, Any]]]] = [
        ("token accepted", lambda: _token(client)),
        ("features (ServiceProviderConfig)", lambda: _features(config)),
        ("users readable", lambda: _page(client, users=True)),
        ("teams readable", lambda: _page(client, users=False)),
        (MEMBERSHIP, lambda: _membership(client)),
    ]
    for name, step in steps:
        if any(c.status is Status.FAIL for c in checks):
            checks.append(Check(name, Status.SKIP, "skipped: fix the failure above first"))
            continue
        _run(checks, name, step)
    live: LiveState | None = None
    if not any(c.status is Status.FAIL for c in checks):
        # The read plan and apply make, checks included: its failure is named as such,
        # not under the checks that look at what it read.
        live = _run(checks, WHOLE_READ, lambda: _whole_read(client))
    if live is not None:
        if claimed_domains is not None:
            _run(checks, "claimed domains", lambda: _domains(live, claimed_domains))
        _run(checks, LOOKALIKES, lambda: _lookalikes(live))
        _run(checks, LOOKALIKE_TEAMS, lambda: _lookalike_teams(live))
    if live is not None and live.members_read is not None:
        checks = [_with_read_path(c, live.members_read) for c in checks]
    return Diagnosis(target, tuple(checks))


def _with_read_path(check: Check, read: MembersRead) -> Check:
    """The membership check, told which read path the team members took and why."""
    if check.name != MEMBERSHIP or check.status in (Status.FAIL, Status.SKIP):
        return check
    return Check(check.name, check.status, f"{check.detail}. {members_read_path(read)}")


def members_read_path(read: MembersRead) -> str:
    """One sentence: where the team members came from, the requests saved, and why the
    other teams were read one by one."""
    teams = read.from_pages + read.read_each
    saved = teams - read.requests
    if read.from_pages:
        text = (
            f"Read path: {read.from_pages} of {count(teams, 'team')} from the Groups pages "
            f"(users' `groups` agree with them), {read.requests} GET /Groups/{{id}} "
            f"instead of {teams} ({saved} saved)"
        )
    elif teams == 0:
        text = "Read path: no teams to read"
    elif teams == 1:
        text = "Read path: the one team with GET /Groups/{id}"
    else:
        text = f"Read path: each of the {count(teams, 'team')} with GET /Groups/{{id}}"
    return f"{text}; read one by one: {read.why}" if read.why else text


def _check(
    checks: list[Check],
    name: str,
    step: Callable[[], tuple[Check, Any]],
    *,
    profile: TargetProfile,
) -> Any:
    try:
        check, value = step()
    except ReconcilerError as error:
        check, value = Check(name, Status.FAIL, _explain(error, profile)), None
    checks.append(check)
    return value


def _explain(error: ReconcilerError, profile: TargetProfile) -> str:
    # The 401 advice says to check with doctor first: this is that check, so it says
    # what to look at instead of sending the reader back here.
    text = str(error).replace(
        "check the token first with `reconciler doctor`;",
        "make sure it is this organization's current token, copied whole;",
    )
    # The transport already names TLS failures (plain HTTP, certificate) precisely.
    if isinstance(error, ScimTransportError) and not any(w in text for w in ("TLS", "HTTP")):
        return f"{text}; check the URL, DNS, proxy and firewall"
    hint = profile.base_url_hint
    not_scim = isinstance(error, ScimNotFound | ScimProtocolError)
    if (not_scim or getattr(error, "status", None) == 405) and hint not in text:
        return f"{text}; {hint}"
    return text


def _reach(client: ScimProbe, target: str) -> tuple[Check, dict[str, Any] | None]:
    name = "server reachable, SCIM answers"
    try:
        config = client.service_provider_config()
    except (ScimAuthError, ScimForbidden):
        # Some servers protect the discovery endpoint too: it still answered as SCIM.
        return Check(name, Status.OK, f"{target} answered"), None
    except ScimNotFound as missing:
        # No ServiceProviderConfig (RFC 7644 §4) is either a wrong base URL or a server
        # that does not publish one: a SCIM list answer at /Users tells them apart.
        try:
            client.list_users_page(1, 1)
        except (ScimAuthError, ScimForbidden):
            pass  # answered as SCIM: the token check next says what is wrong
        except ReconcilerError:
            raise missing from None
        return Check(
            name,
            Status.OK,
            f"{target} answered at /Users; it has no /ServiceProviderConfig (HTTP 404)",
        ), None
    return Check(name, Status.OK, f"{target} answered"), config


def _token(client: ScimProbe) -> tuple[Check, None]:
    client.list_users_page(1, 1)
    return Check("token accepted", Status.OK, "an authenticated request succeeded"), None


def _features(config: dict[str, Any] | None) -> tuple[Check, None]:
    name = "features (ServiceProviderConfig)"
    if config is None:
        return Check(
            name,
            Status.WARN,
            "not published (or not readable with this token); the client assumes PATCH "
            "and filters: a server without them fails the first write or absence check "
            "that needs one, with the server's answer",
        ), None
    flags = {
        key: _flag(_get(config, key, "supported"))
        for key in ("patch", "bulk", "filter", "etag", "sort")
    }
    max_results = _get(config, "filter", "maxResults")
    shown = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items())
    detail = f"{shown}, maxResults {max_results if max_results is not None else 'not stated'}"
    notes = ["the reader follows the page size the server returns (itemsPerPage)"]
    if not flags["filter"]:
        notes.append(
            "no filter support: a POST whose answer is lost cannot be checked "
            "for a duplicate; keep --max-attempts low"
        )
    if not flags["patch"]:
        return Check(name, Status.FAIL, f"{detail}; apply needs PATCH, which is off"), None
    status = Status.OK if flags["filter"] else Status.WARN
    return Check(name, status, f"{detail}; {'; '.join(notes)}"), None


def _flag(value: object) -> bool:
    """A ServiceProviderConfig ``supported`` value: JSON true, or the text "true" in any
    case (some servers send booleans as strings); "false", absent or anything else is
    no (never ``bool("false")``, which is true)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _get(config: dict[str, Any], section: str, key: str) -> Any:
    value = config.get(section)
    return value.get(key) if isinstance(value, dict) else None


def _page(client: ScimProbe, *, users: bool) -> tuple[Check, None]:
    if users:
        page = client.list_users_page(1, 1)
        found = count(page.total_results, "user")
        shown = [r for r in page.resources if isinstance(r, dict)]
        if shown and not any(str(key).lower() == "active" for key in shown[0]):
            detail = (
                f"{found}, but the server leaves `active` out of its users: a user answered "
                "without it reads as active, so a deactivation cannot be read back and "
                "fails verification (exit 5) on every run; deprovision with "
                "`policy.deprovision: delete` (read back as gone) on such a server"
            )
            return Check("users readable", Status.WARN, detail), None
        return Check("users readable", Status.OK, found), None
    try:
        page = client.list_groups_page(1, 1)
    except ScimBadRequest:
        # Some servers refuse excludedAttributes (RFC 7644 §3.4.2.5); the reader then
        # lists teams with their members, so doctor checks that way too.
        page = client.list_groups_page(1, 1, with_members=True)
        detail = (
            f"{count(page.total_results, 'team')}; the server refuses "
            "excludedAttributes=members, so teams are listed with their members"
        )
        return Check("teams readable", Status.OK, detail), None
    return Check("teams readable", Status.OK, count(page.total_results, "team")), None


def _membership(client: ScimProbe) -> tuple[Check, None]:
    """Does the server fill users' ``groups``? It is what cut member lists are caught by."""
    page = client.list_users_page(1, _SAMPLE)
    carrying = [r.get("groups") for r in page.resources if isinstance(r.get("groups"), list)]
    seen = len(page.resources)
    sample = "the one user read" if seen == 1 else f"the first {count(seen, 'user')}"
    if any(carrying):
        return Check(
            MEMBERSHIP,
            Status.OK,
            "the server fills users' `groups`: team member lists are cross-checked against "
            "it, so a list the server cuts short or leaves out fails that read closed",
        ), None
    if carrying:
        return Check(
            MEMBERSHIP,
            Status.OK,
            f"the server fills users' `groups` (empty for {sample}): team member lists "
            "are cross-checked against it",
        ), None
    return Check(
        MEMBERSHIP,
        Status.WARN,
        f"the server does not fill users' `groups` ({sample} {plural('has', seen)} none): "
        "a team member "
        "list the server cuts short cannot be detected, and a team answered without "
        "`members` is taken as empty (RFC 7643 §2.5); see README, safety model",
    ), None


def _whole_read(client: ScimProbe) -> tuple[Check, LiveState]:
    """The whole org, read as ``plan`` reads it (every page, members, the checks)."""
    live = read_live_state(client)
    detail = (
        f"{count(len(live.users), 'user')} and {count(len(live.groups), 'team')} read as "
        "plan reads them, every check passed"
    )
    return Check(WHOLE_READ, Status.OK, detail), live


def _lookalikes(live: LiveState) -> tuple[Check, None]:
    """Live userNames that print like another address (``reconciler.identity``)."""
    users = live.users
    found = lookalike_lines(users)
    if not found:
        return Check(LOOKALIKES, Status.OK, f"none among {count(len(users), 'userName')}"), None
    detail = (
        f"{count(len(found), 'userName')} with invisible, bidi or confusable characters: "
        f"{'; '.join(found)}; they never match a manifest user and are never changed "
        "automatically: check who owns them, and name one exactly in "
        "policy.lookalike_users only to let the policy manage it"
    )
    return Check(LOOKALIKES, Status.WARN, detail), None


def _lookalike_teams(live: LiveState) -> tuple[Check, None]:
    """Live team names that print like another name (the userNames' rules)."""
    found = lookalike_team_lines(live.groups)
    if not found:
        detail = f"none among {count(len(live.groups), 'team name')}"
        return Check(LOOKALIKE_TEAMS, Status.OK, detail), None
    detail = (
        f"{count(len(found), 'team name')} with invisible, bidi or confusable characters: "
        f"{'; '.join(found)}; they never match a manifest team and are never changed "
        f"automatically: check who made them, then rename or delete them in {PRODUCT}"
    )
    return Check(LOOKALIKE_TEAMS, Status.WARN, detail), None


def _domains(live: LiveState, claimed: Iterable[str]) -> tuple[Check, None]:
    claimed_set = {d.lower() for d in claimed}
    seen = Counter(u.domain for u in live.users)
    outside = {d: n for d, n in sorted(seen.items()) if d not in claimed_set}
    empty = sorted(claimed_set - set(seen))
    notes = []
    if outside:
        listed = ", ".join(f"{d} ({n})" for d, n in outside.items())
        notes.append(f"live users in domains the manifest does not claim, never touched: {listed}")
    if empty:
        notes.append(f"claimed domains with no live users: {', '.join(empty)}")
    if not notes:
        users = len(live.users)
        who = {0: "no live users yet; all will be", 1: "the one live user is"}.get(
            users, f"all {count(users, 'live user')} are"
        )
        return Check(
            "claimed domains",
            Status.OK,
            f"{who} in claimed domains ({', '.join(sorted(claimed_set))})",
        ), None
    return Check("claimed domains", Status.WARN, "; ".join(notes)), None
