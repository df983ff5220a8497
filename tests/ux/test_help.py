"""Every option of every command explains itself in `--help`, with its default."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from reconciler.cli import build_parser, main


def _parsers(
    parser: argparse.ArgumentParser, path: str = "reconciler"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def _options() -> Iterator[tuple[str, argparse.Action]]:
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                yield path, action


def test_every_option_of_every_command_has_help_text() -> None:
    missing = [
        f"{path} {'/'.join(a.option_strings)}"
        for path, a in _options()
        if not (a.help and a.help.strip()) or a.help == argparse.SUPPRESS
    ]
    assert missing == []


def test_every_option_with_a_value_default_states_it() -> None:
    # A default the user cannot see is a default the user cannot rely on.
    silent = [
        f"{path} {'/'.join(a.option_strings)} (default {a.default!r})"
        for path, a in _options()
        if a.nargs != 0
        and a.default not in (None, False, [], argparse.SUPPRESS)
        and "default" not in (a.help or "")
    ]
    assert silent == []


def test_the_walk_covers_the_commands_and_options_the_issue_named() -> None:
    names = {f"{path} {'/'.join(a.option_strings)}" for path, a in _options()}
    for expected in (
        "reconciler apply --concurrency",
        "reconciler plan --page-size",
        "reconciler plan --format",
        "reconciler plan --max-attempts",
        "reconciler apply --chunk-size",
        "reconciler sandbox --rate-429",
    ):
        assert expected in names


@pytest.mark.parametrize("command", ["plan", "apply", "sandbox", "report", "doctor"])
def test_command_help_prints_defaults_and_units(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "default" in text
    if command == "sandbox":
        assert "--latency-ms" in text and "milliseconds" in text
    if command == "apply":
        assert "--concurrency N" in text and "(default 4)" in text


def _chosen_among_others(parser: argparse.ArgumentParser, action: argparse.Action) -> bool:
    """An option of a required either-or group (`--pr` or `--commit`): it has no default."""
    return any(
        group.required and action in group._group_actions
        for group in parser._mutually_exclusive_groups
    )


def test_every_optional_value_option_states_its_default_even_when_it_is_none() -> None:
    # An option left out must say what happens then ("default: none; ..."), unless it
    # is required or one of a required either-or group.
    silent = [
        f"{path} {'/'.join(action.option_strings)}"
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if action.option_strings
        and action.nargs != 0
        and not action.required
        and not _chosen_among_others(parser, action)
        and "default" not in (action.help or "")
    ]
    assert silent == []


# The unit each kind of value is counted in, as its metavar names the kind.
UNITS = {"S": "second", "SECONDS": "second", "MS": "millisecond", "P": "probability"}


def test_every_time_and_probability_option_names_its_unit() -> None:
    unnamed = [
        f"{path} {'/'.join(a.option_strings)}"
        for path, a in _options()
        if isinstance(a.metavar, str)
        and a.metavar in UNITS
        and UNITS[a.metavar] not in (a.help or "")
    ]
    assert unnamed == []
