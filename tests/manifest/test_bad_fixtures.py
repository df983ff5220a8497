"""One ``bad-*`` fixture per validation rule, with the exact lines a user sees.

Each fixture is otherwise valid, so the table also proves a rule reports nothing
else. Directories hold the cross-file cases (each file validates on its own).
"""

from __future__ import annotations

import pytest

from tests.manifest.support import FIXTURES, problems_of

CASES = [
    pytest.param(
        "bad-active-quoted.yaml",
        [
            "bad-active-quoted.yaml:4:74: users[0].active: expected true or false, found "
            "the text 'false'",
        ],
        id="bad-active-quoted.yaml",
    ),
    pytest.param(
        "bad-alias.yaml",
        [
            "bad-alias.yaml:4:5: YAML anchors and aliases are not allowed in manifests "
            "(found '&ada'); write the values out so reviewers see every change",
        ],
        id="bad-alias.yaml",
    ),
    pytest.param(
        "bad-claimed-domain-invalid.yaml",
        [
            "bad-claimed-domain-invalid.yaml:3:20: organization.claimed_domains: 'acme' "
            "is not a domain name; write it like acme.io",
        ],
        id="bad-claimed-domain-invalid.yaml",
    ),
    pytest.param(
        "bad-claimed-domains-empty.yaml",
        [
            "bad-claimed-domains-empty.yaml:3:20: organization.claimed_domains: must not "
            "be an empty list",
        ],
        id="bad-claimed-domains-empty.yaml",
    ),
    pytest.param(
        "bad-comments-only.yaml",
        [
            "bad-comments-only.yaml:1:1: file is empty; a manifest file needs at least "
            "'version: 1'",
        ],
        id="bad-comments-only.yaml",
    ),
    pytest.param(
        "bad-control-character.yaml",
        [
            "bad-control-character.yaml:4:41: character '\\x07' is not allowed in YAML; remove it",
        ],
        id="bad-control-character.yaml",
    ),
    pytest.param(
        "bad-count-is-boolean.yaml",
        [
            "bad-count-is-boolean.yaml:4:20: policy.max_deprovision: expected a whole "
            "number, found true (a boolean)",
        ],
        id="bad-count-is-boolean.yaml",
    ),
    pytest.param(
        "bad-date-with-time.yaml",
        [
            "bad-date-with-time.yaml:4:75: users[0].expires: timestamp '2027-02-01 17:00' "
            "has no UTC offset, so its instant is ambiguous; write it with one, like "
            "2027-02-01T17:00:00Z (UTC) or 2027-02-01T17:00:00+01:00, or write the date "
            "2027-02-01 for access through the end of that day, UTC",
        ],
        id="bad-date-with-time.yaml",
    ),
    pytest.param(
        "bad-deep-nesting.yaml",
        [
            "bad-deep-nesting.yaml:2:27: nesting deeper than 20 levels; a manifest is "
            "never this deep",
        ],
        id="bad-deep-nesting.yaml",
    ),
    pytest.param(
        "bad-duplicate-key.yaml",
        [
            "bad-duplicate-key.yaml:7:5: users[0]: key 'email' appears twice (first at "
            "line 4); YAML would silently keep only the last one, so remove one",
        ],
        id="bad-duplicate-key.yaml",
    ),
    pytest.param(
        "bad-duplicate-team-across-files",
        [
            "bad-duplicate-team-across-files/teams/data.yaml:3:11: teams[0].name: team "
            "name 'Data' is already used as a previous name at "
            "bad-duplicate-team-across-files/teams/data-science.yaml:4:22; team names and"
            " previous names must be unique",
        ],
        id="bad-duplicate-team-across-files",
    ),
    pytest.param(
        "bad-duplicate-team.yaml",
        [
            "bad-duplicate-team.yaml:6:11: teams[2].name: team name 'Data' is already "
            "used as a team name at bad-duplicate-team.yaml:4:11; team names and previous"
            " names must be unique",
        ],
        id="bad-duplicate-team.yaml",
    ),
    pytest.param(
        "bad-duplicate-user-across-files",
        [
            "bad-duplicate-user-across-files/teams/data.yaml:3:13: users[0].email: user "
            "'ADA@acme.io' is declared twice (first at "
            "bad-duplicate-user-across-files/org.yaml:4:13; emails are case-insensitive);"
            " keep one entry",
        ],
        id="bad-duplicate-user-across-files",
    ),
    pytest.param(
        "bad-duplicate-user-case.yaml",
        [
            "bad-duplicate-user-case.yaml:5:13: users[1].email: user 'Ada@Acme.io' is "
            "declared twice (first at bad-duplicate-user-case.yaml:4:13; emails are "
            "case-insensitive); keep one entry",
        ],
        id="bad-duplicate-user-case.yaml",
    ),
    pytest.param(
        "bad-empty-name.yaml",
        [
            "bad-empty-name.yaml:4:38: users[0].given_name: must not be empty",
        ],
        id="bad-empty-name.yaml",
    ),
    pytest.param(
        "bad-empty.yaml",
        [
            "bad-empty.yaml:1:1: file is empty; a manifest file needs at least 'version: 1'",
        ],
        id="bad-empty.yaml",
    ),
    pytest.param(
        "bad-invalid-date.yaml",
        [
            "bad-invalid-date.yaml:4:75: users[0].expires: '2027-02-30' is not a valid "
            "date: day is out of range for month",
        ],
        id="bad-invalid-date.yaml",
    ),
    pytest.param(
        "bad-invalid-email.yaml",
        [
            "bad-invalid-email.yaml:4:13: users[0].email: 'ada at acme.io' is not a valid"
            " email address; write it as name@domain",
        ],
        id="bad-invalid-email.yaml",
    ),
    pytest.param(
        "bad-member-not-an-email.yaml",
        [
            "bad-member-not-an-email.yaml:5:15: teams[0].members[0]: expected an email "
            "address or a mapping with 'email', found the number 42",
        ],
        id="bad-member-not-an-email.yaml",
    ),
    pytest.param(
        "bad-member-previous-email.yaml",
        [
            "bad-member-previous-email.yaml:10:15: teams[0].members[0]: "
            "'samira.khoury@acme.io' is a previous email of 'samira.haddad@acme.io' "
            "(bad-member-previous-email.yaml:4:12); use the current email",
        ],
        id="bad-member-previous-email.yaml",
    ),
    pytest.param(
        "bad-member-twice.yaml",
        [
            "bad-member-twice.yaml:9:9: teams[0].members[1]: 'ADA@acme.io' is listed "
            "twice in team 'Data' (first at bad-member-twice.yaml:8:9); remove one",
        ],
        id="bad-member-twice.yaml",
    ),
    pytest.param(
        "bad-member-undeclared-across-files",
        [
            "bad-member-undeclared-across-files/teams/data.yaml:4:30: "
            "teams[0].members[1]: 'ada@acme.io' is not a declared user; declare "
            "ada@acme.io under users: or remove it from team 'Data'",
        ],
        id="bad-member-undeclared-across-files",
    ),
    pytest.param(
        "bad-member-undeclared.yaml",
        [
            "bad-member-undeclared.yaml:9:9: teams[0].members[1]: 'ada@acme.io' is not a "
            "declared user; declare ada@acme.io under users: or remove it from team "
            "'Data'",
        ],
        id="bad-member-undeclared.yaml",
    ),
    pytest.param(
        "bad-members-null.yaml",
        [
            "bad-members-null.yaml:5:13: teams[0].members: is empty; write 'members: []' "
            "to remove everyone, or delete the key to leave membership unmanaged",
        ],
        id="bad-members-null.yaml",
    ),
    pytest.param(
        "bad-missing-required-key.yaml",
        [
            "bad-missing-required-key.yaml:4:5: users[0]: missing required key 'family_name'",
        ],
        id="bad-missing-required-key.yaml",
    ),
    pytest.param(
        "bad-multiple-documents.yaml",
        [
            "bad-multiple-documents.yaml:3:1: a manifest file holds one YAML document; "
            "remove the '---' or split the file",
        ],
        id="bad-multiple-documents.yaml",
    ),
    pytest.param(
        "bad-name-read-as-boolean.yaml",
        [
            "bad-name-read-as-boolean.yaml:4:56: users[0].family_name: expected text, "
            "found false (a boolean); quote it: 'No'",
        ],
        id="bad-name-read-as-boolean.yaml",
    ),
    pytest.param(
        "bad-negative-count.yaml",
        [
            "bad-negative-count.yaml:4:22: policy.max_teams_emptied: must be at least 0, "
            "found the number -1",
        ],
        id="bad-negative-count.yaml",
    ),
    pytest.param(
        "bad-no-organization",
        [
            "bad-no-organization/teams.yaml:1:1: no manifest file defines 'organization';"
            " add it to one file, e.g. organization: {claimed_domains: [acme.io]}",
        ],
        id="bad-no-organization",
    ),
    pytest.param(
        "bad-not-utf8.yaml",
        [
            "bad-not-utf8.yaml:4:40: not UTF-8 text (byte 0xeb); save it as UTF-8",
        ],
        id="bad-not-utf8.yaml",
    ),
    pytest.param(
        "bad-organization-missing.yaml",
        [
            "bad-organization-missing.yaml:1:1: no manifest file defines 'organization'; "
            "add it to one file, e.g. organization: {claimed_domains: [acme.io]}",
        ],
        id="bad-organization-missing.yaml",
    ),
    pytest.param(
        "bad-organization-null.yaml",
        [
            "bad-organization-null.yaml:2:14: organization: is empty; fill it in or remove the key",
        ],
        id="bad-organization-null.yaml",
    ),
    pytest.param(
        "bad-percent-out-of-range.yaml",
        [
            "bad-percent-out-of-range.yaml:4:28: policy.max_deprovision_percent: must be "
            "at most 100, found the number 150",
        ],
        id="bad-percent-out-of-range.yaml",
    ),
    pytest.param(
        "bad-policy-enum.yaml",
        [
            "bad-policy-enum.yaml:4:20: policy.unmanaged_users: expected one of 'ignore',"
            " 'report' or 'deactivate', found the text 'delete'",
        ],
        id="bad-policy-enum.yaml",
    ),
    pytest.param(
        "bad-previous-email-in-use.yaml",
        [
            "bad-previous-email-in-use.yaml:8:23: users[1].previous_emails[0]: "
            "'ada@acme.io' is the current email of another user "
            "(bad-previous-email-in-use.yaml:4:13); remove it",
        ],
        id="bad-previous-email-in-use.yaml",
    ),
    pytest.param(
        "bad-previous-email-own.yaml",
        [
            "bad-previous-email-own.yaml:4:84: users[0].previous_emails[0]: 'ADA@acme.io'"
            " is this user's current email; remove it",
        ],
        id="bad-previous-email-own.yaml",
    ),
    pytest.param(
        "bad-previous-email-repeated.yaml",
        [
            "bad-previous-email-repeated.yaml:5:86: users[1].previous_emails[0]: "
            "'A.Byron@acme.io' is already a previous email at "
            "bad-previous-email-repeated.yaml:4:84; an old address can belong to one user"
            " only",
        ],
        id="bad-previous-email-repeated.yaml",
    ),
    pytest.param(
        "bad-previous-name-collision.yaml",
        [
            "bad-previous-name-collision.yaml:6:22: teams[1].previous_names[0]: previous "
            "name 'Data' is already used as a team name at "
            "bad-previous-name-collision.yaml:4:11; team names and previous names must be"
            " unique",
        ],
        id="bad-previous-name-collision.yaml",
    ),
    pytest.param(
        "bad-previous-name-own.yaml",
        [
            "bad-previous-name-own.yaml:5:22: teams[0].previous_names[0]: team 'Data' "
            "lists its own name in previous_names; remove it",
        ],
        id="bad-previous-name-own.yaml",
    ),
    pytest.param(
        "bad-project-access-key.yaml",
        [
            "bad-project-access-key.yaml:7:5: teams[0]: key 'project_access' is not "
            "supported: Mixpanel's SCIM API cannot set organization roles or project "
            "access; manage them in Mixpanel's UI",
        ],
        id="bad-project-access-key.yaml",
    ),
    pytest.param(
        "bad-protected-expired.yaml",
        [
            "bad-protected-expired.yaml:6:75: users[0].expires: 'owner@acme.io' is "
            "protected (bad-protected-expired.yaml:4:15) but expired on 2025-12-31; "
            "protected accounts are never deprovisioned; remove it from policy.protected "
            "first",
        ],
        id="bad-protected-expired.yaml",
    ),
    pytest.param(
        "bad-protected-inactive.yaml",
        [
            "bad-protected-inactive.yaml:6:74: users[0].active: 'owner@acme.io' is "
            "protected (bad-protected-inactive.yaml:4:15) but declared active: false; "
            "protected accounts are never deprovisioned; remove it from policy.protected "
            "first",
        ],
        id="bad-protected-inactive.yaml",
    ),
    pytest.param(
        "bad-protected-unclaimed.yaml",
        [
            "bad-protected-unclaimed.yaml:4:30: policy.protected[1]: protected account "
            "'founder@gmail.com' is not in a claimed domain (acme.io); fix the address or"
            " add the domain to organization.claimed_domains",
        ],
        id="bad-protected-unclaimed.yaml",
    ),
    pytest.param(
        "bad-python-tag.yaml",
        [
            "bad-python-tag.yaml:5:17: users[0].given_name: YAML tag "
            "'!!python/object/apply:os.system' is not allowed here",
        ],
        id="bad-python-tag.yaml",
    ),
    pytest.param(
        "bad-role-key.yaml",
        [
            "bad-role-key.yaml:7:5: users[0]: key 'role' is not supported: Mixpanel's "
            "SCIM API cannot set organization roles or project access; manage them in "
            "Mixpanel's UI",
        ],
        id="bad-role-key.yaml",
    ),
    pytest.param(
        "bad-tab-indent.yaml",
        [
            "bad-tab-indent.yaml:3:1: invalid YAML: found character '\\t' that cannot "
            "start any token (while scanning for the next token); indent with spaces, not tabs",
        ],
        id="bad-tab-indent.yaml",
    ),
    pytest.param(
        "bad-team-case-only.yaml",
        [
            "bad-team-case-only.yaml:5:11: teams[1].name: team name 'data science' "
            "differs only in case from the team name 'Data Science' at "
            "bad-team-case-only.yaml:4:11; rename one so reviewers can tell them apart",
        ],
        id="bad-team-case-only.yaml",
    ),
    pytest.param(
        "bad-token-bearer.yaml",
        [
            "bad-token-bearer.yaml:4:80: this looks like a secret token; never commit "
            "tokens, set MIXPANEL_SCIM_TOKEN instead",
        ],
        id="bad-token-bearer.yaml",
    ),
    pytest.param(
        "bad-token-in-comment.yaml",
        [
            "bad-token-in-comment.yaml:2:35: this looks like a secret token; never commit"
            " tokens, set MIXPANEL_SCIM_TOKEN instead",
        ],
        id="bad-token-in-comment.yaml",
    ),
    pytest.param(
        "bad-token-in-value.yaml",
        [
            "bad-token-in-value.yaml:6:18: this looks like a secret token; never commit "
            "tokens, set MIXPANEL_SCIM_TOKEN instead",
        ],
        id="bad-token-in-value.yaml",
    ),
    pytest.param(
        "bad-top-level-list.yaml",
        [
            "bad-top-level-list.yaml:1:1: the top level must be a mapping of version, "
            "organization, policy, users, teams; found a list",
        ],
        id="bad-top-level-list.yaml",
    ),
    pytest.param(
        "bad-two-organizations",
        [
            "bad-two-organizations/b.yaml:2:1: organization is already defined at "
            "bad-two-organizations/a.yaml:2:1; define it in one file only",
        ],
        id="bad-two-organizations",
    ),
    pytest.param(
        "bad-two-policies",
        [
            "bad-two-policies/policy.yaml:2:1: policy is already defined at "
            "bad-two-policies/org.yaml:3:1; define it in one file only",
        ],
        id="bad-two-policies",
    ),
    pytest.param(
        "bad-unclaimed-domain.yaml",
        [
            "bad-unclaimed-domain.yaml:5:13: users[0].email: domain 'gmail.com' of "
            "'ada@gmail.com' is not a claimed domain (acme.io, acmelabs.io); add the "
            "domain to organization.claimed_domains or fix the address",
        ],
        id="bad-unclaimed-domain.yaml",
    ),
    pytest.param(
        "bad-unknown-key-no-match.yaml",
        [
            "bad-unknown-key-no-match.yaml:4:66: users[0]: unknown key 'shoe_size'; valid"
            " keys are email, given_name, family_name, display_name, active, expires, "
            "previous_emails",
        ],
        id="bad-unknown-key-no-match.yaml",
    ),
    pytest.param(
        "bad-unknown-key.yaml",
        [
            "bad-unknown-key.yaml:7:5: users[3]: unknown key 'emial'; did you mean 'email'?",
        ],
        id="bad-unknown-key.yaml",
    ),
    pytest.param(
        "bad-unknown-top-level-key.yaml",
        [
            "bad-unknown-top-level-key.yaml:3:1: unknown key 'usres'; did you mean 'users'?",
        ],
        id="bad-unknown-top-level-key.yaml",
    ),
    pytest.param(
        "bad-users-not-a-list.yaml",
        [
            "bad-users-not-a-list.yaml:4:3: users: expected a list, found a mapping",
        ],
        id="bad-users-not-a-list.yaml",
    ),
    pytest.param(
        "bad-version-missing-in-one-file",
        [
            "bad-version-missing-in-one-file/teams/data.yaml:1:1: missing 'version: 1'; "
            "every manifest file starts with it",
        ],
        id="bad-version-missing-in-one-file",
    ),
    pytest.param(
        "bad-version-missing.yaml",
        [
            "bad-version-missing.yaml:1:1: missing 'version: 1'; every manifest file "
            "starts with it",
        ],
        id="bad-version-missing.yaml",
    ),
    pytest.param(
        "bad-version-quoted.yaml",
        [
            "bad-version-quoted.yaml:1:10: version: expected the number 1 (unquoted), "
            "found the text '1'",
        ],
        id="bad-version-quoted.yaml",
    ),
    pytest.param(
        "bad-version-unsupported.yaml",
        [
            "bad-version-unsupported.yaml:1:10: unsupported version 2; supported versions: 1",
        ],
        id="bad-version-unsupported.yaml",
    ),
    pytest.param(
        "bad-yaml-syntax.yaml",
        [
            "bad-yaml-syntax.yaml:4:6: invalid YAML: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence at line 3)",
        ],
        id="bad-yaml-syntax.yaml",
    ),
]


@pytest.mark.parametrize(("fixture", "expected"), CASES)
def test_each_bad_fixture_reports_exactly_its_problem(
    fixture: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)
    assert problems_of(fixture) == expected


def test_every_bad_fixture_has_a_row_in_the_table() -> None:
    on_disk = {path.name for path in FIXTURES.iterdir() if path.name.startswith("bad-")}
    assert on_disk == {case.values[0] for case in CASES}
