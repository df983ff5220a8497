"""The plan as JSON (``plan --format json``): a view of the plan, like text and Markdown.

The view is, by design, byte-for-byte the plan file ``reconciler.planfile`` writes
(every operation, the digest, the format version), so a script may save the output
and apply it; the format itself is decided in ``planfile`` and nowhere here. Pure.
"""

from __future__ import annotations

from reconciler import planfile
from reconciler.plan import Plan


def render_json(plan: Plan) -> str:
    """``plan`` as canonical JSON, complete (no summary cut), with a trailing newline."""
    return planfile.dumps(plan)
