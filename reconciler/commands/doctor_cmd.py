"""``reconciler doctor``: check the URL, TLS, token, SCIM features and claimed domains.

Reads only. Exit 0 when every check passes, 1 otherwise; the checklist (or JSON)
says what failed and the fix.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.commands.common import (
    EXIT_ERROR,
    EXIT_OK,
    Console,
    GlobalOptions,
    TargetOptions,
    connect,
    exists,
    manifest_arg,
    manifest_path,
    resolve,
    style,
    target_args,
)
from reconciler.render.escape import terminal

if TYPE_CHECKING:
    from reconciler.settings import Target

HELP = "check URL, TLS, token, features and domains"


@dataclass(frozen=True)
class Options:
    common: GlobalOptions
    target: TargetOptions = field(default_factory=TargetOptions)
    manifest: str | None = None
    format: str = "text"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    manifest_arg(parser)
    target_args(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text checklist or json for scripts (default %(default)s)",
    )


def run(options: Options, console: Console) -> int:
    from reconciler.doctor import diagnose
    from reconciler.manifest.loader import load_manifest
    from reconciler.render.doctor import diagnosis_json, render_diagnosis
    from reconciler.settings import today

    target = _target_or_json_failure(options, console)
    if target is None:
        return EXIT_ERROR
    domains = None
    manifest = manifest_path(options.common, options.manifest)
    if options.manifest or exists(manifest):
        domains = load_manifest(manifest, today=today()).manifest.organization.claimed_domains
    diagnosis = diagnose(connect(options.common, target, console), target.base_url, domains)
    if options.format == "json":
        console.write(diagnosis_json(diagnosis))
    else:
        console.write(render_diagnosis(diagnosis, style(console.stdout)))
    return EXIT_OK if diagnosis.healthy else EXIT_ERROR


def _target_or_json_failure(options: Options, console: Console) -> Target | None:
    """The target; with ``--format json`` a refused setting (URL, token) is a failed
    check in the JSON a script reads (None is returned), not only a line on stderr."""
    from reconciler.errors import ConfigError, ConfigFileError

    try:
        return resolve(options.common, options.target, console)
    except ConfigError as error:
        if options.format != "json" or isinstance(error, ConfigFileError):
            raise
        from reconciler.doctor import Check, Diagnosis, Status
        from reconciler.render.doctor import diagnosis_json

        check = Check("settings (URL and token)", Status.FAIL, str(error))
        import os

        from reconciler.profile import MIXPANEL

        url = options.target.url or os.environ.get(MIXPANEL.url_env) or MIXPANEL.default_url
        console.write(diagnosis_json(Diagnosis(url, (check,))))
        console.err(f"error: {terminal(str(error))}")
        return None
