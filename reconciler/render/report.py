"""The access audit as text, Markdown, CSV or JSON; pure functions of an AccessReport.

Text is for a terminal, Markdown for an issue or a job summary, CSV for the
spreadsheet an auditor asks for (one row per account), JSON for scripts. Values
that come from the org (names, emails) are escaped for each format: a team named
``=HYPERLINK(...)`` must not become a formula in the auditor's spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from reconciler.grammar import count
from reconciler.manifest.models import show_expiry
from reconciler.profile import PRODUCT
from reconciler.render.escape import csv_cell, markdown, terminal
from reconciler.report import AccessReport, Expiring, UserRow

CSV_COLUMNS = ("email", "active", "teams", "in_manifest", "expires")


# -- text ---------------------------------------------------------------------
def render_text(report: AccessReport) -> str:
    lines = [_headline(report), ""]
    lines += ["Teams:"]
    for team in report.teams:
        name = terminal(team.name)
        lines.append(f"  {name} ({len(team.members)}){_unlisted(team.in_manifest)}")
        lines += [f"    {terminal(email)}" for email in team.members]
    if not report.teams:
        lines.append("  (none)")
    for title, items in _account_sections(report):
        lines += _text_list(title, items)
    return "\n".join(lines) + "\n"


def _headline(report: AccessReport) -> str:
    active = sum(1 for u in report.users if u.active)
    source = "live org and manifest" if report.with_manifest else "live org only, no manifest"
    return (
        f"{PRODUCT} access as of {report.as_of.isoformat()} ({source}): "
        f"{count(len(report.users), 'account')} ({active} active), "
        f"{count(len(report.teams), 'team')}"
    )


def _unlisted(in_manifest: bool | None) -> str:
    return "  [not in the manifest]" if in_manifest is False else ""


def _account_sections(report: AccessReport) -> list[tuple[str, list[str]]]:
    """The account lists every human-readable format shows, in order; one definition so
    text and Markdown never disagree on what an audit contains."""
    sections = [("Inactive accounts", list(report.inactive))]
    if report.with_manifest:
        sections.append(("Not in the manifest (orphaned)", list(report.orphaned)))
        expiring = [_expiring_text(e) for e in report.expiring]
        sections.append((f"Access ending within {count(report.expiring_days, 'day')}", expiring))
    sections.append(("Active accounts in no team", list(report.no_team)))
    if report.lookalikes:
        title = "Look-alike userNames (never matched to the manifest, never changed automatically)"
        sections.append((title, list(report.lookalikes)))
    if report.lookalike_teams:
        title = "Look-alike team names (never matched to the manifest, never changed automatically)"
        sections.append((title, list(report.lookalike_teams)))
    return sections


def _text_list(title: str, items: Iterable[str]) -> list[str]:
    shown = list(items)
    return ["", f"{title}: {len(shown)}", *(f"  {terminal(item)}" for item in shown)]


def _expiring_text(entry: Expiring) -> str:
    what = f"membership of {entry.team}" if entry.team else "account"
    return f"{entry.email}: {what} {_when(entry)}"


def _when(entry: Expiring) -> str:
    if entry.days_left < 0:
        return f"expired on {show_expiry(entry.expires)} (removed at the next apply)"
    left = entry.left or f"in {count(entry.days_left, 'day')}"
    return f"ends on {show_expiry(entry.expires)} ({left})"


# -- Markdown -----------------------------------------------------------------
def render_markdown(report: AccessReport) -> str:
    lines = [f"### {PRODUCT} access report, {report.as_of.isoformat()}", "", _headline(report), ""]
    lines += ["| Team | Members |", "|---|---:|"]
    lines += [
        f"| {markdown(t.name)}{_unlisted(t.in_manifest)} | {len(t.members)} |" for t in report.teams
    ]
    lines.append("")
    for title, items in _account_sections(report):
        lines += _md_list(title, items)
    lines += ["<details><summary>Members by team</summary>", ""]
    for team in report.teams:
        lines.append(
            f"- **{markdown(team.name)}**: " + ", ".join(markdown(m) for m in team.members)
        )
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _md_list(title: str, items: list[str] | tuple[str, ...]) -> list[str]:
    lines = [f"**{title}: {len(items)}**", ""]
    lines += [f"- {markdown(item)}" for item in items]
    return [*lines, ""] if items else lines


# -- CSV ----------------------------------------------------------------------
def render_csv(report: AccessReport) -> str:
    """One row per live account, in a fixed column order (``CSV_COLUMNS``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.users:
        writer.writerow([_cell(value) for value in _csv_values(row)])
    return buffer.getvalue()


def _csv_values(row: UserRow) -> list[str]:
    in_manifest = "" if row.in_manifest is None else str(row.in_manifest).lower()
    return [
        row.email,
        str(row.active).lower(),
        ";".join(row.teams),
        in_manifest,
        show_expiry(row.expires) if row.expires else "",
    ]


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) and show invisibles escaped."""
    return csv_cell(value)


# -- JSON ---------------------------------------------------------------------
def render_json(report: AccessReport) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=True) + "\n"


def report_dict(report: AccessReport) -> dict[str, Any]:
    return {
        "as_of": report.as_of.isoformat(),
        "expiring_days": report.expiring_days,
        "claimed_domains": list(report.claimed_domains),
        "with_manifest": report.with_manifest,
        "users": [_user_dict(u) for u in report.users],
        "teams": [
            {"name": t.name, "members": list(t.members), "in_manifest": t.in_manifest}
            for t in report.teams
        ],
        "inactive": list(report.inactive),
        "orphaned": list(report.orphaned),
        "expiring": [_expiring_dict(e) for e in report.expiring],
        "no_team": list(report.no_team),
        "lookalikes": list(report.lookalikes),
        "lookalike_teams": list(report.lookalike_teams),
    }


def _user_dict(row: UserRow) -> dict[str, Any]:
    return {
        "email": row.email,
        "active": row.active,
        "teams": list(row.teams),
        "in_manifest": row.in_manifest,
        "expires": show_expiry(row.expires) if row.expires else None,
    }


def _expiring_dict(entry: Expiring) -> dict[str, Any]:
    return {
        "email": entry.email,
        "team": entry.team,
        "expires": show_expiry(entry.expires),
        "days_left": entry.days_left,
    }


RENDERERS = {
    "text": render_text,
    "markdown": render_markdown,
    "csv": render_csv,
    "json": render_json,
}
