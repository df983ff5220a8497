"""Positions only when needed: the plain fast path equals the full path, exactly.

A valid file is parsed without positions (``parse_plain``) and validated once; a
file's positions are computed (by re-parsing it) only when a problem or a notice
needs ``file:line:col``. Every fixture and example goes through both paths here and
must give the same data, the same problems and notices, the same manifest and the
same digest. The bad-fixture tests hold the messages themselves.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import ManifestError
from reconciler.manifest import document, yamlsource
from reconciler.manifest.document import FileResult, check_file, check_file_fully
from reconciler.manifest.loader import LoadedManifest, load_manifest, manifest_digest
from reconciler.manifest.locations import Locations
from reconciler.manifest.models import Manifest
from reconciler.manifest.yamlsource import UNUSUAL, parse_plain, parse_positions, parse_yaml
from tests.manifest.support import EXAMPLES, FIXTURES, ORG, TODAY, write

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*FIXTURES.rglob("*.y*ml"), *EXAMPLES.rglob("*.yaml")])
LOADS = sorted([*FIXTURES.iterdir(), EXAMPLES], key=str)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before parsing")


def _shape(result: FileResult) -> tuple[object, ...]:
    loc = result.locations
    return (
        result.problems,
        result.organization,
        result.policy,
        result.users,
        result.teams,
        result.has_organization,
        result.has_policy,
        result.unchecked_emails,
        result.readable,
        loc.filename,
        dict(loc.values),
        dict(loc.keys),
        dict(loc.plain),
    )


def _outcome(path: Path) -> tuple[object, ...]:
    try:
        loaded: LoadedManifest = load_manifest(path, today=TODAY)
    except ManifestError as error:
        return ("refused", tuple(error.problems))
    return ("loaded", loaded.manifest, loaded.digest, loaded.sources, loaded.notices)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_file_gives_the_same_result_on_both_paths(path: Path) -> None:
    text = _text(path)
    assert _shape(check_file(text, path.name)) == _shape(check_file_fully(text, path.name))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plain_data_equals_the_positioned_data(path: Path) -> None:
    text = _text(path)
    full, plain = parse_yaml(text, path.name), parse_plain(text)
    if full.problems:
        assert plain is UNUSUAL  # the fast path never hides a problem
    elif plain is not UNUSUAL:
        assert plain == full.data


def _positions(locations: Locations) -> tuple[object, ...]:
    return (locations.filename, dict(locations.values), dict(locations.keys), dict(locations.plain))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_events_pass_gives_the_positions_of_the_full_parse(path: Path) -> None:
    text = _text(path)
    found = parse_positions(text, path.name)
    if parse_plain(text) is not UNUSUAL:
        assert found is not None  # every file the fast path accepts gets the cheap pass
    if found is not None:
        assert _positions(found) == _positions(parse_yaml(text, path.name).locations)


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nusers:\n  - {email: a@acme.io, n: no, m: 0755, d: 2024-01-01, e: ''}\n",
        "a: [1, '2', \"3\", ~, null, 1e3, .inf, -0x1F, yes, !!str 4, !!int '5', ! 6]\n"
        "b:\nc: |\n  x\n",
        "- [[[]]]\n- {}\n- {k: {j: [x, {y: z}]}}\n",
        "x\n",
        "",
        "# only a comment\n",
    ],
)
def test_the_events_pass_places_every_kind_of_scalar_and_container(text: str) -> None:
    found = parse_positions(text, "f.yaml")
    assert found is not None
    assert _positions(found) == _positions(parse_yaml(text, "f.yaml").locations)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: 1\na: 2\n",
        "? [a]\n: 1\n",
        "a: !!binary aGk=\n",
        "a: !custom {b: 1}\n",
        "a: 1\n---\nb: 2\n",
        "a: [1\n",
        "a: \x07\n",
        "a: " + "[" * 30 + "]" * 30 + "\n",
    ],
)
def test_the_events_pass_leaves_anything_unusual_to_the_full_parse(text: str) -> None:
    assert parse_positions(text, "f.yaml") is None


@pytest.mark.parametrize("path", LOADS, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_load_gives_the_same_manifest_digest_and_problems(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _outcome(path)
    monkeypatch.setattr(document, "_check_fast", lambda _text, _filename: None)
    assert _outcome(path) == fast


YAML_11 = [
    "a: no",
    "a: yes",
    "a: on",
    "a: off",
    "a: Off",
    "a: y",
    "a: 0755",
    "a: 0o17",
    "a: 0x1F",
    "a: 0b101",
    "a: 1_000",
    "a: 1:30",
    "a: 1e3",
    "a: 1.5e3",
    "a: .5",
    "a: +1",
    "a: .inf",
    "a: -.inf",
    "a: ~",
    "a: null",
    "a:",
    "a: 2024-01-01",
    "a: 2024-02-30",
    "a: 2024-01-01 10:00:00",
    "a: 2024-01-01T10:00:00Z",
    "a: '2024-01-01'",
    "a: !!str 1",
    "a: !!int '7'",
    "a: !!float 1",
    "a: !!binary aGk=",
    "a: !!set {x}",
    "a: !!omap [x: 1]",
    "a: !custom x",
    "a: !!python/name:os.system x",
    "<<: {a: 1}",
    "a: &x 1",
    "a: &x 1\nb: *x",
    "a: 1\na: 2",
    "? [a]\n: 1",
    "? {a: 1}\n: 1",
    "1: one\n2: two",
    "yes: true",
    "a: [1, [2, [3]]]",
    "a: ['no', no, \"0755\", 0755, '', ~, 'x']",
    "a: [!!str 1, !!int '7', ! 8, !!binary aGk=]",
    "a: [&x 1, *x]",
    "a: {b: 'no', c: no, d: !!str 0755}",
    "? 'quoted key'\n: 1",
    "!!str a: 1",
    "a: !!map {b: 1}",
    "a: !!seq [1]",
    "a: !custom [1]",
    "- [a, b]\n- {c: d}",
    "a: 'Bearer x'",
    "a: 1\n---\nb: 2",
    "---\na: 1\n...\n",
    "a: \x07",
    "a:\n\tb: 1",
    "a: [",
    "a: 'x\n  y'",
    "a: |\n  two\n  lines\n",
    "a: >-\n  folded\n  text\n",
    "- 1\n- two",
    "just a string",
    "",
    "# only a comment",
    "a: " + "[" * 19 + "]" * 19,
    "a: " + "[" * 40 + "]" * 40,
    "a: " + "[" * 5000 + "]" * 5000,
]


@pytest.mark.parametrize("text", YAML_11)
def test_yaml_1_1_semantics_hold_on_the_fast_path(text: str) -> None:
    full, plain = parse_yaml(text, "m.yaml"), parse_plain(text)
    if plain is UNUSUAL:
        return  # the full path decides, as it always did
    assert not full.problems
    assert plain == full.data
    assert _types(plain) == _types(full.data)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: no", {"a": False}),
        ("a: on", {"a": True}),
        ("a: 0755", {"a": 493}),
        ("a: 1e3", {"a": "1e3"}),
        ("a: 1.5e3", {"a": "1.5e3"}),
        ("a: 1.5e+3", {"a": 1500.0}),
        ("a: 2024-01-01", {"a": date(2024, 1, 1)}),
        ("a: 2024-01-01 10:00:00", {"a": "2024-01-01 10:00:00"}),
        ("1: one", {"1": "one"}),
        ("a: !!str 1", {"a": "1"}),
        ("a: ['no', no, \"0755\", 0755, '']", {"a": ["no", False, "0755", 493, ""]}),
        (
            "a: [!!str 1, ! 8, '2024-01-01', 2024-01-01]",
            {"a": ["1", 8, "2024-01-01", date(2024, 1, 1)]},
        ),
    ],
)
def test_fast_path_reads_yaml_1_1_values(text: str, expected: object) -> None:
    assert parse_plain(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x",
        "a: &x 1",
        "a: [&x 1]",
        "a: [1, *x]",
        "a: &x [1]",
        "a: [!!binary aGk=]",
        "a: !custom [1]",
        "a: {b: 1, b: 2}",
        "a: 1\na: 2",
        "a: !!binary aGk=",
        "a: 2024-02-30",
        "a: 1\n---\nb: 2",
        "? [a]\n: 1",
        "a: " + "[" * 5000 + "]" * 5000,
        "a: 'Bearer abc'",
        "a: \x07",
        "a: [",
    ],
)
def test_fast_path_hands_every_problem_to_the_full_parse(text: str) -> None:
    assert parse_plain(text) is UNUSUAL


def _count_full_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Files whose positions were computed, by the events pass or by the full parse."""
    parsed: list[str] = []

    def counting(text: str, filename: str) -> yamlsource.ParsedYaml:
        parsed.append(filename)
        return parse_yaml(text, filename)

    def counting_positions(text: str, filename: str) -> Locations | None:
        parsed.append(filename)
        return parse_positions(text, filename)

    monkeypatch.setattr(document, "parse_yaml", counting)
    monkeypatch.setattr(document, "parse_positions", counting_positions)
    return parsed


