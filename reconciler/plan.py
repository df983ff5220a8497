"""The Plan: a frozen, serialisable value that says exactly what apply will do.

Made by the planner from (manifest, live state) without any I/O; executed only by
the executor. It records what it was based on (live fingerprint, manifest digest)
so a saved plan can be refused when it has gone stale.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reconciler.manifest.models import Policy

FORMAT_VERSION = 1

# The one definition: a before/after value in an operation, the diff and verification.
JsonScalar = str | int | float | bool | None


class OpKind(StrEnum):
    """The closed set of operations; the declaration order is the execution order."""

    REMOVE_MEMBERS = "remove_members"
    DEACTIVATE_USER = "deactivate_user"
    DELETE_USER = "delete_user"
    CREATE_USER = "create_user"
    REACTIVATE_USER = "reactivate_user"
    PATCH_USER = "patch_user"
    CREATE_GROUP = "create_group"
    RENAME_GROUP = "rename_group"
    ADD_MEMBERS = "add_members"

    @property
    def revokes(self) -> bool:
        """Does this kind only ever remove access (membership removals, deprovisions)?

        ``apply --revoke-only`` runs these kinds and holds every other kind back for a
        reviewed merge; the set lives here, with the kind, and nowhere else.
        """
        return self in REVOKING


# Kinds that remove access and never grant any: safe to run unattended from `main`.
REVOKING = frozenset({OpKind.REMOVE_MEMBERS, OpKind.DEACTIVATE_USER, OpKind.DELETE_USER})


# Revoke first, then grant: if a run stops midway it has removed access rather than
# granted extra. Operations in the same phase are independent of each other unless
# an explicit dependency says otherwise.
PHASE: dict[OpKind, int] = {
    OpKind.REMOVE_MEMBERS: 1,
    OpKind.DEACTIVATE_USER: 2,
    OpKind.DELETE_USER: 2,
    OpKind.CREATE_USER: 3,
    OpKind.REACTIVATE_USER: 3,
    OpKind.PATCH_USER: 4,
    OpKind.CREATE_GROUP: 5,
    OpKind.RENAME_GROUP: 5,
    OpKind.ADD_MEMBERS: 6,
}

USER_OPS = frozenset(
    {
        OpKind.DEACTIVATE_USER,
        OpKind.DELETE_USER,
        OpKind.CREATE_USER,
        OpKind.REACTIVATE_USER,
        OpKind.PATCH_USER,
    }
)
MEMBERSHIP_OPS = frozenset({OpKind.ADD_MEMBERS, OpKind.REMOVE_MEMBERS})
DEPROVISION_OPS = frozenset({OpKind.DEACTIVATE_USER, OpKind.DELETE_USER})


class TamperedPlanError(ValueError):
    """A saved plan whose content no longer hashes to the digest written with it."""

    def __init__(self, recorded: object, actual: str) -> None:
        self.recorded, self.actual = str(recorded), actual
        recorded = self.recorded
        super().__init__(
            f"its operations do not match its digest (recorded {recorded[:19]}, content "
            f"{actual[:19]}): the file was edited after `reconciler plan --out` wrote it"
        )


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


class Plan(_Frozen):
    """What apply will do, and what it was made from."""

    format_version: int = FORMAT_VERSION
    target: str
    manifest_digest: str
    live_fingerprint: str
    as_of: date
    claimed_domains: tuple[str, ...]
    policy: Policy
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

    @property
    def has_changes(self) -> bool:
        return bool(self.operations)

    def to_json(self) -> str:
        """Canonical JSON: same plan, same bytes (sorted keys, fixed indentation).

        Carries ``digest`` as well, so ``from_json`` can tell an edited file from the
        plan that was written (and reviewed).
        """
        # manifest_path only when known, so plans without one keep their exact bytes.
        unset = {"manifest_path"} if self.manifest_path is None else None
        body = {**self.model_dump(mode="json", exclude=unset), "digest": self.digest}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Parse a saved plan and check it against the digest it carries.

        Raises ValueError when the JSON is not a plan, or when its content does not
        hash to the recorded ``digest`` (the file was edited after it was written).
        """
        raw = json.loads(text)
        recorded = raw.pop("digest", None) if isinstance(raw, dict) else None
        plan = cls.model_validate(raw)
        if recorded is None:
            raise ValueError(
                "it has no digest: it was written by an older version or not by "
                "`reconciler plan --out`; make a new plan"
            )
        if recorded != plan.digest:
            raise TamperedPlanError(recorded, plan.digest)
        return plan

    @property
    def digest(self) -> str:
        """Identity of what the plan does: operations, target, policy and basis.

        A reviewer who saw a plan with this digest saw exactly these operations; the
        apply workflow compares it with the plan made at merge time. ``as_of`` and
        ``notices`` (and ``manifest_path``, display only) are left out so an unchanged
        plan keeps its digest from the day it was reviewed to the day it is merged;
        when an expiry passes, the operations change, and so does the digest.
        """
        body = self.model_dump(mode="json", exclude={"as_of", "notices", "manifest_path"})
        if not self.held_back:
            del body["held_back"]  # digests of plans without it stay as they were
        if not self.org:
            del body["org"]
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def revocations_only(self) -> Plan:
        """This plan with only the operations that remove access; the rest held back.

        A deactivation keeps only ``active: false``: attribute changes it carried are
        a patch, and a patch waits for review like every other grant or change.
        """
        run: list[Operation] = []
        held: list[Operation] = []
        for op in self.operations:
            if not op.op.revokes:
                held.append(op)
            elif op.op is OpKind.DEACTIVATE_USER and set(op.after) != {"active"}:
                run.append(op.model_copy(update={"after": {"active": False}}))
            else:
                run.append(op)
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


