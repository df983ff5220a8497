"""The on-disk plan file: its format, its version, and the checks made when it is read.

``reconciler plan --out FILE`` writes ``dumps(plan)``; ``reconciler apply FILE`` and
``reconciler github verify-plan`` read it back with ``loads``. The file is canonical
JSON (sorted keys, two-space indentation, one trailing newline): the plan's fields
plus ``digest``. ``loads`` checks, in this order, that the text is a JSON object,
that its ``format_version`` is one this version reads, that it is a valid plan, and
that its content hashes to the digest written with it, so an edited file is refused.

Like Terraform's ``planfile`` package: the plan is a value (``reconciler.plan``); how
it is stored is decided here and nowhere else. Views of a plan (text, Markdown,
``--format json``) live in ``reconciler.render``. Pure: no file I/O (the caller reads
and writes the text), no printing.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from reconciler.plan import Plan

FORMAT_VERSION = 1
"""The version ``dumps`` writes. Bump it when a field changes meaning or is removed."""

READABLE_VERSIONS = frozenset({1})
"""The versions ``loads`` accepts; every other version is refused with what to do."""


class PlanFileError(ValueError):
    """A saved plan that cannot be used: not a plan file, or a version not read here."""


class TamperedPlanError(PlanFileError):
    """A saved plan whose content no longer hashes to the digest written with it."""

    def __init__(self, recorded: object, actual: str) -> None:
        self.recorded, self.actual = str(recorded), actual
        recorded = self.recorded
        if recorded.lower() == actual:
            # Compared exactly: the digest is lower-case hex, as `plan --out` writes it.
            super().__init__(
                f"its digest {recorded[:19]}… is not in lower case: `reconciler plan --out` "
                "writes it as lower-case hex (sha256:…), so the file was edited after "
                "it was written"
            )
            return
        super().__init__(
            f"its operations do not match its digest (recorded {recorded[:19]}…, content "
            f"{actual[:19]}…): the file was edited after `reconciler plan --out` wrote it"
        )


def dumps(plan: Plan) -> str:
    """The plan file's text: same plan, same bytes (sorted keys, fixed indentation).

    Carries ``digest`` as well, so ``loads`` can tell an edited file from the plan
    that was written (and reviewed). ``manifest_path`` is written only when known, so
    plans without one keep their exact bytes.
    """
    unset = {"manifest_path"} if plan.manifest_path is None else None
    body = plan.model_dump(mode="json", exclude=unset)
    body.update(digest=plan.digest, format_version=FORMAT_VERSION)
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def loads(text: str) -> Plan:
    """Parse a saved plan and check its version and its digest.

    Raises PlanFileError when the text is not a JSON object, or its
    ``format_version`` is missing or not one of ``READABLE_VERSIONS`` (the message
    says which version wrote it and what to do); ValueError (pydantic's
    ValidationError or json's JSONDecodeError) when it is not a valid plan; and
    TamperedPlanError when its content does not hash to the recorded ``digest``.
    """
    try:
        raw = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:  # a hostile file: thousands of nested brackets
        raise ValueError("nested too deeply; no plan file is") from None
    if not isinstance(raw, dict):
        raise PlanFileError(f"it is a JSON {type(raw).__name__}, not an object")
    version = raw.pop("format_version", None)
    _check_version(version)
    recorded = raw.pop("digest", None)
    plan = Plan.model_validate(raw)
    if recorded is None:
        raise PlanFileError(
            "it has no digest: it was written by an older version or not by "
            "`reconciler plan --out`; make a new plan"
        )
    if recorded != plan.digest and recorded != _digest_with_reasons(plan, version):
        raise TamperedPlanError(recorded, plan.digest)
    return plan


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique; a repeated key is refused.

    JSON leaves a repeated key's meaning to the reader (Python keeps the last value,
    other tools the first), so a file holding two ``operations`` or two ``digest``
    could show a reviewer one plan and apply another. ``plan --out`` never repeats one.
    """
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise PlanFileError(
                f"key {_shown(key)} appears twice in one object (readers disagree on "
                "which one counts), so the file was edited; make a new plan"
            )
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are not JSON; ``plan --out`` never writes them."""
    raise PlanFileError(f"it holds {name}, which is not JSON; make a new plan")


def _shown(value: object, limit: int = 40) -> str:
    """``value`` as JSON, cut to ``limit`` characters for a one-line message."""
    try:
        text = json.dumps(value)
    except ValueError:  # an int too long to print
        text = f"a number of more than {sys.get_int_max_str_digits()} digits"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_version(version: object) -> None:
    if type(version) is int and version in READABLE_VERSIONS:  # not a list: unhashable
        return
    readable = ", ".join(map(str, sorted(READABLE_VERSIONS)))
    if version is None:
        raise PlanFileError(
            "it has no format_version: it was not written by `reconciler plan --out`; "
            "make a new plan"
        )
    newer = isinstance(version, int) and version > max(READABLE_VERSIONS)
    who = "a newer reconciler" if newer else "an unknown writer"
    raise PlanFileError(
        f"its format_version is {_shown(version)}, written by {who}; this reconciler "
        f"reads format_version {readable}: make the plan again with this version "
        "(`reconciler plan --out FILE`), or apply it with the version that made it"
    )


def _digest_with_reasons(plan: Plan, version: object) -> str:
    """The digest as plan files before reasons were left out of it computed it.

    Kept so a plan reviewed and saved by the previous release still applies after an
    upgrade: its content is checked as strictly, by the rule it was written under.
    """
    body: dict[str, Any] = plan.model_dump(
        mode="json", exclude={"as_of", "notices", "manifest_path"}
    )
    body["format_version"] = version
    if not plan.held_back:
        del body["held_back"]
    if not plan.org:
        del body["org"]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
