"""Loading files and folders: merging, ordering, limits, digests and notices."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import loader
from reconciler.manifest.loader import load_manifest, load_manifest_text, manifest_digest
from reconciler.manifest.models import Member, Policy
from tests.manifest.support import FIXTURES, ORG, TODAY, problems_of, text_problems, write

ADA = "  - {email: ada@acme.io, given_name: Ada, family_name: Lovelace}\n"


def test_a_folder_is_merged_in_sorted_order_and_hidden_files_are_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(FIXTURES)
    loaded = load_manifest("good-split", today=TODAY)
    assert loaded.sources == (
        "good-split/org.yaml",
        "good-split/teams/data.yaml",
        "good-split/users.yml",
    )
    assert [u.email for u in loaded.manifest.users] == ["ada@acme.io", "grace@acme.io"]
    assert [t.name for t in loaded.manifest.teams] == ["Data"]
    assert loaded.notices == ()


def test_a_single_file_is_loaded_on_its_own(tmp_path: Path) -> None:
    write(tmp_path, {"org.yaml": ORG + "users:\n" + ADA})
    loaded = load_manifest(tmp_path / "org.yaml", today=TODAY)
    assert loaded.sources == (str(tmp_path / "org.yaml"),)
    assert loaded.manifest.users[0].key == "ada@acme.io"
    assert loaded.manifest.policy == Policy()


def test_the_digest_ignores_comments_and_formatting_but_not_content() -> None:
    block = ORG + "# the founders\nusers:\n  - email: ada@acme.io\n"
    block += "    given_name: Ada\n    family_name: Lovelace\n"
    flow = "{version: 1, organization: {claimed_domains: [acme.io]}, users: [" + (
        "{email: ada@acme.io, given_name: Ada, family_name: Lovelace}]}"
    )
    first = load_manifest_text(block, filename="a.yaml", today=TODAY)
    second = load_manifest_text(flow, filename="b.yaml", today=TODAY)
    changed = load_manifest_text(flow.replace("Ada,", "Augusta,"), filename="c.yaml", today=TODAY)
    assert first.digest == second.digest
    assert first.digest != changed.digest


def test_the_digest_is_the_sha256_of_the_canonical_json_of_the_manifest() -> None:
    loaded = load_manifest_text(ORG, filename="m.yaml", today=TODAY)
    canonical = json.dumps(
        loaded.manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
    )
    assert loaded.digest == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert manifest_digest(loaded.manifest) == loaded.digest


def test_a_missing_path_is_a_clean_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert problems_of(missing) == [
        f"{missing}:1:1: no such file or directory; pass a manifest file or folder with -m"
    ]


def test_a_folder_without_yaml_files_is_a_clean_error(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "hi", ".hidden.yaml": ORG, ".git/config.yaml": ORG})
    assert problems_of(tmp_path) == [
        f"{tmp_path}:1:1: no *.yaml or *.yml files in this folder "
        "(hidden files and folders are skipped)"
    ]


def test_a_file_over_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 64)
    write(tmp_path, {"big.yaml": ORG + "# " + "x" * 64 + "\n"})
    assert problems_of(tmp_path / "big.yaml") == [
        f"{tmp_path / 'big.yaml'}:1:1: file is larger than 64 bytes; split it into several files"
    ]


def test_the_default_size_limit_is_five_mebibytes(tmp_path: Path) -> None:
    write(tmp_path, {"big.yaml": ORG + "#" * (5 * 1024 * 1024)})
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'big.yaml'}:1:1: file is larger than 5 MiB; split it into several files"
    ]
    assert text_problems(ORG + "#" * (5 * 1024 * 1024)) == [
        "m.yaml:1:1: file is larger than 5 MiB; split it into several files"
    ]


def test_too_many_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILES", 2)
    write(tmp_path, {f"{n}.yaml": "version: 1\n" for n in "abc"})
    assert problems_of(tmp_path) == [
        f"{tmp_path}:1:1: more than 2 manifest files below this folder; is it the right one? "
        "A larger org can raise the cap with RECONCILER_MANIFEST_MAX_FILES=N"
    ]


def test_problems_in_all_files_are_reported_together_in_file_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "b.yaml": "version: 1\nteams:\n  - {name: Data, members: [ada@acme.io]}\n",
            "a.yaml": ORG + "users:\n  - {email: grace@acme.io, given_name: Grace}\n",
            "c.yaml": "version: 1\npolicy: {max_teams_emptied: -1}\n",
        },
    )
    assert [line.replace(str(tmp_path), "") for line in problems_of(tmp_path)] == [
        "/a.yaml:4:5: users[0]: missing required key 'family_name'",
        "/b.yaml:3:28: teams[0].members[0]: 'ada@acme.io' is not a declared user; "
        "declare ada@acme.io under users: or remove it from team 'Data'",
        "/c.yaml:2:29: policy.max_teams_emptied: must be at least 0, found the number -1",
    ]


def test_an_invalid_user_entry_does_not_cause_follow_on_member_errors() -> None:
    text = ORG + "users:\n  - {email: ada@acme.io, given_name: Ada}\n"
    text += "teams:\n  - {name: Data, members: [ada@acme.io]}\n"
    assert text_problems(text) == ["m.yaml:4:5: users[0]: missing required key 'family_name'"]


def test_an_unparseable_file_suppresses_checks_that_need_every_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "org.yaml": "version: 1\norganization: {claimed_domains: [acme.io\n",
            "teams.yaml": "version: 1\nteams:\n  - {name: Data, members: [ada@acme.io]}\n",
        },
    )
    lines = problems_of(tmp_path)
    assert len(lines) == 1
    assert "invalid YAML" in lines[0]


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, {"org.yaml": b"\xef\xbb\xbf" + ORG.encode()})
    assert load_manifest(tmp_path, today=TODAY).manifest.version == 1


def test_quoted_dates_and_unquoted_booleans_are_read_as_the_schema_says() -> None:
    text = ORG + "users:\n  - {email: ada@acme.io, given_name: Ada, family_name: L,"
    text += ' active: false, expires: "2027-01-31"}\n'
    user = load_manifest_text(text, filename="m.yaml", today=TODAY).manifest.users[0]
    assert (user.active, user.expires and user.expires.isoformat()) == (False, "2027-01-31")


def test_a_team_without_members_leaves_membership_unmanaged_and_an_empty_list_empties_it() -> None:
    text = ORG + "teams:\n  - {name: Data}\n  - {name: Growth, members: []}\n"
    unmanaged, emptied = load_manifest_text(text, filename="m.yaml", today=TODAY).manifest.teams
    assert (unmanaged.members, emptied.members) == (None, ())


def test_a_member_may_be_a_plain_email_or_a_mapping_with_expiry() -> None:
    text = ORG + "users:\n" + ADA + "  - {email: bo@acme.io, given_name: Bo, family_name: B}\n"
    text += "teams:\n  - name: Data\n    members:\n      - ada@acme.io\n"
    text += "      - {email: bo@acme.io, expires: 2027-01-31}\n"
    (team,) = load_manifest_text(text, filename="m.yaml", today=TODAY).manifest.teams
    assert team.member_list[0] == Member(email="ada@acme.io")
    assert team.member_list[1].expires is not None


def test_a_protected_account_need_not_be_declared_as_a_user() -> None:
    text = ORG + "policy: {protected: [owner@acme.io]}\n"
    loaded = load_manifest_text(text, filename="m.yaml", today=TODAY)
    assert loaded.manifest.policy.protected == ("owner@acme.io",)


def test_a_suspected_secret_is_never_echoed_in_any_message() -> None:
    secret = "Bearer 7Hq2xK9mPz4RvT1nWb8YcL3dFj6GsA0eUo5"
    text = ORG + f'users:\n  - {{email: "{secret}", given_name: A, family_name: B}}\n'
    lines = text_problems(text)
    assert len(lines) == 2
    assert all("7Hq2xK9" not in line for line in lines)
    assert any("this looks like a secret token" in line for line in lines)


def test_every_problem_is_located_as_path_line_col() -> None:
    with pytest.raises(ManifestError) as raised:
        load_manifest_text(ORG + "users: 3\nteams: [1]\n", filename="m.yaml", today=TODAY)
    assert [(p.path, p.line, p.col) for p in raised.value.problems] == [
        ("m.yaml", 3, 8),
        ("m.yaml", 4, 9),
    ]
    assert str(raised.value).endswith("\n2 problems in the manifest")
