"""Run a Plan against the server: the only code in the tool that writes.

Phases run in plan order (revoke first); operations inside a phase are independent
and may run concurrently. An operation whose prerequisite failed is skipped, the
others go on, and every outcome is journaled. Results are reported in plan order
whatever the concurrency, so output is deterministic.

Evidence over answers:

- A failure on one object (403, 404, 400, 409) fails that operation only; only a
  401 stops the run, since no later request can succeed with a refused token.
- A create that finds the account already there (409, then a userName lookup) is
  *adopted*: compared with the manifest, reactivated and patched in one PATCH before
  any team add, and reported "adopted (not in the listing)". It proves the listing
  was incomplete, so every deprovision and membership removal not yet started is
  skipped ("skipped: listing proven incomplete") and the run ends partial (exit 5).
  With the revoke-first order, phases are barriers: every removal and deprovision
  has finished before the first create starts, so "still pending" can only be a
  revoke that a future ordering (or a saved plan) places after a create; those
  that already ran acted only on accounts the listing did show.
- After the run every touched object is read back and compared with what the plan
  intended (``reconciler.verify``); a difference fails the operation ("the server
  answered success but the change is not there"). ``ApplyOptions.verify=False``
  (``apply --no-verify``) skips the read-back; a write answer that contradicts the
  change (another resource, an unchanged value) then fails the operation instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from itertools import groupby
from typing import Any, TypeVar

from reconciler import ctrl_c
from reconciler.attributes import NAMES
from reconciler.errors import ReconcilerError
from reconciler.grammar import count
from reconciler.guards import Overrides, check_guards
from reconciler.identity import match_key
from reconciler.journal import Journal
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.plan import PHASE, MemberRef, Operation, OpKind, Plan
from reconciler.profile import MIXPANEL, TargetProfile
from reconciler.scim import builders
from reconciler.scim.client import Origin
from reconciler.scim.errors import (
    ScimAuthError,
    ScimBadRequest,
    ScimCircuitOpen,
    ScimConflict,
    ScimError,
    ScimForbidden,
    ScimNotFound,
    ScimPayloadTooLarge,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimUnusableAnswer,
)
from reconciler.scim.lanes import LanePool
from reconciler.scim.protocols import ScimWriter
from reconciler.verify import (
    NOT_THERE,
    UNVERIFIED,
    Expectations,
    Verification,
    user_differences,
    verify,
)

log = logging.getLogger(__name__)

ADOPTED_DETAIL = "adopted (not in the listing)"
LISTING_INCOMPLETE = "skipped: listing proven incomplete"


class Status(StrEnum):
    """An operation's outcome. ADOPTED: done, on an account the listing did not show."""

    DONE = "done"
    ADOPTED = "adopted"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class OpResult:
    op_id: str
    op: OpKind
    key: str
    status: Status
    detail: str = ""
    scim_id: str | None = None


NOT_ATTEMPTED = "not attempted: "


@dataclass(frozen=True)
class ApplyResult:
    """Every operation's outcome in plan order; ``stopped`` is why the run stopped early
    (token refused, --fail-fast, the circuit breaker), None when it ran to the end;
    the run-level explanations (``notes``); and the read-back (None with
    ``verify=False``)."""

    results: tuple[OpResult, ...]
    stopped: str | None = None
    notes: tuple[str, ...] = ()
    verification: Verification | None = None

    @property
    def not_attempted(self) -> int:
        return sum(1 for r in self.results if r.detail.startswith(NOT_ATTEMPTED))

    @property
    def complete(self) -> bool:
        """True only when every operation is DONE; an adoption makes a run partial (exit 5)."""
        return all(r.status is Status.DONE for r in self.results)

    @property
    def unfinished(self) -> int:
        """Operations that did not end with their change made (failed, partial, skipped)."""
        return sum(1 for r in self.results if r.status not in (Status.DONE, Status.ADOPTED))

    @property
    def count_done(self) -> int:
        return self.count(Status.DONE)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)


@dataclass(frozen=True)
class ApplyOptions:
    """How apply runs: membership PATCH size, parallel requests, stop at the first failure,
    and whether to read back every touched object afterwards (``verify``, default on).
    ``profile`` names the service in the advice given with a failed operation."""

    chunk_size: int = 100
    concurrency: int = 1
    fail_fast: bool = False
    verify: bool = True
    profile: TargetProfile = MIXPANEL
    # Seconds to wait before reading again an object whose read-back differs (an
    # eventually consistent server); 0: the first read-back decides.
    verify_settle: float = 0.0
    # Called once when the run is interrupted (Ctrl-C) or stopped by its consumer,
    # before the operations in flight are waited for: the CLI ends their retry waits
    # (``CircuitBreaker.stop_waiting``), so a Retry-After does not hold the close up.
    on_interrupt: Callable[[], None] | None = None


class _AnswerContradicts(ReconcilerError):
    """A write answered success with a body that contradicts the change (no read-back)."""


class ApplyInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during apply, after every operation that finished was journaled.

    ``result`` holds those operations in plan order; ``total`` is the plan's size. A
    KeyboardInterrupt still, so code that does not know it exits as interrupted (130).
    """

    def __init__(self, result: ApplyResult, total: int) -> None:
        super().__init__(f"{result.count_done} of {total} done")
        self.result = result
        self.total = total


class _Aborted(Exception):
    """Raised inside a worker when the run cannot go on (e.g. the token was refused)."""


@dataclass
class _RunState:
    """Ids learned during the run and which operations did not finish."""

    user_ids: dict[str, str] = field(default_factory=dict)
    group_ids: dict[str, str] = field(default_factory=dict)
    unfinished: set[str] = field(default_factory=set)
    finished: dict[str, OpResult] = field(default_factory=dict)
    stop_reason: str | None = None
    unreadable: str = ""  # why verification reads cannot succeed (e.g. token refused)
    adopted: list[str] = field(default_factory=list)
    skipped_revokes: int = 0
    attempted: int = 0
    refused: int = 0
    answer_notes: dict[str, str] = field(default_factory=dict)
    # op id -> the error a write got that the read-back judges: a retry refused as if
    # already done (409, 404, 400), or a 5xx after every retry
    refused_retries: dict[str, str] = field(default_factory=dict)
    expected: Expectations = field(default_factory=Expectations)
    # Per team id: the (user id, email) members no operation of the plan removes.
    kept: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # Per "user"/"team": id -> the key (match key, team name) it belongs to, from the
    # live state and from this run's creates: a create answered with one of them for
    # another key did not make the resource sent (``_fresh``).
    owners: dict[str, dict[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def apply_plan(
    plan: Plan,
    writer: ScimWriter,
    *,
    journal: Journal,
    options: ApplyOptions = ApplyOptions(),
    on_result: Callable[[OpResult], None] | None = None,
    live: LiveState | None = None,
    overrides: Overrides | None = None,
) -> ApplyResult:
    """Execute every operation in order, then verify; never raises for a per-operation failure.

    With ``live`` (the state the plan was checked against; every command passes it)
    the blast-radius guards are enforced here, before the journal opens and before
    any write: UnsafePlanError names each threshold crossed and its override. This
    is the one check that cannot be skipped; ``plan`` evaluates the same guards only
    to show them early.

    Each outcome is journaled by the worker that produced it, the moment it is known,
    so an interrupt loses none; ``verification`` events follow for the operations the
    read-back failed. ``on_result`` sees each outcome as it happens; the returned
    ApplyResult holds the final ones (an operation whose read-back differs is FAILED
    there). On Ctrl-C no new operation starts, those in flight finish and are
    journaled, an ``interrupted`` record closes the run, and ``ApplyInterrupted``
    carries what was done.
    """
    if live is not None:
        check_guards(plan, live, overrides or Overrides())
    state = _RunState(kept=_kept_members(plan, live), owners=_owners(live))
    run = _Runner(writer, options, state, journal)
    journal.record("apply_start", {"plan_digest": plan.digest, "operations": len(plan.operations)})
    results: list[OpResult] = []
    try:
        for _, phase_ops in groupby(plan.operations, key=lambda op: PHASE[op.op]):
            outcomes = run.phase(list(phase_ops))
            try:
                for result in outcomes:
                    results.append(result)
                    if on_result is not None:
                        on_result(result)
            finally:
                outcomes.close()  # an interrupt here still stops and drains the phase
        checked = _read_back(state, writer, options, journal)
    except KeyboardInterrupt:
        raise _interrupted(plan, run, journal) from None
    if checked is not None and not checked.skipped:
        results = _verified(results, checked, state, journal)
    elif checked is not None:
        results, checked = _unjudged(results, checked, state, journal)
    outcome = ApplyResult(
        tuple(results),
        state.stop_reason,
        notes=_notes(state, results, options.profile),
        verification=checked,
    )
    for note in outcome.notes:
        journal.record("note", {"text": note})
    summary: dict[str, Any] = {s.value: outcome.count(s) for s in Status}
    if outcome.stopped is not None:
        summary["stopped"] = outcome.stopped
    journal.record("apply_end", summary)  # always the last event of a run
    return outcome


def _owners(live: LiveState | None) -> dict[str, dict[str, str]]:
    """Whose each live id is: ``{"user": {id: match key}, "team": {id: name}}``."""
    users = {u.id: match_key(u.user_name) for u in live.users} if live is not None else {}
    teams = {g.id: g.display_name for g in live.groups} if live is not None else {}
    return {"user": users, "team": teams}


def _kept_members(plan: Plan, live: LiveState | None) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per team a membership operation touches: the live members it must keep.

    Those the plan neither removes from the team nor deactivates or deletes (a server
    may drop a deprovisioned user's memberships itself). Without ``live`` (library
    use) nothing is known, so nothing is checked.
    """
    if live is None:
        return {}
    membership = (OpKind.ADD_MEMBERS, OpKind.REMOVE_MEMBERS)
    leaving = {
        op.scim_id
        for op in plan.operations
        if op.op in (OpKind.DEACTIVATE_USER, OpKind.DELETE_USER) and op.scim_id
    }
    removed: dict[str, set[str]] = {}
    for op in plan.operations:
        if op.op is OpKind.REMOVE_MEMBERS and op.scim_id:
            removed.setdefault(op.scim_id, set()).update(m.scim_id for m in op.members if m.scim_id)
    kept: dict[str, tuple[tuple[str, str], ...]] = {}
    users = live.users_by_id
    for team_id in {op.scim_id for op in plan.operations if op.op in membership and op.scim_id}:
        group = live.groups_by_id.get(team_id)
        if group is None:
            continue
        gone = removed.get(team_id, set()) | leaving
        kept[team_id] = tuple(
            (member_id, users[member_id].user_name if member_id in users else member_id)
            for member_id in sorted(group.member_ids - gone)
        )
    return kept


