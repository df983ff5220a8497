"""The Plan: a frozen, serialisable value that says exactly what apply will do.

Made by the planner from (manifest, live state) without any I/O; executed only by
the executor. It records what it was based on (live fingerprint, manifest digest)
so a saved plan can be refused when it has gone stale.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconciler.kinds import (
    DEPROVISION_OPS,
    MEMBERSHIP_OPS,
    PHASE,
    REVOKING,
    SPECS,
    USER_OPS,
    KindSpec,
    OpKind,
)

# The kinds live in ``reconciler.kinds``; re-exported here, where the plan uses them.
__all__ = [
    "DEPROVISION_OPS",
    "MEMBERSHIP_OPS",
    "PHASE",
    "REVOKING",
    "SPECS",
    "USER_OPS",
    "JsonScalar",
    "KindSpec",
    "MemberRef",
    "OpKind",
    "Operation",
    "Plan",
    "PolicySnapshot",
    "Summary",
    "grant_count",
    "not_covered",
    "summarise",
]

# The one definition: a before/after value in an operation, the diff and verification.
JsonScalar = str | int | float | bool | None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemberRef(_Frozen):
    """A user in a membership change: its userName, and its SCIM id when it exists live."""

    email: str
    scim_id: str | None = None
    reason: str = ""


class Operation(_Frozen):
    """One step of the plan. ``reason`` is for display only; the executor ignores it."""

    id: str
    op: OpKind
    key: str
    scim_id: str | None = None
    before: dict[str, JsonScalar] = Field(default_factory=dict)
    after: dict[str, JsonScalar] = Field(default_factory=dict)
    members: tuple[MemberRef, ...] = ()
    depends_on: tuple[str, ...] = ()
    reason: str = ""

    @property
    def is_user_op(self) -> bool:
        return self.op in USER_OPS


class Summary(_Frozen):
    """Counts for the last line of the text plan and the Markdown table."""

    create: int = 0
    change: int = 0
    deactivate: int = 0
    delete: int = 0
    members_added: int = 0
    members_removed: int = 0

    @property
    def membership_changes(self) -> int:
        return self.members_added + self.members_removed

    @property
    def total(self) -> int:
        return self.create + self.change + self.deactivate + self.delete + self.membership_changes


class PolicySnapshot(_Frozen):
    """The policy a plan was made and checked under: the plan's own copy of it.

    Not the manifest's ``Policy`` model, so the plan file's shape does not move when
    the manifest schema does, and a saved plan is checked (``guards``) against the
    limits its reviewers saw. Built by the planner from the manifest's policy
    (``PolicySnapshot.model_validate(policy.model_dump(mode="json"))``); the field
    names and JSON shape are those of ``policy:`` in the manifest.
    """

    unmanaged_users: str = "report"
    deprovision: str = "deactivate"
    max_deprovision: int = 10
    max_deprovision_percent: float = 10.0
    max_membership_removals: int = 50
    max_membership_removals_percent: float = 25.0
    max_teams_emptied: int = 1
    expiry_warning_days: int = 14
    protected: tuple[str, ...] = ()
    lookalike_users: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_model(cls, value: object) -> object:
        """Accept any model with these fields (the manifest's Policy) by its JSON values."""
        if isinstance(value, BaseModel) and not isinstance(value, PolicySnapshot):
            return value.model_dump(mode="json")
        return value


class Plan(_Frozen):
    """What apply will do, and what it was made from."""

    target: str
    manifest_digest: str
    live_fingerprint: str
    as_of: date
    claimed_domains: tuple[str, ...]
    policy: PolicySnapshot
    # Which org the plan was made for: a keyed hash of the credential that read it
    # (``orgs.org_identity``), since every Mixpanel org shares one SCIM URL. Empty in
    # plans made before it existed and in plans made without a token.
    org: str = ""
    operations: tuple[Operation, ...] = ()
    notices: tuple[str, ...] = ()
    summary: Summary = Summary()
    # Operations the manifest asks for that this plan will NOT run: a revoke-only
    # plan keeps its grants here, to be applied after a reviewed merge.
    held_back: tuple[Operation, ...] = ()
    # Where the manifest was read from (`plan -m`), for advice such as "re-run plan -m
    # teams/"; display only, so not part of the digest.
    manifest_path: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _without_file_fields(cls, value: object) -> object:
        """``format_version`` belongs to the file, checked by ``reconciler.planfile``."""
        if isinstance(value, dict) and "format_version" in value:
            return {k: v for k, v in value.items() if k != "format_version"}
        return value

    @property
    def has_changes(self) -> bool:
        return bool(self.operations)

    def to_json(self) -> str:
        """The plan file's text; the format is ``reconciler.planfile``'s (``dumps``)."""
        from reconciler import planfile  # planfile imports this module

        return planfile.dumps(self)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """A saved plan, version- and digest-checked by ``reconciler.planfile.loads``.

        Raises ValueError (``planfile.PlanFileError``, ``planfile.TamperedPlanError``,
        or a validation error) when the text is not a usable plan.
        """
        from reconciler import planfile  # planfile imports this module

        return planfile.loads(text)

    @property
    def digest(self) -> str:
        """Identity of what the plan does: its target, its basis and its operations.

        A reviewer who saw a plan with this digest saw exactly these operations; the
        apply workflow compares it with the plan made at merge time. Covered: target,
        org, manifest digest, live fingerprint, claimed domains, the policy snapshot,
        the operations (and held-back ones) and the summary. Left out: ``as_of``,
        ``notices``, ``manifest_path`` and every ``reason`` (of an operation or a
        member), which are display only, so rewording a message cannot invalidate a
        reviewed plan, and an unchanged plan keeps its digest from the day it was
        reviewed to the day it is merged; when an expiry passes, the operations
        change, and so does the digest.
        """
        body = self.model_dump(
            mode="json",
            exclude={
                "as_of": True,
                "notices": True,
                "manifest_path": True,
                "operations": {"__all__": _REASONS},
                "held_back": {"__all__": _REASONS},
            },
        )
        if not self.held_back:
            del body["held_back"]  # digests of plans without it stay as they were
        if not self.org:
            del body["org"]
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def revocations_only(self) -> Plan:
        """This plan with only the operations that remove access; the rest held back.

        A deactivation keeps only ``active: false``: attribute changes it carried are
        a patch, and a patch waits for review like every other grant or change. A
        removal from a team whose rename is held back names the team by its live
        (previous) name, the one it keeps until the rename is reviewed.
        """
        run: list[Operation] = []
        held = [op for op in self.operations if not op.op.revokes]
        # A team whose rename waits keeps its live name: a removal names it so.
        live_names = {
            op.scim_id: str(op.before["name"])
            for op in held
            if op.op is OpKind.RENAME_GROUP
            and op.scim_id
            and isinstance(op.before.get("name"), str)
        }
        for op in self.operations:
            if not op.op.revokes:
                continue
            update: dict[str, Any] = {}
            if op.op is OpKind.DEACTIVATE_USER and set(op.after) != {"active"}:
                update["after"] = {"active": False}
            if not op.is_user_op and op.scim_id in live_names:
                update["key"] = live_names[op.scim_id]
            run.append(op.model_copy(update=update) if update else op)
        return self.model_copy(
            update={
                "operations": tuple(run),
                "held_back": (*self.held_back, *held),
                "summary": summarise(tuple(run)),
            }
        )

    def operation(self, op_id: str) -> Operation:
        for operation in self.operations:
            if operation.id == op_id:
                return operation
        raise KeyError(op_id)


# The display-only parts of an operation, left out of the digest.
_REASONS: dict[str, Any] = {"reason": True, "members": {"__all__": {"reason": True}}}


def summarise(operations: tuple[Operation, ...]) -> Summary:
    """Count operations the way the text plan's last line reports them."""
    counts: dict[str, Any] = dict.fromkeys(Summary.model_fields, 0)
    for op in operations:
        spec = SPECS[op.op]
        counts[spec.bucket] += len(op.members) if spec.membership else 1
    return Summary(**counts)


def grant_count(operations: tuple[Operation, ...]) -> int:
    """How many grants or changes ``operations`` hold: one per object, one per member added."""
    return sum(len(op.members) if op.op is OpKind.ADD_MEMBERS else 1 for op in operations)


def not_covered(
    candidate: tuple[Operation, ...], reviewed: tuple[Operation, ...], *, same_ids: bool = False
) -> list[str]:
    """Each part of ``candidate`` that ``reviewed`` does not contain, one line each.

    An operation is covered by the reviewed operation of the same kind and key when
    it writes no attribute value the reviewed one did not write, and adds or removes
    no member the reviewed one did not. SCIM ids and ``before`` values are not
    compared by default: they say where and from what, and they move when a partial
    apply has already done part of the work. A reactivation or a patch is covered by
    a reviewed create of the same user when it writes only the create's values (the
    account turned out to exist). ``same_ids`` (``reviewed`` was made from
    the same live state) also requires each SCIM id the candidate carries, of the
    object or of a member, to be the reviewed one's: the executor writes by id, so a
    plan file whose keys are right and whose ids point at someone else would write to
    them. Empty means: nothing new. Pure.
    """
    by_id = {(op.op, op.key): op for op in reviewed}
    found: list[str] = []
    for op in candidate:
        seen = by_id.get((op.op, op.key))
        if seen is None and not same_ids and op.op in _CREATED_BY and "user_name" not in op.after:
            # The account a reviewed create makes was there after all (adopted after a
            # 409, then the run stopped): setting it to the create's values is no more.
            # Renaming another account to it (previous_emails) is: it has its own access.
            seen = by_id.get((OpKind.CREATE_USER, op.key))
        if seen is None:
            found.append(f"{_noun(op)}: {op.op.value} is not in the reviewed plan")
            continue
        for name, value in op.after.items():
            if name not in seen.after or seen.after[name] != value:
                found.append(f"{_noun(op)}: {op.op.value} sets {name} to {json.dumps(value)}")
        known = {m.email.lower(): m for m in seen.members}
        for member in op.members:
            if member.email.lower() not in known:
                found.append(f"{_noun(op)}: {op.op.value} {member.email} is new")
        if same_ids:
            found.extend(_other_ids(op, seen, known))
    return found


# Kinds that set an existing account to what a create of the same key would write.
_CREATED_BY = frozenset({OpKind.REACTIVATE_USER, OpKind.PATCH_USER})


def _other_ids(op: Operation, seen: Operation, known: dict[str, MemberRef]) -> list[str]:
    """The SCIM ids ``op`` carries that are not ``seen``'s (for the same key), one line each."""
    found = []
    if op.scim_id is not None and op.scim_id != seen.scim_id:
        found.append(
            f"{_noun(op)}: {op.op.value} targets SCIM id {op.scim_id!r}, not "
            f"{seen.scim_id or 'none'!r}"
        )
    for member in op.members:
        reviewed = known.get(member.email.lower())
        if member.scim_id is None or reviewed is None or member.scim_id == reviewed.scim_id:
            continue
        found.append(
            f"{_noun(op)}: {op.op.value} says {member.email} is SCIM id "
            f"{member.scim_id!r}, not {reviewed.scim_id or 'none'!r}"
        )
    return found


def _noun(op: Operation) -> str:
    return f"user {op.key}" if op.is_user_op else f'team "{op.key}"'
