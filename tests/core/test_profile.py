"""The target profile: Mixpanel's names live in one value, and another profile flows through."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.executor import ApplyOptions
from reconciler.identity import match_key
from reconciler.livestate import LiveGroup, LiveUser
from reconciler.profile import MIXPANEL, TargetProfile
from reconciler.redact import secrets_scope
from reconciler.scim.client import ScimClient
from reconciler.scim.errors import ScimAuthError, ScimConflict, conflict_hint
from reconciler.scim.secret import Token
from reconciler.settings import resolve_target
from reconciler.workflow import connect
from scim_sandbox import Sandbox

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
# Literals that are Mixpanel's and belong to the profile only (docstrings aside: they
# are checked too, so an example in prose must be phrased without them).
MIXPANEL_LITERALS = (
    "MIXPANEL_SCIM_TOKEN",
    "MIXPANEL_SCIM_URL",
    "/api/app/scim/v2",
    "mixpanel-scim-reconciler:",
    "mixpanel-drift",
    "Access Security",
)
# reconciler.yaml's documented example names a real URL and an org's own token variable.
ALLOWED = {"profile.py", "orgs.py"}

# resolve_target registers the token with the process-wide redactor: keep it in a scope.
pytestmark = pytest.mark.usefixtures("scoped_secrets")

OTHER = dataclasses.replace(
    MIXPANEL,
    product="Acme Cloud",
    token_env="ACME_SCIM_TOKEN",
    url_env="ACME_SCIM_URL",
    default_url="https://scim.acme.example/v2",
    scim_path="/v2",
    example_urls=("https://scim.acme.example/v2",),
    token_page="Admin > Provisioning",
    marker_prefix="acme-scim-reconciler",
)


@pytest.fixture
def scoped_secrets() -> Iterator[None]:
    with secrets_scope():
        yield


def test_mixpanel_names_are_spelled_only_in_the_profile() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}: {literal}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).as_posix() not in ALLOWED
        for literal in MIXPANEL_LITERALS
        if literal in path.read_text(encoding="utf-8")
    ]
    assert found == [], "take these from reconciler.profile.MIXPANEL"


def test_mixpanel_markers_and_label_never_change_so_old_comments_are_still_found() -> None:
    assert MIXPANEL.marker("plan") == "<!-- mixpanel-scim-reconciler:plan -->"
    assert MIXPANEL.marker("drift", "eu") == "<!-- mixpanel-scim-reconciler:drift:eu -->"
    assert MIXPANEL.drift_label == "mixpanel-drift"
    assert (MIXPANEL.token_env, MIXPANEL.url_env) == ("MIXPANEL_SCIM_TOKEN", "MIXPANEL_SCIM_URL")
    assert MIXPANEL.default_url == "https://mixpanel.com/api/app/scim/v2"


@pytest.mark.parametrize("profile", [MIXPANEL, OTHER], ids=["mixpanel", "other"])
def test_a_marker_family_matches_its_own_markers_only(profile: TargetProfile) -> None:
    family = re.compile(profile.marker_family("plan"))
    assert family.fullmatch(profile.marker("plan") + "\n")
    assert family.fullmatch(profile.marker("plan", "eu-west"))
    assert not family.fullmatch(profile.marker("drift"))
    other = OTHER if profile is MIXPANEL else MIXPANEL
    assert not family.fullmatch(other.marker("plan"))


def test_resolve_target_reads_the_profiles_variables_and_default_url() -> None:
    target = resolve_target(None, None, {"ACME_SCIM_TOKEN": "s3cret"}, profile=OTHER)
    assert target.base_url == OTHER.default_url
    url = "https://eu.acme.example/v2"
    env = {"ACME_SCIM_TOKEN": "acme-token-2", "ACME_SCIM_URL": url}
    chosen = resolve_target(None, None, env, profile=OTHER)
    assert chosen.base_url == url
    with pytest.raises(ConfigError) as refused:
        resolve_target(None, None, {"MIXPANEL_SCIM_TOKEN": "mixpanel-token"}, profile=OTHER)
    assert "ACME_SCIM_TOKEN" in str(refused.value) and "Admin > Provisioning" in str(refused.value)
    assert "Mixpanel" not in str(refused.value)


def test_an_orgs_own_token_variable_still_wins_over_the_profiles() -> None:
    env = {"MIXPANEL_SCIM_TOKEN_EU": "eu-token"}
    target = resolve_target(None, None, env, token_env="MIXPANEL_SCIM_TOKEN_EU")
    assert target.base_url == MIXPANEL.default_url and target.token.reveal() == "eu-token"


def test_the_conflict_advice_names_the_profiles_product() -> None:
    untyped = ScimConflict("conflict", status=409)
    outside = ScimConflict("user belongs to an account outside the organization", status=409)
    for error in (untyped, outside):
        advice = conflict_hint(error, "ada@acme.io", OTHER)
        assert "Acme Cloud" in advice and "Mixpanel" not in advice
    assert "Mixpanel" in conflict_hint(untyped, "ada@acme.io")


def test_apply_options_carry_the_profile_for_the_advice() -> None:
    assert ApplyOptions().profile is MIXPANEL
    assert ApplyOptions(profile=OTHER).profile.product == "Acme Cloud"
    assert "Acme Cloud" in OTHER.unclaimed_domain_fix and "Domain Claim" in OTHER.domain_page


def test_the_case_rules_stated_in_the_profile_are_the_ones_identity_applies() -> None:
    folded = LiveUser("1", "ADA@Acme.IO").key == LiveUser("2", "ada@acme.io").key
    assert folded is not MIXPANEL.user_names_case_exact
    assert match_key("ADA@acme.io") == match_key("ada@acme.io")
    exact = LiveGroup("g1", "Eng").key != LiveGroup("g2", "eng").key
    assert exact is MIXPANEL.team_names_case_exact


def test_the_client_speaks_for_its_profile_over_real_http() -> None:
    with Sandbox(token="the-right-token") as sandbox:
        client = ScimClient.connect(sandbox.base_url, Token("a-wrong-token"), profile=OTHER)
        with client, pytest.raises(ScimAuthError) as refused:
            client.list_users_page(1, 1)
    text = str(refused.value)
    assert "Acme Cloud Admin > Provisioning" in text and "Mixpanel" not in text
    with ScimClient.connect(None, Token("t0ken"), profile=OTHER) as default:
        assert default.transport.base_url == OTHER.default_url
        assert default.profile is OTHER


def test_a_target_carries_its_profile_to_the_client() -> None:
    target = resolve_target(None, None, {"ACME_SCIM_TOKEN": "acme-token-3"}, profile=OTHER)
    assert target.profile is OTHER
    with connect(target) as client:
        assert client.profile is OTHER and client.transport.base_url == OTHER.default_url
