"""Verify after write: read back every object apply touched and compare it with the plan.

A write answer is a claim, not a fact: servers answer 200 for a PATCH they ignored,
or with another resource than the one addressed. So the executor records what each
successful operation intended (``Expectations``) and, after the run, ``verify``
reads each touched user (``GET /Users/{id}``) and team (``GET /Groups/{id}`` with
its members) once (and, with a settle wait, once more if it differs: servers that
show a write a moment late) and reports, per operation, every difference it finds.
Reads only: this module never writes. The requests are counted under the ``verify``
purpose (``RequestStats.verification``), apart from the read and the writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal

from reconciler.attributes import BY_NAME
from reconciler.errors import ReconcilerError
from reconciler.identity import ascii_lower
from reconciler.livestate import LiveUser
from reconciler.plan import JsonScalar
from reconciler.scim.errors import ScimNotFound
from reconciler.scim.lanes import LanePool
from reconciler.scim.protocols import ResourceReader
from reconciler.scim.transport import VERIFY

NOT_THERE = "the server answered success but the change is not there"
ACTIVE_UNSHOWN = (
    "a user answered without `active` reads as active, so a server that leaves `active` "
    "out cannot show a deactivation: `reconciler doctor` says whether yours shows it; "
    "if it does not, deprovision with `policy.deprovision: delete`, which reads back as gone"
)
UNVERIFIED = "could not"  # how every difference that is "unknown", not "absent", starts

# Attributes of LiveUser by the names the plan uses (the one table).
_FIELDS = frozenset(BY_NAME)


@dataclass
class _UserWant:
    key: str
    fields: dict[str, tuple[JsonScalar, str]] = field(default_factory=dict)
    deleted_by: str | None = None


@dataclass
class _GroupWant:
    key: str
    name: tuple[str, str] | None = None
    present: dict[str, tuple[str, str]] = field(default_factory=dict)
    absent: dict[str, tuple[str, str]] = field(default_factory=dict)
    kept: dict[str, tuple[str, str]] = field(default_factory=dict)
    deleted_by: str | None = None


@dataclass
class Expectations:
    """What the successful operations of a run intended, per SCIM id; thread-safe."""

    users: dict[str, _UserWant] = field(default_factory=dict)
    groups: dict[str, _GroupWant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def user(
        self,
        user_id: str,
        op_id: str,
        key: str,
        fields: Mapping[str, JsonScalar],
    ) -> None:
        """``fields`` (plan names: user_name, given_name, ..., active) must read back equal.

        user_name is compared ignoring ASCII case, as userNames are matched (a server
        may store the email lowercased).
        """
        with self._lock:
            want = self.users.setdefault(user_id, _UserWant(key))
            want.fields.update({name: (value, op_id) for name, value in fields.items()})

    def deleted(self, subject: Literal["user", "team"], scim_id: str, op_id: str, key: str) -> None:
        """The user or team (an operation kind's ``subject``) must no longer exist."""
        with self._lock:
            if subject == "user":
                self.users.setdefault(scim_id, _UserWant(key)).deleted_by = op_id
            else:
                self.groups.setdefault(scim_id, _GroupWant(key)).deleted_by = op_id

    def group_name(self, group_id: str, op_id: str, name: str) -> None:
        with self._lock:
            self.groups.setdefault(group_id, _GroupWant(name)).name = (name, op_id)

    def members(
        self,
        group_id: str,
        op_id: str,
        key: str,
        members: Iterable[tuple[str, str]],
        *,
        present: bool,
    ) -> None:
        """``members`` are (user id, email) pairs that must (not) be in the team."""
        with self._lock:
            want = self.groups.setdefault(group_id, _GroupWant(key))
            target = want.present if present else want.absent
            target.update({member_id: (email, op_id) for member_id, email in members})

    def kept_members(
        self, group_id: str, op_id: str, key: str, members: Iterable[tuple[str, str]]
    ) -> None:
        """``members`` ((user id, email)) were in the team and no operation removes them:
        a membership PATCH must leave them there (a server that treats ``add`` as
        ``replace`` drops them while answering success)."""
        with self._lock:
            want = self.groups.setdefault(group_id, _GroupWant(key))
            want.kept.update({member_id: (email, op_id) for member_id, email in members})

    @property
    def objects(self) -> int:
        return len(self.users) + len(self.groups)


@dataclass(frozen=True)
class Verification:
    """The outcome of the read-back: objects read, and the differences per operation id."""

    objects: int
    differences: Mapping[str, tuple[str, ...]]
    skipped: str = ""  # why nothing was read back although verification was on
    read_again: int = 0  # objects read a second time, after the settle wait

    @property
    def failed_operations(self) -> int:
        return len(self.differences)


def verify(
    expected: Expectations,
    reader: ResourceReader,
    *,
    concurrency: int = 1,
    settle: float = 0.0,
    wait: Callable[[float], None] = time.sleep,
) -> Verification:
    """Read back each expected object once; never raises for a per-object failure.

    A read that fails (after the client's retries) leaves those operations unverified,
    which is reported as a difference too: an outcome nobody could confirm is not done.
    ``settle`` (seconds, 0 for none): an object whose read-back differs is read once
    more after that wait, and only what still differs counts; an eventually consistent
    server (a replica behind the writer) answers 404 for a user just created, or the
    old values, for a moment after a write.
    """
    jobs = [("user", uid) for uid in sorted(expected.users, key=lambda u: expected.users[u].key)]
    jobs += [
        ("group", gid) for gid in sorted(expected.groups, key=lambda g: expected.groups[g].key)
    ]

    def check(job: tuple[str, str]) -> list[tuple[str, str]]:
        kind, object_id = job
        if kind == "user":
            return _check_user(object_id, expected.users[object_id], reader)
        return _check_group(object_id, expected.groups[object_id], reader)

    found = _checked(jobs, check, concurrency)
    again = [i for i, problems in enumerate(found) if problems] if settle > 0 else []
    if again:
        wait(settle)
        second = _checked([jobs[i] for i in again], check, concurrency)
        for i, problems in zip(again, second, strict=True):
            found[i] = problems
    differences: dict[str, list[str]] = {}
    for problems in found:
        for op_id, text in problems:
            differences.setdefault(op_id, []).append(text)
    return Verification(
        len(jobs), {k: tuple(v) for k, v in differences.items()}, read_again=len(again)
    )


def _checked(
    jobs: list[tuple[str, str]],
    check: Callable[[tuple[str, str]], list[tuple[str, str]]],
    concurrency: int,
) -> list[list[tuple[str, str]]]:
    """``check`` of every job, in order, at most ``concurrency`` reads in flight."""
    workers = max(1, min(concurrency, len(jobs)))
    if workers == 1:
        return [check(job) for job in jobs]
    # At most ``concurrency`` reads in flight; one waiting out a 429 lends its lane.
    spare = min(workers, len(jobs) - workers)
    with LanePool(workers, spare=spare, thread_name_prefix="verify") as pool:
        futures = [pool.submit(partial(check, job)) for job in jobs]
        return [future.result() for future in futures]


def _check_user(user_id: str, want: _UserWant, reader: ResourceReader) -> list[tuple[str, str]]:
    ops = {op for _, op in want.fields.values()}
    if want.deleted_by is not None:
        ops.add(want.deleted_by)
    try:
        user = reader.get_user(user_id, purpose=VERIFY)
    except ScimNotFound:
        if want.deleted_by is not None:
            return []
        return [(op, f"user {want.key} ({user_id}) does not exist") for op in sorted(ops)]
    except ReconcilerError as error:
        return [(op, f"could not read user {want.key} back: {error}") for op in sorted(ops)]
    if want.deleted_by is not None:
        return [(want.deleted_by, f"user {want.key} still exists")]
    problems = []
    for name in _FIELDS:
        if name not in want.fields:
            continue
        value, op = want.fields[name]
        actual = getattr(user, name)
        if _equal(name, actual, value):
            continue
        text = f"{name} of {want.key} is {actual!r}, not {value!r}"
        if name == "active" and value is False:
            text += f" ({ACTIVE_UNSHOWN})"
        problems.append((op, text))
    return problems


def _check_group(group_id: str, want: _GroupWant, reader: ResourceReader) -> list[tuple[str, str]]:
    ops = {op for _, op in [*want.present.values(), *want.absent.values()]}
    ops |= {want.name[1]} if want.name else set()
    ops |= {want.deleted_by} if want.deleted_by else set()
    try:
        group = reader.get_group(group_id, purpose=VERIFY)
    except ScimNotFound:
        if want.deleted_by is not None:
            return []
        return [(op, f"team {want.key!r} ({group_id}) does not exist") for op in sorted(ops)]
    except ReconcilerError as error:
        return [(op, f"could not read team {want.key!r} back: {error}") for op in sorted(ops)]
    if want.deleted_by is not None:
        return [(want.deleted_by, f"team {want.key!r} still exists")]
    problems: list[tuple[str, str]] = []
    if want.present and not group.members_listed:
        # No `members` is an empty team (RFC 7643 §2.5: unassigned attributes are left
        # out), which satisfies every removal, but some servers leave out members they
        # have: an add cannot be confirmed from such an answer, so it is not verified.
        unseen = f"could not read the members of {want.key!r} back: the answer leaves out members"
        problems.extend((op, unseen) for op in sorted({op for _, op in want.present.values()}))
        want = _GroupWant(want.key, want.name, absent=want.absent)
    if not group.members_listed:
        # Kept members cannot be confirmed from an answer without members, and an empty
        # team may leave the attribute out: only the adds above are "not verified".
        want = replace(want, kept={})
    if want.name is not None and group.display_name != want.name[0]:
        problems.append(
            (want.name[1], f"team is named {group.display_name!r}, not {want.name[0]!r}")
        )
    for member_id, (email, op) in sorted(want.present.items(), key=lambda i: i[1]):
        if member_id not in group.member_ids:
            problems.append((op, f"{email} is not a member of {want.key!r}"))
    for member_id, (email, op) in sorted(want.absent.items(), key=lambda i: i[1]):
        if member_id in group.member_ids:
            problems.append((op, f"{email} is still a member of {want.key!r}"))
    for member_id, (email, op) in sorted(want.kept.items(), key=lambda i: i[1]):
        if member_id not in group.member_ids:
            problems.append(
                (op, f"{email} is no longer a member of {want.key!r} (no operation removed it)")
            )
    return problems


def _equal(name: str, actual: object, wanted: object) -> bool:
    attribute = BY_NAME.get(name)
    case_insensitive = attribute is not None and attribute.case_insensitive
    if case_insensitive and isinstance(actual, str) and isinstance(wanted, str):
        return ascii_lower(actual) == ascii_lower(wanted)  # case only, as matched
    return actual == wanted


def user_differences(user: LiveUser, fields: Mapping[str, JsonScalar]) -> dict[str, JsonScalar]:
    """The fields whose value on ``user`` is not the wanted one (user_name: ASCII case aside)."""
    return {
        name: value
        for name, value in fields.items()
        if name in _FIELDS and not _equal(name, getattr(user, name), value)
    }
