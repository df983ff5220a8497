"""``reconciler github ...``: the steps of the GitOps workflows that talk to GitHub.

    comment      --pr N --body-file F           one plan comment per PR, updated in place
    verify-plan  --plan plan.json --pr N | --commit SHA | --confirm-digest D
                                                is this the plan the reviewers saw?
    drift-issue  --plan-markdown F | --clean    one drift issue, opened/updated/closed
    explain      --exit-code N --stage S        a job-summary paragraph for an exit code

With several orgs, the global flag keys every step by org: ``reconciler --org us
github comment ...`` keeps org us's own comment (and ``verify-plan`` reads it,
``drift-issue`` keeps org us's own issue); other orgs' comments and issues are
never read or touched. Without ``--org`` the steps are the single-org ones.

The workflow YAML stays a list of these calls, so its logic is tested here rather
than discovered in a failed run. Exit codes follow the CLI: 3 stale, 4 refused.
Heavy imports (requests, the plan model) wait until ``run`` so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.commands.common import GlobalOptions, Out, exit_code, given, pr_number
from reconciler.profile import PRODUCT
from reconciler.render.escape import terminal

if TYPE_CHECKING:
    from reconciler.github import GitHub

STAGES = ("plan", "verify", "apply", "drift", "enforce")
HELP = "GitHub Actions steps: plan comment, drift issue"


@dataclass(frozen=True)
class Options:
    """Every step's options; those of the other steps keep their defaults."""

    common: GlobalOptions = field(default_factory=GlobalOptions)
    github_command: str = ""
    author: str | None = None
    pr: int = 0  # 0: not given (verify-plan --commit or --confirm-digest)
    body_file: str = ""
    plan: str = ""
    commit: str | None = None
    confirm_digest: str | None = None
    require_approval: bool = False
    reviewed_plan: str | None = None
    plan_markdown: str = ""
    clean: bool = False
    exit_code: int = 0
    stage: str = ""
    log: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--author",
        default=None,
        metavar="LOGIN",
        help="who writes the plan comment and drift issue (default github-actions[bot])",
    )
    steps = parser.add_subparsers(dest="github_command", required=True, metavar="STEP")

    comment = steps.add_parser("comment", help="create or update the PR's plan comment")
    comment.add_argument(
        "--pr", type=pr_number, required=True, metavar="N", help="the pull request's number"
    )
    comment.add_argument(
        "--body-file",
        type=given,
        required=True,
        metavar="FILE",
        help="the plan as Markdown (`plan --format markdown`); cut to GitHub's 65,536 "
        "characters with a note when longer",
    )

    verify = steps.add_parser("verify-plan", help="refuse a plan nobody reviewed (exit 3 or 4)")
    verify.add_argument(
        "--plan", type=given, required=True, metavar="FILE", help="from `plan --out`"
    )
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--pr", type=pr_number, metavar="N", help="the PR whose comment was reviewed"
    )
    source.add_argument("--commit", metavar="SHA", help="find the PR that merged this commit")
    source.add_argument(
        "--confirm-digest", metavar="DIGEST", help="a digest typed by a person (manual apply)"
    )
    verify.add_argument(
        "--require-approval",
        action="store_true",
        help="also require an approval given after the plan comment last changed",
    )
    verify.add_argument(
        "--reviewed-plan",
        type=given,
        metavar="FILE",
        help="the reviewed plan kept by an earlier attempt (after exit 5 or 130): a fresh plan "
        "that is a subset of it (same target, org and manifest; nothing new) is accepted "
        "(default: none; the plan must match the reviewed digest exactly)",
    )

    drift = steps.add_parser("drift-issue", help="open, update or close the drift issue")
    what = drift.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--plan-markdown", type=given, metavar="FILE", help="the drift plan (Markdown)"
    )
    what.add_argument("--clean", action="store_true", help="no drift: close the issue")

    explain = steps.add_parser("explain", help="explain an exit code for the job summary")
    explain.add_argument(
        "--exit-code",
        type=exit_code,
        required=True,
        metavar="N",
        help="the step's exit code, 0 to 255 (0 and 2 are explained as successes)",
    )
    explain.add_argument(
        "--stage", choices=STAGES, required=True, help="which workflow step failed"
    )
    explain.add_argument(
        "--log",
        metavar="FILE",
        help="the failed step's stderr, to quote (default: none; a missing file is left out)",
    )


