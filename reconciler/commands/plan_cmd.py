"""``reconciler plan``: read the live org and show what ``apply`` would change.

Writes nothing to Mixpanel. ``--out`` saves the plan file ``apply FILE`` runs
exactly; ``--format`` picks the view (text, markdown for a PR comment, json).
"""

from __future__ import annotations

import argparse
import pathlib
from dataclasses import dataclass, field

from reconciler.commands.common import (
    EXIT_CHANGES,
    EXIT_OK,
    Console,
    GlobalOptions,
    TargetOptions,
    connect,
    detail_arg,
    manifest_arg,
    manifest_path,
    output_file,
    read_options,
    render_plan,
    resolve_after_manifest,
    target_args,
)

HELP = "show what apply would change"
PLAN_OUT_FIX = "pass --out a file path in a writable folder"


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    target: TargetOptions = field(default_factory=TargetOptions)
    manifest: str | None = None
    out: str | None = None
    format: str = "text"
    detail: str = "summary"
    detailed_exitcode: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    manifest_arg(parser)
    target_args(parser)
    parser.add_argument(
        "--out",
        type=output_file,
        metavar="FILE",
        help="save the plan as JSON for `apply FILE` (its folder must exist; default: not saved)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text for a terminal or CI log, markdown for a PR comment, json (the plan "
        "file's format) for scripts (default %(default)s)",
    )
    detail_arg(parser)
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes (0 when none), like terraform",
    )


def run(options: Options, console: Console) -> int:
    """0, or 2 with ``--detailed-exitcode`` when the plan has changes."""
    from pathlib import Path

    from reconciler.files import FileWriteError, check_parent_folder, is_folder, write_output
    from reconciler.planfile import dumps
    from reconciler.settings import today
    from reconciler.workflow import load_and_read, plan_from_live

    common = options.common
    manifest = manifest_path(common, options.manifest)
    if options.out and is_folder(Path(options.out)):  # said before the org is read, not after
        raise FileWriteError(
            f"cannot write the plan file {options.out}: it is a folder; {PLAN_OUT_FIX}"
        )
    if options.out:
        check_parent_folder(Path(options.out), what="the plan file", fix=PLAN_OUT_FIX)
        _refuse_manifest_as_out(Path(options.out), Path(manifest))
    target = resolve_after_manifest(common, options.target, console, manifest)
    client = connect(common, target, console)
    # The manifest loads while the live read waits on the network; its errors come first.
    loaded, live = load_and_read(
        manifest, client, today=today(), read=read_options(options.target, console)
    )
    planned = plan_from_live(loaded, live, target, today=today())
    if options.out:
        # Recorded so a stale plan's advice can name the same -m (not in the digest).
        saved = planned.plan.model_copy(update={"manifest_path": manifest})
        write_output(Path(options.out), dumps(saved), what="the plan file", fix=PLAN_OUT_FIX)
    console.write(
        render_plan(
            planned.plan,
            options.format,
            planned.warnings,
            console.stdout,
            org=common.org,
            detail=options.detail,
        )
    )
    if options.out:
        from reconciler.render.escape import shell_word, terminal

        console.err(
            f"Saved the plan to {terminal(str(options.out))}; apply exactly it with: "
            f"reconciler apply {shell_word(str(options.out))}"
        )
    if options.detailed_exitcode and planned.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _refuse_manifest_as_out(out: pathlib.Path, manifest: pathlib.Path) -> None:
    """``--out`` must not name a manifest file: the plan's JSON would replace it."""
    from reconciler.files import FileWriteError, is_folder
    from reconciler.manifest.loader import SUFFIXES

    # The loader reads names ending in .yaml/.yml in any case (Plan.YAML too).
    inside = is_folder(manifest) and out.name.lower().endswith(SUFFIXES)
    try:
        same = out.resolve() == manifest.resolve()
        inside = inside and out.resolve().is_relative_to(manifest.resolve())
    except (OSError, RuntimeError):  # a symlink loop: the write names it later
        return
    if same or inside:
        raise FileWriteError(
            f"cannot write the plan file {out}: it is (or would be read as) a manifest file "
            f"of -m {manifest}; pass --out a path like plan.json"
        )
