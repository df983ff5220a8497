"""`expires` as a date or an RFC 3339 instant with an offset; one expiry rule for all."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import reconciler
from reconciler.errors import ConfigError, ManifestError
from reconciler.manifest.loader import load_manifest_text
from reconciler.manifest.models import (
    days_left,
    expiry_instant,
    is_expired,
    parse_expires,
    show_expiry,
)
from reconciler.settings import now
from tests.manifest.support import ORG

PLUS_ONE = timezone(timedelta(hours=1))


def load(text: str, today: date = date(2026, 11, 22)):  # type: ignore[no-untyped-def]
    return load_manifest_text(ORG + text, filename="m.yaml", today=today)


def test_a_timestamp_with_an_offset_is_that_instant() -> None:
    loaded = load(
        "users:\n  - {email: ada@acme.io, given_name: A, family_name: L, "
        "expires: 2026-12-01T18:00:00+01:00}\n"
    )
    expires = loaded.manifest.users[0].expires
    assert expires == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert show_expiry(expires) == "2026-12-01T17:00:00Z"


@pytest.mark.parametrize(
    "written",
    [
        "2026-12-01T17:00:00Z",
        "'2026-12-01T17:00:00Z'",
        "2026-12-01 18:00:00+01:00",
        "2026-12-01T12:00:00-05:00",
        "'2026-12-01t17:00:00z'",
    ],
)
def test_every_rfc3339_spelling_of_one_instant_loads_as_it(written: str) -> None:
    loaded = load(
        "users:\n  - {email: a@acme.io, given_name: A, family_name: L}\n"
        f"teams:\n  - name: T\n    members: [{{email: a@acme.io, expires: {written}}}]\n"
    )
    member = loaded.manifest.teams[0].member_list[0]
    assert expiry_instant(member.expires) == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "written", ["2026-12-01T18:00:00", "2026-12-01 18:00", "'2026-12-01T18:00'"]
)
def test_a_timestamp_without_an_offset_is_an_error_with_its_place_and_the_fix(written: str) -> None:
    text = (
        f"users:\n  - {{email: ada@acme.io, given_name: A, family_name: L, expires: {written}}}\n"
    )
    with pytest.raises(ManifestError) as caught:
        load(text)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("m.yaml", 4)
    assert problem.col > 1
    assert "users[0].expires: timestamp" in problem.message
    assert "has no UTC offset" in problem.message
    assert "2026-12-01T18:00:00Z" in problem.message and "the date 2026-12-01" in problem.message


def test_a_date_still_lasts_through_the_end_of_that_day_utc() -> None:
    last_day = date(2026, 12, 1)
    assert not is_expired(last_day, datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC))
    assert is_expired(last_day, datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    assert not is_expired(last_day, date(2026, 12, 1))
    assert is_expired(last_day, date(2026, 12, 2))
    # Another zone's evening of Dec 1 is already Dec 2 in UTC: UTC decides.
    assert is_expired(last_day, datetime(2026, 12, 1, 20, 0, tzinfo=timezone(timedelta(hours=-5))))


def test_an_instant_expires_exactly_at_that_instant() -> None:
    instant = datetime(2026, 12, 1, 18, 0, tzinfo=PLUS_ONE)
    assert not is_expired(instant, datetime(2026, 12, 1, 16, 59, 59, tzinfo=UTC))
    assert is_expired(instant, datetime(2026, 12, 1, 17, 0, tzinfo=UTC))
    assert not is_expired(None, datetime(2030, 1, 1, tzinfo=UTC))


def test_days_left_counts_days_as_people_do() -> None:
    assert days_left(date(2026, 12, 1), date(2026, 12, 1)) == 0
    assert days_left(date(2026, 12, 3), date(2026, 12, 1)) == 2
    assert days_left(date(2026, 11, 30), date(2026, 12, 1)) == -1
    in_four_hours = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert days_left(in_four_hours, datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == 0


def test_the_expiry_rule_lives_in_one_function() -> None:
    """The diff once inlined `expires >= today` three times; every module now calls it."""
    package = Path(reconciler.__file__).parent
    for path in sorted(package.rglob("*.py")):
        if path.name == "models.py" and path.parent.name == "manifest":
            continue  # where the rule lives
        source = path.read_text(encoding="utf-8")
        for inline in ("expires >= ", "expires <", "expires > ", "expires - ", "expires-"):
            assert inline not in source, (str(path.relative_to(package)), inline)


def test_parse_expires_refuses_what_is_neither_a_date_nor_a_timestamp() -> None:
    with pytest.raises(ValueError, match="is not a date or a timestamp"):
        parse_expires("next friday")
    with pytest.raises(ValueError, match="expected a date or a timestamp"):
        parse_expires(20261201)


def test_the_clock_is_pinned_by_reconciler_now_or_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONCILER_TODAY", raising=False)
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-22T18:30:00+01:00")
    assert now() == datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
    monkeypatch.delenv("RECONCILER_NOW")
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22")
    assert now() == datetime(2026, 11, 22, tzinfo=UTC)  # a date: the start of that day
    monkeypatch.setenv("RECONCILER_TODAY", "2026-11-22T09:00:00Z")
    assert now() == datetime(2026, 11, 22, 9, tzinfo=UTC)


@pytest.mark.parametrize("value", ["tomorrow", "2026-11-22T09:00:00"])
def test_a_bad_pinned_clock_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RECONCILER_NOW", value)
    with pytest.raises(ConfigError, match="RECONCILER_NOW=") as caught:
        now()
    assert "2026-12-01T18:00:00Z" in str(caught.value)


def test_a_past_instant_is_a_notice_showing_it_in_utc() -> None:
    loaded = load(
        "users:\n  - {email: ada@acme.io, given_name: A, family_name: L, "
        "expires: 2026-11-22T08:00:00+01:00}\n",
        today=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
    )
    (notice,) = loaded.notices
    assert "expires 2026-11-22T07:00:00Z is in the past" in notice.message
    assert notice.while_access == ("ada@acme.io", None)


def test_an_inactive_user_still_listed_in_a_team_is_a_notice_not_an_error() -> None:
    loaded = load(
        "users:\n  - {email: bob@acme.io, given_name: B, family_name: M, active: false}\n"
        "teams:\n  - name: Data\n    members: [bob@acme.io]\n"
    )
    (notice,) = loaded.notices
    assert str(notice).startswith("m.yaml:7:15: teams[0].members[0]: 'bob@acme.io' is declared")
    assert "still listed in team 'Data'" in notice.message
    assert "removed when it is deprovisioned" in notice.message


@pytest.mark.parametrize(
    ("written", "expired"),
    [
        ("9999-12-31", False),
        ("9999-12-31T23:59:59Z", False),
        ("0001-01-01T00:00:00Z", True),
    ],
)
def test_instants_at_the_ends_of_the_calendar_never_crash(written: str, expired: bool) -> None:
    loaded = load(
        f"users:\n  - {{email: ada@acme.io, given_name: A, family_name: L, expires: '{written}'}}\n"
    )
    expires = loaded.manifest.users[0].expires
    assert is_expired(expires, datetime(2026, 11, 22, tzinfo=UTC)) is expired
    assert show_expiry(expires)  # type: ignore[arg-type]
    assert loaded.digest.startswith("sha256:")


@pytest.mark.parametrize(
    "written",
    [
        "2026-12-01T17:00:00+00:60",  # Python reads this as +01:00; RFC 3339 has minutes 00-59
        "'2026-12-01T17:00:00+00:60'",
        "2026-12-01T17:00:00+24:00",  # offset hours 00-23
        "'2026-12-01T17:00:00-24:00'",
        "2026-12-01T24:00:00Z",
        "2026-12-01T17:60:00Z",
    ],
)
def test_a_time_or_offset_out_of_rfc3339_range_is_an_error_with_the_fix(written: str) -> None:
    text = (
        f"users:\n  - {{email: ada@acme.io, given_name: A, family_name: L, expires: {written}}}\n"
    )
    with pytest.raises(ManifestError) as caught:
        load(text)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("m.yaml", 4)
    assert "users[0].expires: " in problem.message
    assert "is not a date or a timestamp; write a date (2026-12-01" in problem.message
    assert "timedelta" not in problem.message  # no Python internals


def test_a_leap_second_is_refused_saying_so() -> None:
    with pytest.raises(ValueError, match=r"leap second.*write 2026-12-31T23:59:59Z"):
        parse_expires("2026-12-31T23:59:60Z")


def test_the_editor_schema_refuses_the_offsets_the_loader_refuses() -> None:
    import re

    from reconciler.manifest.schema import schema

    text = json.dumps(schema())
    (pattern,) = {p for p in re.findall(r'"pattern": "([^"]*)"', text) if "Z|z" in p}
    offset = re.compile(json.loads(f'"{pattern}"'))
    for good in ("2026-12-01T18:00:00+05:30", "2026-12-01T18:00:00Z", "2026-12-01T18:00:00-23:59"):
        assert offset.search(good), good
    for bad in ("2026-12-01T18:00:00+00:60", "2026-12-01T18:00:00+24:00", "2026-12-01T18:00:00"):
        assert not offset.search(bad), bad
