"""The live org as manifest files: the first commit of a GitOps repository. Pure.

What is written validates and plans to zero changes against the org it came from,
except where the manifest cannot say what Mixpanel holds (named in ``notes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.attributes import FROM_MANIFEST
from reconciler.grammar import count, plural
from reconciler.livestate import LiveGroup, LiveState, LiveUser

SCHEMA_HEADER = "# yaml-language-server: $schema={schema}\n"
_SLUG = re.compile(r"[^a-z0-9]+")
# Team names may be long (Mixpanel allows hundreds of characters); file names may not
# (255 bytes on common file systems). The team's name stays in the file, in full.
MAX_SLUG = 80


@dataclass(frozen=True)
class ImportedFiles:
    """What import writes, and counts of what the files hold (for its summary line)."""

    files: dict[str, str]  # relative path -> YAML text
    notes: tuple[str, ...]
    users: int = 0  # users written (those in the claimed domains)
    teams: int = 0  # teams written


def import_manifest(
    live: LiveState, claimed_domains: Iterable[str], *, split_teams: bool = False
) -> ImportedFiles:
    """Manifest files describing ``live``; users outside the claimed domains are left out."""
    domains = sorted({d.lower() for d in claimed_domains})
    in_domains = [u for u in live.users if u.domain in set(domains)]
    # A look-alike userName cannot be a manifest email; it is left out and named.
    users = [u for u in in_domains if not u.lookalike]
    notes = (*_notes(live, in_domains, domains), *_lookalike_notes(in_domains))
    org: dict[str, Any] = {
        "version": 1,
        "organization": {"claimed_domains": domains},
        "policy": {"unmanaged_users": "report", "deprovision": "deactivate"},
        "users": [_user(u) for u in users],
    }
    teams = [_team(live, g, set(domains)) for g in live.groups]
    if not split_teams:
        org["teams"] = teams
        files = {"org.yaml": _yaml(org, "schema.json")}
        return ImportedFiles(files, notes, len(org["users"]), len(teams))
    files = {"org.yaml": _yaml(org, "schema.json")}
    for team in teams:
        files[f"teams/{_slug(team['name'], files)}.yaml"] = _yaml(
            {"version": 1, "teams": [team]}, "../schema.json"
        )
    return ImportedFiles(files, notes, len(org["users"]), len(teams))


def _user(user: LiveUser) -> dict[str, Any]:
    """One manifest user entry with every managed attribute (``reconciler.attributes``).

    The login is written without surrounding whitespace; a required name the org lacks
    gets a placeholder (named in the notes); an optional one is written only when set.
    """
    entry: dict[str, Any] = {}
    for attribute in FROM_MANIFEST:
        key = attribute.manifest or attribute.name
        value = getattr(user, attribute.name)
        if attribute.kind == "login":
            entry[key] = str(value).strip()
        elif not attribute.optional:
            entry[key] = value or _placeholder(attribute.name, user)
        elif value:
            entry[key] = value
    if not user.active:
        entry["active"] = False
    return entry


def _placeholder(name: str, user: LiveUser) -> str:
    """What a required name the org lacks is imported as: the login's local part, or "-"."""
    return user.user_name.partition("@")[0] if name == "given_name" else "-"


def _team(live: LiveState, group: LiveGroup, domains: set[str]) -> dict[str, Any]:
    # Inactive members too: the manifest can say "inactive, still in this team"
    # (a notice), and the plan leaves such a membership as it is.
    members = sorted(
        live.users_by_id[i].user_name.strip()
        for i in group.member_ids
        if i in live.users_by_id
        and live.users_by_id[i].domain in domains
        and not live.users_by_id[i].lookalike
    )
    return {"name": group.display_name, "members": members}


def _notes(live: LiveState, users: list[LiveUser], domains: list[str]) -> tuple[str, ...]:
    notes = []
    outside = len(live.users) - len(users)
    if outside:
        notes.append(
            f"{count(outside, 'user')} outside the claimed domains ({', '.join(domains)}) "
            f"{plural('was', outside)} not "
            "imported: Mixpanel's SCIM only manages users in claimed domains"
        )
    nameless = [u.user_name for u in users if not (u.given_name and u.family_name)]
    if nameless:
        notes.append(
            f"{count(len(nameless), 'user')} {plural('has', len(nameless))} no given or "
            "family name in Mixpanel; placeholders "
            f"were written, review them: {', '.join(nameless)}"
        )
    return tuple(notes)


def _lookalike_notes(users: list[LiveUser]) -> list[str]:
    notes = []
    lookalikes = [u.user_name for u in users if u.lookalike]
    if lookalikes:
        notes.append(
            f"{count(len(lookalikes), 'look-alike userName')} (invisible, bidi or confusable "
            f"characters) {plural('was', len(lookalikes))} not imported, and plan never "
            "changes them; check who owns "
            f"them: {', '.join(lookalikes)}"
        )
    spaced = [u.user_name for u in users if u.user_name != u.user_name.strip()]
    if spaced:
        notes.append(
            f"{count(len(spaced), 'userName')} {plural('has', len(spaced))} surrounding "
            f"whitespace in Mixpanel; {plural('it', len(spaced))} {plural('was', len(spaced))} "
            f"written without it, so the first apply corrects {plural('it', len(spaced), 'them')}: "
            f"{', '.join(map(repr, spaced))}"
        )
    return notes


def _slug(name: str, taken: dict[str, str]) -> str:
    """A file name for a team: lowercase ASCII words, at most MAX_SLUG characters, unique."""
    base = _SLUG.sub("-", name.lower())[:MAX_SLUG].strip("-") or "team"
    slug, n = base, 2
    while f"teams/{slug}.yaml" in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _yaml(document: dict[str, Any], schema: str) -> str:
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return SCHEMA_HEADER.format(schema=schema) + body


def infer_claimed_domains(live: LiveState) -> list[str]:
    """Every domain seen among live users: a starting point the user must review."""
    return sorted({u.domain for u in live.users})