def summarise(operations: tuple[Operation, ...]) -> Summary:
    """Count operations the way the text plan's last line reports them."""
    counts: dict[str, Any] = {
        "create": 0,
        "change": 0,
        "deactivate": 0,
        "delete": 0,
        "members_added": 0,
        "members_removed": 0,
    }
    for op in operations:
        if op.op in (OpKind.CREATE_USER, OpKind.CREATE_GROUP):
            counts["create"] += 1
        elif op.op in (OpKind.PATCH_USER, OpKind.REACTIVATE_USER, OpKind.RENAME_GROUP):
            counts["change"] += 1
        elif op.op is OpKind.DEACTIVATE_USER:
            counts["deactivate"] += 1
        elif op.op is OpKind.DELETE_USER:
            counts["delete"] += 1
        elif op.op is OpKind.ADD_MEMBERS:
            counts["members_added"] += len(op.members)
        elif op.op is OpKind.REMOVE_MEMBERS:
            counts["members_removed"] += len(op.members)
    return Summary(**counts)


def grant_count(operations: tuple[Operation, ...]) -> int:
    """How many grants or changes ``operations`` hold: one per object, one per member added."""
    return sum(len(op.members) if op.op is OpKind.ADD_MEMBERS else 1 for op in operations)


def not_covered(candidate: tuple[Operation, ...], reviewed: tuple[Operation, ...]) -> list[str]:
    """Each part of ``candidate`` that ``reviewed`` does not contain, one line each.

    An operation is covered by the reviewed operation of the same kind and key when
    it writes no attribute value the reviewed one did not write, and adds or removes
    no member the reviewed one did not. SCIM ids and ``before`` values are not
    compared: they say where and from what, and they move when a partial apply has
    already done part of the work. Empty means: nothing new. Pure.
    """
    by_id = {(op.op, op.key): op for op in reviewed}
    found: list[str] = []
    for op in candidate:
        seen = by_id.get((op.op, op.key))
        if seen is None:
            found.append(f"{_noun(op)}: {op.op.value} is not in the reviewed plan")
            continue
        for name, value in op.after.items():
            if name not in seen.after or seen.after[name] != value:
                found.append(f"{_noun(op)}: {op.op.value} sets {name} to {json.dumps(value)}")
        known = {m.email.lower() for m in seen.members}
        for member in op.members:
            if member.email.lower() not in known:
                found.append(f"{_noun(op)}: {op.op.value} {member.email} is new")
    return found


def _noun(op: Operation) -> str:
    return f"user {op.key}" if op.is_user_op else f'team "{op.key}"'