def test_a_valid_manifest_never_computes_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _count_full_parses(monkeypatch)
    loaded = load_manifest(EXAMPLES, today=TODAY)
    assert loaded.manifest.users
    assert parsed == []


def test_a_notice_computes_positions_for_its_own_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(
        tmp_path,
        {
            "a-org.yaml": ORG,
            "b-users.yaml": "version: 1\nusers:\n"
            "  - {email: ada@acme.io, given_name: Ada, family_name: L}\n"
            "  - {email: bob@acme.io, given_name: Bob, family_name: B, expires: 2025-01-01}\n",
            "c-teams.yaml": "version: 1\nteams:\n  - {name: Core, members: [ada@acme.io]}\n",
        },
    )
    parsed = _count_full_parses(monkeypatch)
    loaded = load_manifest(root, today=TODAY)
    assert [str(n).split(": ", 1)[0] for n in loaded.notices] == [f"{root / 'b-users.yaml'}:4:68"]
    assert parsed == [str(root / "b-users.yaml")]


def test_a_cross_file_problem_is_located_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(
        tmp_path,
        {
            "a.yaml": ORG + "users:\n  - {email: ada@acme.io, given_name: A, family_name: L}\n",
            "b.yaml": "version: 1\nusers:\n"
            "  - {email: ADA@acme.io, given_name: A, family_name: L}\n",
        },
    )
    fast = _outcome(root)
    monkeypatch.setattr(document, "_check_fast", lambda _text, _filename: None)
    assert _outcome(root) == fast
    assert fast[0] == "refused"


