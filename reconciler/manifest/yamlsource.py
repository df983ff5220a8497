"""Parse one manifest file's text into plain data plus the position of every value.

Two paths: ``parse_plain`` (libyaml events straight to data, no positions) for the
common case of a valid file, and ``parse_yaml`` (with positions, exact messages) for
everything else. When a problem or notice about a file of the first kind needs
``file:line:col``, ``parse_positions`` reads only the marks from libyaml's events.

Only safe YAML: the text is *composed* to nodes with a ``yaml.SafeLoader``-based
loader and turned into data here, so no tag can construct a Python object.

Anchors and aliases are refused outright rather than expanded under a node budget.
An alias makes one line change many places that a reviewer does not see in the
diff, errors inside an aliased block would point at the anchor instead of the use,
and refusing them removes the whole "billion laughs" class without a heuristic.
Nesting depth is bounded too, because the composer recurses per level.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from reconciler.errors import Problem
from reconciler.manifest.locations import (
    JsonPath,
    Locations,
    Position,
    prefixed,
    shorten,
)

MAX_DEPTH = 20

_YAML_TAG = "tag:yaml.org,2002:"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_SCALARS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
)


_NUMBERS = frozenset({f"{_YAML_TAG}int", f"{_YAML_TAG}float"})
# A number as people write it. YAML 1.1 also reads 010 (octal 8), 0x10, 0b10, 1:30
# (sexagesimal 90), 1_000 and .inf: a reviewer may not read them as the parser does.
_DECIMAL = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?", re.ASCII)


def _odd_number(text: str) -> bool:
    """True for a YAML int or float not written in plain decimal (or with a leading 0)."""
    digits = text.lstrip("+-")
    leading_zero = digits[:1] == "0" and digits[1:2].isdigit() and "." not in digits
    return leading_zero or _DECIMAL.fullmatch(text) is None


def _odd_number_message(text: str, value: object) -> str:
    shown = shorten(text)
    if isinstance(value, float) and not math.isfinite(value):
        return f"{shown!r} is not a finite number; write the number in decimal digits"
    return (
        f"{shown!r} is read by YAML as the number {value} ({_notation(text)}); write it "
        f"in plain decimal digits ({value}), or quote it if it is text"
    )


def _notation(text: str) -> str:
    digits = text.lstrip("+-").lower()
    if digits.startswith("0x"):
        return "hexadecimal"
    if digits.startswith("0b"):
        return "binary"
    if ":" in digits:
        return "base 60"
    if "_" in digits:
        return "underscores are dropped"
    return "octal: a leading 0"


_TIMESTAMP = f"{_YAML_TAG}timestamp"
_NOUNS = {
    f"{_YAML_TAG}timestamp": "date",
    f"{_YAML_TAG}int": "number",
    f"{_YAML_TAG}float": "number",
}


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that a manifest may not use (aliases, deep nesting)."""


