"""GitHub REST glue for the GitOps workflows: the plan comment, the reviewed digest, drift.

Three jobs need GitHub and nothing else does: the PR job keeps ONE plan comment up
to date, the apply job proves that the plan it is about to apply is the one the
reviewers saw (same digest, approved after the comment last changed), and the
drift job keeps ONE tracking issue. Everything is found by an HTML marker *and*
the author, so a comment anyone can type cannot pose as the reviewed plan.

With several orgs in one repository (``reconciler --org NAME github ...``) the
markers and the drift issue's title carry the org's name, so each org has its own
comment per PR and its own drift issue; without an org they are the single-org ones.

HTTP goes through ``reconciler.scim.wire``, the same rules as every SCIM request: a
connect and a per-read timeout, a wall-clock deadline per request (``TIMEOUTS``), a
byte cap per answer (``MAX_ANSWER_BYTES``); request bodies pass the one redactor. The
token lives in a ``Token`` and is never part of a message. Not a general GitHub
client: it knows the few endpoints these jobs call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from reconciler import __version__
from reconciler.errors import ConfigError, ReconcilerError, StalePlanError
from reconciler.profile import MIXPANEL, PRODUCT
from reconciler.redact import redact_value, register_secret
from reconciler.render.escape import quoted
from reconciler.render.markdown import MARKER as PLAN_MARKER
from reconciler.render.markdown import plan_marker
from reconciler.scim.secret import Token
from reconciler.scim.url import is_loopback
from reconciler.scim.wire import Answer, BodyTooLarge, Timeouts, exchange
from reconciler.scim.wire import session as bounded_session

T = TypeVar("T")
TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105 - the variable's name, not a secret
API_URL_ENV = "GITHUB_API_URL"
REPOSITORY_ENV = "GITHUB_REPOSITORY"
DEFAULT_API_URL = "https://api.github.com"
# The login of GITHUB_TOKEN's comments and issues; a GitHub App token has another one.
DEFAULT_AUTHOR = "github-actions[bot]"

DRIFT_LABEL = MIXPANEL.drift_label
DRIFT_MARKER = MIXPANEL.marker("drift")
DRIFT_TITLE = f"{PRODUCT} access drift: the live org differs from manifests/"
# GitHub refuses comment and issue bodies longer than this (characters).
BODY_LIMIT = 65_536
TIMEOUT_S = 30.0  # seconds to wait for each read
# One request, body included, ends within ``total`` seconds however slowly GitHub (or a
# proxy) drips it; one answer (a page of up to 100 comments of up to 65,536
# characters, JSON-escaped) may hold at most MAX_ANSWER_BYTES.
TIMEOUTS = Timeouts(connect=10.0, read=TIMEOUT_S, total=60.0)
MAX_ANSWER_BYTES = 32 * 2**20

# The marker families: the single-org marker, or one keyed by an org's name.
_PLAN_MARKERS = re.compile(MIXPANEL.marker_family("plan"))
_DRIFT_MARKERS = re.compile(MIXPANEL.marker_family("drift"))
# The same rule as org names in reconciler.yaml: safe inside an HTML comment and a title.
_ORG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

_DIGEST = re.compile(r"^<sub>plan digest: `(sha256:[0-9a-f]{64})`</sub>$", re.MULTILINE)
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
RERUN_ADVICE = "the plan changed since review: re-run the PR's plan job, review, and merge again"


class GitHubError(ReconcilerError):
    """A GitHub API call failed; the message names the call and the fix, never the token.

    ``status``: GitHub's HTTP status when it answered (None without an answer)."""

    status: int | None = None


class ReviewMissingError(GitHubError):
    """There is no reviewed plan to compare with: refuse, like a safety guard does."""

    exit_code = 4


@dataclass(frozen=True)
class Comment:
    """An issue or PR comment (or an issue's own body, for the drift issue)."""

    id: int
    body: str
    author: str
    updated_at: datetime
    url: str = ""


@dataclass(frozen=True)
class PullRequest:
    number: int
    merged: bool
    merge_commit_sha: str | None
    base_ref: str


@dataclass(frozen=True)
class Review:
    author: str
    state: str
    submitted_at: datetime | None


@dataclass(frozen=True)
class Reviewed:
    """The plan a PR's reviewers saw: its digest and the comment that showed it."""

    pr: int
    digest: str
    comment: Comment


