"""Run a Plan against the server: the only code in the tool that writes.

Phases run in plan order (revoke first); operations inside a phase are independent
and may run concurrently. An operation whose prerequisite failed is skipped, the
others go on, and every outcome is journaled. Results are reported in plan order
whatever the concurrency, so output is deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby
from typing import Any, Protocol

from reconciler.errors import ReconcilerError
from reconciler.identity import match_key
from reconciler.journal import Journal
from reconciler.livestate import LiveGroup, LiveUser
from reconciler.plan import PHASE, MemberRef, Operation, OpKind, Plan
from reconciler.scim import builders
from reconciler.scim.errors import (
    ScimAuthError,
    ScimCircuitOpen,
    ScimError,
    ScimPayloadTooLarge,
)


class ScimWriter(Protocol):
    """The narrow slice of the SCIM client that apply needs."""

    def create_user(self, resource: dict[str, Any]) -> LiveUser: ...
    def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None: ...
    def delete_user(self, user_id: str) -> None: ...
    def create_group(self, resource: dict[str, Any]) -> LiveGroup: ...
    def patch_group(self, group_id: str, patch: dict[str, Any]) -> None: ...


class Status(StrEnum):
    DONE = "done"
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
    (token refused, --fail-fast, the circuit breaker), None when it ran to the end."""

    results: tuple[OpResult, ...]
    stopped: str | None = None

    @property
    def not_attempted(self) -> int:
        return sum(1 for r in self.results if r.detail.startswith(NOT_ATTEMPTED))

    @property
    def complete(self) -> bool:
        return all(r.status is Status.DONE for r in self.results)

    @property
    def count_done(self) -> int:
        return self.count(Status.DONE)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)


@dataclass(frozen=True)
class ApplyOptions:
    chunk_size: int = 100
    concurrency: int = 1
    fail_fast: bool = False


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
    lock: threading.Lock = field(default_factory=threading.Lock)


def apply_plan(
    plan: Plan,
    writer: ScimWriter,
    *,
    journal: Journal,
    options: ApplyOptions = ApplyOptions(),
    on_result: Callable[[OpResult], None] | None = None,
) -> ApplyResult:
    """Execute every operation in order; never raises for a per-operation failure.

    Each outcome is journaled by the worker that produced it, the moment it is known,
    so an interrupt loses none. On Ctrl-C no new operation starts, those in flight
    finish and are journaled, an ``interrupted`` record closes the run, and
    ``ApplyInterrupted`` carries what was done.
    """
    run = _Runner(writer, options, _RunState(), journal)
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
    except KeyboardInterrupt:
        raise _interrupted(plan, run, journal) from None
    outcome = ApplyResult(tuple(results), run.state.stop_reason)
    summary: dict[str, Any] = {s.value: outcome.count(s) for s in Status}
    if outcome.stopped is not None:
        summary["stopped"] = outcome.stopped
    journal.record("apply_end", summary)
    return outcome


def _interrupted(plan: Plan, run: _Runner, journal: Journal) -> ApplyInterrupted:
    run.stop("interrupted")
    with run.state.lock:
        finished = dict(run.state.finished)
    done = ApplyResult(tuple(finished[op.id] for op in plan.operations if op.id in finished))
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


