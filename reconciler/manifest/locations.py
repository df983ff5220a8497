"""Where each value of a manifest file came from, so every problem can say file:line:col.

Pydantic reports errors by ``loc`` (a JSON path such as ``("users", 3, "email")``);
the YAML composer knows positions. This module joins the two: the parser records
the start of every key and value by JSON path, and a problem is placed at the
closest recorded ancestor when its exact path has no node (a missing key, say).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.errors import Problem

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column."""

    line: int
    col: int


class Locations:
    """Positions of the keys and values of one file, by JSON path.

    Positions cost more to collect than the data itself (a mark per node), and a
    valid manifest never needs them. So a file read on the fast path gets
    ``Locations`` with a ``source``: a callable that reads that one file's positions
    again (``yamlsource.parse_positions``: libyaml's marks only) the first time a
    problem or notice asks where something is. Every
    answer is the same as if the positions had been collected up front.
    """

    __slots__ = ("_keys", "_plain", "_source", "_values", "filename")

    def __init__(
        self,
        filename: str,
        values: Mapping[JsonPath, Position] | None = None,
        keys: Mapping[JsonPath, Position] | None = None,
        plain: Mapping[JsonPath, str] | None = None,
        *,
        source: Callable[[], Locations] | None = None,
    ) -> None:
        self.filename = filename
        self._values: Mapping[JsonPath, Position] = values or {}
        self._keys: Mapping[JsonPath, Position] = keys or {}
        self._plain: Mapping[JsonPath, str] = plain or {}
        self._source = source

    def _resolve(self) -> None:
        if self._source is not None:
            found, self._source = self._source(), None
            self._values, self._keys, self._plain = found.values, found.keys, found.plain

    @property
    def resolved(self) -> bool:
        """Whether positions are known (collected up front or computed on demand)."""
        return self._source is None

    @property
    def values(self) -> Mapping[JsonPath, Position]:
        """Where each value starts, by JSON path."""
        self._resolve()
        return self._values

    @property
    def keys(self) -> Mapping[JsonPath, Position]:
        """Where each mapping key starts, by the JSON path of its value."""
        self._resolve()
        return self._keys

    @property
    def plain(self) -> Mapping[JsonPath, str]:
        """The source text of unquoted non-string scalars (``no``, ``0755``), by path."""
        self._resolve()
        return self._plain

    def closest(self, path: JsonPath) -> JsonPath:
        """The longest prefix of ``path`` that exists in the file (``()`` at worst)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.values:
                return path[:end]
        return ()

    def position(self, path: JsonPath, *, on_key: bool = False) -> Position:
        """Where to point for ``path``: its key when asked and known, else its value."""
        if on_key and path in self.keys:
            return self.keys[path]
        return self.values.get(self.closest(path), Position(1, 1))

    def problem(self, path: JsonPath, message: str, *, on_key: bool = False) -> Problem:
        at = self.position(path, on_key=on_key)
        return Problem(self.filename, at.line, at.col, message)

    def ref(self, path: JsonPath, *, on_key: bool = False) -> str:
        """``file:line:col`` of ``path``, for messages that name another location."""
        at = self.position(path, on_key=on_key)
        return f"{self.filename}:{at.line}:{at.col}"


def dotted(path: JsonPath) -> str:
    """``("users", 3, "email")`` -> ``users[3].email``: the name a reader can search for."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def prefixed(path: JsonPath, message: str) -> str:
    """``users[3]: message``, or just the message for the top level of a file."""
    where = dotted(path)
    return f"{where}: {message}" if where else message


def shorten(text: str, limit: int = 40) -> str:
    """Keep echoed values readable in a terminal line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
