"""The executor on evidence: adopt then reconcile, skip revokes after proof, verify writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.executor import LISTING_INCOMPLETE, ApplyOptions, Status, apply_plan
from reconciler.journal import Journal, read_journal
from reconciler.livestate import LiveGroup, LiveUser
from reconciler.plan import OpKind
from reconciler.reader import read_live_state
from reconciler.scim.client import ScimClient
from reconciler.scim.errors import (
    ScimBadRequest,
    ScimConflict,
    ScimError,
    ScimForbidden,
    ScimNotFound,
    ScimRateLimited,
    ScimServerError,
    ScimUnusableAnswer,
)
from reconciler.scim.secret import Token
from reconciler.verify import ACTIVE_UNSHOWN
from scim_sandbox import Sandbox
from tests.core.test_executor import plan_for
from tests.core.test_planner import manifest, person
from tests.support.fake_directory import FakeDirectory

NO_JOURNAL = Journal(None, run_id="t")


class IgnoringDirectory(FakeDirectory):
    """Answers PATCHes to some users or teams with success and does nothing."""

    def __init__(self, *args: Any, ignore: set[str], answer: LiveUser | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.ignore = ignore
        self.answer = answer

    def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None:
        if user_id in self.ignore:
            self.calls.append(("patch_user", user_id))
            return self.answer
        return super().patch_user(user_id, patch)

    def patch_group(self, group_id: str, patch: dict[str, Any]) -> None:
        if group_id in self.ignore:
            self.calls.append(("patch_group", group_id))
            return
        super().patch_group(group_id, patch)


def test_an_adopted_account_is_reactivated_and_patched_before_it_joins_a_team() -> None:
    desired = manifest(
        [person("kim@acme.io", given="Kim")], [{"name": "Eng", "members": ["kim@acme.io"]}]
    )
    listing = FakeDirectory([], [LiveGroup("g1", "Eng")])  # the listing hid kim
    plan = plan_for(desired, listing)
    live = FakeDirectory(
        [LiveUser("k1", "kim@acme.io", "Old", "Family", active=False)], [LiveGroup("g1", "Eng")]
    )
    result = apply_plan(plan, live, journal=NO_JOURNAL)
    kim = next(r for r in result.results if r.op is OpKind.CREATE_USER)
    assert kim.status is Status.ADOPTED
    assert kim.detail == "adopted (not in the listing): reactivated and updated given_name"
    assert live.users["k1"] == LiveUser("k1", "kim@acme.io", "Kim", "Family", active=True)
    writes = [c for c in live.calls if c[0] in ("patch_user", "patch_group")]
    assert writes == [("patch_user", "k1"), ("patch_group", "g1")]  # reconcile, then add
    assert not result.complete and result.unfinished == 0
    assert any("The listing is incomplete: kim@acme.io" in note for note in result.notes)


def test_revokes_still_pending_after_an_adoption_are_skipped() -> None:
    desired = manifest(
        [person("dan@acme.io"), person("zed@acme.io", active=False), person("amy@acme.io")],
        [],
    )
    listing = FakeDirectory(
        [LiveUser("z", "zed@acme.io", "Given", "Family"), LiveUser("a", "amy@acme.io", "G", "F")]
    )
    plan = plan_for(desired, listing)
    # A saved plan that orders the create first (phases run in plan order).
    ops = sorted(plan.operations, key=lambda op: op.op is not OpKind.CREATE_USER)
    reordered = plan.model_copy(update={"operations": tuple(ops)})
    live = FakeDirectory([*listing.users.values(), LiveUser("d", "dan@acme.io", "Given", "Family")])
    result = apply_plan(reordered, live, journal=NO_JOURNAL)
    statuses = {r.op_id: (r.status, r.detail) for r in result.results}
    assert statuses["create_user:dan@acme.io"][0] is Status.ADOPTED
    assert statuses["deactivate_user:zed@acme.io"] == (Status.SKIPPED, LISTING_INCOMPLETE)
    assert live.users["z"].active is True
    assert "1 deprovision or membership removal still pending was skipped" in (result.notes[0])


def test_a_recovered_create_that_matches_what_was_sent_is_simply_created() -> None:
    """A POST whose answer was lost and that a lookup finds as sent is ours: no adoption."""
    from reconciler.scim.client import Creation, Origin

    class Recovering(FakeDirectory):
        def create_or_adopt_user(self, resource: dict[str, Any]) -> Creation[LiveUser]:
            return Creation(self.create_user(resource), Origin.RECOVERED)

    directory = Recovering()
    result = apply_plan(
        plan_for(manifest([person("ada@acme.io")]), directory), directory, journal=NO_JOURNAL
    )
    (ada,) = result.results
    assert (ada.status, ada.detail) == (
        Status.DONE,
        "created (its answer was lost; found by a lookup)",
    )
    assert result.complete and not result.notes


def test_a_create_the_server_made_inactive_is_ours_patched_and_no_adoption() -> None:
    """A 201 whose account is not as sent (inactive until activated, names dropped) is
    the account this run made: patched before any team, never "not in the listing"."""
    from dataclasses import replace as altered

    class MadeOtherwise(FakeDirectory):
        def create_user(self, resource: dict[str, Any]) -> LiveUser:
            made = super().create_user(resource)
            changed = altered(made, active=False, given_name=None)
            self.users[made.id] = changed
            return changed

    desired = manifest(
        [person("ada@acme.io", given="Ada"), person("zed@acme.io", active=False)],
        [{"name": "Eng", "members": ["ada@acme.io"]}],
    )
    directory = MadeOtherwise(
        [LiveUser("z", "zed@acme.io", "Given", "Family")], [LiveGroup("g", "Eng")]
    )
    result = apply_plan(plan_for(desired, directory), directory, journal=NO_JOURNAL)
    created = next(r for r in result.results if r.op is OpKind.CREATE_USER)
    assert (created.status, created.detail) == (
        Status.DONE,
        "created (the server made it inactive, without given_name; patched to match the manifest)",
    )
    assert result.complete and not result.notes  # no "listing is incomplete"
    ada = next(u for u in directory.users.values() if u.user_name == "ada@acme.io")
    assert (ada.active, ada.given_name) == (True, "Ada")
    patch_at = directory.calls.index(("patch_user", ada.id))
    assert patch_at < max(i for i, c in enumerate(directory.calls) if c[0] == "patch_group")


def test_a_change_the_server_did_not_make_fails_verification(tmp_path: Path) -> None:
    desired = manifest(
        [person("ann@acme.io"), person("zed@acme.io", active=False)],
        [{"name": "Eng", "members": ["ann@acme.io"]}],
    )
    users = [
        LiveUser("a", "ann@acme.io", "Given", "Family"),
        LiveUser("z", "zed@acme.io", "Given", "Family"),
    ]
    directory = IgnoringDirectory(users, [LiveGroup("g", "Eng")], ignore={"z", "g"})
    path = tmp_path / "journal.jsonl"
    with Journal(path, run_id="r") as journal:
        result = apply_plan(plan_for(desired, directory), directory, journal=journal)
    failed = {r.op_id: r.detail for r in result.results if r.status is Status.FAILED}
    assert failed == {
        "deactivate_user:zed@acme.io": "the server answered success but the change is not "
        f"there: active of zed@acme.io is True, not False ({ACTIVE_UNSHOWN})",
        "add_members:Eng": "the server answered success but the change is not there: "
        "ann@acme.io is not a member of 'Eng'",
    }
    assert result.verification is not None and result.verification.objects == 2
    events = read_journal(path)
    assert [e["id"] for e in events if e["event"] == "verification" and "id" in e] == [
        "deactivate_user:zed@acme.io",
        "add_members:Eng",
    ]
    assert ("get_user", "z") in directory.calls and ("get_group", "g") in directory.calls


def test_no_verify_reads_nothing_back_but_still_rejects_a_contradicting_answer() -> None:
    desired = manifest([person("ann@acme.io"), person("zed@acme.io", active=False)])
    ann = LiveUser("a", "ann@acme.io", "Given", "Family")
    directory = IgnoringDirectory(
        [ann, LiveUser("z", "zed@acme.io", "Given", "Family")], ignore={"z"}, answer=ann
    )
    result = apply_plan(
        plan_for(desired, directory),
        directory,
        journal=NO_JOURNAL,
        options=ApplyOptions(verify=False),
    )
    (zed,) = result.results
    assert zed.status is Status.FAILED
    assert "the server's answer describes another user (ann@acme.io)" in zed.detail
    assert result.verification is None
    assert not [c for c in directory.calls if c[0].startswith("get_")]


class UnreadableAnswers(FakeDirectory):
    """Makes every PATCH, then answers it with a 2xx whose body cannot be read."""

    def _unusable(self, path: str) -> ScimUnusableAnswer:
        return ScimUnusableAnswer("answer has content type 'text/html'", status=200, path=path)

    def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None:
        super().patch_user(user_id, patch)
        raise self._unusable(f"/Users/{user_id}")

    def patch_group(self, group_id: str, patch: dict[str, Any]) -> None:
        super().patch_group(group_id, patch)
        raise self._unusable(f"/Groups/{group_id}")


def unreadable_org() -> tuple[Any, UnreadableAnswers]:
    desired = manifest(
        [person("ann@acme.io"), person("zed@acme.io", active=False)],
        [{"name": "Eng", "previous_names": ["Old"], "members": ["ann@acme.io"]}],
    )
    users = [
        LiveUser("a", "ann@acme.io", "Given", "Family"),
        LiveUser("z", "zed@acme.io", "Given", "Family"),
    ]
    directory = UnreadableAnswers(users, [LiveGroup("g", "Old")])  # renamed to Eng too
    return plan_for(desired, directory), directory


def test_a_write_accepted_with_an_unreadable_answer_is_done_when_the_read_back_shows_it() -> None:
    plan, directory = unreadable_org()
    result = apply_plan(plan, directory, journal=NO_JOURNAL)
    kinds = {r.op for r in result.results}
    assert {OpKind.DEACTIVATE_USER, OpKind.ADD_MEMBERS, OpKind.RENAME_GROUP} <= kinds
    for r in result.results:
        assert r.status is Status.DONE, r
        assert "answer cannot be read: answer has content type 'text/html'" in r.detail
        assert r.detail.endswith("read back: it is there)")
    assert result.verification is not None and result.verification.failed_operations == 0


def test_without_verification_an_unreadable_write_answer_fails_the_operation() -> None:
    plan, directory = unreadable_org()
    result = apply_plan(plan, directory, journal=NO_JOURNAL, options=ApplyOptions(verify=False))
    assert {r.status for r in result.results} == {Status.FAILED}
    for r in result.results:
        assert "the server accepted it (HTTP 200) but its answer cannot be read" in r.detail
        assert "with --no-verify nothing else shows whether the change was made" in r.detail


class RefusedRetries(FakeDirectory):
    """Answers every team PATCH with ``error`` (its ``attempts`` say whether it was a
    retry); with ``made``, the change is made first (an earlier attempt did it)."""

    def __init__(self, *args: Any, error: ScimError, made: bool, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.error, self.made = error, made

    def patch_group(self, group_id: str, patch: dict[str, Any]) -> None:
        if self.made:
            super().patch_group(group_id, patch)
        raise self.error


def member_add(error: ScimError, *, made: bool) -> Any:
    desired = manifest([person("ann@acme.io")], [{"name": "Eng", "members": ["ann@acme.io"]}])
    directory = RefusedRetries(
        [LiveUser("a", "ann@acme.io", "Given", "Family")],
        [LiveGroup("g", "Eng")],
        error=error,
        made=made,
    )
    (result,) = apply_plan(plan_for(desired, directory), directory, journal=NO_JOURNAL).results
    return result


def conflict(attempts: int) -> ScimConflict:
    return ScimConflict("member already exists", status=409, method="PATCH", attempts=attempts)


def test_a_retried_member_add_refused_as_already_done_is_done_when_read_back() -> None:
    result = member_add(conflict(attempts=2), made=True)
    assert result.status is Status.DONE
    assert "a retry was answered HTTP 409: member already exists" in result.detail
    assert result.detail.endswith("read back: it is there)")


def test_a_retried_member_add_refused_and_not_there_fails_with_the_servers_answer() -> None:
    result = member_add(conflict(attempts=2), made=False)
    assert result.status is Status.FAILED
    assert result.detail.startswith("SCIM PATCH")
    assert "member already exists" in result.detail
    assert "the read-back shows the change is not there: ann@acme.io is not a member" in (
        result.detail
    )
    assert "answered success" not in result.detail


def test_a_5xx_after_every_retry_is_judged_by_the_read_back() -> None:
    failed = ScimServerError("upstream failed", status=502, method="PATCH", attempts=6)
    done = member_add(failed, made=True)
    assert done.status is Status.DONE and "the server answered HTTP 502: upstream failed" in (
        done.detail
    )
    undone = member_add(failed, made=False)
    assert undone.status is Status.FAILED and "HTTP 502: upstream failed" in undone.detail
    assert "the read-back shows the change is not there" in undone.detail


def test_with_fail_fast_a_5xx_still_stops_the_run_at_once() -> None:
    failed = ScimServerError("upstream failed", status=502, method="PATCH", attempts=6)
    desired = manifest(
        [person("ann@acme.io"), person("zed@acme.io", active=False)],
        [{"name": "Eng", "members": ["ann@acme.io"]}],
    )
    directory = RefusedRetries(
        [LiveUser("a", "ann@acme.io", "Given", "Family"), LiveUser("z", "zed@acme.io")],
        [LiveGroup("g", "Eng")],
        error=failed,
        made=True,
    )
    plan = plan_for(desired, directory)
    result = apply_plan(plan, directory, journal=NO_JOURNAL, options=ApplyOptions(fail_fast=True))
    statuses = [r.status for r in result.results]
    failed_at = statuses.index(Status.FAILED)  # the team PATCH, answered 502
    assert "HTTP 502" in result.results[failed_at].detail
    assert result.results[failed_at].op is OpKind.ADD_MEMBERS
    assert result.stopped is not None and "--fail-fast" in result.stopped


def test_a_429_given_up_on_is_a_failure_without_any_read_back_judgement() -> None:
    limited = ScimRateLimited("slow down", status=429, method="PATCH", attempts=6)
    result = member_add(limited, made=True)
    assert result.status is Status.FAILED and "read back" not in result.detail


@pytest.mark.parametrize("status", [412, 428])
def test_a_precondition_failure_names_the_etag_requirement_and_the_fix(status: int) -> None:
    error = ScimError("precondition failed", status=status, method="PATCH", path="/Groups/g")
    result = member_add(error, made=False)
    assert result.status is Status.FAILED
    assert f"HTTP {status}: precondition failed" in result.detail
    assert "If-Match ETag header, RFC 7644 §3.14" in result.detail
    assert "turn that requirement off in the server's SCIM settings" in result.detail


def test_a_first_attempt_refused_is_a_failure_without_any_read_back_judgement() -> None:
    result = member_add(conflict(attempts=1), made=True)
    assert result.status is Status.FAILED
    assert "a retry was answered" not in result.detail and "read back" not in result.detail


def test_verification_reads_are_counted_apart_from_the_writes(tmp_path: Path) -> None:
    token = "stats-token-123"
    desired = manifest(
        [person("ann@acme.io"), person("bob@acme.io")],
        [{"name": "Eng", "members": ["ann@acme.io", "bob@acme.io"]}],
    )
    with Sandbox(token=token) as box, ScimClient.connect(box.base_url, Token(token)) as client:
        live = read_live_state(client)
        from reconciler.planner import make_plan
        from tests.core.test_executor import TODAY

        plan = make_plan(desired, live, today=TODAY, target=box.base_url, manifest_digest="d")
        before = client.stats.calls
        result = apply_plan(plan, client, journal=NO_JOURNAL)
        assert result.complete
        assert client.stats.verification == 3  # ann, bob, Eng: one read each
        writes = client.stats.calls - before - client.stats.verification
        assert writes == 2 + 1 + 1  # two POST /Users, one POST /Groups, one member PATCH
        assert client.stats.by_purpose == {"verify": 3}


def test_after_a_refused_token_nothing_is_read_back_and_the_summary_says_why() -> None:
    from reconciler.render.progress import render_apply_summary
    from reconciler.scim.errors import ScimAuthError

    class Refusing(FakeDirectory):
        def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None:
            raise ScimAuthError("bad token", status=401)

    desired = manifest([person("ann@acme.io", given="New"), person("bob@acme.io", given="New")])
    directory = Refusing(
        [LiveUser("a", "ann@acme.io", "Given", "Family"), LiveUser("b", "bob@acme.io", "G", "F")]
    )
    result = apply_plan(plan_for(desired, directory), directory, journal=NO_JOURNAL)
    assert [r.status for r in result.results] == [Status.FAILED, Status.SKIPPED]
    assert not [c for c in directory.calls if c[0].startswith("get_")]
    text = render_apply_summary(result)
    assert "Not verified: the server refused the token, so nothing was read back." in text
    assert "check the token first with `reconciler doctor`" in result.results[0].detail


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ScimForbidden("the organization owner cannot be deactivated", status=403), "HTTP 403"),
        (ScimNotFound("User b not found", status=404), "HTTP 404"),
        (ScimBadRequest("invalid value", status=400), "HTTP 400"),
        (ScimConflict("conflict", status=409), "HTTP 409"),
    ],
    ids=["403", "404", "400", "409"],
)
def test_a_failure_on_one_object_fails_that_operation_only(error: ScimError, shown: str) -> None:
    class OneRefused(FakeDirectory):
        def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None:
            if user_id == "b":
                raise error
            return super().patch_user(user_id, patch)

    desired = manifest(
        [
            person("boss@acme.io", active=False),
            person("zed@acme.io", active=False),
            person("hire@acme.io"),
        ],
        [{"name": "Eng", "members": ["hire@acme.io"]}],
    )
    directory = OneRefused(
        [LiveUser("b", "boss@acme.io", "G", "F"), LiveUser("z", "zed@acme.io", "G", "F")],
        [LiveGroup("g", "Eng")],
    )
    plan = plan_for(desired, directory)
    result = apply_plan(plan, directory, journal=NO_JOURNAL, options=ApplyOptions(concurrency=1))
    statuses = {r.op_id: r.status for r in result.results}
    assert statuses == {
        "deactivate_user:boss@acme.io": Status.FAILED,
        "deactivate_user:zed@acme.io": Status.DONE,
        "create_user:hire@acme.io": Status.DONE,
        "add_members:Eng": Status.DONE,
    }
    boss = next(r for r in result.results if r.status is Status.FAILED)
    assert shown in boss.detail and "new token" not in boss.detail
    assert not result.notes  # one refusal is not "everything refused"


def test_an_adoption_whose_reconcile_fails_never_joins_a_team() -> None:
    class PatchRefused(FakeDirectory):
        def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None:
            raise ScimForbidden("cannot reactivate", status=403)

    desired = manifest(
        [person("kim@acme.io"), person("ann@acme.io")],
        [{"name": "Eng", "members": ["kim@acme.io", "ann@acme.io"]}],
    )
    ann = LiveUser("a", "ann@acme.io", "Given", "Family")
    listing = FakeDirectory([ann], [LiveGroup("g", "Eng")])
    plan = plan_for(desired, listing)
    live = PatchRefused(
        [*listing.users.values(), LiveUser("k", "kim@acme.io", "Given", "Family", active=False)],
        [LiveGroup("g", "Eng")],
    )
    result = apply_plan(plan, live, journal=NO_JOURNAL)
    statuses = {r.op_id: r.status for r in result.results}
    assert statuses["create_user:kim@acme.io"] is Status.FAILED
    assert statuses["add_members:Eng"] is Status.PARTIAL
    assert live.groups["g"][1] == {"a"}  # kim, still inactive, was not added
    assert "The listing is incomplete: kim@acme.io" in result.notes[0]


def test_a_team_read_back_without_members_leaves_its_member_changes_unverified() -> None:
    class Memberless(FakeDirectory):
        def get_group(self, group_id: str, *, purpose: str = "") -> LiveGroup:
            group = super().get_group(group_id, purpose=purpose)
            return LiveGroup(group.id, group.display_name, frozenset(), members_listed=False)

    desired = manifest([person("ann@acme.io")], [{"name": "Eng", "members": ["ann@acme.io"]}])
    directory = Memberless(
        [LiveUser("a", "ann@acme.io", "Given", "Family")], [LiveGroup("g", "Eng")]
    )
    result = apply_plan(plan_for(desired, directory), directory, journal=NO_JOURNAL)
    (add,) = result.results
    assert add.status is Status.FAILED
    assert add.detail.endswith(
        "could not read the members of 'Eng' back: the answer leaves out members"
    )
    assert directory.groups["g"][1] == {"a"}  # the write happened; it just cannot be seen


def test_a_team_a_create_finds_already_there_is_adopted_and_proves_the_listing_incomplete() -> None:
    from reconciler.scim.client import Creation, Origin

    class TeamThere(FakeDirectory):
        def create_or_adopt_group(self, resource: dict[str, Any]) -> Creation[LiveGroup]:
            name = resource["displayName"]
            gid = next(g for g, (n, _) in self.groups.items() if n == name)
            return Creation(LiveGroup(gid, name, frozenset(self.groups[gid][1])), Origin.ADOPTED)

    desired = manifest([person("ann@acme.io")], [{"name": "Eng", "members": ["ann@acme.io"]}])
    ann = LiveUser("a", "ann@acme.io", "Given", "Family")
    plan = plan_for(desired, FakeDirectory([ann]))  # the listing did not show Eng
    live = TeamThere([ann], [LiveGroup("g", "Eng")])
    result = apply_plan(plan, live, journal=NO_JOURNAL)
    statuses = {r.op_id: (r.status, r.detail) for r in result.results}
    assert statuses["create_group:Eng"] == (Status.ADOPTED, "adopted (not in the listing)")
    assert statuses["add_members:Eng"] == (Status.DONE, "added 1")
    assert live.groups["g"][1] == {"a"}
    assert "The listing is incomplete: team 'Eng' already existed" in result.notes[0]
