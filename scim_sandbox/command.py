"""The ``reconciler sandbox`` command: run the sandbox server until SIGTERM/SIGINT.

Only argument wiring and the process lifecycle live here; the CLI passes ``out``
(a line printer) so this module never prints by itself.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from reconciler.errors import ConfigError
from reconciler.grammar import count
from reconciler.profile import MIXPANEL
from scim_sandbox.faults import Faults
from scim_sandbox.quirks import Quirks
from scim_sandbox.service import Sandbox

TOKEN_ENV = MIXPANEL.token_env  # the variable the client reads, so one export serves both
DEFAULT_PORT = 8765
DEFAULT_DOMAINS = ("acme.io", "acmelabs.io")


@dataclass(frozen=True)
class SandboxOptions:
    """The ``sandbox`` command's options (built from its arguments by the CLI)."""

    port: int = DEFAULT_PORT
    state: Path | None = None
    seed: str = "empty"
    token: str | None = None
    claimed_domains: tuple[str, ...] | None = None
    outside_org: tuple[str, ...] = ()
    latency_ms: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0
    drop_rate: float = 0.0
    lost_response_rate: float = 0.0
    max_members_per_patch: int | None = None
    max_page_size: int | None = None
    fault_seed: int | None = None
    rate_limit: float = 0.0  # requests per second; 0 = off
    rate_limit_burst: int = 1
    quirks: tuple[str, ...] = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="TCP port on 127.0.0.1; 0 = any free port (default %(default)s)",
    )
    parser.add_argument("--state", type=Path, metavar="FILE", help="persist the directory here")
    parser.add_argument(
        "--seed",
        default="empty",
        help="initial directory: empty | demo | random:N; applies only when the state "
        "file is missing or empty (default %(default)s)",
    )
    parser.add_argument("--token", help=f"bearer token (default: ${TOKEN_ENV}, else generated)")
    parser.add_argument(
        "--claimed-domain",
        action="append",
        dest="claimed_domains",
        metavar="DOMAIN",
        help="repeatable; default acme.io and acmelabs.io",
    )
    parser.add_argument(
        "--outside-org",
        action="append",
        default=[],
        dest="outside_org",
        metavar="EMAIL",
        help="an email that already has a Mixpanel account elsewhere (repeatable)",
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="delay added to every answer, in milliseconds (default %(default)s)",
    )
    faults.add_argument(
        "--rate-429",
        type=float,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) that a request is answered 429 (default %(default)s)",
    )
    faults.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="Retry-After sent with each injected 429, in seconds (default %(default)s)",
    )
    faults.add_argument(
        "--rate-5xx",
        type=float,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) of a 500/502/503 answer (default %(default)s)",
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) that the connection is closed before processing "
        "(default %(default)s)",
    )
    faults.add_argument(
        "--lost-response-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) that a request is processed, then the connection "
        "closed without an answer (default %(default)s)",
    )
    faults.add_argument(
        "--max-members-per-patch",
        type=int,
        metavar="N",
        help="answer 413 to a membership PATCH with more than N members (default: no limit)",
    )
    faults.add_argument(
        "--max-page-size",
        type=int,
        metavar="N",
        help="cap every list page at N resources whatever count asks (default: no cap)",
    )
    faults.add_argument(
        "--fault-seed",
        type=int,
        metavar="N",
        help="random seed for the faults, for a reproducible sequence (default: random)",
    )
    faults.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        metavar="PER_SECOND",
        help="a real rate limiter: above this many requests per second, answer 429 "
        "with --retry-after (default %(default)s: off)",
    )
    faults.add_argument(
        "--rate-limit-burst",
        type=int,
        default=1,
        metavar="N",
        help="requests the rate limiter lets through at once after a quiet spell "
        "(default %(default)s)",
    )
    quirks = parser.add_argument_group("quirk modes (behave like a misbehaving server)")
    quirks.add_argument(
        "--quirk",
        action="append",
        default=[],
        dest="quirks",
        metavar="NAME[=VALUE]",
        help=(
            "repeatable: list_cap=N, lying_total, hide_inactive, members_cut=N, "
            "members_omitted, list_members_cut=N, list_members_omitted, groups_omitted, "
            "forbid_user=EMAIL[:DETAIL], forbid_team=NAME[:DETAIL], "
            "conflict_without_scimtype, patch_returns_other, ignore_writes[=KEY] "
            "(dashes work too; see README, 'Quirk modes')"
        ),
    )


def run(args: SandboxOptions, out: Callable[[str], None]) -> int:
    """Serve until SIGTERM or SIGINT, then stop cleanly (state saved) and return 0."""
    token = args.token or os.environ.get(TOKEN_ENV)
    generated = not token
    token = token or secrets.token_urlsafe(32)
    sandbox = Sandbox(
        token=token,
        claimed_domains=args.claimed_domains or DEFAULT_DOMAINS,
        outside_org_emails=args.outside_org,
        state_file=args.state,
        seed=args.seed,
        faults=_faults(args),
        quirks=_quirks(args),
        port=args.port,
    )
    try:
        sandbox.start()
    except OSError as error:
        raise ConfigError(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}") from error
    stopping = threading.Event()
    restore = _on_signals(stopping)
    try:
        with sandbox:
            out(f"Sandbox SCIM server listening on {sandbox.base_url}")
            if sandbox.seed_ignored:
                out(_seed_notice(args))
            if generated:
                out(f"Generated token (shown once; set {TOKEN_ENV} to reuse one): {token}")
            users, groups = sandbox.store.counts()
            where = f"state in {args.state}" if args.state else "in memory only"
            out(
                f"{count(users, 'user')}, {count(groups, 'team')}, {where}; "
                "stop with Ctrl-C or SIGTERM"
            )
            if sandbox.quirks.names():
                out(f"Quirk modes on: {', '.join(sandbox.quirks.names())}")
            stopping.wait()
    finally:
        restore()
    return 0


def _seed_notice(args: SandboxOptions) -> str:
    return (
        f"notice: --seed {args.seed} ignored: the state file {args.state} already holds a "
        "directory, and a seed applies only to an empty state; to start from the seed, "
        "delete the file or pass another --state"
    )


def _faults(args: SandboxOptions) -> Faults:
    try:
        return Faults(
            latency_ms=args.latency_ms,
            rate_429=args.rate_429,
            retry_after_s=args.retry_after,
            rate_5xx=args.rate_5xx,
            drop_rate=args.drop_rate,
            lost_response_rate=args.lost_response_rate,
            max_members_per_patch=args.max_members_per_patch,
            max_page_size=args.max_page_size,
            seed=args.fault_seed,
            rate_limit=args.rate_limit,
            rate_limit_burst=args.rate_limit_burst,
        )
    except ValueError as error:
        raise ConfigError(f"bad fault settings: {error}") from error


def _quirks(args: SandboxOptions) -> Quirks:
    try:
        return Quirks.from_specs(list(args.quirks))
    except ValueError as error:
        raise ConfigError(f"bad --quirk: {error}") from error


def _on_signals(stopping: threading.Event) -> Callable[[], None]:
    """Turn SIGTERM and SIGINT into a clean stop; returns a function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _port(text: str) -> int:
    """A TCP port for argparse: a whole number from 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {text}")
    return port
