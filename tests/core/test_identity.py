"""Identity hygiene: one ASCII-only match key, look-alike userNames never matched or changed."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from reconciler.diff import diff
from reconciler.identity import (
    ascii_lower,
    is_lookalike,
    lookalike_reason,
    match_key,
    name_fold,
)
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest.models import Manifest, User
from reconciler.planner import make_plan
from tests.core.test_planner import manifest, person, plan_ops

TODAY = date(2026, 11, 22)
ZWSP_ADA = "ada\u200b@acme.io"


# -- match_key -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("user_name", "key"),
    [
        ("Ada@ACME.io", "ada@acme.io"),
        ("ada@acme.io", "ada@acme.io"),
        (" ada@acme.io ", "ada@acme.io"),
        # Unicode lowercasing would map the Kelvin sign to "k": not folded here.
        ("\u212aim@acme.io", "\u212aim@acme.io"),
        ("\u0130nes@acme.io", "\u0130nes@acme.io"),  # dotted capital I stays as it is
        ("JOSÉ@acme.io", "josÉ@acme.io"),  # only A-Z are folded
    ],
)
def test_match_key_folds_ascii_letters_only(user_name: str, key: str) -> None:
    assert match_key(user_name) == key


def test_unicode_lowercasing_would_have_matched_a_different_account() -> None:
    kelvin = "\u212aim@acme.io"
    assert kelvin.lower() == "kim@acme.io"  # the hazard
    assert match_key(kelvin) != match_key("kim@acme.io")


def test_ascii_lower_and_name_fold() -> None:
    assert ascii_lower("Data Science") == "data science"
    assert name_fold(" Design ") == name_fold("design")
    assert name_fold("Design") != name_fold("Desígn")


# -- look-alikes ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("user_name", "why"),
    [
        (ZWSP_ADA, "invisible character U+200B at position 4"),
        ("ada\u2060@acme.io", "invisible character U+2060"),  # word joiner
        ("\ufeffada@acme.io", "invisible character U+FEFF"),  # BOM
        ("ada@acme.io\u202e", "bidirectional-control character U+202E"),  # RLO
        ("ada\u2066@acme.io", "bidirectional-control character U+2066"),
        ("ada\x1b[2K@acme.io", "control character U+001B"),
        ("ada\n@acme.io", "control character U+000A"),
        ("ada\u0085@acme.io", "control character U+0085"),
        ("ada\u2028@acme.io", "control character U+2028"),  # line separator
        ("ada\u00a0@acme.io", "invisible character U+00A0"),  # no-break space
        ("\u0430da@acme.io", "mixes scripts (CYRILLIC, LATIN)"),  # Cyrillic a
        ("ada@\u0430cme.io", "mixes scripts (CYRILLIC, LATIN)"),
        ("\u0430\u0434\u0430@acme.io", "mixes scripts (CYRILLIC, LATIN)"),  # whole-script
        ("ad\u03b1@acme.io", "mixes scripts (GREEK, LATIN)"),  # Greek alpha
        ("ada\uff20acme.io", "not NFKC-stable (U+FF20"),  # fullwidth @
        ("\uff41da@acme.io", "not NFKC-stable (U+FF41"),  # fullwidth a
        ("\ufb01ona@acme.io", "not NFKC-stable (U+FB01"),  # fi ligature
        ("\u212aim@acme.io", "not NFKC-stable (U+212A"),  # Kelvin sign
        ("jose\u0301@acme.io", "not NFKC-stable"),  # decomposed é
    ],
)
def test_lookalikes_are_recognised_with_the_reason(user_name: str, why: str) -> None:
    reason = lookalike_reason(user_name)
    assert reason is not None and reason.startswith(why), reason
    assert is_lookalike(user_name)


@pytest.mark.parametrize(
    "user_name",
    [
        "ada@acme.io",
        "Ada.Lovelace+test@acme.io",
        "o'brien@acme.io",
        "josé@acme.io",  # composed, all Latin: a real name, not a look-alike
        "müller@acme.io",
        "ada@acme.io ",  # surrounding ASCII space: matched, renamed in place
        "\u0430\u0434\u0430@\u0430\u0441\u043c\u0435.\u0440\u0444",  # one script throughout
    ],
)
def test_plain_names_are_not_lookalikes(user_name: str) -> None:
    assert lookalike_reason(user_name) is None


def test_a_lookalike_live_user_is_keyed_by_its_exact_text() -> None:
    assert LiveUser("1", ZWSP_ADA).key == ZWSP_ADA
    assert LiveUser("2", "ADA@acme.io").key == "ada@acme.io"
    # The Kelvin-sign account keeps its own key: it can never stand in for kim.
    assert LiveUser("3", "\u212aim@acme.io").key != "kim@acme.io"


# -- the diff never matches or changes a look-alike ------------------------------
def test_zero_width_ada_is_not_matched_deactivated_or_removed_from_teams() -> None:
    desired = manifest(
        [person("ada@acme.io"), person("bob@acme.io")],
        [{"name": "Eng", "members": ["bob@acme.io"]}],
        unmanaged_users="deactivate",
    )
    live = LiveState.of(
        [LiveUser("u1", ZWSP_ADA, "Given", "Family"), LiveUser("u2", "bob@acme.io", "G", "F")],
        [LiveGroup("g1", "Eng", frozenset({"u1", "u2"}))],
    )
    ops = plan_ops(desired, live)
    assert ("create_user", "ada@acme.io") in ops  # not matched to the look-alike
    assert all(key != ZWSP_ADA for _, key in ops)  # never deactivated
    assert ("remove_members", "Eng") not in ops  # never removed from a team
    changes = diff(desired, live, TODAY)
    flagged = [n for n in changes.notices if n.startswith(ZWSP_ADA)]
    assert len(flagged) == 1
    assert "U+200B" in flagged[0] and "never changed automatically" in flagged[0]


def test_a_lookalike_named_in_the_policy_is_managed_like_any_unlisted_user() -> None:
    desired = manifest(
        [person("bob@acme.io")],
        [{"name": "Eng", "members": ["bob@acme.io"]}],
        unmanaged_users="deactivate",
        lookalike_users=[ZWSP_ADA],
    )
    live = LiveState.of(
        [LiveUser("u1", ZWSP_ADA, "G", "F"), LiveUser("u2", "bob@acme.io", "Given", "Family")],
        [LiveGroup("g1", "Eng", frozenset({"u1", "u2"}))],
    )
    ops = plan_ops(desired, live)
    assert ("deactivate_user", ZWSP_ADA) in ops
    assert ("remove_members", "Eng") in ops


def test_under_report_a_lookalike_is_flagged_not_listed_as_a_plain_unlisted_user() -> None:
    desired = manifest([person("bob@acme.io")])
    users = [LiveUser("u1", ZWSP_ADA), LiveUser("u2", "bob@acme.io", "Given", "Family")]
    live = LiveState.of(users, [])
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    assert not plan.operations
    assert not any("not in the manifest" in n and ZWSP_ADA in n for n in plan.notices)
    assert any(n.startswith(ZWSP_ADA) and "look-alike" in n for n in plan.notices)


def test_the_policy_key_accepts_only_lookalikes() -> None:
    with pytest.raises(ValidationError, match="plain address, not a look-alike"):
        manifest([person("bob@acme.io")], lookalike_users=["ada@acme.io"])


# -- manifest emails ------------------------------------------------------------
@pytest.mark.parametrize(
    ("email", "says"),
    [
        (ZWSP_ADA, "look-alike character (invisible character U+200B at position 4)"),
        ("\u0430da@acme.io", "look-alike character (mixes scripts"),
        ("ada\uff20acme.io", "look-alike character (not NFKC-stable"),
        (" ada@acme.io", "leading or trailing whitespace; remove the spaces"),
    ],
)
def test_manifest_emails_with_lookalike_characters_are_errors_with_the_fix(
    email: str, says: str
) -> None:
    with pytest.raises(ValidationError, match="not a valid email address") as raised:
        User.model_validate({"email": email, "given_name": "A", "family_name": "B"})
    assert says in str(raised.value)


# -- names are exact --------------------------------------------------------------
def test_names_keep_their_whitespace() -> None:
    user = User.model_validate({"email": "ann@acme.io", "given_name": "Ann ", "family_name": "B"})
    assert user.given_name == "Ann "
    desired = Manifest.model_validate(
        {
            "version": 1,
            "organization": {"claimed_domains": ["acme.io"]},
            "teams": [{"name": "Design ", "members": []}],
        }
    )
    assert desired.teams[0].name == "Design "


def test_a_team_that_differs_only_in_whitespace_is_renamed_in_place() -> None:
    desired = manifest([person("ann@acme.io")], [{"name": "Design", "members": ["ann@acme.io"]}])
    live = LiveState.of(
        [LiveUser("u1", "ann@acme.io", "Given", "Family")],
        [LiveGroup("g1", "Design ", frozenset({"u1"}))],
    )
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    assert [(op.op.value, op.key, op.scim_id) for op in plan.operations] == [
        ("rename_group", "Design", "g1")
    ]
    assert "surrounding whitespace" in plan.operations[0].reason


def test_exact_whitespace_names_on_both_sides_need_no_change() -> None:
    desired = manifest(
        [person("ann@acme.io", "Ann ")], [{"name": "Design ", "members": ["ann@acme.io"]}]
    )
    live = LiveState.of(
        [LiveUser("u1", "ann@acme.io", "Ann ", "Family")],
        [LiveGroup("g1", "Design ", frozenset({"u1"}))],
    )
    assert plan_ops(desired, live) == []


def test_a_user_name_that_differs_only_in_whitespace_is_patched_in_place() -> None:
    desired = manifest([person("ann@acme.io", "Ann")])
    live = LiveState.of([LiveUser("u1", " ann@acme.io", "Ann ", "Family")], [])
    plan = make_plan(desired, live, today=TODAY, target="https://x", manifest_digest="d")
    assert [(op.op.value, op.scim_id) for op in plan.operations] == [("patch_user", "u1")]
    assert plan.operations[0].after == {"user_name": "ann@acme.io", "given_name": "Ann"}


def test_only_ascii_whitespace_is_folded_away() -> None:
    assert match_key("ada@acme.io\u2028") != match_key("ada@acme.io")
    assert name_fold("Eng\u2028") != name_fold("Eng")
    assert name_fold("Eng\u00a0") != name_fold("Eng")
    assert name_fold("\tEng ") == name_fold("eng")
