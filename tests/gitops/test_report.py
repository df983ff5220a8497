"""The access audit: pure data from (manifest, live, today), and its four renderings."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest

from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest.models import Manifest
from reconciler.render.report import render_csv, render_json, render_markdown, render_text
from reconciler.report import AccessReport, Expiring, build_report

TODAY = date(2024, 5, 1)


def live_org() -> LiveState:
    users = [
        LiveUser("u1", "Ada@acme.io", "Ada", "Lovelace"),
        LiveUser("u2", "bob@acme.io", "Bob", "Builder", active=False),
        LiveUser("u3", "jit.user@acme.io", "Jit", "User"),  # created by SSO, not declared
        LiveUser("u4", "old.name@acme.io", "Renamed", "Person"),  # now renamed@acme.io
        LiveUser("u5", "contractor@partner.com", "Con", "Tractor"),  # not a claimed domain
        LiveUser("u6", "temp@acme.io", "Temp", "Worker"),
    ]
    groups = [
        LiveGroup("g1", "Data", frozenset({"u1", "u6"})),
        LiveGroup("g2", "Legacy", frozenset({"u2"})),
    ]
    return LiveState.of(users, groups)


def manifest(**extra: Any) -> Manifest:
    return Manifest.model_validate(
        {
            "version": 1,
            "organization": {"claimed_domains": ["acme.io"]},
            "users": [
                {"email": "ada@acme.io", "given_name": "Ada", "family_name": "Lovelace"},
                {"email": "bob@acme.io", "given_name": "Bob", "family_name": "B", "active": False},
                {
                    "email": "renamed@acme.io",
                    "given_name": "R",
                    "family_name": "P",
                    "previous_emails": ["old.name@acme.io"],
                },
                {
                    "email": "temp@acme.io",
                    "given_name": "T",
                    "family_name": "W",
                    "expires": "2024-05-10",
                },
                {
                    "email": "gone@acme.io",
                    "given_name": "G",
                    "family_name": "One",
                    "expires": "2024-04-01",
                },
            ],
            "teams": [
                {
                    "name": "Data",
                    "members": [
                        "ada@acme.io",
                        {"email": "temp@acme.io", "expires": "2024-04-30"},
                        {"email": "renamed@acme.io", "expires": "2024-09-01"},
                    ],
                }
            ],
            **extra,
        }
    )


@pytest.fixture
def report() -> AccessReport:
    return build_report(manifest(), live_org(), today=TODAY, expiring_days=14)


def test_each_live_account_is_listed_with_its_teams(report: AccessReport) -> None:
    rows = {u.email: u.teams for u in report.users}
    assert rows["Ada@acme.io"] == ("Data",)
    assert rows["bob@acme.io"] == ("Legacy",)
    assert rows["jit.user@acme.io"] == ()
    team_members = {t.name: t.members for t in report.teams}
    assert team_members == {"Data": ("Ada@acme.io", "temp@acme.io"), "Legacy": ("bob@acme.io",)}


def test_teams_nobody_declared_are_marked_as_not_in_the_manifest(report: AccessReport) -> None:
    assert {t.name: t.in_manifest for t in report.teams} == {"Data": True, "Legacy": False}


def test_deactivated_accounts_are_reported_as_inactive(report: AccessReport) -> None:
    assert report.inactive == ("bob@acme.io",)


def test_orphans_are_undeclared_accounts_in_claimed_domains_only(report: AccessReport) -> None:
    # old.name@ is renamed@ through previous_emails; partner.com is not ours to judge.
    assert report.orphaned == ("jit.user@acme.io",)


def test_active_accounts_in_no_team_are_listed(report: AccessReport) -> None:
    assert report.no_team == ("contractor@partner.com", "jit.user@acme.io", "old.name@acme.io")


def test_expiring_access_covers_users_and_memberships_within_the_window(
    report: AccessReport,
) -> None:
    assert report.expiring == (
        # past but still a live membership: the most urgent line
        Expiring("temp@acme.io", "Data", date(2024, 4, 30), -1),
        Expiring("temp@acme.io", None, date(2024, 5, 10), 9),
    )
    # gone@ expired and has no live account: no access left to report.
    # renamed@'s membership ends in September: outside the 14-day window.


def test_a_wider_window_reaches_later_expiries() -> None:
    wide = build_report(manifest(), live_org(), today=TODAY, expiring_days=200)
    assert ("renamed@acme.io", "Data") in {(e.email, e.team) for e in wide.expiring}


def test_without_a_manifest_only_live_facts_are_reported() -> None:
    bare = build_report(None, live_org(), today=TODAY, expiring_days=14)
    assert not bare.with_manifest
    assert bare.orphaned == () and bare.expiring == ()
    assert {u.in_manifest for u in bare.users} == {None}
    assert bare.inactive == ("bob@acme.io",)


def test_user_expiry_from_the_manifest_is_on_the_account_row(report: AccessReport) -> None:
    rows = {u.email: u for u in report.users}
    assert rows["temp@acme.io"].expires == date(2024, 5, 10)
    assert rows["old.name@acme.io"].in_manifest is True
    assert rows["jit.user@acme.io"].in_manifest is False


# -- renderers --------------------------------------------------------------------
def test_csv_has_one_row_per_live_account_with_fixed_columns(report: AccessReport) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert len(rows) == len(report.users)
    assert rows[0].keys() == {"email", "active", "teams", "in_manifest", "expires"}
    temp = next(r for r in rows if r["email"] == "temp@acme.io")
    assert temp == {
        "email": "temp@acme.io",
        "active": "true",
        "teams": "Data",
        "in_manifest": "true",
        "expires": "2024-05-10",
    }


def test_csv_neutralises_values_a_spreadsheet_would_run_as_formulas() -> None:
    live = LiveState.of(
        [LiveUser("u1", "=cmd@acme.io")], [LiveGroup("g1", "+SUM(A1)", frozenset({"u1"}))]
    )
    text = render_csv(build_report(None, live, today=TODAY, expiring_days=14))
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[0] == "'=cmd@acme.io" and row[2] == "'+SUM(A1)"
    assert row[3] == "", "in_manifest is unknown without a manifest"


def test_json_holds_every_section_and_round_trips(report: AccessReport) -> None:
    data = json.loads(render_json(report))
    assert data["orphaned"] == ["jit.user@acme.io"]
    assert data["expiring"][0] == {
        "email": "temp@acme.io",
        "team": "Data",
        "expires": "2024-04-30",
        "days_left": -1,
    }
    assert data["as_of"] == "2024-05-01" and data["expiring_days"] == 14


def test_text_names_each_section_with_its_count(report: AccessReport) -> None:
    text = render_text(report)
    assert "6 accounts (5 active), 2 teams" in text
    assert "Not in the manifest (orphaned): 1\n  jit.user@acme.io" in text
    assert "temp@acme.io: membership of Data expired on 2024-04-30" in text
    assert "Legacy (1)  [not in the manifest]" in text


def test_markdown_escapes_names_that_would_break_the_table() -> None:
    live = LiveState.of([LiveUser("u1", "a@acme.io")], [LiveGroup("g", "A|B <x>", frozenset())])
    text = render_markdown(build_report(None, live, today=TODAY, expiring_days=14))
    assert "| A\\|B &lt;x&gt; | 0 |" in text
