"""SCIM dialects: what RFC 7643/7644 let an honest server do differently, end to end.

Each case puts ``tests/support/dialect_proxy`` in front of a real server (the sandbox,
and for the combined dialect also the independent scim2-server) and runs the real
CLI over HTTP on 127.0.0.1: doctor, plan, apply (verification on), plan again. A
legal variation must converge; a missing optional feature the tool needs (PATCH,
writes without If-Match, member value-filter paths, filters for absence proofs) must
be refused with the server's answer and the fix, and must never cause a wrong write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from reconciler.livestate import LiveState
from reconciler.reader import read_live_state
from reconciler.scim import builders
from reconciler.scim.client import ScimClient
from reconciler.scim.secret import Token
from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, Server, person, run, write_manifest
from tests.support.dialect_proxy import Dialect, dialect_proxy

USERS = [
    person("ada@acme.io", "Ada", "Lovelace"),
    person("bob@acme.io", "Bob", "B", active=False),
    person("cy@acme.io", "Cy", "Young"),
]
TEAMS = [
    {"name": "New Team", "previous_names": ["Old Team"], "members": ["ada@acme.io", "cy@acme.io"]},
    {"name": "Ops", "members": ["cy@acme.io"]},
]


def seed(base_url: str) -> None:
    """Ada (an old family name) and Bob, both in "Old Team": the plan then has every
    kind of write (remove, deactivate, create, patch, create team, rename, add)."""
    with ScimClient.connect(base_url, Token(TOKEN)) as client:
        ada = client.create_user(builders.user_resource("ada@acme.io", "Ada", "Old", None, True))
        bob = client.create_user(builders.user_resource("bob@acme.io", "Bob", "B", None, True))
        team = client.create_group(builders.group_resource("Old Team"))
        client.patch_group(team.id, builders.add_members([ada.id, bob.id]))


def live(base_url: str) -> LiveState:
    with ScimClient.connect(base_url, Token(TOKEN)) as client:
        return read_live_state(client)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(token=TOKEN, claimed_domains=("acme.io",)) as box:
        seed(box.base_url)
        yield box.base_url


def through(stack: ExitStack, backend: str, dialect: Dialect, mp: pytest.MonkeyPatch) -> str:
    url = stack.enter_context(dialect_proxy(backend, dialect))
    mp.setenv("MIXPANEL_SCIM_URL", url)
    return url


def converges(manifest: Path) -> None:
    assert run("doctor", "-m", str(manifest), "--max-attempts", "1") == 0
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 2
    assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 0
    assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    assert run("report", "-m", str(manifest), "--format", "json") == 0


def check_converged(backend: str) -> None:
    state = live(backend)
    users = {u.key: u for u in state.users}
    assert (users["ada@acme.io"].family_name, users["bob@acme.io"].active) == ("Lovelace", False)
    assert users["cy@acme.io"].given_name == "Cy"
    teams = {g.display_name: state.member_keys(g) for g in state.groups}
    assert teams == {"New Team": {"ada@acme.io", "cy@acme.io"}, "Ops": {"cy@acme.io"}}


LEGAL = {
    # RFC 7643 §2.1: attribute names are case-insensitive.
    "lower-case names": Dialect(key_case=str.lower),
    "upper-case names": Dialect(key_case=str.upper),
    # Schema URNs compared case-insensitively (RFC 7643 §2.1 / §3 URIs).
    "upper-case schema URNs": Dialect(urn_case=str.upper),
    "no meta": Dialect(drop_meta=True),
    "several emails, none primary": Dialect(several_emails=True),
    "integer ids": Dialect(int_ids=True),
    "application/json": Dialect(content_type="application/json"),
    "charset parameter": Dialect(content_type="application/scim+json; charset=UTF-8"),
    "PATCH answers 204": Dialect(patch_answer="204"),
    "PATCH answers 200 with the resource": Dialect(patch_answer="200"),
    "PATCH answers 200 with a team without members": Dialect(patch_answer="200-no-members"),
    "features as strings": Dialect(spc={"patch": {"supported": "TRUE"}}),
    "no ServiceProviderConfig": Dialect(no_spc=True),
    # RFC 7644 §3.3: a 201 SHOULD hold the resource; one with the id and key only.
    "create answered with the id and key only": Dialect(minimal_create=True),
    "only userName eq filters, no new team": Dialect(filters="username"),
    "attributes and excludedAttributes ignored": Dialect(ignore_params=True),
    "attributes and excludedAttributes refused (400)": Dialect(refuse_params=True),
    "count capped at 1": Dialect(max_count=1),
    "no startIndex in a single page": Dialect(drop_start_index=True),
    # RFC 7644 §3.4.2 wants startIndex on partial results; its absence is no wrong value.
    "no startIndex while paging": Dialect(drop_start_index=True, max_count=1),
}


@pytest.mark.parametrize("name", list(LEGAL))
def test_a_legal_dialect_converges(
    name: str, sandbox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    teams = TEAMS[:1] if name.startswith("only userName") else TEAMS
    manifest = write_manifest(tmp_path / "org.yaml", USERS, teams)
    with ExitStack() as stack:
        through(stack, sandbox, LEGAL[name], monkeypatch)
        converges(manifest)
    if teams is TEAMS:
        check_converged(sandbox)


def test_every_legal_variation_at_once_converges_on_both_servers(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server.base_url)
    dialect = Dialect(
        key_case=str.lower,
        urn_case=str.upper,
        drop_meta=True,
        several_emails=True,
        int_ids=True,
        content_type="application/json; charset=utf-8",
        patch_answer="200",
        no_spc=True,
        ignore_params=True,
        max_count=2,
    )
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    with ExitStack() as stack:
        through(stack, server.base_url, dialect, monkeypatch)
        converges(manifest)
        assert (
            run("import", "--out", str(tmp_path / "imported"), "--claimed-domain", "acme.io") == 0
        )
        assert run("plan", "-m", str(tmp_path / "imported"), "--detailed-exitcode") == 0
    check_converged(server.base_url)


def test_saved_plans_and_revoke_only_work_through_every_variation_on_both_servers(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server.base_url)
    dialect = Dialect(
        key_case=str.upper,
        drop_meta=True,
        id_prefix="urn:uuid:",
        patch_answer="204",
        max_count=1,
        drop_start_index=True,
    )
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    with ExitStack() as stack:
        through(stack, server.base_url, dialect, monkeypatch)
        assert run("plan", "-m", str(manifest), "--out", "plan.json") == 0
        assert run("apply", "plan.json", "-m", str(manifest)) == 0
        assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
        state = live(server.base_url)
        ops = next(g for g in state.groups if g.display_name == "Ops")
        ada = state.users_by_key["ada@acme.io"]
        with ScimClient.connect(server.base_url, Token(TOKEN)) as client:  # a grant by hand
            client.patch_group(ops.id, builders.add_members([ada.id]))
        assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 2
        assert run("apply", "-m", str(manifest), "--revoke-only") == 0
        assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    check_converged(server.base_url)


def test_doctor_on_upper_case_features_reads_patch_as_supported(
    sandbox: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(key_case=str.upper), monkeypatch)
        capsys.readouterr()
        assert run("doctor", "--max-attempts", "1") == 0
    out = capsys.readouterr().out
    assert "patch yes" in out and "filter yes" in out


def test_patch_supported_as_the_string_false_is_no_patch(
    sandbox: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(spc={"patch": {"supported": "false"}}), monkeypatch)
        capsys.readouterr()
        assert run("doctor", "--max-attempts", "1") == 1
    assert "patch no" in capsys.readouterr().out


def test_without_service_provider_config_doctor_warns_and_a_wrong_path_still_fails(
    sandbox: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ExitStack() as stack:
        url = through(stack, sandbox, Dialect(no_spc=True), monkeypatch)
        capsys.readouterr()
        assert run("doctor", "--max-attempts", "1") == 0
        out = capsys.readouterr().out
        assert "no /ServiceProviderConfig (HTTP 404)" in out
        assert "features (ServiceProviderConfig): not published" in out
        assert run("doctor", "--max-attempts", "1", "--url", url + "/nowhere") == 1
        assert "/api/app/scim/v2" in capsys.readouterr().out


def test_a_server_without_patch_is_refused_with_the_reason_and_nothing_is_patched(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    dialect = Dialect(no_patch=True, spc={"patch": {"supported": False}})
    with ExitStack() as stack:
        through(stack, sandbox, dialect, monkeypatch)
        capsys.readouterr()
        assert run("doctor", "--max-attempts", "1") == 1
        assert "apply needs PATCH, which is off" in capsys.readouterr().out
        assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 5
    out = capsys.readouterr().out
    assert "501" in out and "never with a whole-resource PUT" in out
    assert not any(w.startswith("PATCH") for w in dialect.writes)
    # Nobody lost or gained access by it: Bob is still active and in the old team.
    state = live(sandbox)
    assert {u.key: u.active for u in state.users}["bob@acme.io"] is True
    assert "cy@acme.io" not in {k for g in state.groups for k in state.member_keys(g)}


def test_a_server_that_requires_if_match_is_refused_naming_the_etag(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(if_match=True), monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 5
    out = capsys.readouterr().out
    assert "HTTP 412" in out and "If-Match ETag header, RFC 7644 §3.14" in out
    # The fix is named once per failure (the apply's advice replaces the error's own).
    refused = [line for line in out.splitlines() if "HTTP 412" in line]
    assert refused and all(line.count("RFC 7644 §3.14") == 1 for line in refused), refused


def test_member_value_filter_paths_refused_keep_the_member_and_say_why(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    dialect = Dialect(no_member_filter=True)
    with ExitStack() as stack:
        through(stack, sandbox, dialect, monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 5
    out = capsys.readouterr().out
    assert "invalidPath" in out and "never falls back to a bare `members` path" in out
    state = live(sandbox)
    team = {g.display_name: state.member_keys(g) for g in state.groups}["New Team"]
    assert team == {"ada@acme.io", "bob@acme.io", "cy@acme.io"}  # nobody else removed


@pytest.mark.parametrize("filters", ["none", "username"])
def test_no_filter_for_an_absence_proof_plans_nothing_and_names_the_fix(
    filters: str,
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    dialect = Dialect(filters=filters)
    with ExitStack() as stack:
        through(stack, sandbox, dialect, monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 1
    err = capsys.readouterr().err
    assert "invalidFilter" in err and "RFC 7644 §3.4.2.2" in err
    assert "by hand in Mixpanel" in err
    assert dialect.writes == []


def test_a_server_that_drops_names_fails_verification_naming_the_attribute(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(drop_name=True), monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 5
    out = capsys.readouterr().out
    assert "family_name of ada@acme.io is None, not 'Lovelace'" in out


def test_a_server_that_ignores_paging_without_saying_a_start_index_is_caught(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    dialect = Dialect(drop_start_index=True, ignore_start=True, max_count=1)
    with ExitStack() as stack:
        through(stack, sandbox, dialect, monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 1
    assert "duplicate id" in capsys.readouterr().err
    assert dialect.writes == []


def test_a_server_that_takes_no_patch_paths_fails_those_writes_naming_the_path(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(no_attribute_paths=True), monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve", "--max-attempts", "1") == 5
    out = capsys.readouterr().out
    assert "deactivate_user bob@acme.io" in out and "refused the path of this PatchOp" in out
    assert {u.key: u.active for u in live(sandbox).users}["bob@acme.io"] is True


def test_a_server_that_lower_cases_user_names_converges_on_a_mixed_case_manifest(
    sandbox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [{**USERS[0], "email": "Ada@Acme.io"}, USERS[1], person("Cy.Young@Acme.io")]
    teams = [{"name": "Ops", "members": ["Cy.Young@Acme.io", "ADA@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", users, teams)
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(lower_user_names=True), monkeypatch)
        converges(manifest)


def test_a_server_without_groups_is_named_as_such_not_as_a_wrong_base_url(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, [])
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(no_groups=True), monkeypatch)
        capsys.readouterr()
        assert run("plan", "-m", str(manifest)) == 1
        err = capsys.readouterr().err
        assert "answers /Users but has no /Groups" in err and "base URL ends with" not in err
        assert run("doctor", "--max-attempts", "1") == 1
        assert "answers /Users but has no /Groups" in capsys.readouterr().out


def test_a_filter_answer_that_is_only_a_page_of_everything_proves_no_absence(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Illegal: the server ignores the filter and answers one page of the collection.
    with ScimClient.connect(sandbox, Token(TOKEN)) as client:
        client.create_group(builders.group_resource("Extra"))
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    dialect = Dialect(ignore_filter=True)
    with ExitStack() as stack:
        through(stack, sandbox, dialect, monkeypatch)
        capsys.readouterr()
        assert run("plan", "-m", str(manifest)) == 1
    err = capsys.readouterr().err
    assert "holds 1 of 2 results (totalResults) and not that team" in err
    assert "could not confirm that team 'Ops'" in err
    assert dialect.writes == []


def test_a_create_answered_with_the_id_only_is_created_one_showing_other_names_adopted(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(minimal_create=True), monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
        assert "create_user cy@acme.io: created" in capsys.readouterr().out
    # A 201 whose answer shows another given name: an account that was there before.
    users = [*USERS, person("dee@acme.io", "Dee", "D")]
    manifest = write_manifest(tmp_path / "org.yaml", users, TEAMS)
    shown = Dialect(create_answer={"name": {"givenName": "Someone"}})
    with ExitStack() as stack:
        through(stack, sandbox, shown, monkeypatch)
        capsys.readouterr()
        assert run("apply", "-m", str(manifest), "--auto-approve") == 5
        assert "create_user dee@acme.io: adopted (not in the listing)" in capsys.readouterr().out


def test_a_server_that_refuses_a_large_count_names_the_page_size_fix(
    sandbox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = write_manifest(tmp_path / "org.yaml", USERS, TEAMS)
    with ExitStack() as stack:
        through(stack, sandbox, Dialect(refuse_count_over=200), monkeypatch)
        capsys.readouterr()
        assert run("plan", "-m", str(manifest)) == 1
        err = capsys.readouterr().err
        assert "HTTP 400 (tooMany)" in err and "--page-size 100" in err
        assert run("plan", "-m", str(manifest), "--page-size", "100", "--detailed-exitcode") == 2


def test_deprovision_delete_through_a_dialect_converges(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server.base_url)
    dialect = Dialect(key_case=str.lower, delete_answer="200", int_ids=True)
    leaving = [{**USERS[0], "active": False}, *USERS[1:]]
    teams = [{"name": "New Team", "previous_names": ["Old Team"], "members": ["cy@acme.io"]}]
    manifest = write_manifest(tmp_path / "org.yaml", leaving, teams, deprovision="delete")
    with ExitStack() as stack:
        through(stack, server.base_url, dialect, monkeypatch)
        assert run("apply", "-m", str(manifest), "--auto-approve") == 0
        assert run("plan", "-m", str(manifest), "--detailed-exitcode") == 0
    assert "ada@acme.io" not in {u.key for u in live(server.base_url).users}
    assert any(w.startswith("DELETE") for w in dialect.writes)
