"""The live org as manifest files: the first commit of a GitOps repository. Pure.

What is written validates and plans to zero changes against the org it came from,
except where the manifest cannot say what Mixpanel holds (named in ``notes``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.attributes import FROM_MANIFEST
from reconciler.errors import ConfigError
from reconciler.grammar import count, plural
from reconciler.identity import hidden_character, lookalike_reason, name_fold, spelled
from reconciler.livestate import LiveGroup, LiveState, LiveUser
from reconciler.manifest import loader
from reconciler.manifest.models import check_email
from reconciler.profile import PRODUCT

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
    exact: bool = True  # False: the notes name values written differently from live


def import_manifest(
    live: LiveState,
    claimed_domains: Iterable[str],
    *,
    split_teams: bool = False,
    max_file_bytes: int | None = None,
) -> ImportedFiles:
    """Manifest files describing ``live``; users outside the claimed domains are left out.

    Every file stays within ``max_file_bytes`` (default: the loader's per-file cap), so
    ``plan`` reads back what ``import`` wrote at any size: an org too big for one
    ``org.yaml`` is split into ``people/users-NNN.yaml`` and ``teams/teams-NNN.yaml``
    files in a stable order (``org.yaml`` keeps the organization and the policy).
    A single team whose members alone exceed the cap cannot be split; it is written
    to a file of its own and named in ``notes``. Raises ConfigError when
    ``split_teams`` would write more files than the loader reads (``files_cap``).
    """
    if max_file_bytes is None:
        max_file_bytes = loader.MAX_FILE_BYTES  # read now: the loader's cap as it is
    domains = sorted({d.lower() for d in claimed_domains})
    in_domains = [u for u in live.users if u.domain in set(domains)]
    # A look-alike userName, or one that is no email address at all, cannot be a
    # manifest email; it is left out (of users and teams) and named.
    users = [u for u in in_domains if _importable(u)]
    groups, left_out = _importable_teams(live.groups)
    notes = [
        *_notes(live, in_domains, domains),
        *_lookalike_notes(in_domains),
        *_not_email_notes(in_domains),
        *left_out,
    ]
    exact = not any(_placeholders(u) for u in in_domains) and not any(
        u.user_name != u.user_name.strip() for u in in_domains
    )
    head: dict[str, Any] = {
        "version": 1,
        "organization": {"claimed_domains": domains},
        "policy": {"unmanaged_users": "report", "deprovision": "deactivate"},
    }
    entries = [_user(u) for u in users]
    teams = [_team(live, g, set(domains)) for g in groups]
    if not split_teams:
        whole = _one_file({**head, "users": entries, "teams": teams}, max_file_bytes)
        if whole is not None:
            return ImportedFiles({"org.yaml": whole}, tuple(notes), len(entries), len(teams), exact)
        files = _split(head, entries, teams, max_file_bytes, notes)
        return ImportedFiles(files, tuple(notes), len(entries), len(teams), exact)
    org = _one_file({**head, "users": entries}, max_file_bytes)
    files = (
        {"org.yaml": org} if org is not None else _split(head, entries, [], max_file_bytes, notes)
    )
    _check_file_count(len(files) + len(teams))
    for team in teams:
        text = _yaml({"version": 1, "teams": [team]}, "../schema.json")
        name = f"teams/{_slug(team['name'], files)}.yaml"
        files[name] = text
        if _size(text) > max_file_bytes:
            notes.append(_too_big_team(team["name"], name, max_file_bytes))
    return ImportedFiles(files, tuple(notes), len(entries), len(teams), exact)


def _check_file_count(total: int) -> None:
    """Refuse, before anything is written, more files than ``plan`` would read back."""
    cap = loader.files_cap()
    if total > cap:
        raise ConfigError(
            f"import --split-teams would write {total} files, more than the {cap} a "
            f"manifest folder may hold; set {loader.FILES_CAP_ENV}={total} (for import and "
            "for every later plan and apply), or import without --split-teams"
        )


def _one_file(document: dict[str, Any], max_file_bytes: int) -> str | None:
    """``document`` as one file, or None when it would exceed the cap.

    A quick estimate first (compact JSON is never more than twice the YAML), so an
    org far over the cap is not dumped whole just to be split afterwards.
    """
    rough = len(json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str))
    if rough > 2 * max_file_bytes:
        return None
    text = _yaml(document, "schema.json")
    return text if _size(text) <= max_file_bytes else None


def _split(
    head: dict[str, Any],
    users: list[dict[str, Any]],
    teams: list[dict[str, Any]],
    max_file_bytes: int,
    notes: list[str],
) -> dict[str, str]:
    """``org.yaml`` (organization, policy) plus users and teams in files under the cap."""
    files = {"org.yaml": _yaml(head, "schema.json")}
    for number, (chunk, _) in enumerate(_chunks(users, "users", max_file_bytes), start=1):
        files[f"people/users-{number:03d}.yaml"] = chunk
    for number, (chunk, first) in enumerate(_chunks(teams, "teams", max_file_bytes), start=1):
        name = f"teams/teams-{number:03d}.yaml"
        files[name] = chunk
        if _size(chunk) > max_file_bytes:  # one team, too big on its own
            notes.append(_too_big_team(first["name"], name, max_file_bytes))
    return files


def _chunks(
    entries: list[dict[str, Any]], section: str, max_file_bytes: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Consecutive files of entries, each within the cap (a lone oversized entry alone),
    with the first entry of each.

    Each file is dumped once at a count estimated from the previous one (90% of the
    cap) and again with fewer only when it came out too big: linear in the entries.
    """
    start, per_file = 0, 1000
    while start < len(entries):
        count = min(per_file, len(entries) - start)
        text = _yaml({"version": 1, section: entries[start : start + count]}, "../schema.json")
        size = _size(text)
        estimate = max(1, int(count * max_file_bytes * 0.9 / max(size, 1)))
        if size > max_file_bytes and count > 1:
            per_file = min(count // 2, estimate)
            continue
        yield text, entries[start]
        start += count
        per_file = estimate


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _too_big_team(name: str, file: str, max_file_bytes: int) -> str:
    limit = max_file_bytes // (1024 * 1024) or max_file_bytes
    unit = "MiB" if max_file_bytes >= 1024 * 1024 else "bytes"
    return (
        f"team {name!r} alone is larger than the {limit} {unit} per-file limit ({file}); "
        "plan will refuse that file until the team is smaller"
    )


def _importable_teams(groups: Iterable[LiveGroup]) -> tuple[list[LiveGroup], list[str]]:
    """The teams a manifest can hold, and a note for each one it cannot.

    A manifest's team names must differ in more than ASCII case and surrounding
    whitespace (validation), so of such twins only the first listed is written; a
    look-alike name (see ``identity``) is never written, as for userNames. Teams
    left out are unlisted teams to the plan, which leaves them alone.
    """
    kept: dict[str, LiveGroup] = {}
    notes: list[str] = []
    for group in groups:
        name = group.display_name
        reason = lookalike_reason(name)
        if reason is not None:
            notes.append(
                f'team "{spelled(name)}" (id {group.id}) was not imported: its name is a '
                f"look-alike ({reason}); plan leaves it alone and flags it: check who made it"
            )
            continue
        twin = kept.get(name_fold(name))
        if twin is None:
            kept[name_fold(name)] = group
            continue
        notes.append(
            f"teams {twin.display_name!r} and {name!r} differ only in case or surrounding "
            f"whitespace, which one manifest cannot hold: {name!r} (id {group.id}) was not "
            f"imported and plan leaves it alone; to manage both, rename one in {PRODUCT} and "
            "import again"
        )
    return list(kept.values()), notes


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _placeholders(user: LiveUser) -> bool:
    """True when a name the manifest requires is missing or only whitespace live."""
    return any(_blank(getattr(user, a.name)) for a in _REQUIRED_TEXT)


# The names the manifest requires (every text attribute that is not optional).
_REQUIRED_TEXT = tuple(a for a in FROM_MANIFEST if a.kind == "text" and not a.optional)


def _user(user: LiveUser) -> dict[str, Any]:
    """One manifest user entry with every managed attribute (``reconciler.attributes``).

    The login is written without surrounding whitespace; a required name the org lacks
    (missing or only whitespace) gets a placeholder, named in the notes; a blank
    optional one is left unmanaged.
    """
    entry: dict[str, Any] = {}
    for attribute in FROM_MANIFEST:
        key = attribute.manifest or attribute.name
        value = getattr(user, attribute.name)
        if attribute.kind == "login":
            entry[key] = str(value).strip()
        elif not _blank(value):
            entry[key] = value
        elif not attribute.optional:
            entry[key] = _placeholder(attribute.name, user)
    if not user.active:
        entry["active"] = False
    return entry


def _placeholder(name: str, user: LiveUser) -> str:
    """What a required name the org lacks is imported as: the login's local part, or "-"."""
    return user.user_name.strip().partition("@")[0] if name == "given_name" else "-"


def _team(live: LiveState, group: LiveGroup, domains: set[str]) -> dict[str, Any]:
    # Inactive members too: the manifest can say "inactive, still in this team"
    # (a notice), and the plan leaves such a membership as it is.
    members = sorted(
        live.users_by_id[i].user_name.strip()
        for i in group.member_ids
        if i in live.users_by_id
        and live.users_by_id[i].domain in domains
        and _importable(live.users_by_id[i])
    )
    return {"name": group.display_name, "members": members}


def _notes(live: LiveState, users: list[LiveUser], domains: list[str]) -> tuple[str, ...]:
    notes = []
    outside = len(live.users) - len(users)
    if outside:
        notes.append(
            f"{count(outside, 'user')} outside the claimed domains ({', '.join(domains)}) "
            f"{plural('was', outside)} not "
            f"imported: {PRODUCT}'s SCIM only manages users in claimed domains"
        )
    nameless = [u.user_name for u in users if _placeholders(u)]
    if nameless:
        notes.append(
            f"{count(len(nameless), 'user')} {plural('has', len(nameless))} no given or "
            f"family name (or one of only spaces) in {PRODUCT}; placeholders "
            f"were written, so the first apply sets them; review them: {', '.join(nameless)}"
        )
    return tuple(notes)


def _importable(user: LiveUser) -> bool:
    """A userName the manifest can hold: no look-alike, and an email address."""
    return not user.lookalike and _is_email(user.user_name.strip())


def _is_email(value: str) -> bool:
    try:
        check_email(value)
    except ValueError:
        return False
    return True


def _not_email_notes(users: list[LiveUser]) -> list[str]:
    odd = [u.user_name for u in users if not u.lookalike and not _is_email(u.user_name.strip())]
    if not odd:
        return []
    return [
        f"{count(len(odd), 'userName')} {plural('is', len(odd))} not an email address, so "
        f"no manifest can list {plural('it', len(odd), 'them')}; "
        f"{plural('it was', len(odd), 'they were')} not imported, nor as team members (so "
        "a plan removes such an account from the teams it is in); fix or remove "
        f"{plural('it', len(odd), 'them')} in {PRODUCT}: {', '.join(odd)}"
    ]


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
            f"whitespace in {PRODUCT}; {plural('it', len(spaced))} {plural('was', len(spaced))} "
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


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """SafeDumper writing a string with a hidden character double-quoted (see ``_yaml``).

    libyaml's emitter when PyYAML has it (the same output, about 4x faster: a 300k-user
    import spent most of its time in the pure-Python emitter), else the Python one.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if not value.isascii() and hidden_character(value) is not None:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return char if hidden_character(char) is None else f"\\u{ord(char):04x}"


def _yaml(document: dict[str, Any], schema: str) -> str:
    """The document as YAML; live strings keep every character, hidden ones escaped.

    YAML counts bidi controls (U+202E) and invisible characters (U+200B) as printable,
    so it would write them raw, and a reviewer reading the imported file would see
    reordered or joined text. Such strings are double-quoted and the characters
    written as ``\\uXXXX`` escapes, which read back as the same string.
    """
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if not body.isascii():
        body = _NON_ASCII.sub(_escaped, body)
    return SCHEMA_HEADER.format(schema=schema) + body


def infer_claimed_domains(live: LiveState) -> list[str]:
    """Every domain seen among live users: a starting point the user must review."""
    return sorted({u.domain for u in live.users})