class _ManifestLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases and deep nesting while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            raise _Refused(
                problem=f"YAML anchors and aliases are not allowed in manifests (found "
                f"'{'*' if isinstance(event, yaml.AliasEvent) else '&'}{anchor}'); "
                "write the values out so reviewers see every change",
                problem_mark=event.start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(
                problem=f"nesting deeper than {MAX_DEPTH} levels; a manifest is never this deep",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(frozen=True)
class ParsedYaml:
    """The data of one file, where each value is, and what was wrong with the YAML itself.

    ``bad_paths`` are values already reported here (an impossible date, a tag), so
    the schema check does not report them a second time.
    """

    data: Any
    locations: Locations
    problems: tuple[Problem, ...] = ()
    bad_paths: frozenset[JsonPath] = frozenset()
    strings: tuple[tuple[JsonPath, str], ...] = ()


@dataclass
class _Builder:
    """Accumulates data, positions and problems while walking the node tree once."""

    loader: Any  # a SafeLoader or CSafeLoader: only construct_object is used
    filename: str
    values: dict[JsonPath, Position] = field(default_factory=dict)
    keys: dict[JsonPath, Position] = field(default_factory=dict)
    plain: dict[JsonPath, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    bad: set[JsonPath] = field(default_factory=set)
    strings: list[tuple[JsonPath, str]] = field(default_factory=list)

    def report(self, mark: yaml.Mark, message: str) -> None:
        self.problems.append(Problem(self.filename, mark.line + 1, mark.column + 1, message))

    def convert(self, node: yaml.Node, path: JsonPath) -> Any:
        self.values[path] = _position(node.start_mark)
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALARS:
            return self._scalar(node, path)
        self.bad.add(path)
        tag = node.tag.replace(_YAML_TAG, "!!")
        self.report(node.start_mark, prefixed(path, f"YAML tag '{tag}' is not allowed here"))
        return None

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                message = "a key must be a plain word such as 'email'"
                self.report(key_node.start_mark, prefixed(path, message))
                continue
            key = key_node.value
            if key in result:
                first = self.keys[(*path, key)]
                message = (
                    f"key '{key}' appears twice (first at line {first.line}); "
                    "YAML would silently keep only the last one, so remove one"
                )
                self.report(key_node.start_mark, prefixed(path, message))
            self.keys[(*path, key)] = _position(key_node.start_mark)
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        if node.tag == _STR:
            self.strings.append((path, node.value))
            return node.value
        if not node.style:  # plain (unquoted): None from PyYAML, "" from libyaml
            self.plain[path] = node.value
        try:
            value = self.loader.construct_object(node)
        except (ValueError, OverflowError, yaml.YAMLError) as error:
            if node.tag == _TIMESTAMP and len(node.value) > 10:
                # A time of day out of range (24:00, +24:00): the text, so that
                # ``expires`` says what is wrong with the fix, as for any timestamp.
                return node.value
            self.bad.add(path)
            noun = _NOUNS.get(node.tag, "value")
            message = f"{shorten(node.value)!r} is not a valid {noun}: {_reason(error)}"
            self.report(node.start_mark, prefixed(path, message))
            return node.value
        if node.tag in _NUMBERS and _odd_number(node.value):
            self.bad.add(path)
            message = _odd_number_message(node.value, value)
            self.report(node.start_mark, prefixed(path, message))
            return node.value
        # A YAML timestamp with a time of day is never a valid manifest date; keep the
        # text so the schema check reports it as "expected a date".
        return node.value if isinstance(value, datetime) else _plain(value)


def parse_yaml(text: str, filename: str) -> ParsedYaml:
    """Compose ``text`` (one YAML document) and convert it; never raises for bad input."""
    fast = _compose_fast(text)
    if fast is not None:
        loader, root = fast
    else:
        try:
            loader = _ManifestLoader(text)  # the reader checks for forbidden characters here
            root = loader.get_single_node()
        except yaml.YAMLError as error:
            problem = _yaml_problem(error, text, filename)
            return ParsedYaml(None, Locations(filename), (problem,))
    if root is None:
        return ParsedYaml(None, Locations(filename))
    builder = _Builder(loader, filename)
    data = builder.convert(root, ())
    locations = Locations(filename, builder.values, builder.keys, builder.plain)
    problems = tuple(builder.problems)
    return ParsedYaml(data, locations, problems, frozenset(builder.bad), tuple(builder.strings))


class _Unusual(Exception):
    """The fast path met something only the full parse can judge; take that path."""


UNUSUAL: Any = object()
"""What ``parse_plain`` returns when the text needs the full parse (with positions)."""

# Every character YAML 1.1 allows that is ASCII (``Reader.NON_PRINTABLE`` for ASCII).
_PRINTABLE_ASCII = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x7F)])


def parse_plain(text: str, *, shared: frozenset[str] = frozenset()) -> Any:
    """The data of ``text`` without positions, or ``UNUSUAL`` when the full parse must judge.

    The fast path for the common case, a valid file: one libyaml pass over the events,
    building plain data with the same YAML 1.1 rules as ``parse_yaml`` (the same
    resolver decides ``no``, ``0755``, ``1e3`` and dates; the same constructors build
    them). It never reports a problem itself: on anything that ``parse_yaml`` would
    flag or treat specially (an anchor or alias, a duplicate key, a non-scalar key, a
    tag outside the plain ones, an impossible scalar, deep nesting, a second document,
    a control character, a value that could be a ``Bearer`` token, a syntax error) it
    returns ``UNUSUAL`` and the caller runs ``parse_yaml`` for the exact message and
    position. Nesting is bounded (``MAX_DEPTH``) before the fold recurses.

    ``shared``: mapping keys whose string values are interned (``sys.intern``), so a
    value repeated across entries (a given name) is one string in memory.
    """
    fast_loader = getattr(yaml, "CSafeLoader", None)
    if fast_loader is None or not _printable(text):
        return UNUSUAL
    if "bearer" in text.lower():
        return UNUSUAL  # rare: let the full parse find which value, if any, is a token
    loader = fast_loader(text)
    try:
        fold = _Fold(loader, shared)
        if loader.yaml_path_resolvers or None in fold.table:
            return UNUSUAL  # a resolver this fold does not shortcut: never with SafeLoader
        return _build_plain(fold)
    except (_Unusual, yaml.YAMLError, ValueError, OverflowError, RecursionError):
        return UNUSUAL
    finally:
        loader.dispose()


