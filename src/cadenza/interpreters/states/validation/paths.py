"""JSONPath mode: paths, reference paths, variables and intrinsic function calls.

Paths are parsed with ``jsonpath-ng`` (its extended grammar, which has
filters). Step Functions adds three roots on top of ``$``: ``$$`` (the context
object), ``$name`` (a variable) and, in ``.$`` fields, intrinsic function
calls ``States.Name(arg, …)``; here each root is turned into ``$`` before the
rest is handed to the parser. A *reference path* must name a single node:
only ``.name``, ``['name']`` and ``[n]`` steps.

Intrinsic calls are read by a small recursive-descent reader that checks the
function names, the argument count, the string escapes (only ``\\'``,
``\\{``, ``\\}`` and ``\\\\``) and nesting (at most 10 deep), and every path
argument.
"""

from __future__ import annotations

import functools
import re

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as _parse_jsonpath

from cadenza.interpreters.states.path_syntax import aws_path

_VARIABLE_ROOT = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_REFERENCE_STEPS = re.compile(
    r"""(?:
        \.[^.\[\]'"*?@,:()\s]+
      | \[\s*'(?:[^'\\]|\\.)*'\s*\]
      | \[\s*"(?:[^"\\]|\\.)*"\s*\]
      | \[\s*\d+\s*\]
    )*""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FUNCTION_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_LEGAL_ESCAPES = frozenset("'{}\\")
MAX_INTRINSIC_DEPTH = 10

# name -> (least, most) arguments; None = no upper bound
INTRINSIC_ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}

RESERVED_VARIABLE = "states"


def _root_to_dollar(text: str) -> str | None:
    """``text`` with its root (``$$``, ``$var`` or ``$``) replaced by ``$``; None if no root.

    The rest is read as AWS reads it (:func:`aws_path`: trailing space trimmed, ``.[``
    as ``[``)."""
    text = aws_path(text)
    if text.startswith("$$"):
        return "$" + text[2:]
    match = _VARIABLE_ROOT.match(text)
    if match:
        if match.group(1) == RESERVED_VARIABLE:
            return None
        return "$" + text[match.end() :]
    if text.startswith("$"):
        return text
    return None


@functools.lru_cache(maxsize=4096)
def _parses(text: str) -> bool:
    if text == "$":
        return True
    try:
        _parse_jsonpath(text)
    except (JsonPathParserError, JsonPathLexerError, ValueError, TypeError, AttributeError):
        return False
    except Exception:  # the grammar's own errors are not all typed
        return False
    return True


def is_path(text: str, *, context: bool = True, variables: bool = True) -> bool:
    """Whether ``text`` is a Step Functions path (``$…``, ``$$…``, ``$var…``)."""
    if not context and text.startswith("$$"):
        return False
    if not variables and _VARIABLE_ROOT.match(text) and not text.startswith("$$"):
        return False
    plain = _root_to_dollar(text)
    return plain is not None and _parses(plain)


def is_reference_path(text: str, *, context: bool = True, variables: bool = True) -> bool:
    """Whether ``text`` is a path that names exactly one node."""
    if not is_path(text, context=context, variables=variables):
        return False
    plain = _root_to_dollar(text)
    assert plain is not None
    return _REFERENCE_STEPS.fullmatch(plain, 1) is not None


def is_intrinsic_call(text: str) -> bool:
    """Whether ``text`` looks like an intrinsic function call (starts ``States.``)."""
    return text.lstrip().startswith("States.")


def intrinsic_problem(text: str) -> str | None:
    """Why ``text`` is not a well-formed intrinsic function call, or None if it is."""
    reader = _IntrinsicReader(text)
    try:
        reader.call(depth=1)
        reader.skip_space()
        if reader.index != len(text):
            raise _Malformed(f"unexpected text at {reader.index}")
    except _Malformed as exc:
        return str(exc)
    return None


def is_path_or_intrinsic(text: str) -> bool:
    """What a ``.$`` key may hold: a path, a variable reference or an intrinsic call."""
    if is_intrinsic_call(text):
        return intrinsic_problem(text) is None
    return is_path(text)


class _Malformed(ValueError):
    pass


class _IntrinsicReader:
    """Reads one intrinsic call from ``text`` (validation only; values are not built)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0

    def skip_space(self) -> None:
        while self.index < len(self.text) and self.text[self.index].isspace():
            self.index += 1

    def peek(self) -> str:
        return self.text[self.index] if self.index < len(self.text) else ""

    def call(self, depth: int) -> None:
        if depth > MAX_INTRINSIC_DEPTH:
            raise _Malformed(f"intrinsic functions nest more than {MAX_INTRINSIC_DEPTH} deep")
        self.skip_space()
        match = _FUNCTION_NAME.match(self.text, self.index)
        if not match:
            raise _Malformed("expected an intrinsic function name")
        name = match.group(0)
        if name not in INTRINSIC_ARITY:
            raise _Malformed(f"unknown intrinsic function {name}")
        self.index = match.end()
        self.skip_space()
        if self.peek() != "(":
            raise _Malformed(f"expected '(' after {name}")
        self.index += 1
        count = self.arguments(depth)
        least, most = INTRINSIC_ARITY[name]
        if count < least or (most is not None and count > most):
            raise _Malformed(f"{name} takes a different number of arguments than {count}")

    def arguments(self, depth: int) -> int:
        count = 0
        self.skip_space()
        if self.peek() == ")":
            self.index += 1
            return 0
        while True:
            self.argument(depth)
            count += 1
            self.skip_space()
            char = self.peek()
            self.index += 1
            if char == ")":
                return count
            if char != ",":
                raise _Malformed("expected ',' or ')' between arguments")

    def argument(self, depth: int) -> None:
        self.skip_space()
        char = self.peek()
        if char == "'":
            self.string()
        elif char == "$":
            self.path()
        elif self.text.startswith("States.", self.index):
            self.call(depth + 1)
        else:
            for literal in ("true", "false", "null"):
                if self.text.startswith(literal, self.index):
                    self.index += len(literal)
                    return
            match = _NUMBER.match(self.text, self.index)
            if not match:
                raise _Malformed(f"unexpected argument at {self.index}")
            self.index = match.end()

    def string(self) -> None:
        self.index += 1
        while self.index < len(self.text):
            char = self.text[self.index]
            if char == "\\":
                escaped = self.text[self.index + 1 : self.index + 2]
                if escaped not in _LEGAL_ESCAPES or not escaped:
                    raise _Malformed(f"illegal escape sequence '\\{escaped}'")
                self.index += 2
                continue
            self.index += 1
            if char == "'":
                return
        raise _Malformed("unterminated string literal")

    def path(self) -> None:
        start = self.index
        depth = 0
        quote = ""
        while self.index < len(self.text):
            char = self.text[self.index]
            if quote:
                if char == "\\":
                    self.index += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            self.index += 1
        text = self.text[start : self.index].rstrip()
        if not is_path(text):
            raise _Malformed(f"invalid path argument {text!r}")
