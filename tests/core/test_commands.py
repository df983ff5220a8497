"""One command pattern: every subcommand is a module of reconciler/commands of one shape.

Each has HELP, a frozen Options dataclass, add_arguments(parser) and
run(options, console); the CLI builds Options at its edge, so no argparse.Namespace
reaches a command, and cli.py keeps only the parser, the dispatch and the exit codes.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import typing
from pathlib import Path

import pytest

import reconciler
from reconciler import cli
from reconciler.commands import COMMANDS, command
from reconciler.commands.common import GlobalOptions, TargetOptions, options_from

CLI_SOURCE = Path(inspect.getfile(cli))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_module_has_the_one_shape(name: str) -> None:
    module = command(name)

    assert module.HELP and isinstance(module.HELP, str)
    assert dataclasses.is_dataclass(module.Options)
    assert module.Options.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert list(inspect.signature(module.add_arguments).parameters) == ["parser"]
    assert list(inspect.signature(module.run).parameters)[:2] == ["options", "console"]


@pytest.mark.parametrize("name", COMMANDS)
def test_no_options_field_is_an_argparse_namespace(name: str) -> None:
    module = command(name)
    hints = typing.get_type_hints(module.Options)

    assert all("Namespace" not in str(hint) for hint in hints.values()), hints


def test_the_parser_offers_exactly_the_registered_commands_in_order() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    assert tuple(sub.choices) == COMMANDS


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "-m", "x"],
        ["schema"],
        ["plan", "--out", "p.json", "--detailed-exitcode"],
        ["apply", "p.json", "--allow-deprovision", "3", "--no-verify"],
        ["import", "--claimed-domain", "acme.io", "--claimed-domain", "b.io"],
        ["sandbox", "--quirk", "lying_total", "--port", "0"],
        ["doctor", "--format", "json"],
        ["demo"],
        ["report", "--expiring-days", "5"],
        ["github", "explain", "--exit-code", "3", "--stage", "plan"],
        ["orgs", "--json"],
    ],
)
def test_every_command_line_becomes_frozen_options_of_that_command(argv: list[str]) -> None:
    args = cli.build_parser().parse_args(["--org", "us", "-v", *argv])
    options = options_from(command(argv[0]).Options, args)

    assert isinstance(options, command(argv[0]).Options)
    assert not any(isinstance(v, (list, argparse.Namespace)) for v in vars(options).values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.common = GlobalOptions()  # type: ignore[misc]
    if argv[0] != "sandbox":  # the sandbox is a server of its own: no org, no target
        assert options.common == GlobalOptions(command=argv[0], verbose=1, org="us")


def test_options_take_the_flags_and_fall_back_to_defaults_for_what_was_not_given() -> None:
    args = cli.build_parser().parse_args(
        ["apply", "--page-size", "50", "--allow-teams-emptied", "2", "--no-verify"]
    )
    options = options_from(command("apply").Options, args)

    assert options.target == TargetOptions(page_size=50)
    assert (options.allow_teams_emptied, options.allow_deprovision) == (2, None)
    assert options.verify is False and options.plan_file is None
    imported = options_from(
        command("import").Options,
        cli.build_parser().parse_args(["import", "--claimed-domain", "a.io"]),
    )
    assert imported.claimed_domain == ("a.io",)


def test_options_refuse_a_required_field_the_parser_does_not_define() -> None:
    @dataclasses.dataclass(frozen=True)
    class Needs:
        missing: str

    with pytest.raises(TypeError, match=r"Needs\.missing"):
        options_from(Needs, argparse.Namespace())


def test_cli_py_is_under_200_lines_and_holds_no_command() -> None:
    source = CLI_SOURCE.read_text()
    functions = {
        node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)
    }

    assert len(source.splitlines()) < 200
    assert functions <= {
        "build_parser",
        "main",
        "_main",
        "_redacted_output",
        "_dispatch",
        "_run",
        "_os_error",
        "_report_bug",
        "error",
    }


def test_no_module_below_the_cli_mentions_argparse_namespace_outside_commands() -> None:
    package = Path(reconciler.__file__).parent
    allowed = {package / "cli.py", package / "commands" / "common.py"}
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "Namespace" in path.read_text() and path not in allowed
    ]

    assert offenders == []


def _dests(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.add(action.dest)
            for sub in action.choices.values():
                found |= _dests(sub)
        elif action.dest not in ("help", argparse.SUPPRESS):
            found.add(action.dest)
    return found


@pytest.mark.parametrize("name", COMMANDS)
def test_every_argument_of_a_command_reaches_its_options(name: str) -> None:
    # An argument without a field would be dropped silently at the CLI edge.
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    fields = {f.name for f in dataclasses.fields(command(name).Options)}
    if "target" in fields:
        fields |= {f.name for f in dataclasses.fields(TargetOptions)}

    assert _dests(sub.choices[name]) - fields == set()