def test_digest_is_the_canonical_json_of_the_manifest() -> None:
    manifest = load_manifest(EXAMPLES, today=TODAY).manifest
    canonical = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    expected = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert manifest_digest(manifest) == expected
    assert yaml.safe_load(ORG)  # the helper text is itself valid YAML


@pytest.mark.parametrize(
    "text",
    [
        ORG,
        ORG + "policy: {protected: [ada@acme.io], max_deprovision_percent: 12.5}\n"
        "users:\n  - {email: ada@acme.io, given_name: Zoë, family_name: 日本, "
        "expires: 2030-01-02, previous_emails: [a@acme.io]}\n"
        "teams:\n  - {name: Ops, members: [{email: ada@acme.io, expires: 2030-01-01}]}\n"
        "  - {name: Empty, members: []}\n  - {name: Unmanaged}\n",
    ],
    ids=["empty", "everything"],
)
def test_streamed_digest_equals_the_whole_dump(text: str) -> None:
    from reconciler.manifest.loader import load_manifest_text

    manifest = load_manifest_text(text, filename="m.yaml", today=TODAY).manifest
    canonical = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert manifest_digest(manifest) == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# Digests computed by the release before the chunked digest: a plan saved then must
# still match the same manifest now, so these values never change.
PINNED_TEXT = (
    ORG + "policy: {protected: [ada@acme.io], max_deprovision_percent: 12.5, "
    "unmanaged_users: deactivate}\n"
    'users:\n  - {email: ada@acme.io, given_name: "Zoë", family_name: 日本, '
    "expires: 2030-01-02, previous_emails: [a@acme.io]}\n"
    '  - {email: bob@acme.io, given_name: " Bob", family_name: B, display_name: "Bob \\"B\\"", '
    "active: false, expires: 2030-01-02T10:00:00+02:00}\n"
    "teams:\n  - {name: Ops, previous_names: [Opps], "
    "members: [{email: ada@acme.io, expires: 2030-01-01}, bob@acme.io]}\n"
    "  - {name: Empty, members: []}\n  - {name: Unmanaged}\n"
)