def _printable(text: str) -> bool:
    """``not Reader.NON_PRINTABLE.search(text)``; a byte-level check for ASCII text (~10x)."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _PRINTABLE_ASCII)
    return yaml.reader.Reader.NON_PRINTABLE.search(text) is None


class _Fold:
    """What the fold needs at hand: the next event, the loader and its resolver table."""

    __slots__ = ("get", "loader", "shared", "table")

    def __init__(self, loader: Any, shared: frozenset[str]) -> None:
        self.get = loader.get_event
        self.shared = shared
        self.loader = loader
        self.table = loader.yaml_implicit_resolvers  # implicit types by first character


_SCALAR_EVENT = yaml.ScalarEvent
_MAP_START = yaml.MappingStartEvent
_SEQ_START = yaml.SequenceStartEvent
_MAP_END = yaml.MappingEndEvent
_SEQ_END = yaml.SequenceEndEvent


def _build_plain(fold: _Fold) -> Any:
    """Fold one document's events into dicts, lists and scalars (see ``parse_plain``).

    Recursive descent over the event stream: a container reads its own events up to
    its end event, so no stack of open containers or pending keys is kept. Plain
    functions, and ``_Fold`` refers only to the loader, never to the data: nothing here
    makes a reference cycle that would hold a file's data until a cyclic collection.
    """
    get = fold.get
    if type(get()) is not yaml.StreamStartEvent:
        raise _Unusual
    event = get()
    if type(event) is yaml.StreamEndEvent:
        return None  # no document: empty, or comments only
    if type(event) is not yaml.DocumentStartEvent:
        raise _Unusual
    root = _node(fold, get(), 0)
    if type(get()) is not yaml.DocumentEndEvent or type(get()) is not yaml.StreamEndEvent:
        raise _Unusual  # a second document
    return root


def _node(fold: _Fold, event: Any, depth: int) -> Any:
    kind = type(event)
    if kind is _SCALAR_EVENT:
        return _scalar(fold, event)
    if kind is _MAP_START:
        return _mapping(fold, event, depth)
    if kind is _SEQ_START:
        return _sequence(fold, event, depth)
    raise _Unusual  # an alias, or an event this fold does not know


def _open(event: Any, tag: str, depth: int) -> None:
    """Refuse an anchored or tagged container, and nesting as deep as ``MAX_DEPTH``."""
    if event.anchor is not None or event.tag not in (None, "!", tag) or depth >= MAX_DEPTH - 2:
        raise _Unusual


def _mapping(fold: _Fold, start: Any, depth: int) -> dict[str, Any]:
    _open(start, _MAP, depth)
    get, intern = fold.get, sys.intern
    result: dict[str, Any] = {}
    while True:
        event = get()
        if type(event) is not _SCALAR_EVENT:
            if type(event) is _MAP_END:
                return result
            raise _Unusual  # a mapping or a sequence used as a key, or an alias
        if event.anchor is not None:
            raise _Unusual
        key = intern(event.value)  # the same few keys on every entry: share them
        if key in result:
            raise _Unusual  # a duplicate key
        event = get()
        if type(event) is _SCALAR_EVENT:
            value = event.value
            # A quoted scalar without tag or anchor is the string itself: skip the call.
            if event.implicit[0] or event.tag is not None or event.anchor is not None:
                value = _scalar(fold, event)
            if key in fold.shared and type(value) is str:
                value = intern(value)
            result[key] = value
        else:
            result[key] = _node(fold, event, depth + 1)


def _sequence(fold: _Fold, start: Any, depth: int) -> list[Any]:
    _open(start, _SEQ, depth)
    get = fold.get
    result: list[Any] = []
    append = result.append
    while True:
        event = get()
        kind = type(event)
        if kind is _SCALAR_EVENT:
            # As in _mapping: a quoted scalar without tag or anchor is the string itself.
            if event.implicit[0] or event.tag is not None or event.anchor is not None:
                append(_scalar(fold, event))
            else:
                append(event.value)
        elif kind is _SEQ_END:
            return result
        else:
            append(_node(fold, event, depth + 1))


def _scalar(fold: _Fold, event: Any) -> Any:
    """One scalar value exactly as ``_Builder._scalar`` converts it when it is valid."""
    if event.anchor is not None:
        raise _Unusual
    tag, value = event.tag, event.value
    if tag is None or tag == "!":
        implicit = event.implicit
        # With no path resolvers and no resolver for any first character (checked in
        # parse_plain), this is what Resolver.resolve decides, without its regexes.
        if not implicit[0] or (value and value[0] not in fold.table):
            return value  # quoted, or plain and no implicit type starts with its first character
        tag = fold.loader.resolve(yaml.ScalarNode, value, implicit)
    if tag == _STR:
        return value
    if tag not in _SCALARS or (tag in _NUMBERS and _odd_number(value)):
        raise _Unusual  # parse_yaml reports it, with its position
    node = yaml.ScalarNode(tag, value, style=event.style)
    constructed = fold.loader.yaml_constructors[tag](fold.loader, node)
    return value if isinstance(constructed, datetime) else _plain(constructed)


def parse_positions(text: str, filename: str) -> Locations | None:
    """``parse_yaml(text, filename).locations`` without the data, or None when unsure.

    For a file the fast path accepted (``parse_plain``), when a problem or notice
    needs ``file:line:col``: one libyaml pass over the events that records only the
    start of every key and value (by JSON path) and the text of plain non-string
    scalars. No nodes are composed and no value is constructed, so it costs a
    fraction of ``parse_yaml``; the marks are libyaml's, the same that ``parse_yaml``
    records for such a file. On anything ``parse_plain`` would not accept (an alias,
    a tag, a duplicate key, deep nesting, a syntax error) it returns None and the
    caller runs ``parse_yaml``, which judges and places it exactly.
    """
    fast_loader = getattr(yaml, "CSafeLoader", None)
    if fast_loader is None or not _printable(text):
        return None
    loader = fast_loader(text)
    try:
        marks = _Marks(loader)
        if loader.yaml_path_resolvers or None in marks.table:
            return None  # a resolver this pass does not shortcut: never with SafeLoader
        get = marks.get
        if type(get()) is not yaml.StreamStartEvent:
            return None
        event = get()
        if type(event) is yaml.StreamEndEvent:
            return Locations(filename)  # no document: as parse_yaml, no positions
        if type(event) is not yaml.DocumentStartEvent:
            return None
        _mark(marks, get(), (), 0)
        if type(get()) is not yaml.DocumentEndEvent or type(get()) is not yaml.StreamEndEvent:
            return None
        return Locations(filename, marks.values, marks.keys, marks.plain)
    except (_Unusual, yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


class _Marks:
    """The positions ``parse_positions`` collects, and the loader it reads events from."""

    __slots__ = ("get", "keys", "loader", "plain", "table", "values")

    def __init__(self, loader: Any) -> None:
        self.get = loader.get_event
        self.loader = loader
        self.table = loader.yaml_implicit_resolvers
        self.values: dict[JsonPath, Position] = {}
        self.keys: dict[JsonPath, Position] = {}
        self.plain: dict[JsonPath, str] = {}


def _mark(marks: _Marks, event: Any, path: JsonPath, depth: int) -> None:
    """Record ``event``'s node (and everything inside it) as ``_Builder.convert`` does."""
    start = event.start_mark
    marks.values[path] = Position(start.line + 1, start.column + 1)
    kind = type(event)
    if kind is _SCALAR_EVENT:
        if event.anchor is not None:
            raise _Unusual
        tag = _scalar_tag(marks, event)
        if tag not in _SCALARS:
            raise _Unusual
        if tag != _STR and not event.style:
            marks.plain[path] = event.value
    elif kind is _MAP_START:
        _mark_mapping(marks, event, path, depth)
    elif kind is _SEQ_START:
        _open(event, _SEQ, depth)
        get, index = marks.get, 0
        while True:
            event = get()
            if type(event) is _SEQ_END:
                return
            _mark(marks, event, (*path, index), depth + 1)
            index += 1
    else:
        raise _Unusual  # an alias, or an event this pass does not know