# -- pure helpers -------------------------------------------------------------
def check_org(org: str | None) -> str | None:
    """An org name as reconciler.yaml allows it (it goes into markers and titles)."""
    if org is not None and not _ORG.fullmatch(org):
        raise ConfigError(f"--org {org!r}: use lowercase letters, digits, - and _")
    return org


def drift_marker(org: str | None = None) -> str:
    return MIXPANEL.marker("drift", org)


def drift_title(org: str | None = None) -> str:
    return DRIFT_TITLE if org is None else f"{PRODUCT} access drift ({org})"


def only_marker(body: str, marker: str, family: re.Pattern[str]) -> str:
    """``body`` with ``marker`` and without any other marker of its family.

    A body rendered for another org (or for none) must never carry that org's marker
    into this org's comment or issue: the other org would find it and read its digest.
    """
    kept = family.sub(lambda m: m.group(0) if m.group(0).rstrip("\n") == marker else "", body)
    return with_marker(kept, marker)


def parse_digest(body: str) -> str | None:
    """The digest on the renderer's "plan digest:" line; the last one wins (it is the footer)."""
    found = _DIGEST.findall(body)
    return found[-1] if found else None


def with_marker(body: str, marker: str = PLAN_MARKER) -> str:
    """Ensure the marker is present, so a failure note still replaces the old plan comment."""
    return body if marker in body else f"{marker}\n{body}"