def _many_users(count: int) -> str:
    """``count`` users (more than one digest chunk) and five teams spread over them."""
    lines = [ORG, "users:"]
    lines += [
        f"  - {{email: u{i}@acme.io, given_name: G{i % 7}, family_name: F{i % 11}"
        + (", active: false" if i % 13 == 0 else "")
        + "}"
        for i in range(count)
    ]
    lines += ["teams:"]
    lines += [
        f"  - {{name: T{t}, members: [{', '.join(f'u{i}@acme.io' for i in range(t, count, 97))}]}}"
        for t in range(5)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "digest"),
    [
        (PINNED_TEXT, "sha256:148a259cf1d34c136f631a798f4b825727ecdc32462efcf08d0d4e0e0e6ec2f3"),
        (
            _many_users(2100),
            "sha256:623591727d1d69afe7720a083c790ee18e28907a63e5ed47bc87f370364b8864",
        ),
    ],
    ids=["every-field", "2100-users"],
)
def test_the_digest_of_a_manifest_never_changes(text: str, digest: str) -> None:
    from reconciler.manifest.loader import load_manifest_text

    loaded = load_manifest_text(text, filename="m.yaml", today=TODAY)
    assert loaded.digest == digest
    manifest = loaded.manifest
    canonical = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert digest == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


_NOTICED = {
    "a-org.yaml": ORG + "policy: {protected: [pat@acme.io]}\n",
    "b-users.yaml": "version: 1\nusers:\n"
    "  - {email: ada@acme.io, given_name: 'Ada ', family_name: L}\n"
    "  - {email: bob@acme.io, given_name: Bob, family_name: B, expires: 2025-01-01}\n"
    "  - {email: cy@acme.io, given_name: Cy, family_name: C, active: false}\n"
    "  - {email: pat@acme.io, given_name: Pat, family_name: P, expires: 2027-01-01}\n",
    "c-teams.yaml": "version: 1\nteams:\n  - {name: ' Core', members: [ada@acme.io, cy@acme.io,"
    " {email: bob@acme.io, expires: 2025-02-01}]}\n",
}


def test_a_load_without_notices_gives_the_same_manifest_and_computes_no_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(tmp_path, {**_NOTICED})
    shown = load_manifest(root, today=TODAY)
    assert len(shown.notices) >= 5  # each kind of notice is there to skip
    parsed = _count_full_parses(monkeypatch)
    quiet = load_manifest(root, today=TODAY, notices=False)
    assert parsed == []
    assert quiet.notices == ()
    assert (quiet.manifest, quiet.digest, quiet.sources) == (
        shown.manifest,
        shown.digest,
        shown.sources,
    )


def test_a_load_without_notices_still_refuses_with_the_same_problems(tmp_path: Path) -> None:
    teams = _NOTICED["c-teams.yaml"] + "  - {name: Web, members: [nobody@acme.io]}\n"
    root = write(tmp_path, {**_NOTICED, "c-teams.yaml": teams})
    with pytest.raises(ManifestError) as shown:
        load_manifest(root, today=TODAY)
    with pytest.raises(ManifestError) as quiet:
        load_manifest(root, today=TODAY, notices=False)
    assert quiet.value.problems == shown.value.problems
    assert "nobody@acme.io" in str(quiet.value)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"active": False, "display_name": 'Zoë "Z" \\ Ō', "previous_emails": ["a@acme.io"]},
        {"given_name": "\u200b\u202e日本 ", "previous_emails": ["a@acme.io", "b@acme.io"]},
        {"family_name": "</details>`x`\t", "display_name": "\U0001f600"},
    ],
)
def test_the_inline_users_json_is_the_plain_records_json(fields: dict[str, object]) -> None:
    from reconciler.manifest import loader
    from reconciler.manifest.models import User

    users = [
        User.model_validate(
            {"email": f"u{n}@acme.io", "given_name": "Ann", "family_name": "Lee", **fields}
        )
        for n in range(3)
    ]
    assert loader._USERS_INLINE
    inline = loader._users_json(users)
    assert inline is not None and inline == loader._plain_records(users)
    dumped = [u.model_dump(mode="json") for u in users]
    assert inline == json.dumps(dumped, sort_keys=True, separators=(",", ":"))[1:-1]


def test_a_user_with_an_expiry_takes_the_plain_records_path() -> None:
    from reconciler.manifest import loader
    from reconciler.manifest.models import User

    user = User.model_validate(
        {"email": "a@acme.io", "given_name": "A", "family_name": "L", "expires": "2030-01-02"}
    )
    assert loader._users_json([user]) is None  # a date: pydantic's dump decides its text
    manifest = Manifest.model_validate(
        {"version": 1, "organization": {"claimed_domains": ["acme.io"]}, "users": [user]}
    )
    canonical = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert manifest_digest(manifest) == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