def _mark_mapping(marks: _Marks, start: Any, path: JsonPath, depth: int) -> None:
    _open(start, _MAP, depth)
    get, keys = marks.get, marks.keys
    while True:
        event = get()
        if type(event) is not _SCALAR_EVENT:
            if type(event) is _MAP_END:
                return
            raise _Unusual  # a mapping or a sequence used as a key, or an alias
        if event.anchor is not None:
            raise _Unusual
        child = (*path, event.value)
        if child in keys:
            raise _Unusual  # a duplicate key
        start = event.start_mark
        keys[child] = Position(start.line + 1, start.column + 1)
        _mark(marks, get(), child, depth + 1)


def _scalar_tag(marks: _Marks, event: Any) -> str:
    """The tag the composer gives a scalar event (as in ``_scalar``, without its regexes)."""
    tag: str | None = event.tag
    if tag is None or tag == "!":
        implicit, value = event.implicit, event.value
        if not implicit[0] or (value and value[0] not in marks.table):
            return _STR
        resolved: str = marks.loader.resolve(yaml.ScalarNode, value, implicit)
        return resolved
    return tag


_NESTING = {
    yaml.MappingStartEvent: 1,
    yaml.SequenceStartEvent: 1,
    yaml.MappingEndEvent: -1,
    yaml.SequenceEndEvent: -1,
}


