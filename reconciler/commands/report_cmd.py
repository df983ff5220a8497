"""``reconciler report``: the access audit of the live org, optionally against the manifest.

Reads only (the same fail-closed reader as ``plan``), so it is safe to run at any
time with the org's token; it never plans or writes. Without a manifest it still
answers "who is in which team" and "who is inactive"; the manifest adds orphaned
accounts and expiring access. Heavy imports wait until ``run`` so `--help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.manifest.models import Manifest
    from reconciler.settings import Target

Out = Callable[[str], None]
FORMATS = ("text", "markdown", "csv", "json")  # the keys of render.report.RENDERERS
DEFAULT_MANIFEST = "manifests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Report-specific options; the CLI adds -m and the target options shared by all."""
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
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of days, got {text!r}")
    return int(text)


def run(args: argparse.Namespace, out: Out, *, target: Target, manifest_path: str | None) -> int:
    """``manifest_path`` None: audit the live org alone (no orphan or expiry sections)."""
    from reconciler.reader import read_live_state
    from reconciler.render.report import RENDERERS
    from reconciler.report import build_report
    from reconciler.settings import today as settings_today
    from reconciler.workflow import connect

    today = settings_today()
    manifest = _load(manifest_path, today)  # a bad manifest fails before any network
    live = read_live_state(
        connect(target, on_retry=getattr(args, "on_retry", None)), page_size=args.page_size
    )
    days = args.expiring_days
    if days is None:
        days = manifest.policy.expiry_warning_days if manifest else 14
    report = build_report(manifest, live, today=today, expiring_days=days)
    out(RENDERERS[args.format](report).rstrip("\n"))
    return 0


def _load(path: str | None, today: date) -> Manifest | None:
    """The manifest when one is named or ``manifests/`` exists; None otherwise."""
    from reconciler.manifest.loader import load_manifest

    if path is None:
        return None
    return load_manifest(path, today=today).manifest