def run(options: Options, console: Out, env: Mapping[str, str] | None = None) -> int:
    """Run one step; ``console`` prints its lines, ``env`` is the Actions environment.

    ``options`` is built at the CLI edge (``commands.common.options_from``), like every
    other command's.
    """
    from reconciler.github import DEFAULT_AUTHOR, GitHub, check_org

    args = options
    out = console
    env = os.environ if env is None else env
    check_org(_org(args))  # it goes into markers, titles and headings
    if args.github_command == "explain":
        out(explain(args.exit_code, args.stage, _read_optional(args.log), org=_org(args)))
        return 0
    if args.github_command == "verify-plan" and args.confirm_digest is not None:
        digest = _plan_digest(args.plan, out)
        typed = _typed_digest(digest, args.confirm_digest)
        if digest != typed and _is_remainder(args, typed, "the confirm_digest input", out):
            return 0
        return _confirmed(digest, typed, out)
    gh = GitHub.from_env(env, author=args.author or DEFAULT_AUTHOR)
    if args.github_command == "comment":
        return _comment(gh, args, out, env)
    if args.github_command == "verify-plan":
        return _verify(gh, args, out)
    return _drift(gh, args, out, env)


def _org(args: Options) -> str | None:
    """The global ``--org`` (None in a single-org repository, or without cli.py's parser)."""
    return args.common.org


def _for(org: str | None) -> str:
    return "" if org is None else f" for org {org}"


def _comment(gh: GitHub, args: Options, out: Out, env: Mapping[str, str]) -> int:
    from reconciler.github import upsert_comment

    org = _org(args)
    body = _read(args.body_file)
    action, comment = upsert_comment(gh, args.pr, body, org=org, full_at=_run_url(env))
    out(f"plan comment{_for(org)} {action} on PR #{args.pr}: {comment.url or comment.id}")
    return 0


def _verify(gh: GitHub, args: Options, out: Out) -> int:
    from reconciler.github import check_approved, check_digest, plan_digest_from_pr, reviewed_plan

    digest = _plan_digest(args.plan, out)
    org = _org(args)
    if args.commit:
        reviewed = plan_digest_from_pr(gh, args.commit, org=org)
    else:
        reviewed = reviewed_plan(gh, args.pr, org=org)
    where = f"PR #{reviewed.pr}"
    if digest == reviewed.digest or not _is_remainder(args, reviewed.digest, where, out):
        check_digest(reviewed.digest, digest, where)
        out(f"matches the plan reviewed in {where} ({reviewed.comment.url or 'comment'})")
    if args.require_approval:
        approvers = check_approved(gh, reviewed)
        out(f"approved after the plan was posted by: {', '.join(approvers)}")
    return 0


def _plan_digest(path: str, out: Out) -> str:
    from reconciler.workflow import read_plan_file

    digest = read_plan_file(path).digest
    out(f"plan digest: {digest}")
    return digest


def _is_remainder(args: Options, reviewed_digest: str, where: str, out: Out) -> bool:
    """After a partial apply: is the fresh plan what is left of the reviewed one?

    True when ``--reviewed-plan`` holds the plan reviewed in ``where`` (its digest) and
    the fresh plan is a subset of it. False when there is no kept plan (the caller
    then compares digests as usual). Raises StalePlanError naming what is new.
    """
    from reconciler.errors import StalePlanError
    from reconciler.grammar import count
    from reconciler.staleness import not_a_remainder
    from reconciler.workflow import read_plan_file

    path = args.reviewed_plan
    if not path or not Path(path).is_file():
        return False
    reviewed = read_plan_file(path)  # refuses an edited file (digest check)
    if reviewed.digest != reviewed_digest:
        return False  # kept from another review: the plain digest check decides
    fresh = read_plan_file(args.plan)
    new = not_a_remainder(fresh, reviewed)
    if new:
        lines = "\n".join(f"  - {terminal(line)}" for line in new)
        raise StalePlanError(
            f"the plan made now is not the plan reviewed in {where}, nor what is left of it "
            f"after a partial apply; new since the review:\n{lines}\n"
            "Re-run the PR's plan job, review the new plan, and merge again"
        )
    out(
        f"a remainder of the plan reviewed in {where}: {len(fresh.operations)} of "
        f"{count(len(reviewed.operations), 'operation')} left, nothing new (finishing a "
        "partial apply)"
    )
    return True


def _typed_digest(digest: str, typed: str) -> str:
    """The digest a person typed, checked for form: bare hex gets its ``sha256:`` prefix.

    Raises ReviewMissingError when empty (exit 4), StalePlanError when it is not a
    digest at all (exit 3, saying so rather than "the plan changed").
    """
    import re

    from reconciler.errors import StalePlanError
    from reconciler.github import ReviewMissingError

    typed = typed.strip()
    if not typed:
        raise ReviewMissingError(
            "no confirm_digest given: review the plan in this job's summary, then run the "
            f"workflow again with confirm_digest={digest}"
        )
    if re.fullmatch(r"[0-9a-f]{64}", typed):  # the hex copied without its prefix: same digest
        return f"sha256:{typed}"
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", typed):
        raise StalePlanError(
            f"confirm_digest '{terminal(typed[:80])}' is not a plan digest (sha256: and 64 "
            "lower-case hex digits), so it cannot confirm this plan; copy the whole digest "
            f"from this job's summary: confirm_digest={digest}"
        )
    return typed