def _read_back(
    state: _RunState,
    writer: ScimWriter,
    options: ApplyOptions,
    journal: Journal,
) -> Verification | None:
    """The read-back of every touched object, or None when verification is off."""
    if not options.verify:
        return None
    if state.unreadable:  # every read would fail the same way
        return Verification(0, {}, skipped=state.unreadable)
    checked = verify(
        state.expected, writer, concurrency=options.concurrency, settle=options.verify_settle
    )
    journal.record(
        "verification",
        {
            "objects": checked.objects,
            "failed_operations": checked.failed_operations,
            "read_again": checked.read_again,
        },
    )
    return checked


def _verified(
    results: list[OpResult],
    checked: Verification,
    state: _RunState,
    journal: Journal,
) -> list[OpResult]:
    """Results with every operation whose read-back differs turned into a failure."""
    answer_notes = state.answer_notes
    final = []
    for result in results:
        differences = checked.differences.get(result.op_id)
        if differences and result.status in (Status.DONE, Status.ADOPTED, Status.PARTIAL):
            prefix = f"{result.detail}; " if result.status is Status.ADOPTED else ""
            refused = state.refused_retries.get(result.op_id)
            if refused is not None:  # it was not "answered success": show what it was
                prefix = f"{refused}; "
            detail = prefix + _difference_text(differences, answered=refused is None)
            failed = replace(result, status=Status.FAILED, detail=detail)
            journal.record("verification", _journal_fields(failed))
            final.append(failed)
        elif result.op_id in answer_notes and result.status is not Status.FAILED:
            note = f"{answer_notes[result.op_id]}; read back: it is there"
            final.append(replace(result, detail=f"{result.detail} ({note})"))
        else:
            final.append(result)
    return final


def _unjudged(
    results: list[OpResult], checked: Verification, state: _RunState, journal: Journal
) -> tuple[list[OpResult], Verification]:
    """Results with every operation left to a read-back that was not made
    (``checked.skipped`` says why) turned into a failure, and ``checked`` with those
    operations as its differences (so the summary shows them, as read-back failures).

    Those are the operations whose answer proved nothing (``_Runner._answer_of``,
    ``_Runner._contradicted``): a 5xx after every retry, a retry refused as if done, a
    2xx that cannot be read or contradicts the change. Only the read-back can say they
    were made; without it they are not done (as with --no-verify).
    """
    final = []
    differences: dict[str, tuple[str, ...]] = {}
    for result in results:
        problem = state.answer_notes.get(result.op_id)
        if problem is None or result.status not in (Status.DONE, Status.ADOPTED, Status.PARTIAL):
            final.append(result)
            continue
        prefix = f"{result.detail}; " if result.status is Status.ADOPTED else ""
        unseen = (
            f"the read-back that decides whether the change was made was not made "
            f"({checked.skipped}), so it is not known to be done: run `reconciler plan` "
            "to see what is left"
        )
        failed = replace(result, status=Status.FAILED, detail=f"{prefix}{problem}; {unseen}")
        journal.record("verification", _journal_fields(failed))
        final.append(failed)
        differences[result.op_id] = (unseen,)
    return final, replace(checked, differences=differences)


def _difference_text(differences: tuple[str, ...], *, answered: bool = True) -> str:
    """What the read-back found: changes not there, and changes it could not see.

    ``answered``: the write was answered success (else an error the read-back judged).
    """
    unseen = [d for d in differences if d.startswith(UNVERIFIED)]
    missing = [d for d in differences if not d.startswith(UNVERIFIED)]
    absent = NOT_THERE if answered else "the read-back shows the change is not there"
    parts = [f"{absent}: {'; '.join(missing)}"] if missing else []
    if unseen:
        parts.append(f"not verified: {'; '.join(unseen)}")
    return "; ".join(parts)


