"""``reconciler orgs``: the orgs of ``reconciler.yaml``, e.g. for a CI matrix.

    reconciler orgs                 one line per org: name, manifest, token variable, URL
    reconciler orgs --json          ["eu","us"] on one line, for $GITHUB_OUTPUT and
                                    `matrix: org: ${{ fromJSON(...) }}`
    reconciler --org us orgs --json ["us"], or an error if reconciler.yaml has no org us

The file is validated on the way (names, duplicates, fields), so a broken
reconciler.yaml fails the listing job with the reason instead of an empty matrix.
No network, no token.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import ConfigError

Out = Callable[[str], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the names as a one-line JSON array"
    )


def run(args: argparse.Namespace, out: Out) -> int:
    from reconciler.files import exists
    from reconciler.orgs import CONFIG_FILE, load_orgs

    path = Path(getattr(args, "config", None) or CONFIG_FILE)
    if not exists(path):
        raise ConfigError(
            f"{path} not found: `reconciler orgs` lists the orgs it configures "
            "(see README, 'Several orgs in one repository')"
        )
    config = load_orgs(path)
    name: str | None = getattr(args, "org", None)
    orgs = (config.get(name),) if name is not None else config.orgs
    if args.json:
        out(json.dumps([org.name for org in orgs], separators=(",", ":")))
        return 0
    for org in orgs:
        url = f"  url {org.url}" if org.url else ""
        out(f"{org.name}  manifest {org.manifest}  token ${org.token_env}{url}")
    return 0
