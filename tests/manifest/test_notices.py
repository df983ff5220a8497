"""Past expiry dates are valid (that is how access ends) but reported as notices."""

from __future__ import annotations

from datetime import date

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest.loader import load_manifest_text
from reconciler.manifest.models import is_expired
from tests.manifest.support import ORG, TODAY

USERS = """users:
  - {email: ada@acme.io, given_name: Ada, family_name: Lovelace, expires: 2026-05-31}
  - {email: bo@acme.io, given_name: Bo, family_name: B, expires: 2026-07-31}
  - {email: cy@acme.io, given_name: Cy, family_name: C, active: false, expires: 2020-01-01}
  - {email: di@acme.io, given_name: Di, family_name: D, expires: 2026-06-01}
"""


def notices(text: str, today: date = TODAY) -> list[str]:
    return [str(n) for n in load_manifest_text(text, filename="m.yaml", today=today).notices]


def test_a_past_user_expiry_is_a_notice_not_an_error() -> None:
    assert notices(ORG + USERS) == [
        "m.yaml:4:75: users[0].expires: expires 2026-05-31 is in the past: "
        "this user (ada@acme.io) will be deprovisioned at the next apply"
    ]


def test_the_expiry_date_is_the_last_day_of_access() -> None:
    assert not is_expired(date(2026, 6, 1), today=date(2026, 6, 1))
    assert is_expired(date(2026, 5, 31), today=date(2026, 6, 1))
    assert not is_expired(None, today=date(2026, 6, 1))


def test_a_past_membership_expiry_and_one_after_the_users_own_are_notices() -> None:
    text = ORG + USERS.replace("2026-05-31", "2027-01-01")
    text += "teams:\n  - name: Data\n    members:\n"
    text += "      - {email: ada@acme.io, expires: 2026-01-01}\n"
    text += "      - {email: bo@acme.io, expires: 2026-12-31}\n"
    assert notices(text) == [
        "m.yaml:11:39: teams[0].members[0].expires: expires 2026-01-01 is in the past: "
        "ada@acme.io will be removed from team 'Data' at the next apply",
        "m.yaml:12:38: teams[0].members[1].expires: membership expires 2026-12-31, after the "
        "user's own expiry 2026-07-31 (m.yaml:5:66); bo@acme.io loses all access after "
        "2026-07-31",
    ]


def test_a_protected_user_with_a_future_expiry_gets_a_warning_notice() -> None:
    text = ORG + "policy: {protected: [ow@acme.io]}\nusers:\n"
    text += "  - {email: ow@acme.io, given_name: O, family_name: W, expires: 2027-01-01}\n"
    assert notices(text) == [
        "m.yaml:5:65: users[0].expires: protected user 'ow@acme.io' expires 2027-01-01; "
        "validation will fail from the next day until it is removed from policy.protected"
    ]


def test_surrounding_whitespace_in_a_quoted_name_is_kept_and_is_a_notice_with_the_fix() -> None:
    text = ORG + 'users:\n  - {email: ann@acme.io, given_name: "Ann ", family_name: " B"}\n'
    text += 'teams:\n  - name: "Design "\n    previous_names: ["  Art"]\n    members: []\n'
    loaded = load_manifest_text(text, filename="m.yaml", today=TODAY)
    assert loaded.manifest.users[0].given_name == "Ann "
    assert loaded.manifest.teams[0].name == "Design "
    assert [str(n) for n in loaded.notices] == [
        "m.yaml:4:38: users[0].given_name: 'Ann ' has trailing whitespace, kept exactly as "
        "written: Mixpanel compares it exactly; if it is a mistake write 'Ann' and the plan "
        "updates it",
        "m.yaml:4:59: users[0].family_name: ' B' has leading whitespace, kept exactly as "
        "written: Mixpanel compares it exactly; if it is a mistake write 'B' and the plan "
        "updates it",
        "m.yaml:6:11: teams[0].name: 'Design ' has trailing whitespace, kept exactly as "
        "written: Mixpanel compares it exactly; if it is a mistake write 'Design' and the "
        "plan renames it in place",
        "m.yaml:7:22: teams[0].previous_names[0]: '  Art' has leading whitespace, kept exactly "
        "as written: Mixpanel compares it exactly; if it is a mistake write 'Art' and the "
        "plan renames it in place",
    ]


def test_whitespace_notices_cover_every_user_name_in_order_unicode_spaces_included() -> None:
    users = [
        "{email: a@acme.io, given_name: A, family_name: B}",
        '{email: b@acme.io, given_name: B, family_name: "C\\u00a0", display_name: " D"}',
        "{email: c@acme.io, given_name: C, family_name: D}",
        '{email: d@acme.io, given_name: "\\u2028E", family_name: F}',
    ]
    text = ORG + "users:\n" + "".join(f"  - {u}\n" for u in users)
    found = [n.split(": ")[1] for n in notices(text)]
    assert found == [
        "users[1].family_name",
        "users[1].display_name",
        "users[3].given_name",
    ]
    assert notices(ORG + "users:\n" + f"  - {users[0]}\n") == []


def test_a_whitespace_only_twin_of_a_team_name_is_an_error() -> None:
    text = ORG + 'teams:\n  - {name: Design, members: []}\n  - {name: "Design ", members: []}\n'
    with pytest.raises(ManifestError, match="differs only in surrounding whitespace"):
        load_manifest_text(text, filename="m.yaml", today=TODAY)
