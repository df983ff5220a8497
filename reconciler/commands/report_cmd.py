"""``reconciler report``: the access audit of the live org, optionally against the manifest.

Reads only (the same fail-closed reader as ``plan``), so it is safe to run at any
time with the org's token; it never plans or writes. Without a manifest it still
answers "who is in which team" and "who is inactive"; the manifest adds orphaned
accounts and expiring access. Heavy imports wait until ``run`` so `--help` stays fast.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from reconciler.commands.common import (
    EXIT_OK,
    Console,
    GlobalOptions,
    TargetOptions,
    connect,
    exists,
    manifest_arg,
    manifest_path,
    resolve,
    target_args,
)
from reconciler.render.escape import quoted

HELP = "audit who has access to what; read-only"
FORMATS = ("text", "markdown", "csv", "json")  # the keys of render.report.RENDERERS


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    target: TargetOptions = field(default_factory=TargetOptions)
    manifest: str | None = None
    format: str = "text"
    expiring_days: int | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    manifest_arg(parser)
    target_args(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text, markdown, csv (one row per account) or json (default %(default)s)",
    )
    parser.add_argument(
        "--expiring-days",
        type=_days,
        default=None,
        metavar="N",
        help="window for expiring access (default: the policy's expiry_warning_days, else 14)",
    )


def _days(text: str) -> int:
    # ASCII digits only: str.isdigit() also takes a superscript, which int() refuses.
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(
            f"must be a whole number of days, 0 or more (e.g. 30), got {quoted(text)}"
        )
    return int(text)


def run(options: Options, console: Console) -> int:
    """The report on stdout. The manifest is read when -m or --org names one or
    ``manifests/`` exists; otherwise the live org is audited alone (no orphan or
    expiry sections)."""
    from reconciler.manifest.loader import load_manifest
    from reconciler.render.report import RENDERERS
    from reconciler.settings import today as settings_today
    from reconciler.workflow import audit

    common = options.common
    path = manifest_path(common, options.manifest)
    explicit = options.manifest is not None or common.org is not None or exists(path)
    target = resolve(common, options.target, console)
    today = settings_today()
    # A bad manifest fails before any network.
    manifest = load_manifest(path, today=today).manifest if explicit else None
    report = audit(
        connect(common, target, console),
        manifest,
        page_size=options.target.page_size,
        today=today,
        expiring_days=options.expiring_days,
    )
    console(RENDERERS[options.format](report).rstrip("\n"))
    return EXIT_OK
