"""Out-of-range flag values are usage errors (exit 64) before anything runs or is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_sandbox_port_out_of_range_is_a_usage_error(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["sandbox", f"--port={port}"])

    err = capsys.readouterr().err
    assert stop.value.code == 64 and "must be between 0 and 65535" in err
    assert "Traceback" not in err and "bug" not in err


@pytest.mark.parametrize("domain", ["x y", "", "acme"])
def test_a_bad_claimed_domain_for_import_is_refused_before_anything_is_written(
    domain: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "imported"
    with pytest.raises(SystemExit) as stop:
        main(["import", "--out", str(out), "--claimed-domain", domain])

    err = capsys.readouterr().err
    assert stop.value.code == 64 and "is not a domain name; write it like acme.io" in err
    assert not out.exists() and "bug" not in err


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; it must stop with 64 (argparse's SystemExit or a UsageError's code)."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 64, err
    assert "Traceback" not in err and "bug" not in err
    return err


SANDBOX_BAD = [
    (["--quirk", "bogus"], "argument --quirk: unknown quirk 'bogus'; known quirks: "),
    (["--quirk", "list_cap=x"], "argument --quirk: quirk list_cap needs a count"),
    (["--quirk", "lying_total=1"], "argument --quirk: quirk lying_total is a switch"),
    (["--quirk", "forbid_user"], "argument --quirk: quirk forbid_user needs a target"),
    (
        ["--quirk", "members_cut=1", "--quirk", "members-omitted"],
        "error: --quirk: quirks members_cut and members_omitted exclude each other",
    ),
    (["--seed", "nope"], "argument --seed: unknown seed 'nope': use empty, demo or random:N"),
    (["--seed", "random:0"], "argument --seed: unknown seed 'random:0'"),
    (["--seed", "random:99999999999"], "argument --seed: unknown seed 'random:99999999999'"),
    (["--rate-429", "1.5"], "argument --rate-429: must be a probability from 0 to 1, got 1.5"),
    (["--rate-5xx", "-0.1"], "argument --rate-5xx: must be a probability from 0 to 1"),
    (["--drop-rate", "nan"], "argument --drop-rate: must be a finite number, got nan"),
    (["--lost-response-rate", "x"], "argument --lost-response-rate: not a number: 'x'"),
    (
        ["--rate-429", "0.6", "--drop-rate", "0.6"],
        "error: --rate-429, --rate-5xx, --drop-rate and --lost-response-rate add up to 1.2",
    ),
    (["--latency-ms", "-5"], "argument --latency-ms: must not be negative, got -5"),
    (["--latency-ms", "inf"], "argument --latency-ms: must be a finite number, got inf"),
    (["--retry-after", "-1"], "argument --retry-after: must not be negative"),
    (["--max-members-per-patch", "0"], "argument --max-members-per-patch: must be at least 1"),
    (["--max-page-size=-3"], "argument --max-page-size: must be at least 1"),
    (["--rate-limit", "-1"], "argument --rate-limit: must not be negative"),
    (["--rate-limit-burst", "0"], "argument --rate-limit-burst: must be at least 1"),
    (["--fault-seed", "x"], "argument --fault-seed: invalid int value: 'x'"),
    (["--token", ""], "argument --token: must be printable ASCII without spaces"),
    (["--token", "a b"], "argument --token: must be printable ASCII without spaces"),
    (["--claimed-domain", "not a domain"], "argument --claimed-domain: 'not a domain' is not"),
]


@pytest.mark.parametrize(("flags", "says"), SANDBOX_BAD, ids=[" ".join(f) for f, _ in SANDBOX_BAD])
def test_a_bad_sandbox_option_is_a_usage_error_before_anything_starts(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"

    err = _usage_error(["sandbox", "--port", "0", "--state", str(state), *flags], capsys)

    assert err.startswith("usage: reconciler sandbox "), err
    assert says in err and "reconciler sandbox: error: " in err, err
    assert not state.exists()  # refused before the server (and its state file) existed


OTHER_BAD = [
    (["--org", "US", "orgs"], "usage: reconciler ", "argument --org: 'US' is not an org name"),
    (
        ["apply", "plan.json", "--revoke-only"],
        "usage: reconciler apply ",
        "reconciler apply: error: --revoke-only plans from the manifest itself; drop PLAN_FILE",
    ),
    (
        ["github", "explain", "--exit-code", "256", "--stage", "plan"],
        "usage: reconciler github explain ",
        "argument --exit-code: an exit code is 0 to 255, got 256",
    ),
    (
        ["github", "explain", "--exit-code", "-1", "--stage", "plan"],
        "usage: reconciler github explain ",
        "argument --exit-code: must not be negative, got -1",
    ),
    (
        ["github", "comment", "--pr", "0", "--body-file", "plan.md"],
        "usage: reconciler github comment ",
        "argument --pr: not a pull request number: '0'",
    ),
    (
        ["github", "verify-plan", "--plan", "plan.json", "--pr", "-4"],
        "usage: reconciler github verify-plan ",
        "argument --pr: not a pull request number: '-4'",
    ),
    (["report", "--expiring-days", "-1"], "usage: reconciler report ", "--expiring-days"),
    # An empty value (an unset variable) never falls back to the default quietly:
    # `apply ""` would apply a fresh plan instead of the reviewed file.
    (["apply", "", "--auto-approve"], "usage: reconciler apply ", "argument PLAN_FILE: is empty"),
    (["plan", "-m", ""], "usage: reconciler plan ", "argument -m/--manifest: is empty"),
    (["plan", "--url", " "], "usage: reconciler plan ", "argument --url: is empty"),
    (["plan", "--token-file", ""], "usage: reconciler plan ", "argument --token-file: is empty"),
    (["--config", "", "orgs"], "usage: reconciler ", "argument --config: is empty"),
    (["plan", "--out", ""], "usage: reconciler plan ", "argument --out: is empty"),
    (["plan", "--out", "-"], "usage: reconciler plan ", "argument --out: '-' is not a path here"),
    (["import", "--out", "-"], "usage: reconciler import ", "argument --out: '-' is not a path"),
    (["apply", "--journal", "-"], "usage: reconciler apply ", "argument --journal: '-' is not"),
    (["sandbox", "--state", ""], "usage: reconciler sandbox ", "argument --state: '' is not a"),
    (
        ["github", "verify-plan", "--plan", "", "--pr", "1"],
        "usage: reconciler github verify-plan ",
        "argument --plan: is empty",
    ),
    (
        ["github", "drift-issue", "--plan-markdown", ""],
        "usage: reconciler github drift-issue ",
        "argument --plan-markdown: is empty",
    ),
    (["plan", "--page-size", "0"], "usage: reconciler plan ", "argument --page-size: must be"),
]


@pytest.mark.parametrize(
    ("argv", "usage", "says"), OTHER_BAD, ids=[" ".join(a) for a, _, _ in OTHER_BAD]
)
def test_a_bad_option_value_of_any_command_is_a_usage_error_with_its_usage_line(
    argv: list[str],
    usage: str,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)

    err = _usage_error(argv, capsys)

    assert err.startswith(usage) and says in err, err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_sandbox_port_in_use_says_how_to_pick_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["sandbox", "--port", str(port), "--token", "t"])

    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; stop what uses "
        "the port, or pass another --port (0 picks a free one)\n"
    )


@pytest.mark.parametrize("value", ["-1", "61", "nan", "soon"])
def test_a_verify_settle_out_of_range_is_a_usage_error(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(["apply", "-m", "x.yaml", f"--verify-settle={value}"], capsys)
    assert "--verify-settle" in err
    # The environment variable that sets the default is checked the same way.
    assert "RECONCILER_VERIFY_SETTLE" not in err
    monkeypatch.setenv("RECONCILER_VERIFY_SETTLE", value)
    err = _usage_error(["apply", "-m", "x.yaml"], capsys)
    assert "--verify-settle" in err
    # r6: the message names the variable the bad value came from, not only the option.
    assert "(from $RECONCILER_VERIFY_SETTLE; unset it or fix it)" in err, err
