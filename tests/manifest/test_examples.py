"""The committed example organization is valid and shows every feature once."""

from __future__ import annotations

from reconciler.manifest.loader import load_manifest
from reconciler.manifest.models import email_domain
from tests.manifest.support import EXAMPLES, TODAY


def test_the_example_manifests_validate_without_problems_or_notices() -> None:
    loaded = load_manifest(EXAMPLES, today=TODAY)
    assert loaded.notices == ()
    assert len(loaded.sources) == 6


def test_the_example_org_shows_each_feature_of_the_schema() -> None:
    manifest = load_manifest(EXAMPLES, today=TODAY).manifest
    users = manifest.users
    assert manifest.organization.claimed_domains == ("acme.io", "acmelabs.io")
    assert manifest.policy.protected == ("owner@acme.io",)
    assert len(users) == 30
    assert {email_domain(u.email) for u in users} == {"acme.io", "acmelabs.io"}
    assert any(not u.given_name.isascii() for u in users)
    assert any(u.display_name for u in users)
    assert [u.email for u in users if not u.active] == ["bob.martin@acme.io"]
    assert [u.expires.year for u in users if u.expires] == [2027]
    assert any(u.previous_emails for u in users)


def test_the_example_teams_live_in_one_file_each() -> None:
    loaded = load_manifest(EXAMPLES, today=TODAY)
    team_files = [s for s in loaded.sources if "/teams/" in s]
    assert len(team_files) == len(loaded.manifest.teams) == 5
    assert any(t.previous_names for t in loaded.manifest.teams)
    members = [m for t in loaded.manifest.teams for m in t.member_list]
    assert [m.expires.year for m in members if m.expires] == [2027]


def test_every_example_file_points_editors_at_the_committed_schema() -> None:
    for path in EXAMPLES.rglob("*.yaml"):
        first_line = path.read_text(encoding="utf-8").splitlines()[0]
        relative = "../schema.json" if path.parent.name == "teams" else "schema.json"
        assert first_line == f"# yaml-language-server: $schema={relative}", path