def _confirmed(digest: str, typed: str, out: Out) -> int:
    """A manual run applies only the digest a person copied from this very plan."""
    from reconciler.github import ReviewMissingError, check_digest

    typed = typed.strip()
    if not typed:
        raise ReviewMissingError(
            "no confirm_digest given: review the plan in this job's summary, then run the "
            f"workflow again with confirm_digest={digest}"
        )
    check_digest(typed, digest, "the confirm_digest input")
    out("matches confirm_digest")
    return 0


def _drift(gh: GitHub, args: Options, out: Out, env: Mapping[str, str]) -> int:
    from reconciler.github import close_drift_issue, drift_body, upsert_drift_issue

    org = _org(args)
    if args.clean:
        note = (
            f"No drift: {PRODUCT} matches `manifests/` again."
            if org is None
            else f"No drift: the {PRODUCT} org `{org}` matches its manifest again."
        )
        closed = close_drift_issue(gh, note, org=org)
        out(
            f"closed drift issue{_for(org)} #{closed}"
            if closed
            else f"no drift{_for(org)}, and no drift issue open"
        )
        return 0
    body = drift_body(_read(args.plan_markdown), _run_url(env), org=org)
    action, number = upsert_drift_issue(gh, body, org=org)
    out(f"drift issue{_for(org)} #{number} {action}")
    return 0


def _run_url(env: Mapping[str, str]) -> str | None:
    """The workflow run's URL for a Markdown link, or None when a part is missing or odd.

    The parts go inside ``[...](URL)`` in a PR comment and the drift issue, so each is
    checked for its form (an https server URL, owner/name, a numeric id): a ``)``, a
    space or a newline in one would end the link and put the rest in as Markdown.
    """
    import re

    server, repo, run = (
        env.get(k, "").strip() for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if not (
        re.fullmatch(r"https://[A-Za-z0-9.-]+(?::[0-9]+)?", server.rstrip("/"), re.ASCII)
        and re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo, re.ASCII)
        and re.fullmatch(r"[0-9]+", run, re.ASCII)
    ):
        return None
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run}"


def _read(path: str) -> str:
    from reconciler.files import MIB, read_text

    return read_text(Path(path), 16 * MIB, what="file", fix="pass the file the plan step wrote")


def _read_optional(path: str | None) -> str:
    """A failed step's log, to quote in the job summary; whatever cannot be read is left out."""
    from reconciler.files import MIB, ReadRefused, read_bounded

    if not path:
        return ""
    try:
        return read_bounded(Path(path), 16 * MIB).decode("utf-8", errors="replace")
    except ReadRefused:
        return ""


# -- exit codes, explained for people reading a job summary --------------------
_GENERIC: dict[int, tuple[str, str]] = {
    1: (
        "error",
        "The tool stopped on an error (manifest, token, network or GitHub API); nothing "
        "more was done. Read the error below, fix it and re-run the job.",
    ),
    3: (
        "stale plan",
        f"{PRODUCT} or the manifest changed since the plan was made, so it was not applied. "
        "Re-run the PR's plan job, review the new plan, and merge again (or run apply by hand).",
    ),
    4: (
        "refused by a safety guard",
        "The plan removes more access than the policy allows. Check that it is intended; to "
        "accept it, run the apply workflow by hand with confirm_digest and the `allow_*` input "
        "naming the count.",
    ),
    5: (
        "partially applied",
        "Some operations failed and the rest were done; access was revoked before anything "
        "was granted. Fix the cause named below and re-run this job (no new pull request): "
        "its fresh plan is accepted when it is a subset of the reviewed plan (same target, "
        "org and manifest; nothing new granted), and refused, naming what is new, otherwise.",
    ),
    130: (
        "interrupted",
        "The job was cancelled midway; every finished operation is in the journal. Re-run "
        "this job (no new pull request): its fresh plan is accepted when it is a subset of "
        "the reviewed plan (same target, org and manifest; nothing new granted), and refused, "
        "naming what is new, otherwise.",
    ),
    64: (
        "usage error",
        "The command line was refused (an unknown option or value, e.g. a --format the "
        "command does not offer); nothing was done. Fix the workflow step's arguments.",
    ),
}
_BY_STAGE: dict[tuple[str, int], tuple[str, str]] = {
    ("verify", 3): (
        "plan changed since review",
        f"The plan made now differs from the one reviewed ({PRODUCT} or the default branch "
        "moved since): re-run the PR's plan job, review, and merge again.",
    ),
    ("verify", 4): (
        "no reviewed plan",
        "Nothing was applied because no reviewed plan matches this commit (a direct push, a "
        "missing or failed plan comment, or no approval after the last plan). Open a pull "
        "request, or run the apply workflow by hand with confirm_digest.",
    ),
    ("enforce", 4): (
        "refused by a safety guard",
        "The scheduled revoke-only run would remove more access than the policy allows, so "
        "it revoked nothing. Check that it is intended (a mass expiry, or a manifest "
        "mistake on the default branch); to accept it, run the apply workflow by hand with "
        "confirm_digest and the `allow_*` input naming the count.",
    ),
    ("enforce", 5): (
        "partially revoked",
        "Some revocations failed; the rest were done. Fix the cause named below; the next "
        "hourly run (or a manual run of this workflow) retries what is left.",
    ),
    ("enforce", 130): (
        "interrupted",
        "The job was cancelled or timed out midway; every finished revocation is in the "
        "journal. Nothing needs a review: the next hourly run (or a manual run of this "
        "workflow) plans from the default branch again and revokes what is left.",
    ),
    ("enforce", 3): (
        "stale plan",
        f"{PRODUCT} changed while the revoke-only run was working (someone or something "
        "else is editing access). The next hourly run (or a manual run of this workflow) "
        "plans again; if this repeats, find the other writer.",
    ),
    ("drift", 130): (
        "interrupted",
        "The drift check was cancelled or timed out before it finished; it changes "
        f"nothing in {PRODUCT}. Run the drift workflow again.",
    ),
    ("apply", 3): (
        "stale plan",
        f"{PRODUCT} changed between planning and applying (seconds apart): someone or "
        "something else is editing access. Re-run the job.",
    ),
}