def _notes(state: _RunState, results: list[OpResult], profile: TargetProfile) -> tuple[str, ...]:
    """Run-level explanations: an incomplete listing, untrustworthy answers, refusals."""
    notes = (
        _listing_note(state),
        _answers_note(state, results),
        _refused_note(state, profile),
    )
    return tuple(note for note in notes if note)


def _listing_note(state: _RunState) -> str:
    if not state.adopted:
        return ""
    names = ", ".join(sorted(state.adopted))
    pronoun = "it" if len(state.adopted) == 1 else "them"
    revokes = count(
        state.skipped_revokes,
        "deprovision or membership removal",
        "deprovisions and membership removals",
    )
    skipped = (
        f"{revokes} still pending {'was' if state.skipped_revokes == 1 else 'were'} skipped"
        if state.skipped_revokes
        else "no deprovision or membership removal was still pending (they run first, "
        "and acted only on accounts the listing showed)"
    )
    return (
        f"The listing is incomplete: {names} already existed although the listing did not "
        f"show {pronoun}. Each was adopted and made to match the manifest (reactivated, "
        f"updated) before joining any team; {skipped}. A listing shown to be incomplete "
        "cannot be trusted to say who must lose access: check the server with "
        "`reconciler doctor`, then run plan again, which reads everything afresh."
    )


def _answers_note(state: _RunState, results: list[OpResult]) -> str:
    examples = "; ".join(
        f"{r.op.value} {r.key}: {r.detail}"
        for r in results
        if r.op_id in state.answer_notes and r.status is not Status.FAILED
    )
    if not examples:
        return ""
    return (
        "The server's write answers did not match the changes made, so only the "
        f"read-back is evidence; keep verification on for this server. {examples}"
    )


def _refused_note(state: _RunState, profile: TargetProfile) -> str:
    attempted = state.attempted
    if attempted < 2 or state.refused != attempted:
        return ""
    return (
        f"Every write was refused (HTTP 403, {attempted} of {attempted}): the token may "
        f"lack the rights; {profile.new_credential_advice}."
    )


def _interrupted(plan: Plan, run: _Runner, journal: Journal) -> ApplyInterrupted:
    """The run's close after a Ctrl-C: what finished, and its ``interrupted`` record.

    A second Ctrl-C while it is written is only noted: it would cut off the record
    and the summary of what was done (``ctrl_c.held``).
    """
    with ctrl_c.held(_still_closing):
        return _close_interrupted(plan, run, journal)


def _still_closing() -> None:
    log.warning("interrupted again: still writing the journal's record of what was done")


def _close_interrupted(plan: Plan, run: _Runner, journal: Journal) -> ApplyInterrupted:
    run.stop("interrupted")
    with run.state.lock:
        finished = dict(run.state.finished)
    results = [finished[op.id] for op in plan.operations if op.id in finished]
    # Writes whose answers left the outcome to the read-back, which an interrupt skips.
    unread = Verification(0, {}, skipped="the run was interrupted")
    done = ApplyResult(tuple(_unjudged(results, unread, run.state, journal)[0]))
    journal.record(
        "interrupted",
        {
            "done": done.count_done,
            "finished": len(done.results),
            "operations": len(plan.operations),
        },
    )
    return ApplyInterrupted(done, len(plan.operations))


def _journal_fields(result: OpResult) -> dict[str, Any]:
    return {
        "id": result.op_id,
        "op": result.op.value,
        "key": result.key,
        "status": result.status.value,
        "detail": result.detail,
        "scim_id": result.scim_id,
    }


def _drain(pool: LanePool) -> None:
    """Wait for the operations in flight after an interrupt; nothing new starts.

    A second Ctrl-C (or SIGTERM) while they finish must not cut the wait short: the
    run would write its ``interrupted`` record and end while they still write, and
    their outcomes would never be journaled or shown. Bounded by the requests' own
    deadlines and the retry budget, as the wait after the first one is.
    """
    while True:
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:
            log.warning(
                "interrupted again: still waiting for the operations in flight to finish "
                "(each within its request deadline), so that each is journaled"
            )
            continue
        return