class _Runner:
    def __init__(
        self, writer: ScimWriter, options: ApplyOptions, state: _RunState, journal: Journal
    ) -> None:
        self.writer = writer
        self.options = options
        self.state = state
        self.journal = journal

    def phase(self, ops: list[Operation]) -> Generator[OpResult, None, None]:
        """Results in plan order; on any exit before the end, nothing new starts."""
        workers = max(1, min(self.options.concurrency, len(ops)))
        if workers == 1:
            yield from map(self.run_one, ops)
            return
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply")
        try:
            futures = [pool.submit(self.run_one, op) for op in ops]
            for future in futures:
                yield future.result()
        except BaseException:  # Ctrl-C, or the consumer closed us: stop, drain, re-raise
            self.stop("interrupted")
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def stop(self, reason: str) -> None:
        self._stop(reason)

    def run_one(self, op: Operation) -> OpResult:
        if self.state.stop_reason is not None:
            return self._finish(op, Status.SKIPPED, f"{NOT_ATTEMPTED}{self.state.stop_reason}")
        blocked = [d for d in op.depends_on if d in self.state.unfinished]
        if blocked and op.op is not OpKind.ADD_MEMBERS:
            return self._finish(op, Status.SKIPPED, f"skipped: {blocked[0]} did not succeed")
        try:
            status, detail, scim_id = self._execute(op)
        except ScimCircuitOpen as error:
            # The run-level breaker: this op and every later one stop here, once.
            self._stop(error.reason)
            if not error.attempted:
                return self._finish(op, Status.SKIPPED, f"{NOT_ATTEMPTED}{error.reason}")
            return self._finish(op, Status.FAILED, str(error))
        except ScimAuthError as error:
            self._stop(f"the server refused the token ({error.status})")
            return self._finish(op, Status.FAILED, str(error))
        except ReconcilerError as error:
            if self.options.fail_fast:
                self._stop(f"--fail-fast after {op.id} failed")
            return self._finish(op, Status.FAILED, _with_advice(error))
        return self._finish(op, status, detail, scim_id)

    def _stop(self, reason: str) -> None:
        with self.state.lock:
            self.state.stop_reason = self.state.stop_reason or reason

    def _finish(
        self, op: Operation, status: Status, detail: str, scim_id: str | None = None
    ) -> OpResult:
        result = OpResult(op.id, op.op, op.key, status, detail, scim_id or op.scim_id)
        with self.state.lock:
            if status is not Status.DONE:
                self.state.unfinished.add(op.id)
            self.state.finished[op.id] = result
        self.journal.record("operation", _journal_fields(result))  # now, not when shown
        return result

    def _execute(self, op: Operation) -> tuple[Status, str, str | None]:
        handler = _HANDLERS[op.op]
        return handler(self, op)

    # -- users -------------------------------------------------------------
    def _create_user(self, op: Operation) -> tuple[Status, str, str | None]:
        after = op.after
        resource = builders.user_resource(
            user_name=str(after["user_name"]),
            given_name=_opt_str(after.get("given_name")),
            family_name=_opt_str(after.get("family_name")),
            display_name=_opt_str(after.get("display_name")),
            active=True,
        )
        user = self.writer.create_user(resource)
        with self.state.lock:
            self.state.user_ids[match_key(op.key)] = user.id
        return Status.DONE, "created", user.id

    def _patch_user(self, op: Operation) -> tuple[Status, str, str | None]:
        user_id = _required_id(op)
        self.writer.patch_user(user_id, builders.replace_user_attributes(op.after))
        with self.state.lock:
            self.state.user_ids[match_key(op.key)] = user_id
        return Status.DONE, "updated", user_id

    def _deactivate_user(self, op: Operation) -> tuple[Status, str, str | None]:
        user_id = _required_id(op)
        changes = {**op.after, "active": False}
        self.writer.patch_user(user_id, builders.replace_user_attributes(changes))
        return Status.DONE, "deactivated", user_id

    def _delete_user(self, op: Operation) -> tuple[Status, str, str | None]:
        user_id = _required_id(op)
        self.writer.delete_user(user_id)
        return Status.DONE, "deleted", user_id

    # -- teams -------------------------------------------------------------
    def _create_group(self, op: Operation) -> tuple[Status, str, str | None]:
        group = self.writer.create_group(builders.group_resource(op.key))
        with self.state.lock:
            self.state.group_ids[op.key] = group.id
        return Status.DONE, "created", group.id

    def _rename_group(self, op: Operation) -> tuple[Status, str, str | None]:
        group_id = _required_id(op)
        self.writer.patch_group(group_id, builders.rename_group(op.key))
        return Status.DONE, "renamed", group_id

    def _remove_members(self, op: Operation) -> tuple[Status, str, str | None]:
        group_id = _required_id(op)
        ids = [m.scim_id for m in op.members if m.scim_id is not None]
        self._patch_members(group_id, ids, builders.remove_members)
        return Status.DONE, f"removed {len(ids)}", group_id

    def _add_members(self, op: Operation) -> tuple[Status, str, str | None]:
        group_id = op.scim_id or self.state.group_ids.get(op.key)
        if group_id is None:
            return Status.SKIPPED, f"skipped: team {op.key!r} was not created", None
        ids, missing = self._resolve(op.members, self._blocked_users(op))
        if ids:
            self._patch_members(group_id, ids, builders.add_members)
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
    ) -> tuple[list[str], list[str]]:
        ids: list[str] = []
        missing: list[str] = []
        for member in members:
            member_id = member.scim_id or self.state.user_ids.get(match_key(member.email))
            if member_id is None or match_key(member.email) in blocked:
                missing.append(member.email)
            else:
                ids.append(member_id)
        return ids, missing

    def _patch_members(
        self,
        group_id: str,
        ids: list[str],
        build: Callable[[Sequence[str]], dict[str, Any]],
    ) -> None:
        """Batches of at most ``chunk_size``; a 413 halves the batch and retries it."""
        size = max(1, self.options.chunk_size)
        start = 0
        while start < len(ids):
            chunk = ids[start : start + size]
            try:
                self.writer.patch_group(group_id, build(chunk))
            except ScimPayloadTooLarge:
                if size == 1:
                    raise
                size = max(1, size // 2)
                continue
            start += len(chunk)


_Handler = Callable[[_Runner, Operation], tuple[Status, str, str | None]]
_HANDLERS: dict[OpKind, _Handler] = {
    OpKind.CREATE_USER: _Runner._create_user,
    OpKind.REACTIVATE_USER: _Runner._patch_user,
    OpKind.PATCH_USER: _Runner._patch_user,
    OpKind.DEACTIVATE_USER: _Runner._deactivate_user,
    OpKind.DELETE_USER: _Runner._delete_user,
    OpKind.CREATE_GROUP: _Runner._create_group,
    OpKind.RENAME_GROUP: _Runner._rename_group,
    OpKind.REMOVE_MEMBERS: _Runner._remove_members,
    OpKind.ADD_MEMBERS: _Runner._add_members,
}


def _required_id(op: Operation) -> str:
    if op.scim_id is None:
        raise ReconcilerError(f"{op.id}: the plan has no SCIM id for {op.key}; re-run plan")
    return op.scim_id


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _with_advice(error: ReconcilerError) -> str:
    """Per-user failures Mixpanel is known for, with the fix a person can act on."""
    text = str(error)
    if isinstance(error, ScimError) and error.status == 400 and "claim" in text.lower():
        return (
            f"{text}; fix: claim the email's domain in Mixpanel (Organization Settings > "
            "Access Security > Domain Claim) or remove the user from the manifest"
        )
    return text
