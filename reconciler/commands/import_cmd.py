"""``reconciler import``: write the live org as manifest files (the first commit).

Reads only. Refuses to overwrite existing files without ``--force``, and refuses an
``--out`` that is a file before the org is read.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.commands.common import (
    EXIT_OK,
    Console,
    GlobalOptions,
    TargetOptions,
    connect,
    exists,
    output_file,
    resolve,
    target_args,
)
from reconciler.render.escape import quoted

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from reconciler.errors import ManifestError

HELP = "write the live org as manifest files"


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    target: TargetOptions = field(default_factory=TargetOptions)
    out: str = "manifests"
    claimed_domain: tuple[str, ...] = ()
    split_teams: bool = False
    force: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target_args(parser)
    parser.add_argument(
        "--out",
        type=output_file,
        default="manifests",
        metavar="DIR",
        help="folder to write the manifest files into (default %(default)s)",
    )
    parser.add_argument(
        "--claimed-domain",
        action="append",
        type=_domain,
        default=[],
        metavar="DOMAIN",
        help="claimed domain (repeatable; default: every domain seen live)",
    )
    parser.add_argument("--split-teams", action="store_true", help="one file per team")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


def run(options: Options, console: Console) -> int:
    from pathlib import Path

    from reconciler.errors import ReconcilerError
    from reconciler.files import check_parent_folder, is_folder, write_file_set
    from reconciler.grammar import count
    from reconciler.manifest.schema import schema_json
    from reconciler.profile import PRODUCT
    from reconciler.render.escape import terminal
    from reconciler.workflow import import_org

    out = Path(options.out)
    if exists(options.out) and not is_folder(out):  # found before the org is read, not after
        raise ReconcilerError(f"--out {out} is a file; pass a folder (new or empty) for --out")
    fix = "pass --out a folder you can write to"
    # The folder named is created, never its parents (files.check_parent_folder).
    check_parent_folder(out, what="the imported manifest", fix=fix)
    target = resolve(options.common, options.target, console)
    imported, domains = import_org(
        connect(options.common, target, console),
        page_size=options.target.page_size,
        claimed_domains=options.claimed_domain,
        split_teams=options.split_teams,
    )
    if not domains:  # an org with no users: nothing to infer the domains from
        raise ReconcilerError(
            "cannot import: the live org has no users, so its claimed domains cannot be "
            "inferred; pass --claimed-domain DOMAIN (repeatable) for each domain your "
            f"organization has claimed in {PRODUCT}"
        )
    existing = [name for name in imported.files if exists(str(out / name))]
    if existing and not options.force:
        raise ReconcilerError(
            f"{out / existing[0]} already exists; choose an empty --out folder or pass --force"
        )
    _refuse_other_manifest_files(out, imported.files)
    files = {**imported.files, "schema.json": schema_json()}
    write_file_set(out, files, what="the imported manifest", fix=fix)  # secrets refused first
    for note in imported.notes:
        console.err(f"note: {terminal(note)}")
    _check_imported(out)
    console(
        f"Imported {count(imported.users, 'user')} and {count(imported.teams, 'team')} "
        f"into {out}/ ({count(len(imported.files), 'file')}); "
        f"claimed domains: {', '.join(domains)}"
    )
    if imported.exact:
        console("Next: review, commit, open a pull request; its plan should show no changes.")
    else:
        console(
            "Next: review the notes above, commit, open a pull request; its plan shows the "
            "changes the notes name (placeholders, corrected userNames) and nothing else."
        )
    return EXIT_OK


def _refuse_other_manifest_files(out: Path, written: Mapping[str, str]) -> None:
    """Refuse, before any write, manifest files below ``out`` that this import would not write.

    ``plan -m OUT`` reads every ``*.yaml``/``*.yml`` below the folder, so a file left
    from an earlier import (a team deleted since, a different ``--split-teams`` layout)
    or written by hand would be read with the imported files: a team or user the live
    org no longer has would come back as a grant, and the import's "no changes" promise
    would be false. ``--force`` overwrites the files import writes, never deletes others.
    Raises ReconcilerError naming the first such file and how many there are.
    """
    from pathlib import Path

    from reconciler.errors import ManifestError, ReconcilerError
    from reconciler.files import is_folder
    from reconciler.manifest.loader import read_manifest

    if not is_folder(out):
        return
    try:
        found = read_manifest(out)
    except ManifestError as error:
        if not _blocking(out, error, written):
            return  # no manifest file yet, or only files the write refuses by itself
        # A folder plan cannot read (a symlinked or unreadable subfolder, a broken link):
        # writing first would write through a link to a folder outside --out, and then
        # fail on the same problem; refused before any write instead.
        raise ReconcilerError(
            f"{error}\n--out {out} holds what plan cannot read as a manifest folder (named "
            "above); nothing was written; fix or remove each entry named, or choose an "
            "empty --out folder"
        ) from None
    others = sorted(
        name
        for name in (Path(path).relative_to(out).as_posix() for path, _ in found)
        if name not in written
    )
    if others:
        more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
        raise ReconcilerError(
            f"{out / others[0]}{more} is a manifest file this import would not write, and "
            f"plan reads every *.yaml and *.yml below {out}: its users and teams would be "
            "read with the imported ones (a team or user the live org no longer has would "
            f"come back as a grant); nothing was written; move it out of {out} or delete "
            "it, or choose an empty --out folder (--force overwrites only the files import "
            "writes)"
        )


def _blocking(out: Path, error: ManifestError, written: Mapping[str, str]) -> bool:
    """Whether ``error`` names a problem other than "no manifest file in ``out``" and
    other than a file import writes (the write refuses those, naming what it found)."""
    own = {str(out / name) for name in written}
    empty = (p.path == str(out) and p.message.startswith("no *.yaml") for p in error.problems)
    return not all(
        is_empty or p.path in own for is_empty, p in zip(empty, error.problems, strict=True)
    )


def _check_imported(out: Path) -> None:
    """The files just written must validate; never end an import on a promise they break."""
    from reconciler.errors import ManifestError, ReconcilerError
    from reconciler.manifest.loader import load_manifest
    from reconciler.settings import today

    try:
        load_manifest(out, today=today(), notices=False)  # valid or not; notices are not shown
    except ManifestError as error:
        raise ReconcilerError(
            f"the manifest written to {out}/ does not validate, so it cannot be used as it "
            f"is: {error}. Fix the files named above by hand (they are kept for review), "
            "and please report this as a bug of `reconciler import`"
        ) from error


def _domain(text: str) -> str:
    """A claimed domain for argparse, checked by the manifest's own rule before any write."""
    import re

    from reconciler.manifest.models import DOMAIN_PATTERN

    domain = text.strip().lower()
    if not re.match(DOMAIN_PATTERN, domain):
        raise argparse.ArgumentTypeError(
            f"{quoted(text)} is not a domain name; write it like acme.io"
        )
    return domain