def _size(text: str) -> int:
    """The length GitHub may count: UTF-16 code units (an emoji outside the BMP is two),
    never fewer than the characters, and at most 65,536 of them are 262,144 bytes."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def fit_body(body: str, limit: int = BODY_LIMIT, full_at: str | None = None) -> str:
    """Shorten a body GitHub would refuse (over ``limit`` characters), never failing.

    Keeps the head, cut at a line boundary, and the footer (the digest line); closes
    a ``<details>`` left open so the rest renders; says where the uncut body is:
    ``full_at`` (the workflow run, whose job summary holds it) when known, and how to
    list every operation (the body may be the summary view). Lengths are counted in
    UTF-16 code units, the strictest of the ways GitHub has been seen to count.
    """
    if _size(body) <= limit:
        return body
    cut = body.rfind("\n<sub>target")
    footer = body[cut:] if cut >= 0 else ""
    head = body[:cut] if cut >= 0 else body
    where = f"[the job summary of this run]({full_at})" if full_at else "the job summary"
    note = (
        f"\n\n_… cut to fit GitHub's {BODY_LIMIT:,}-character limit; this plan uncut is in "
        f"{where}; `reconciler plan --detail full` lists every operation, and "
        "`plan --out FILE` saves them all as JSON._\n"
    )
    if _size(footer) + _size(note) > limit // 2:  # a hostile footer must not crowd out the plan
        footer = ""
    room = max(limit - _size(footer) - _size(note), 0)
    for _ in range(8):  # closing tags and wide characters take room; a few rounds settle
        kept = head[:room]
        kept = kept[: kept.rfind("\n") + 1] if "\n" in kept else kept
        closers = "</details>\n" * max(kept.count("<details") - kept.count("</details>"), 0)
        fitted = (kept + closers).rstrip("\n") + note + footer
        if _size(fitted) <= limit:
            return fitted
        room -= max(_size(fitted) - limit, len(closers) + 1)
    return (note + footer)[: limit // 2]


def find_marked(items: list[Comment], marker: str, author: str) -> Comment | None:
    """The oldest item by ``author`` holding ``marker``: one object, updated in place."""
    ours = [c for c in items if marker in c.body and c.author == author]
    return min(ours, key=lambda c: c.id) if ours else None


def merged_pr_for(pulls: list[PullRequest], sha: str) -> PullRequest | None:
    """The PR that ``sha`` merged: prefer the one whose merge commit it is."""
    merged = [p for p in pulls if p.merged]
    exact = [p for p in merged if p.merge_commit_sha == sha]
    candidates = exact or merged
    return candidates[0] if candidates else None


def approved_after(reviews: list[Review], since: datetime) -> list[str]:
    """Reviewers whose latest verdict is an approval given at or after ``since``."""
    latest: dict[str, Review] = {}
    for review in reviews:
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.author] = review  # the API lists reviews oldest first
    return sorted(
        author
        for author, review in latest.items()
        if review.state == "APPROVED"
        and review.submitted_at is not None
        and review.submitted_at >= since
    )


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _comment(raw: Mapping[str, Any]) -> Comment:
    return Comment(
        id=int(raw["id"]),
        body=str(raw.get("body") or ""),
        author=str((raw.get("user") or {}).get("login", "")),
        updated_at=_time(raw.get("updated_at") or raw.get("created_at")),
        url=str(raw.get("html_url", "")),
    )


def _pull(raw: Mapping[str, Any]) -> PullRequest:
    return PullRequest(
        number=int(raw["number"]),
        merged=raw.get("merged_at") is not None,
        merge_commit_sha=raw.get("merge_commit_sha"),
        base_ref=str((raw.get("base") or {}).get("ref", "")),
    )


def _review(raw: Mapping[str, Any]) -> Review:
    submitted = raw.get("submitted_at")
    return Review(
        author=str((raw.get("user") or {}).get("login", "")),
        state=str(raw.get("state", "")),
        submitted_at=_time(submitted) if submitted else None,
    )


def checked_api_url(text: str) -> str:
    """``GITHUB_API_URL`` if the GitHub token may be sent there, else ConfigError.

    The token goes in every request's header, so the URL must be https:// (plain
    http:// only to loopback, a local test server), hold no credentials, query or
    fragment, and be plain ASCII (a look-alike host would receive the token).
    """
    fix = (
        f"set {API_URL_ENV} to GitHub's REST API ({DEFAULT_API_URL}, or a GitHub "
        "Enterprise Server's https://HOST/api/v3), or unset it"
    )
    odd = next((i for i, c in enumerate(text) if not (c.isascii() and c.isprintable())), None)
    if odd is not None or " " in text:
        where = text.index(" ") if odd is None else odd
        raise ConfigError(
            f"{API_URL_ENV} holds a space, a control or a non-ASCII character at position "
            f"{where + 1} (not shown); type it again in plain ASCII; {fix}"
        )
    if any(c in text for c in "@?#"):
        raise ConfigError(
            f"{API_URL_ENV} must not hold credentials, a query or a fragment (not shown: "
            f"they may hold a secret); {fix}"
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError as error:
        raise ConfigError(f"{API_URL_ENV} is not a valid URL ({error}); {fix}") from None
    scheme = parts.scheme.lower()
    if not host or scheme not in ("https", "http") or (scheme == "http" and not is_loopback(host)):
        raise ConfigError(
            f"{API_URL_ENV} must be an https:// URL (plain http:// only to loopback), got "
            f"{quoted(text)}: the GitHub token is sent to it; {fix}"
        )
    return text


# -- the client ---------------------------------------------------------------
class GitHub:
    """A token, a repository and a session: the few REST calls the workflows need."""

    def __init__(
        self,
        repo: str,
        token: Token,
        *,
        api_url: str = DEFAULT_API_URL,
        author: str = DEFAULT_AUTHOR,
        session: requests.Session | None = None,
        timeouts: Timeouts = TIMEOUTS,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        if not _REPO.match(repo):
            raise ConfigError(f"{REPOSITORY_ENV} must look like owner/name, got {quoted(repo)}")
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self.author = author
        self._token = token
        self._session = session or bounded_session(pool_maxsize=4)
        self.timeouts = timeouts
        self.max_answer_bytes = max_answer_bytes

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, author: str = DEFAULT_AUTHOR) -> GitHub:
        """Configured the way GitHub Actions configures a job (plus GITHUB_TOKEN in env)."""
        value = env.get(TOKEN_ENV, "").strip()
        if not value:
            raise ConfigError(
                f"no GitHub token: add `{TOKEN_ENV}: ${{{{ github.token }}}}` to the step's env"
            )
        repo = env.get(REPOSITORY_ENV, "").strip()
        if not repo:
            raise ConfigError(f"set {REPOSITORY_ENV}=owner/name (GitHub Actions sets it)")
        api_url = checked_api_url(env.get(API_URL_ENV, "").strip() or DEFAULT_API_URL)
        register_secret(value)
        try:
            token = Token(value, source=f"the environment variable {TOKEN_ENV}")
        except ConfigError as error:
            raise ConfigError(f"{TOKEN_ENV}: {error}") from None
        return cls(repo, token, api_url=api_url, author=author)

    # -- transport --
    def _call(self, method: str, url: str, what: str, need: str, **kwargs: Any) -> Answer:
        headers = {
            "Authorization": f"Bearer {self._token.reveal()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"{MIXPANEL.user_agent}/{__version__}",
        }
        if "json" in kwargs:  # comment and issue bodies: the one redactor, like every output
            kwargs["json"] = redact_value(kwargs["json"])
        try:
            response = exchange(
                self._session,
                method,
                url,
                timeouts=self.timeouts,
                max_bytes=self.max_answer_bytes,
                allow_redirects=True,  # requests drops the token on a move to another host
                headers=headers,
                **kwargs,
            )
        except BodyTooLarge as error:
            raise GitHubError(
                f"cannot {what}: {self.api_url} answered with more than {error.limit} bytes; "
                f"check that {API_URL_ENV} is GitHub's REST API and re-run the job"
            ) from None
        except requests.RequestException as error:
            raise GitHubError(
                f"cannot {what}: no answer from {self.api_url} ({type(error).__name__})"
            ) from None
        if response.status_code >= 400:
            raise _http_error(response, what, need, self.repo)
        return response

    def _json(self, method: str, path: str, what: str, need: str, **kwargs: Any) -> Any:
        return self._decode(self._call(method, self._url(path), what, need, **kwargs), what)

    def _decode(self, response: Answer, what: str) -> Any:
        """The JSON body; an HTML error page or garbage is a GitHubError, not a traceback."""
        try:
            return response.json()
        except ValueError:
            kind = ascii(response.headers.get("Content-Type", "no content type")[:80])
            raise GitHubError(
                f"cannot {what}: {self.api_url} answered {response.status_code} with {kind}, "
                f"not JSON; check that {API_URL_ENV} is GitHub's REST API "
                "(or a proxy in front of it is down) and re-run the job"
            ) from None

    def _pages(self, path: str, what: str, need: str, **params: str) -> Iterator[Any]:
        """Every item of a list endpoint, following the Link header's ``next``."""
        url: str | None = self._url(path)
        query: dict[str, str] | None = {"per_page": "100", **params}
        while url is not None:
            response = self._call("GET", url, what, need, params=query)
            page = self._decode(response, what)
            if not isinstance(page, list):
                raise _unexpected(what, "a list", page)
            yield from page
            url, query = response.links.get("next", {}).get("url"), None
            if url is not None and not url.startswith(self.api_url + "/"):
                # The token must only ever go to the API host it was configured for.
                raise GitHubError(f"cannot {what}: GitHub paged to another host")

    def _url(self, path: str) -> str:
        return f"{self.api_url}/repos/{self.repo}/{path}"

    # -- endpoints --
    def comments(self, number: int) -> list[Comment]:
        what, need = f"list the comments of #{number}", "pull-requests: read"
        pages = self._pages(f"issues/{number}/comments", what, need)
        return [_parsed(_comment, c, what) for c in pages]

    def create_comment(self, number: int, body: str, need: str) -> Comment:
        what = f"comment on #{number}"
        raw = self._json("POST", f"issues/{number}/comments", what, need, json={"body": body})
        return _parsed(_comment, raw, what)

    def update_comment(self, comment_id: int, body: str, need: str) -> Comment:
        what = f"update comment {comment_id}"
        path = f"issues/comments/{comment_id}"
        return _parsed(_comment, self._json("PATCH", path, what, need, json={"body": body}), what)

    def pulls_for_commit(self, sha: str) -> list[PullRequest]:
        what, need = f"find the pull request of commit {sha[:12]}", "pull-requests: read"
        return [_parsed(_pull, p, what) for p in self._pages(f"commits/{sha}/pulls", what, need)]

    def reviews(self, number: int) -> list[Review]:
        what, need = f"list the reviews of PR #{number}", "pull-requests: read"
        pages = self._pages(f"pulls/{number}/reviews", what, need)
        return [_parsed(_review, r, what) for r in pages]

    def open_issues(self, label: str) -> list[Comment]:
        """Open issues (not PRs) with ``label``, each as its body for marker matching."""
        what, need = f"list open issues labelled {label}", "issues: write"
        raw = self._pages("issues", what, need, labels=label, state="open")
        return [_parsed(_issue, i, what) for i in raw if not _is_pull(i)]

    def create_issue(self, title: str, body: str, labels: list[str]) -> int:
        payload = {"title": title, "body": body, "labels": labels}
        what = "open the drift issue"
        raw = self._json("POST", "issues", what, "issues: write", json=payload)
        return _parsed(lambda r: int(r["number"]), raw, what)

    def update_issue(self, number: int, **fields: str) -> None:
        what = f"update issue #{number}"
        self._json("PATCH", f"issues/{number}", what, "issues: write", json=fields)


