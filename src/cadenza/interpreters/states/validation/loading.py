"""Loading: JSON text (or an already parsed mapping) to a document plus its line map.

The standard :mod:`json` module keeps no positions, so JSON text is read twice:
first by :func:`json.loads` (which gives the error and its position when the
text is not JSON at all), then by a small scanner here that builds the same
value while recording, for every member and array item, the line it starts
on. The line map is keyed by AWS's location syntax (``/States/X/Choices[0]``)
so a diagnostic's location finds its line directly. The scanner also notices
duplicate keys, which :mod:`json` silently collapses.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cadenza.interpreters.states.validation import messages

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_DECODER = json.JSONDecoder()
_TOKEN = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class ParsedJson:
    """A parsed JSON value (the definition, if it is an object), the source line of
    each location in it, the duplicate keys seen, and the text it was read from
    (no ``lines`` and no ``text`` when a mapping was given as is)."""

    value: Any
    lines: Mapping[str, int] = field(default_factory=dict)
    duplicate_keys: tuple[tuple[str, str], ...] = ()  # (location of object, key)
    text: str | None = None


class NotJson(ValueError):
    """The text is not JSON; ``where`` says where reading stopped, as AWS words it."""

    def __init__(self, message: str, where: str, line: int) -> None:
        super().__init__(message)
        self.where = where
        self.line = line


def _not_json(text: str, index: int) -> NotJson:
    """Describe the first error in ``text`` (at ``index``) as AWS's JSON reader does."""
    line = text.count("\n", 0, index) + 1
    line_start = text.rfind("\n", 0, index) + 1
    token = _TOKEN.match(text, index)
    if index >= len(text.rstrip()):
        reason, stop = messages.unexpected_end(), len(text)
    elif token:
        reason, stop = messages.unrecognized_token(token.group(0)), token.end()
    else:
        reason, stop = messages.unexpected_character(text[index]), index + 1
    where = messages.json_source(text, line, stop - line_start + 1)
    return NotJson(reason, where, line)


def child_location(parent: str, key: str) -> str:
    """The location of member ``key`` inside the object at ``parent``."""
    return f"/{key}" if parent == "/" else f"{parent}/{key}"


def item_location(parent: str, index: int) -> str:
    """The location of item ``index`` inside the array at ``parent``."""
    return f"{parent}[{index}]"


def load_document(source: str | Mapping[str, Any]) -> ParsedJson:
    """Read ``source``: JSON text is parsed with lines; a mapping is taken as is.

    Raises :class:`NotJson` when the text is not JSON. Whether the value is
    an object is left to the caller.
    """
    if not isinstance(source, str):
        return ParsedJson(value=source)
    try:
        json.loads(source, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise _not_json(source, exc.pos) from None
    except ValueError:  # NaN, Infinity: not JSON values
        raise _not_json(source, _first_constant(source)) from None
    scanner = _Scanner(source)
    start = _skip(source, 0)
    try:
        value, _ = scanner.value(start, "/")
    except RecursionError:
        raise NotJson(
            "the definition nests too deeply to be read (arrays or objects inside each other)",
            "/",
            1,
        ) from None
    return ParsedJson(
        value=value,
        lines=scanner.lines,
        duplicate_keys=tuple(scanner.duplicates),
        text=source,
    )


def _first_constant(text: str) -> int:
    match = re.search(r"-?(NaN|Infinity)", text)
    return match.start() if match else 0


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


class _Scanner:
    """Builds the value of well-formed JSON text, noting the line of each location."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.lines: dict[str, int] = {}
        self.duplicates: list[tuple[str, str]] = []

    def line_at(self, index: int) -> int:
        return bisect.bisect_left(self.newlines, index) + 1

    def value(self, index: int, location: str) -> tuple[Any, int]:
        self.lines.setdefault(location, self.line_at(index))
        char = self.text[index]
        if char == "{":
            return self.object(index, location)
        if char == "[":
            return self.array(index, location)
        if char == '"':
            return json.decoder.scanstring(self.text, index + 1)  # type: ignore[attr-defined,no-any-return]
        number = _NUMBER.match(self.text, index)
        if number and number.end() > index:
            text = number.group(0)
            parsed: Any = float(text) if number.group(1) or number.group(2) else int(text)
            return parsed, number.end()
        return _DECODER.raw_decode(self.text, index)

    def object(self, index: int, location: str) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        index = _skip(self.text, index + 1)
        if self.text[index] == "}":
            return result, index + 1
        while True:
            key_start = index
            key, index = json.decoder.scanstring(self.text, index + 1)  # type: ignore[attr-defined]
            where = child_location(location, key)
            if key in result:
                self.duplicates.append((location, key))
            self.lines[where] = self.line_at(key_start)
            index = _skip(self.text, index)  # at ':'
            index = _skip(self.text, index + 1)
            value, index = self._member_value(index, where)
            result[key] = value
            index = _skip(self.text, index)
            if self.text[index] == "}":
                return result, index + 1
            index = _skip(self.text, index + 1)  # past ','

    def _member_value(self, index: int, where: str) -> tuple[Any, int]:
        line = self.lines[where]
        value, end = self.value(index, where)
        self.lines[where] = line  # a member is located at its key
        return value, end

    def array(self, index: int, location: str) -> tuple[list[Any], int]:
        result: list[Any] = []
        index = _skip(self.text, index + 1)
        if self.text[index] == "]":
            return result, index + 1
        while True:
            value, index = self.value(index, item_location(location, len(result)))
            result.append(value)
            index = _skip(self.text, index)
            if self.text[index] == "]":
                return result, index + 1
            index = _skip(self.text, index + 1)