# Codes that are not failures: 0 (success) and 2 ("changes present", from
# `plan --detailed-exitcode`). Said per stage, since success means something else each time.
_SUCCESS: dict[str, tuple[str, str]] = {
    "plan": (
        "no changes",
        f"The plan succeeded: {PRODUCT} already matches the manifest (with "
        "--detailed-exitcode; without it, exit 0 means the plan was made). Nothing to do.",
    ),
    "verify": (
        "the plan is the reviewed one",
        "The plan made now matches the plan reviewed in the pull request (or the typed "
        "confirm_digest), so the apply may go ahead. Nothing to do.",
    ),
    "apply": (
        "applied",
        "Every operation of the plan was applied and read back, or there was nothing to "
        "apply. Nothing to do.",
    ),
    "drift": (
        "no drift",
        f"{PRODUCT} matches the manifest on the default branch. Nothing to do.",
    ),
    "enforce": (
        "revocations done",
        "Every revocation that was due was done (or none was due); grants wait for a "
        "reviewed merge. Nothing to do.",
    ),
}
_CHANGES: dict[str, tuple[str, str]] = {
    "plan": (
        "changes present",
        "The plan succeeded and lists changes (exit 2 with --detailed-exitcode): review "
        "them in the plan comment; merging the pull request applies them.",
    ),
    "drift": (
        "drift found",
        f"{PRODUCT} differs from the manifest on the default branch (exit 2 with "
        "--detailed-exitcode): the drift issue lists what differs. Fix the manifest, or run "
        f"the apply workflow to make {PRODUCT} match it again.",
    ),
}
_CHANGES_ELSEWHERE = (
    "changes present",
    'Exit 2 means "changes present" (`plan --detailed-exitcode`), not a failure, but this '
    "step does not run such a plan: check that the workflow step runs the command it should.",
)


def explain(code: int, stage: str, log: str = "", *, org: str | None = None) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: what the exit code means, what to do.

    The heading follows README's exit codes: 0 is a success and 2 "changes present"
    (neither is a failure), every other code a failure of ``stage``.
    """
    if code == 0:
        title, advice = _SUCCESS[stage]
        heading = f"### ✅ {stage} succeeded{_for(org)}: exit 0, {title}"
    elif code == 2:
        title, advice = _CHANGES.get(stage, _CHANGES_ELSEWHERE)
        heading = f"### ℹ️ {stage}{_for(org)}: exit 2, {title}"
    else:
        title, advice = _BY_STAGE.get((stage, code)) or _GENERIC.get(
            code, ("unexpected exit code", "Read the log of the failed step.")
        )
        heading = f"### ❌ {stage} failed{_for(org)}: exit {code}, {title}"
    lines = [heading, "", advice, ""]
    tail = "\n".join(terminal(line) for line in log.strip().splitlines()[-30:])
    if tail:
        fence = "`" * max(3, _longest_backtick_run(tail) + 1)
        lines += [fence, tail, fence, ""]
    return "\n".join(lines)


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest
