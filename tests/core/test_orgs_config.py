"""A malformed ``reconciler.yaml`` reads like a bad manifest: ``path:line:col`` and a fix.

Every problem of the orgs config is found in one pass and located in the file (the
manifest's own YAML reader and explanations), then counted; exit 1, no traceback,
never pydantic's raw wording ("Input should be ...", "Extra inputs ...").
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import ConfigError, ConfigFileError
from reconciler.orgs import load_orgs

GOOD_ORG = "  - name: us\n    manifest: orgs/us\n"
TOKEN_LIKE = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFa1b2c3d4e5"

# (what is wrong, the file's text, the problem lines expected)
CASES: list[tuple[str, str, list[str]]] = [
    (
        "empty file",
        "",
        [
            "1:1: file is empty; it needs 'version: 1' and a list 'orgs:' of orgs, each with "
            "a name and a manifest (see README, 'Several orgs in one repository')"
        ],
    ),
    (
        "only a comment",
        "# orgs go here\n",
        [
            "1:1: file is empty; it needs 'version: 1' and a list 'orgs:' of orgs, each with "
            "a name and a manifest (see README, 'Several orgs in one repository')"
        ],
    ),
    (
        "a list at the top level",
        "- name: us\n  manifest: orgs/us\n",
        [
            "1:1: the top level must be a mapping with 'version: 1' and a list 'orgs:' of "
            "orgs, each with a name and a manifest; found a list"
        ],
    ),
    (
        "a bare word",
        "orgs\n",
        [
            "1:1: the top level must be a mapping with 'version: 1' and a list 'orgs:' of "
            "orgs, each with a name and a manifest; found the text 'orgs'"
        ],
    ),
    (
        "bad YAML",
        "version: 1\norgs: [\n",
        [
            "3:1: invalid YAML: expected the node content, but found '<stream end>' "
            "(while parsing a flow node)"
        ],
    ),
    (
        "a tab for indentation",
        "version: 1\norgs:\n\t- name: us\n",
        [
            "3:1: invalid YAML: found character '\\t' that cannot start any token "
            "(while scanning for the next token); indent with spaces, not tabs"
        ],
    ),
    (
        "a key twice",
        "version: 1\nversion: 1\norgs:\n" + GOOD_ORG,
        [
            "2:1: key 'version' appears twice (first at line 1); YAML would silently keep "
            "only the last one, so remove one"
        ],
    ),
    (
        "the version quoted",
        'version: "1"\norgs:\n' + GOOD_ORG,
        [
            "1:10: version: expected a whole number, found the text '1'; "
            "write the number without quotes"
        ],
    ),
    (
        "an unknown version",
        "version: 2\norgs:\n" + GOOD_ORG,
        ["1:10: version: unsupported version 2; write 'version: 1'"],
    ),
    (
        "no version, no orgs",
        "orgz: []\n",
        [
            "1:1: missing required key 'version'",
            "1:1: missing required key 'orgs'",
            "1:1: unknown key 'orgz'; did you mean 'orgs'?",
        ],
    ),
    (
        "orgs as a mapping",
        "version: 1\norgs:\n  us: orgs/us\n",
        ["3:3: orgs: expected a list, found a mapping"],
    ),
    (
        "orgs empty",
        "version: 1\norgs: []\n",
        ["2:7: orgs: lists no org; add one with a name and a manifest"],
    ),
    (
        "an org as a word",
        "version: 1\norgs:\n  - us\n",
        ["3:5: orgs[0]: expected a mapping, found the text 'us'"],
    ),
    (
        "wrong types and an unknown key",
        "version: 1\norgs:\n  - name: us\n    manifest: 3\n    url: 5\n    tokn_env: X\n",
        [
            "4:15: orgs[0].manifest: expected text, found the number 3; quote it: '3'",
            "5:10: orgs[0].url: expected text, found the number 5; quote it: '5'",
            "6:5: orgs[0]: unknown key 'tokn_env'; did you mean 'token_env'?",
        ],
    ),
    (
        "a manifest left empty",
        "version: 1\norgs:\n  - name: us\n    manifest:\n",
        [
            "4:14: orgs[0].manifest: expected text, found nothing (null); "
            "fill in a value or remove the key"
        ],
    ),
    (
        "a name missing, a name not allowed",
        "version: 1\norgs:\n  - manifest: orgs/us\n  - name: US\n    manifest: orgs/eu\n",
        [
            "3:5: orgs[0]: missing required key 'name'",
            "4:11: orgs[1].name: org name 'US' is not allowed; use lowercase letters, digits, "
            "- and _ (it becomes a CLI argument, a marker and a folder name)",
        ],
    ),
    (
        "a name or variable ending in a line break",
        'version: 1\norgs:\n  - name: "us\\n"\n    manifest: m\n    token_env: "T\\n"\n',
        [
            "3:11: orgs[0].name: org name 'us\\n' is not allowed; use lowercase letters, "
            "digits, - and _ (it becomes a CLI argument, a marker and a folder name)",
            "5:16: orgs[0].token_env: 'T\\n' is not an environment variable name; name the "
            "variable that holds the token (e.g. MIXPANEL_SCIM_TOKEN), never the token itself",
        ],
    ),
    (
        "an org name twice",
        "version: 1\norgs:\n" + GOOD_ORG + GOOD_ORG,
        [
            "5:11: orgs[1].name: org name 'us' is used twice (first at line 3); names must be "
            "unique: rename or remove one"
        ],
    ),
    (
        "a token instead of a variable name",
        f"version: 1\norgs:\n{GOOD_ORG}    token_env: {TOKEN_LIKE}\n",
        [
            "5:16: this looks like a secret token; never commit tokens, set "
            "MIXPANEL_SCIM_TOKEN instead",
            "5:16: orgs[0].token_env: '<redacted>' is not an environment variable name; name "
            "the variable that holds the token (e.g. MIXPANEL_SCIM_TOKEN), never the token itself",
        ],
    ),
    (
        "an anchor",
        "version: 1\norgs:\n  - &us\n    name: us\n    manifest: orgs/us\n",
        [
            "3:5: YAML anchors and aliases are not allowed in manifests (found '&us'); write the "
            "values out so reviewers see every change"
        ],
    ),
    (
        "a Python tag",
        "version: 1\norgs: !!python/object:os.system {}\n",
        ["2:7: orgs: YAML tag '!!python/object:os.system' is not allowed here"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_config_problem_is_located_and_explained(
    text: str, expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(text)

    code = main(["--config", str(config), "orgs"])

    err = capsys.readouterr().err
    count = f"{len(expected)} problem{'s' if len(expected) > 1 else ''}"
    assert code == 1
    assert err.splitlines() == [
        *(f"{config}:{line}" for line in expected),
        f"error: {count} in the orgs config {config}",
    ]
    assert "Input should" not in err and "Extra inputs" not in err and "Traceback" not in err


def test_every_problem_is_found_in_one_pass_in_file_order(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        "orgz: 1\nversion: 1\norgs:\n  - name: us\n    manifest: 3\n  - us\n" + GOOD_ORG
    )

    with pytest.raises(ConfigFileError) as raised:
        load_orgs(config)

    assert [(p.line, p.col) for p in raised.value.problems] == [(1, 1), (5, 15), (6, 5), (7, 11)]
    assert isinstance(raised.value, ConfigError)  # callers catching ConfigError still do


def test_a_config_not_utf8_points_at_the_byte(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_bytes(b"version: 1\norgs:\n  - name: us\n    manifest: caf\xe9\n")

    with pytest.raises(ConfigFileError) as raised:
        load_orgs(config)

    assert [str(p) for p in raised.value.problems] == [
        f"{config}:4:18: not UTF-8 text (byte 0xe9); save it as UTF-8"
    ]


def test_a_bom_and_crlf_line_ends_are_fine(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_bytes(b"\xef\xbb\xbfversion: 1\r\norgs:\r\n  - name: us\r\n    manifest: m\r\n")

    assert [org.name for org in load_orgs(config).orgs] == ["us"]


@pytest.mark.parametrize("kind", ["symlink loop", "folder", "over the cap"])
def test_a_config_that_cannot_be_read_is_one_line_naming_it(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "reconciler.yaml"
    if kind == "symlink loop":
        os.symlink(tmp_path / "other.yaml", config)
        os.symlink(config, tmp_path / "other.yaml")
    elif kind == "folder":
        config.mkdir()
    else:
        config.write_text("version: 1\n" + "#" * (1024 * 1024))

    code = main(["--config", str(config), "orgs"])

    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"error: cannot read orgs config {config}: ")
    fix = (
        f"check that {config} is the orgs config (see README, 'Several orgs in one "
        "repository'); it names a few orgs"
        if kind == "over the cap"
        else "pass --config the orgs file (see README, 'Several orgs in one repository')"
    )
    assert err.rstrip().endswith(fix), err


def test_a_bad_config_stops_a_command_that_needs_it_with_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yaml").write_text("version: 1\norgs:\n  - name: us\n")

    assert main(["validate"]) == 1

    assert capsys.readouterr().err.splitlines() == [
        "reconciler.yaml:3:5: orgs[0]: missing required key 'manifest'",
        "error: 1 problem in the orgs config reconciler.yaml",
    ]


def test_validate_json_lists_the_config_problems_in_the_manifest_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yaml").write_text("version: 1\norgs:\n  - name: us\n")

    assert main(["validate", "--format", "json"]) == 1

    assert json.loads(capsys.readouterr().out) == {
        "valid": False,
        "problems": [
            {
                "path": "reconciler.yaml",
                "line": 3,
                "col": 5,
                "message": "orgs[0]: missing required key 'manifest'",
            }
        ],
    }


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["--config", "nowhere.yaml", "validate"],
            "error: nowhere.yaml not found: --config names the orgs config; check the path",
        ),
        (
            ["--org", "us", "validate"],
            "error: reconciler.yaml not found: --org needs a reconciler.yaml naming the orgs "
            "(see README, 'Several orgs in one repository'); run from the folder that holds "
            "it, or pass --config",
        ),
        (
            ["--org", "jp", "orgs"],
            "error: no org named 'jp' in reconciler.yaml; configured: us; pass --org with one "
            "of them, or add jp to reconciler.yaml",
        ),
    ],
)
def test_a_missing_config_or_org_says_what_to_do(
    argv: list[str],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    if "jp" in argv:
        (tmp_path / "reconciler.yaml").write_text("version: 1\norgs:\n" + GOOD_ORG)

    assert main(argv) == 1

    assert capsys.readouterr().err.startswith(says)


def test_a_file_that_is_not_a_plan_says_which_file_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org.yaml").write_text("version: 1\n")

    assert main(["apply", "org.yaml"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: org.yaml is not a plan file made by `reconciler plan --out` (")
    assert err.endswith("); pass the JSON file that `reconciler plan --out FILE` wrote\n")