def _compose_fast(text: str) -> tuple[Any, yaml.Node | None] | None:
    """Compose with libyaml when the text is plainly acceptable; None: use the Python path.

    The pure-Python composer is ~10x slower (minutes for a 100k-user manifest). libyaml
    gives the same nodes and marks, but its error messages and its character rules
    differ, so it is used only for text the Python loader would accept too: printable
    characters only, no anchors or aliases, shallow nesting, one document. Anything
    else, valid or not, goes through ``_ManifestLoader`` for its exact messages.
    """
    fast_loader = getattr(yaml, "CSafeLoader", None)
    if fast_loader is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    may_alias = "&" in text or "*" in text  # anchors and aliases need one of these
    try:
        depth = 0
        for event in yaml.parse(text, Loader=fast_loader):
            step = _NESTING.get(type(event), 0)
            depth += step
            if step > 0 and depth >= MAX_DEPTH - 1:
                return None
            if may_alias and (isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)):
                return None
        loader = fast_loader(text)
        return loader, loader.get_single_node()
    except yaml.YAMLError:
        return None


def _plain(value: Any) -> Any:
    """Scalars the manifest can hold: str, int, float, bool, None and date."""
    return value if isinstance(value, str | int | float | bool | date) or value is None else None


def _position(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def _reason(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _yaml_problem(error: yaml.YAMLError, text: str, filename: str) -> Problem:
    """A parser error at the parser's own position, with a hint for the usual causes."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if isinstance(error, _Refused):
            return Problem(filename, line, col, str(error.problem))
        if error.context and "single document" in error.context:
            message = "a manifest file holds one YAML document; remove the '---' or split the file"
            return Problem(filename, line, col, message)
        return Problem(filename, line, col, f"invalid YAML: {_detail(error, line)}")
    if isinstance(error, yaml.reader.ReaderError):
        line, col = _line_col(text, error.position)
        message = f"character {chr(error.character)!r} is not allowed in YAML; remove it"
        return Problem(filename, line, col, message)
    return Problem(filename, 1, 1, f"invalid YAML: {_reason(error)}")


def _detail(error: yaml.MarkedYAMLError, line: int) -> str:
    """PyYAML splits messages as context + "but found ..."; put them in reading order."""
    problem = error.problem or "unreadable YAML"
    context = error.context
    if context and error.context_mark and error.context_mark.line + 1 != line:
        context += f" at line {error.context_mark.line + 1}"
    if not context:
        detail = problem
    elif problem.startswith("but "):
        detail = f"{context} {problem}"
    else:
        detail = f"{problem} ({context})"
    tab = "\t" in problem or "'\\t'" in problem  # PyYAML writes a tab as '\t'
    return detail + ("; indent with spaces, not tabs" if tab else "")


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in ``text``."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
