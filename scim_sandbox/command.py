"""The ``reconciler sandbox`` command: run the sandbox server until SIGTERM/SIGINT.

Only argument wiring and the process lifecycle live here; the CLI passes ``out``
(a line printer) so this module never prints by itself.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from reconciler.errors import ConfigError, UsageError
from reconciler.files import check_parent_folder
from reconciler.grammar import count
from reconciler.profile import MIXPANEL

if TYPE_CHECKING:  # imported where used: every `reconciler` start builds these arguments
    from scim_sandbox.faults import Faults
    from scim_sandbox.quirks import Quirks

TOKEN_ENV = MIXPANEL.token_env  # the variable the client reads, so one export serves both
DEFAULT_PORT = 8765
DEFAULT_DOMAINS = ("acme.io", "acmelabs.io")
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")  # the manifest's rule for claimed domains


@dataclass(frozen=True)
class SandboxOptions:
    """The ``sandbox`` command's options (built from its arguments by the CLI)."""

    port: int = DEFAULT_PORT
    state: Path | None = None
    seed: str | None = None  # None: not asked (an empty directory, no notice)
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
    parser.add_argument(
        "--state",
        type=_state_file,
        metavar="FILE",
        help="persist the directory here (its folder must exist; default: in memory only)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help="initial directory: empty | demo | random:N; applies only when the state "
        "file is missing or empty, a notice says when it is ignored (default: empty)",
    )
    parser.add_argument(
        "--token",
        type=_token,
        help=f"bearer token (default: ${TOKEN_ENV}, else generated)",
    )
    parser.add_argument(
        "--claimed-domain",
        action="append",
        type=_domain,
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
        help="an email that already has a Mixpanel account elsewhere (repeatable; default: none)",
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument(
        "--latency-ms",
        type=partial(_bounded, most=MAX_LATENCY_MS),
        default=0.0,
        metavar="MS",
        help="delay added to every answer, in milliseconds, at most "
        f"{MAX_LATENCY_MS:,} (default %(default)s)",
    )
    faults.add_argument(
        "--rate-429",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) that a request is answered 429 (default %(default)s)",
    )
    faults.add_argument(
        "--retry-after",
        type=partial(_bounded, most=MAX_RETRY_AFTER_S),
        default=1.0,
        metavar="SECONDS",
        help="Retry-After sent with each injected 429, in seconds, at most "
        f"{MAX_RETRY_AFTER_S:,} (default %(default)s)",
    )
    faults.add_argument(
        "--rate-5xx",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) of a 500/502/503 answer (default %(default)s)",
    )
    faults.add_argument(
        "--drop-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) that the connection is closed before processing "
        "(default %(default)s)",
    )
    faults.add_argument(
        "--lost-response-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability (0 to 1) that a request is processed, then the connection "
        "closed without an answer (default %(default)s)",
    )
    faults.add_argument(
        "--max-members-per-patch",
        type=positive,
        metavar="N",
        help="answer 413 to a membership PATCH with more than N members (default: no limit)",
    )
    faults.add_argument(
        "--max-page-size",
        type=positive,
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
        type=_not_negative,
        default=0.0,
        metavar="PER_SECOND",
        help="a real rate limiter: above this many requests per second, answer 429 "
        "with --retry-after (default %(default)s: off)",
    )
    faults.add_argument(
        "--rate-limit-burst",
        type=positive,
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
        type=_quirk,
        metavar="NAME[=VALUE]",
        help=(
            "repeatable: list_cap=N, lying_total, hide_inactive, members_cut=N, "
            "members_omitted, members_not_list, list_members_cut=N, list_members_omitted, "
            "groups_omitted, "
            "groups_by_name, "
            "forbid_user=EMAIL[:DETAIL], forbid_team=NAME[:DETAIL], "
            "conflict_without_scimtype, patch_returns_other, add_replaces_members, "
            "post_returns_existing, post_answers_other_id, ignore_writes[=KEY], "
            "html_write_answers, creates_inactive, "
            "member_ids_case, "
            "read_returns_other=KEY, active_omitted, stale_reads=N "
            "(dashes work too; see README, 'Quirk modes'; default: none, an honest server)"
        ),
    )