def _parsed(parse: Callable[[Mapping[str, Any]], T], raw: Any, what: str) -> T:
    """``parse(raw)``, or a GitHubError when the answer is not the object GitHub documents."""
    if not isinstance(raw, Mapping):
        raise _unexpected(what, "an object", raw)
    try:
        return parse(raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unexpected(what, "an object with the documented fields", raw) from None


def _unexpected(what: str, wanted: str, raw: Any) -> GitHubError:
    return GitHubError(
        f"cannot {what}: GitHub answered with {type(raw).__name__} where {wanted} was "
        f"expected; check that {API_URL_ENV} is GitHub's REST API and re-run the job"
    )


def _issue(raw: Mapping[str, Any]) -> Comment:
    # Issues are addressed by number, so the number stands in for the comment id.
    return _comment({**raw, "id": raw["number"]})


def _is_pull(raw: Any) -> bool:
    return isinstance(raw, Mapping) and "pull_request" in raw


def _http_error(response: Answer, what: str, need: str, repo: str) -> GitHubError:
    status = response.status_code
    message = _message(response)
    if status == 401:
        hint = f"the token was refused; pass `{TOKEN_ENV}: ${{{{ github.token }}}}` in env"
    elif status == 429 or (status == 403 and response.headers.get("x-ratelimit-remaining") == "0"):
        hint = "GitHub's rate limit was hit; re-run the job later"
    elif status == 403:
        hint = f"the workflow needs `{need}` permission (job-level `permissions:`)"
    elif status == 404:
        hint = f"check {REPOSITORY_ENV}={repo} and that the job has `{need}` permission"
    else:
        hint = "see GitHub's message"
    error = GitHubError(f"cannot {what}: GitHub answered {status} ({message}); {hint}")
    error.status = status
    return error


def _message(response: Answer) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or "no message"
    text = body.get("message") if isinstance(body, dict) else None
    return str(text)[:300] if text else (response.reason or "no message")


# -- what the workflows do ----------------------------------------------------
def upsert_comment(
    gh: GitHub, pr: int, body: str, *, org: str | None = None, full_at: str | None = None
) -> tuple[str, Comment]:
    """Create the plan comment (``org``'s, with several orgs), or update ours in place;
    never a second one.

    An unchanged body is not re-sent, so the comment's ``updated_at`` keeps meaning
    "when the reviewers last got a new plan to look at" (the approval check uses it).
    A body over GitHub's limit is cut (``fit_body``) with a note pointing at
    ``full_at`` (the run), never refused.
    """
    marker = plan_marker(check_org(org))
    whole = only_marker(body, marker, _PLAN_MARKERS)
    body = fit_body(whole, full_at=full_at)
    need = "pull-requests: write"
    existing = find_marked(gh.comments(pr), marker, gh.author)
    if existing is not None and existing.body == body:
        return "unchanged", existing
    try:
        return _post(gh, pr, existing, body, need)
    except GitHubError as refused:
        # 422 "Body is too long" for a body within the limit as counted here (GitHub's
        # counting has varied): once more, cut to a quarter, rather than fail the post.
        shorter = fit_body(whole, limit=BODY_LIMIT // 4, full_at=full_at)
        if refused.status != 422 or shorter == body:
            raise
        return _post(gh, pr, existing, shorter, need)


def _post(
    gh: GitHub, pr: int, existing: Comment | None, body: str, need: str
) -> tuple[str, Comment]:
    if existing is None:
        return "created", gh.create_comment(pr, body, need)
    return "updated", gh.update_comment(existing.id, body, need)


def reviewed_plan(gh: GitHub, pr: int, *, org: str | None = None) -> Reviewed:
    """The digest in PR ``pr``'s plan comment (``org``'s), or a refusal saying why not."""
    which = "plan comment" if org is None else f"plan comment for org {org}"
    comment = find_marked(gh.comments(pr), plan_marker(check_org(org)), gh.author)
    if comment is None:
        raise ReviewMissingError(
            f"PR #{pr} has no {which} by {gh.author}: its plan job never ran or could "
            "not comment; nothing was reviewed, so nothing is applied"
        )
    digest = parse_digest(comment.body)
    if digest is None:
        raise ReviewMissingError(
            f"PR #{pr}'s {which} holds no plan digest (its last plan failed): "
            "fix the plan, let the PR's plan job pass, review, and merge again"
        )
    return Reviewed(pr, digest, comment)


def merged_pr_of(gh: GitHub, sha: str) -> int:
    """The PR that merged ``sha``; a direct push has none and is refused."""
    pull = merged_pr_for(gh.pulls_for_commit(sha), sha)
    if pull is None:
        raise ReviewMissingError(
            f"commit {sha[:12]} was not merged from a pull request, so nobody reviewed its "
            "plan: direct pushes are not applied. Open a pull request, or run the apply "
            "workflow by hand with confirm_digest set to the digest in its job summary"
        )
    return pull.number


def plan_digest_from_pr(gh: GitHub, sha: str, *, org: str | None = None) -> Reviewed:
    """PR for the commit, then its plan comment (``org``'s), then the digest on it."""
    return reviewed_plan(gh, merged_pr_of(gh, sha), org=org)


def check_digest(reviewed_digest: str, planned_digest: str, where: str) -> None:
    if reviewed_digest != planned_digest:
        raise StalePlanError(
            f"the plan made now is not the plan reviewed in {where}:\n"
            f"  reviewed: {reviewed_digest}\n  now:      {planned_digest}\n{RERUN_ADVICE}"
        )


def check_approved(gh: GitHub, reviewed: Reviewed) -> list[str]:
    """Someone approved the PR after its plan comment last changed; returns who."""
    approvers = approved_after(gh.reviews(reviewed.pr), reviewed.comment.updated_at)
    if not approvers:
        raise ReviewMissingError(
            f"PR #{reviewed.pr} has no approval given after its plan comment was last "
            f"updated ({reviewed.comment.updated_at.isoformat()}): nobody approved the plan "
            "being applied. Review the plan comment, approve, and re-run this job"
        )
    return approvers


def drift_body(plan_markdown: str, run_url: str | None, *, org: str | None = None) -> str:
    """The drift issue's body: what happened, what to do, then the plan."""
    run = f" ([run]({run_url}))" if run_url else ""
    if org is None:
        live, manifest, apply = PRODUCT, "`manifests/`", "the **apply** workflow"
    else:
        live, manifest = f"the {PRODUCT} org `{org}`", "its manifest"
        apply = f"the **apply** workflow with org `{org}`"
    intro = (
        f"{drift_marker(check_org(org))}\nThe nightly drift check{run} found that {live} no "
        f"longer matches {manifest} on the default branch: someone changed access in "
        f"{PRODUCT} by hand, or an apply did not finish.\n\n"
        f"- To restore the manifest's state, run {apply} (or merge a PR).\n"
        f"- To keep the change, edit {manifest} in a pull request.\n\n"
        "This issue is updated by every drift check and closed when there is no drift.\n\n"
    )
    return fit_body(intro + plan_markdown, full_at=run_url)


def upsert_drift_issue(gh: GitHub, body: str, *, org: str | None = None) -> tuple[str, int]:
    """Open the ONE drift issue (``org``'s), or update its body; returns (what, number)."""
    marker = drift_marker(check_org(org))
    existing = find_marked(gh.open_issues(DRIFT_LABEL), marker, gh.author)
    body = only_marker(body, marker, _DRIFT_MARKERS)
    if existing is None:
        return "opened", gh.create_issue(drift_title(org), body, [DRIFT_LABEL])
    if existing.body == body:
        return "unchanged", existing.id
    gh.update_issue(existing.id, body=body)
    return "updated", existing.id


def close_drift_issue(gh: GitHub, note: str = "No drift", *, org: str | None = None) -> int | None:
    """Comment and close the drift issue (``org``'s) if one is open; returns its number."""
    marker = drift_marker(check_org(org))
    existing = find_marked(gh.open_issues(DRIFT_LABEL), marker, gh.author)
    if existing is None:
        return None
    gh.create_comment(existing.id, note, "issues: write")
    gh.update_issue(existing.id, state="closed", state_reason="completed")
    return existing.id