class _Runner:
    def __init__(
        self, writer: ScimWriter, options: ApplyOptions, state: _RunState, journal: Journal
    ) -> None:
        self.writer = writer
        self.options = options
        self.state = state
        self.journal = journal

    def phase(self, ops: list[Operation]) -> Generator[OpResult, None, None]:
        """Results in plan order; on any exit before the end, nothing new starts.

        At most ``concurrency`` operations hold a lane (so at most that many requests
        are in flight), started in plan order; one whose request waits out a 429
        lends its lane to the next operation meanwhile (``LanePool``). With one
        lane, operations run one after the other, none lent. Even then they run in
        the pool, never in this thread: a Ctrl-C lands here, and the operation in
        flight finishes and is journaled, instead of being cut off after its write
        reached the server with nothing recorded.
        """
        workers = max(1, min(self.options.concurrency, len(ops)))
        spare = 0 if workers == 1 else min(workers, len(ops) - workers)
        pool = LanePool(workers, spare=spare, thread_name_prefix="apply")
        try:
            # Submitted whole: a Ctrl-C inside ThreadPoolExecutor.submit can leave a
            # worker started but unknown to the pool, which the drain would not wait for.
            with ctrl_c.deferred():
                futures = [pool.submit(partial(self.run_one, op)) for op in ops]
            for future in futures:
                yield future.result()
        except BaseException:  # Ctrl-C, or the consumer closed us: stop, drain, re-raise
            self.stop("interrupted")
            if self.options.on_interrupt is not None:
                self.options.on_interrupt()  # in-flight retry waits end now
            _drain(pool)
            raise
        pool.shutdown(wait=True)

    def stop(self, reason: str) -> None:
        self._stop(reason)

    def run_one(self, op: Operation) -> OpResult:
        if self.state.stop_reason is not None:
            return self._finish(op, Status.SKIPPED, f"{NOT_ATTEMPTED}{self.state.stop_reason}")
        if op.op.revokes and self._listing_proven_incomplete():
            return self._finish(op, Status.SKIPPED, LISTING_INCOMPLETE)
        blocked = [d for d in op.depends_on if d in self.state.unfinished]
        if blocked and op.op is not OpKind.ADD_MEMBERS:
            return self._finish(op, Status.SKIPPED, f"skipped: {blocked[0]} did not succeed")
        with self.state.lock:
            self.state.attempted += 1
        try:
            status, detail, scim_id = self._execute(op)
        except ScimCircuitOpen as error:
            # The run-level breaker: this op and every later one stop here, once.
            self.state.unreadable = error.reason  # the read-back would be refused too
            self._stop(error.reason)
            if not error.attempted:
                return self._finish(op, Status.SKIPPED, f"{NOT_ATTEMPTED}{error.reason}")
            return self._finish(op, Status.FAILED, str(error))
        except ScimAuthError as error:
            self.state.unreadable = "the server refused the token"
            self._stop(f"the server refused the token ({error.status})")
            return self._finish(op, Status.FAILED, str(error))
        except ReconcilerError as error:
            if isinstance(error, ScimForbidden):
                with self.state.lock:
                    self.state.refused += 1
            if self.options.fail_fast:
                self._stop(f"--fail-fast after {op.id} failed")
            return self._finish(op, Status.FAILED, _with_advice(error, op, self.options.profile))
        return self._finish(op, status, detail, scim_id)

    def _listing_proven_incomplete(self) -> bool:
        with self.state.lock:
            if self.state.adopted:
                self.state.skipped_revokes += 1
            return bool(self.state.adopted)

    def _fresh(self, kind: str, scim_id: str, key: str, shown: str) -> None:
        """Claim ``scim_id`` for the ``kind`` created as ``key``; raise if another owns it.

        A create's answer (201 or 200 body, or the lookup after a 409) naming the id of
        another user or team, one the live read showed or this run created, did not make
        the resource sent: trusting it would add *that* account (or give that team
        members) wherever the plan puts the new one. Raises ScimProtocolError, so the
        operation fails and nothing that depends on it runs.
        """
        with self.state.lock:
            owners = self.state.owners.setdefault(kind, {})
            owner = owners.setdefault(scim_id, key)
        if owner == key:
            return
        other = f"{owner!r}" if kind == "team" else owner
        product = self.options.profile.product
        raise ScimProtocolError(
            f"{kind} {shown}: the server answered the create with id {scim_id!r}, which "
            f"already belongs to the {kind} {other}; the answer is not trusted, so nothing "
            f"is added to {shown} and {other} is left as it was. Check in {product} "
            f"whether {shown} exists, report the wrong id to the server's vendor, then run "
            "`reconciler plan` again"
        )

    def _adopted(self, key: str) -> None:
        with self.state.lock:
            self.state.adopted.append(key)

    def _stop(self, reason: str) -> None:
        with self.state.lock:
            self.state.stop_reason = self.state.stop_reason or reason

    def _finish(
        self, op: Operation, status: Status, detail: str, scim_id: str | None = None
    ) -> OpResult:
        result = OpResult(op.id, op.op, op.key, status, detail, scim_id or op.scim_id)
        with self.state.lock:
            if status not in (Status.DONE, Status.ADOPTED):
                self.state.unfinished.add(op.id)
            self.state.finished[op.id] = result
        self.journal.record("operation", _journal_fields(result))  # now, not when shown
        return result

    def _execute(self, op: Operation) -> tuple[Status, str, str | None]:
        handler: _Handler = getattr(self, op.op.spec.handler)  # named in the kind's spec
        return handler(op)

    # -- users -------------------------------------------------------------
    def _create_user(self, op: Operation) -> tuple[Status, str, str | None]:
        after = op.after
        values = {k: _opt_str(v) for k, v in after.items() if k in NAMES and k != "active"}
        resource = builders.new_user_resource({**values, "active": True})
        intended = {k: v for k, v in after.items() if v is not None} | {"active": True}
        creation = self.writer.create_or_adopt_user(resource)
        user = creation.resource
        self._fresh("user", user.id, match_key(op.key), op.key)
        differs = user_differences(user, intended)
        # A 201 for our POST is our account even when the server made it otherwise than
        # sent: inactive until activated, or without values the answer leaves out (RFC
        # 7644 §3.3: a 201 SHOULD hold the resource, and may hold only some attributes).
        # Those are patched (below) and verified, not taken for an account the listing
        # hid. A name or userName it shows that differs from the one sent cannot come
        # from our POST: an account that was there before. A lookup after a lost answer
        # that finds an account unlike the one sent did find one that was there before.
        shown = {k for k in differs if k != "active" and getattr(user, k) is not None}
        adopted = (
            creation.origin is Origin.ADOPTED
            or (creation.origin is Origin.CREATED and bool(shown))
            or (creation.origin is Origin.RECOVERED and bool(differs))
        )
        if adopted:
            self._adopted(op.key)  # proof the listing was incomplete, whatever follows
        if differs:  # reactivate and patch before the account can join any team
            self._checked_patch(op, user.id, differs)
        self.state.expected.user(user.id, op.id, op.key, intended)
        with self.state.lock:
            self.state.user_ids[match_key(op.key)] = user.id
        if adopted:
            return Status.ADOPTED, _adoption_detail(user, differs), user.id
        if creation.origin is Origin.RECOVERED:
            why = creation.why or "its answer was lost"
            return Status.DONE, f"created ({why}; found by a lookup)", user.id
        if differs:
            return Status.DONE, _made_otherwise_detail(user, differs), user.id
        return Status.DONE, "created", user.id

    def _patch_user(self, op: Operation) -> tuple[Status, str, str | None]:
        user_id = _required_id(op)
        self._checked_patch(op, user_id, op.after)
        with self.state.lock:
            self.state.user_ids[match_key(op.key)] = user_id
        return Status.DONE, "updated", user_id

    def _deactivate_user(self, op: Operation) -> tuple[Status, str, str | None]:
        user_id = _required_id(op)
        self._checked_patch(op, user_id, {**op.after, "active": False})
        return Status.DONE, "deactivated", user_id

    def _checked_patch(self, op: Operation, user_id: str, changes: dict[str, Any]) -> None:
        """One PATCH with every change; its answer is checked against the change.

        With verification on, an answer that contradicts the change is only noted (the
        read-back decides); without it, that answer is all the evidence, so it fails.
        """
        patch = builders.replace_user_attributes(changes)
        answer = self._answer_of(
            op, f"user {op.key}", partial(self.writer.patch_user, user_id, patch)
        )
        self.state.expected.user(user_id, op.id, op.key, changes)
        if answer is None:
            return
        if answer.id != user_id:
            problem = f"the server's answer describes another user ({answer.user_name})"
        elif differs := user_differences(answer, changes):
            problem = f"the server's answer does not show {', '.join(sorted(differs))} changed"
        else:
            return
        self._contradicted(op, f"user {op.key}", problem)

    def _answer_of(self, op: Operation, what: str, write: Callable[[], _A | None]) -> _A | None:
        """``write()``'s answer, or None when the answer leaves the outcome open.

        Open: accepted (2xx) with an unusable answer; a retry refused as if already done
        (409, 404 or 400 after an attempt whose answer was lost); a 5xx after every
        retry. Such an answer proves neither success nor failure: it is noted like a
        contradicting one, so the read-back decides (a failure then shows the server's
        answer); with --no-verify, where nothing else can, the operation fails (a 5xx
        as itself). Raises every other ScimError unchanged.
        """
        try:
            return write()
        except ScimUnusableAnswer as unusable:
            problem = (
                f"the server accepted it (HTTP {unusable.status}) but its answer cannot be read: "
                f"{unusable.detail}"
            )
        except (ScimBadRequest, ScimNotFound, ScimConflict) as refused:
            if refused.attempts < 2:
                raise
            # A retry refused as if already done ("member already exists"): the attempt
            # before it, whose answer was lost (a 5xx, a dropped connection), may have
            # made the change. Whether it did is the read-back's to say, not this answer's.
            problem = (
                f"a retry was answered HTTP {refused.status}: {refused.detail} (an earlier "
                "attempt, whose answer was lost, may have made the change)"
            )
            with self.state.lock:
                self.state.refused_retries[op.id] = str(refused)
        except ScimServerError as failed:
            if isinstance(failed, ScimRateLimited) or not self.options.verify:
                raise  # a 429 did nothing; without the read-back the 5xx is all we know
            if self.options.fail_fast:
                raise  # --fail-fast stops at the first error answer, as it always did
            # A 5xx (after every retry) is no proof the change was not made: servers that
            # fail after doing the work (a proxy's 504, an answer that failed to render)
            # answer so too. The read-back, which reads the object anyway, decides.
            problem = (
                f"the server answered HTTP {failed.status}: {failed.detail} (a server that "
                "fails after doing the work answers so too)"
            )
            with self.state.lock:
                self.state.refused_retries[op.id] = str(failed)
        self._contradicted(op, what, problem)
        return None

    def _contradicted(self, op: Operation, what: str, problem: str) -> None:
        """A write answer contradicts the change: noted (the read-back decides), or,
        with --no-verify, where that answer is all the evidence, a failed operation."""
        if not self.options.verify:
            raise _AnswerContradicts(
                f"{what}: {problem}; with --no-verify nothing else shows whether the "
                "change was made: run `reconciler plan` to see, or apply without --no-verify"
            )
        with self.state.lock:
            self.state.answer_notes[op.id] = problem

    def _checked_group_answer(
        self, op: Operation, group_id: str, answer: LiveGroup | None, name: str | None = None
    ) -> None:
        """A team PATCH answer must describe the team addressed (and its new name)."""
        if answer is None:
            return
        if answer.id != group_id:
            problem = f"the server's answer describes another team ({answer.display_name!r})"
        elif name is not None and answer.display_name != name:
            problem = "the server's answer does not show displayName changed"
        else:
            return
        self._contradicted(op, f"team {op.key!r}", problem)

    def _delete(self, op: Operation) -> tuple[Status, str, str | None]:
        """DELETE the user or team the kind's ``subject`` names; read back as gone."""
        scim_id = _required_id(op)
        subject = op.op.spec.subject
        delete = self.writer.delete_user if subject == "user" else self.writer.delete_group
        self._answer_of(op, f"{subject} {op.key}", partial(_none, delete, scim_id))
        self.state.expected.deleted(subject, scim_id, op.id, op.key)
        return Status.DONE, "deleted", scim_id

    # -- teams -------------------------------------------------------------
    def _create_group(self, op: Operation) -> tuple[Status, str, str | None]:
        creation = self.writer.create_or_adopt_group(builders.group_resource(op.key))
        group = creation.resource
        self._fresh("team", group.id, op.key, repr(op.key))
        self.state.expected.group_name(group.id, op.id, op.key)
        with self.state.lock:
            self.state.group_ids[op.key] = group.id
        if creation.origin is Origin.ADOPTED:
            self._adopted(f"team {op.key!r}")
            return Status.ADOPTED, ADOPTED_DETAIL, group.id
        return Status.DONE, "created", group.id

    def _rename_group(self, op: Operation) -> tuple[Status, str, str | None]:
        group_id = _required_id(op)
        rename = partial(self.writer.patch_group, group_id, builders.rename_group(op.key))
        answer = self._answer_of(op, f"team {op.key!r}", rename)
        self.state.expected.group_name(group_id, op.id, op.key)
        self._checked_group_answer(op, group_id, answer, op.key)
        return Status.DONE, "renamed", group_id

    def _remove_members(self, op: Operation) -> tuple[Status, str, str | None]:
        group_id = _required_id(op)
        pairs = [(m.scim_id, m.email) for m in op.members if m.scim_id is not None]
        self._patch_members(op, group_id, [i for i, _ in pairs], builders.remove_members)
        self.state.expected.members(group_id, op.id, op.key, pairs, present=False)
        self.state.expected.kept_members(group_id, op.id, op.key, self.state.kept.get(group_id, ()))
        return Status.DONE, f"removed {len(pairs)}", group_id

    def _add_members(self, op: Operation) -> tuple[Status, str, str | None]:
        group_id = op.scim_id or self.state.group_ids.get(op.key)
        if group_id is None:
            return Status.SKIPPED, f"skipped: team {op.key!r} was not created", None
        pairs, missing = self._resolve(op.members, self._blocked_users(op))
        ids = [member_id for member_id, _ in pairs]
        if ids:
            self._patch_members(op, group_id, ids, builders.add_members)
            self.state.expected.members(group_id, op.id, op.key, pairs, present=True)
            kept = self.state.kept.get(group_id, ())
            self.state.expected.kept_members(group_id, op.id, op.key, kept)
        if missing:
            names = ", ".join(missing)
            return (
                Status.PARTIAL,
                f"added {len(ids)}; skipped {names} (not created or reactivated)",
                group_id,
            )
        return Status.DONE, f"added {len(ids)}", group_id

    def _blocked_users(self, op: Operation) -> frozenset[str]:
        """Members whose create or reactivation did not succeed are not added."""
        with self.state.lock:
            failed = [d for d in op.depends_on if d in self.state.unfinished]
        grants = (f"{OpKind.CREATE_USER.value}:", f"{OpKind.REACTIVATE_USER.value}:")
        return frozenset(d.split(":", 1)[1] for d in failed if d.startswith(grants))

    def _resolve(
        self, members: Sequence[MemberRef], blocked: frozenset[str]
    ) -> tuple[list[tuple[str, str]], list[str]]:
        """(user id, email) of the members to add, and the emails that cannot be added."""
        pairs: list[tuple[str, str]] = []
        missing: list[str] = []
        for member in members:
            member_id = member.scim_id or self.state.user_ids.get(match_key(member.email))
            if member_id is None or match_key(member.email) in blocked:
                missing.append(member.email)
            else:
                pairs.append((member_id, member.email))
        return pairs, missing

    def _patch_members(
        self,
        op: Operation,
        group_id: str,
        ids: list[str],
        build: Callable[[Sequence[str]], dict[str, Any]],
    ) -> None:
        """Batches of at most ``chunk_size``; a 413 halves the batch and retries it."""
        size = max(1, self.options.chunk_size)
        start = 0
        while start < len(ids):
            chunk = ids[start : start + size]
            send = partial(self.writer.patch_group, group_id, build(chunk))
            try:
                answer = self._answer_of(op, f"team {op.key!r}", send)
            except ScimPayloadTooLarge:
                if size == 1:
                    raise
                size = max(1, size // 2)
                continue
            self._checked_group_answer(op, group_id, answer)
            start += len(chunk)


_Handler = Callable[[Operation], tuple[Status, str, str | None]]
_A = TypeVar("_A", LiveUser, LiveGroup)


def _none(call: Callable[[str], None], argument: str) -> None:
    """``call(argument)``, typed as a write without an answer (for ``_answer_of``)."""
    call(argument)


def _required_id(op: Operation) -> str:
    if op.scim_id is None:
        raise ReconcilerError(f"{op.id}: the plan has no SCIM id for {op.key}; re-run plan")
    return op.scim_id


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _adoption_detail(user: LiveUser, differs: dict[str, Any]) -> str:
    done = []
    if differs.get("active") is True and not user.active:
        done.append("reactivated")
    updated = sorted(k for k in differs if k != "active")
    if updated:
        done.append(f"updated {', '.join(updated)}")
    return ADOPTED_DETAIL + (f": {' and '.join(done)}" if done else "")


def _made_otherwise_detail(user: LiveUser, differs: dict[str, Any]) -> str:
    """``created (the server made it inactive; then reactivated)``, say: a 201 whose
    account differs from what was sent, patched before it joined any team."""
    made = [
        "inactive"
        if name == "active" and not user.active
        else f"without {name}"
        if getattr(user, name, None) is None
        else f"with another {name}"
        for name in sorted(differs)
    ]
    return f"created (the server made it {', '.join(made)}; patched to match the manifest)"


def _with_advice(error: ReconcilerError, op: Operation, profile: TargetProfile) -> str:
    """Per-object failures with the server's detail and the fix a person can act on."""
    text = str(error)
    if isinstance(error, ScimError) and error.status == 400 and "claim" in text.lower():
        return f"{text}; {profile.unclaimed_domain_fix}"
    if (
        isinstance(error, ScimError)
        and error.status == 400
        and op.op is OpKind.REMOVE_MEMBERS
        and (error.scim_type or "").lower() in ("invalidpath", "invalidfilter", "notarget")
    ):
        return (
            f'{text}; the server does not accept the path members[value eq "id"], the one '
            "way RFC 7644 §3.5.2.2 defines to remove some members. This tool never falls back "
            "to a bare `members` path, which an RFC server reads as removing every member: "
            f"remove the member by hand in {profile.product}"
        )
    if (
        isinstance(error, ScimError)
        and error.status == 400
        and error.method == "PATCH"
        and (error.scim_type or "").lower() in ("invalidpath", "notarget")
    ):
        return (
            f"{text}; the server refused the path of this PatchOp (this tool sends the "
            "RFC 7644 §3.5.2 form with a path, e.g. `active`, `name.givenName`, "
            "`displayName`, `members`) and nothing was changed by it: make the change by "
            f"hand in {profile.product}, or ask the server's vendor to accept PATCH paths"
        )
    if isinstance(error, ScimForbidden) and not op.is_user_op:
        return (
            f"{text}; the server refuses this change for this team only (the other "
            f"operations went on): make it by hand in {profile.product}, or, for a team "
            "the server manages itself, leave it out of the manifest"
        )
    if isinstance(error, ScimForbidden):
        return (
            f"{text}; the server refuses this change for this account only (the other "
            f"operations went on): make it by hand in {profile.product}, or, for an account "
            "that must keep access (an owner), keep it active in the manifest and list it under "
            "policy.protected"
        )
    if isinstance(error, ScimError) and error.status in (412, 428):
        # RFC 7644 §3.14: versioned writes (If-Match with the resource's ETag), which
        # this tool does not send; another change may also have raced this one. This
        # advice replaces the error's own (parse_error's), which says the same in part.
        return str(
            error.with_hint(
                "the server wants a versioned write (an If-Match ETag header, RFC 7644 "
                "§3.14), which this tool does not send: turn that requirement off in the "
                "server's SCIM settings or ask its vendor; nothing was changed, and "
                "`reconciler plan` shows whether someone else changed it meanwhile"
            )
        )
    return text
