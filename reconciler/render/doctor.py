"""The doctor's checklist as text or JSON."""

from __future__ import annotations

import json

from reconciler.doctor import Diagnosis, Status
from reconciler.render.escape import terminal
from reconciler.render.style import Style

_MARK = {
    Status.OK: ("✓", "green"),
    Status.WARN: ("!", "yellow"),
    Status.FAIL: ("✗", "red"),
    Status.SKIP: ("-", "dim"),
}


def render_diagnosis(diagnosis: Diagnosis, style: Style) -> str:
    lines = [style(f"Checking {terminal(diagnosis.target)}", "bold")]
    for check in diagnosis.checks:
        mark, colour = _MARK[check.status]
        lines.append(style(f"  {mark} {check.name}: ", colour) + terminal(check.detail))
    verdict = (
        "Ready: reconciler can work with this org."
        if diagnosis.healthy
        else ("Not ready: fix the failed checks above.")
    )
    lines.append(style(verdict, "bold"))
    return "\n".join(lines) + "\n"


def diagnosis_json(diagnosis: Diagnosis) -> str:
    body = {
        "target": diagnosis.target,
        "verdict": "ok" if diagnosis.healthy else "fail",
        "checks": [
            {"name": c.name, "status": c.status.value, "detail": c.detail} for c in diagnosis.checks
        ],
    }
    return json.dumps(body, indent=2) + "\n"  # ASCII: invisibles stay visible escapes