def run(args: SandboxOptions, out: Callable[[str], None]) -> int:
    """Serve until SIGTERM or SIGINT, then stop cleanly (state saved) and return 0."""
    import secrets

    from scim_sandbox.service import Sandbox

    faults, quirks = _faults(args), _quirks(args)  # usage errors before anything starts
    if args.state is not None:
        fix = "pass --state a file path in a writable folder"
        check_parent_folder(args.state, what="the sandbox state", fix=fix)
    token = args.token or os.environ.get(TOKEN_ENV)
    generated = not token
    token = token or secrets.token_urlsafe(32)
    sandbox = Sandbox(
        token=token,
        claimed_domains=args.claimed_domains or DEFAULT_DOMAINS,
        outside_org_emails=args.outside_org,
        state_file=args.state,
        seed=args.seed,
        faults=faults,
        quirks=quirks,
        port=args.port,
    )
    try:
        sandbox.start()
    except OSError as error:
        raise ConfigError(
            f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}; stop what uses the "
            "port, or pass another --port (0 picks a free one)"
        ) from None
    stop: list[int] = []  # the signal that asked for the stop
    restore = _on_signals(stop)
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
            while not stop:  # a poll: see _on_signals
                time.sleep(_POLL_SECONDS)
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
    from scim_sandbox.faults import Faults

    rates = (args.rate_429, args.rate_5xx, args.drop_rate, args.lost_response_rate)
    if sum(rates) > 1:
        raise UsageError(
            f"--rate-429, --rate-5xx, --drop-rate and --lost-response-rate add up to "
            f"{sum(rates):g}; one draw picks at most one fault, so they must add up to at most 1"
        )
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
    except ValueError as error:  # a combination no single flag's check can see
        raise UsageError(f"fault flags: {error}") from None


def _quirks(args: SandboxOptions) -> Quirks:
    from scim_sandbox.quirks import Quirks

    try:
        return Quirks.from_specs(list(args.quirks))
    except ValueError as error:  # a combination no single --quirk's check can see
        raise UsageError(f"--quirk: {error}") from None


_POLL_SECONDS = 0.05  # how soon the serving loop sees a SIGTERM or SIGINT


def _on_signals(stop: list[int]) -> Callable[[], None]:
    """Turn SIGTERM and SIGINT into a clean stop (the signal is appended to ``stop``);
    returns a function restoring the old handlers.

    The handler only appends to a list: it runs in the main thread between two
    bytecodes, so setting a ``threading.Event`` there could deadlock on the lock an
    interrupted ``Event.wait`` holds (seen: about 1 stop in 30 hung); the serving
    loop polls ``stop`` instead."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _port(text: str) -> int:
    """A TCP port for argparse: a whole number from 0 (any free port) to 65535."""
    port = _whole(text, "not a port number")
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {text}")
    return port


def positive(text: str) -> int:
    """A count or a limit for argparse: a whole number of at least 1."""
    value = _whole(text, "not a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _whole(text: str, refusal: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{refusal}: {text!r}") from None


def _token(text: str) -> str:
    """``--token`` for argparse: what a client can send, so not empty and no whitespace."""
    if not text or any(ch.isspace() or not ch.isprintable() or not ch.isascii() for ch in text):
        raise argparse.ArgumentTypeError(
            "must be printable ASCII without spaces (a client could not send it); "
            "leave it out to have one generated"
        )
    return text


def _state_file(text: str) -> Path:
    """``--state`` for argparse: a file path, not empty (an unset variable?) and not ``-``."""
    if not text.strip() or text.strip() == "-":
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a file path; pass the file to keep the directory in"
        )
    return Path(text)


def _probability(text: str) -> float:
    """A fault rate for argparse: a number from 0 to 1."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a probability from 0 to 1, got {text}")
    return value


def _not_negative(text: str) -> float:
    """Milliseconds, seconds or a rate for argparse: a finite number, 0 or more."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


# Bounds on what a flag can make the server wait or ask clients to wait: a typo such
# as 1e308 would otherwise hold every request for ever (a thread per connection).
MAX_LATENCY_MS = 600_000  # 10 minutes
MAX_RETRY_AFTER_S = 86_400  # a day


def _bounded(text: str, *, most: float) -> float:
    """A finite number from 0 to ``most`` for argparse."""
    value = _not_negative(text)
    if value > most:
        raise argparse.ArgumentTypeError(f"must be at most {most:,}, got {text}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _seed(text: str) -> str:
    """A ``--seed`` for argparse: empty, demo or random:N."""
    from scim_sandbox.seed import validate_seed

    try:
        return validate_seed(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _quirk(text: str) -> str:
    """One ``--quirk`` spec for argparse, checked on its own (combinations: see run)."""
    from scim_sandbox.quirks import Quirks

    try:
        Quirks.from_specs([text])
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _domain(text: str) -> str:
    """A claimed domain for argparse, by the manifest's own rule."""
    domain = text.strip().lower()
    if not _DOMAIN.match(domain):
        raise argparse.ArgumentTypeError(f"{text!r} is not a domain name; write it like acme.io")
    return domain
