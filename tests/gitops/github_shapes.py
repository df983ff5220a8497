"""GitHub REST response bodies as the API returns them (trimmed to realistic fields)."""

from __future__ import annotations

import zlib
from datetime import date
from typing import Any

from reconciler.manifest.models import Policy
from reconciler.plan import Operation, OpKind, Plan, summarise

API = "https://api.github.com"
REPO = "acme/mixpanel-access"
TOKEN = "ghs_SeCrEtT0kenValue1234567890"
ENV = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": API}
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
HUMAN = {"login": "octocat", "id": 583231, "type": "User"}


def user(login: str) -> dict[str, Any]:
    return {"login": login, "id": zlib.crc32(login.encode()) % 10**6, "type": "User"}


def comment(
    comment_id: int,
    body: str,
    *,
    author: dict[str, Any] = BOT,
    number: int = 7,
    updated_at: str = "2024-05-02T10:00:00Z",
) -> dict[str, Any]:
    return {
        "id": comment_id,
        "node_id": f"IC_kwDO{comment_id}",
        "url": f"{API}/repos/{REPO}/issues/comments/{comment_id}",
        "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{comment_id}",
        "issue_url": f"{API}/repos/{REPO}/issues/{number}",
        "body": body,
        "user": author,
        "created_at": "2024-05-01T09:00:00Z",
        "updated_at": updated_at,
        "author_association": "NONE" if author is BOT else "MEMBER",
    }


def pull(
    number: int, *, merged: bool = True, merge_commit_sha: str | None = None, base: str = "main"
) -> dict[str, Any]:
    return {
        "url": f"{API}/repos/{REPO}/pulls/{number}",
        "id": 1_000_000 + number,
        "number": number,
        "state": "closed" if merged else "open",
        "title": f"Access change {number}",
        "user": HUMAN,
        "merged_at": "2024-05-02T12:00:00Z" if merged else None,
        "merge_commit_sha": merge_commit_sha,
        "head": {"ref": f"change-{number}", "sha": "f" * 40},
        "base": {"ref": base, "sha": "e" * 40},
    }


def review(login: str, state: str, submitted_at: str) -> dict[str, Any]:
    return {
        "id": zlib.crc32(f"{login}{submitted_at}".encode()),
        "user": user(login),
        "body": "",
        "state": state,
        "commit_id": "f" * 40,
        "submitted_at": submitted_at,
        "author_association": "MEMBER",
    }


def issue(number: int, body: str, *, author: dict[str, Any] = BOT) -> dict[str, Any]:
    return {
        "id": 2_000_000 + number,
        "number": number,
        "title": "Mixpanel access drift: the live org differs from manifests/",
        "state": "open",
        "body": body,
        "user": author,
        "labels": [{"id": 1, "name": "mixpanel-drift", "color": "d73a4a"}],
        "html_url": f"https://github.com/{REPO}/issues/{number}",
        "created_at": "2024-05-01T06:17:00Z",
        "updated_at": "2024-05-01T06:17:00Z",
    }


def make_plan(*emails: str) -> Plan:
    """A small real Plan; different ``emails`` give different digests."""
    operations = tuple(
        Operation(
            id=f"op-{i}",
            op=OpKind.CREATE_USER,
            key=email,
            after={"userName": email, "active": True},
            reason="listed in the manifest",
        )
        for i, email in enumerate(emails, start=1)
    )
    return Plan(
        target="https://mixpanel.com/api/app/scim/v2",
        manifest_digest="sha256:" + "a" * 64,
        live_fingerprint="sha256:" + "b" * 64,
        as_of=date(2024, 5, 2),
        claimed_domains=("acme.io",),
        policy=Policy(),
        operations=operations,
        summary=summarise(operations),
    )
