"""Amazon States Language intrinsic functions (``States.Format(...)`` and friends).

``parse_call(text)`` turns the text of a ``.$`` value into a small tree;
``evaluate(tree, resolve, entropy)`` runs it. Paths inside arguments are
handed to ``resolve`` (the caller knows the input, the context object and the
variables); randomness comes from ``entropy``, a deterministic byte source the
caller derives from the execution's seed. Failures raise :class:`IntrinsicError`,
which the interpreter reports as ``States.IntrinsicFailure``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cadenza.expressions.budget import metered
from cadenza.model.errors import ExpressionBudgetExceeded

__all__ = [
    "Call",
    "IntrinsicBudgetExceeded",
    "IntrinsicError",
    "IntrinsicSyntaxError",
    "evaluate",
    "is_call",
    "java_text",
    "parse_call",
]

MAX_NESTING = 10


class IntrinsicError(Exception):
    """An intrinsic function failed at run time (``States.IntrinsicFailure``)."""


class IntrinsicBudgetExceeded(IntrinsicError, ExpressionBudgetExceeded):
    """The call went over the evaluation's budget (``expression.budget_exceeded``)."""


class IntrinsicSyntaxError(IntrinsicError):
    """The text is not a well-formed intrinsic function call."""


@dataclass(frozen=True)
class Call:
    """A parsed ``States.<name>(args...)`` call."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class PathArg:
    """A JSONPath argument (``$.x``, ``$$.x`` or ``$var``), resolved at run time."""

    path: str


@dataclass(frozen=True)
class Literal:
    """A literal argument (string, number, boolean or null).

    ``template`` is a string literal with its escaped braces still escaped
    (``\\{``), which is how ``States.Format`` tells literal braces from ``{}``.
    """

    value: Any
    template: str | None = None


def is_call(text: str) -> bool:
    """Whether ``text`` looks like an intrinsic call rather than a path."""
    return text.lstrip().startswith("States.")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"Invalid intrinsic function '{self.text}': {why}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def call(self, depth: int) -> Call:
        if depth > MAX_NESTING:
            raise self.fail("too many nested calls")
        self.skip()
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "."
        ):
            self.pos += 1
        name = self.text[start : self.pos]
        if not name.startswith("States.") or name[7:] not in _FUNCTIONS:
            raise self.fail(f"unknown function {name!r}")
        self.skip()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.fail("expected '('")
        self.pos += 1
        args: list[Any] = []
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] == ")":
            self.pos += 1
            return Call(name[7:], tuple(args))
        while True:
            args.append(self.argument(depth))
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail("unterminated call")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == ")":
                return Call(name[7:], tuple(args))
            if ch != ",":
                raise self.fail(f"unexpected {ch!r}")

    def argument(self, depth: int) -> Any:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("missing argument")
        ch = self.text[self.pos]
        if ch == "'":
            return Literal(*self.string())
        if ch == "$":
            return PathArg(self.path())
        if self.text.startswith("States.", self.pos):
            return self.call(depth + 1)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",)":
            self.pos += 1
        word = self.text[start : self.pos].strip()
        if word in ("true", "false"):
            return Literal(word == "true")
        if word == "null":
            return Literal(None)
        try:
            number = json.loads(word)
        except ValueError:
            raise self.fail(f"bad argument {word!r}") from None
        if not isinstance(number, int | float):
            raise self.fail(f"bad argument {word!r}")
        return Literal(number)

    def string(self) -> tuple[str, str]:
        self.pos += 1
        out: list[str] = []
        template: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                escaped = self.text[self.pos + 1]
                out.append(escaped)
                template.append("\\" + escaped if escaped in "{}\\" else escaped)
                self.pos += 2
                continue
            if ch == "'":
                self.pos += 1
                return "".join(out), "".join(template)
            out.append(ch)
            template.append(ch)
            self.pos += 1
        raise self.fail("unterminated string")

    def path(self) -> str:
        start = self.pos
        depth = 0
        quote: str | None = None
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            self.pos += 1
        return self.text[start : self.pos].strip()


def parse_call(text: str) -> Call:
    """Parse one intrinsic call; raises :class:`IntrinsicSyntaxError`."""
    parser = _Parser(text)
    call = parser.call(1)
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("trailing text")
    return call


def evaluate(call: Call, resolve: Callable[[str], Any], entropy: Callable[[int], bytes]) -> Any:
    """Run ``call``: ``resolve(path)`` gives a path argument's value, ``entropy(n)``
    gives ``n`` deterministic bytes for MathRandom and UUID.

    Raises :class:`IntrinsicError`; :class:`IntrinsicBudgetExceeded` (one too)
    when the call makes a value over the evaluation's budget.
    """

    def failure(detail: str, limit: str) -> Exception:
        return IntrinsicBudgetExceeded(
            f"States.{call.name}: {detail}", expression=f"States.{call.name}", limit=limit
        )

    return metered(lambda: _evaluate(call, resolve, entropy), failure, f"States.{call.name}")


def _evaluate(call: Call, resolve: Callable[[str], Any], entropy: Callable[[int], bytes]) -> Any:
    args = []
    for index, arg in enumerate(call.args):
        if call.name == "Format" and index == 0 and isinstance(arg, Literal) and arg.template:
            args.append(arg.template)
        elif isinstance(arg, Call):
            args.append(_evaluate(arg, resolve, entropy))
        elif isinstance(arg, PathArg):
            args.append(resolve(arg.path))
        else:
            args.append(arg.value)
    function = _FUNCTIONS[call.name]
    try:
        return function(args, entropy)
    except IntrinsicError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, ArithmeticError) as exc:
        raise IntrinsicError(f"States.{call.name} failed: {exc}") from exc


# --- the functions -------------------------------------------------------------------


def java_text(value: Any) -> str:
    """How AWS renders a value inside ``States.Format`` (Java's ``toString`` style)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_text(v) for v in value) + "]"
    return json.dumps(value)


def _count(args: list[Any], low: int, high: int | None, name: str) -> None:
    if len(args) < low or (high is not None and len(args) > high):
        raise IntrinsicError(f"States.{name} got {len(args)} arguments")


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntrinsicError(f"States.{name}: expected an integer, got {json.dumps(value)}")
    if isinstance(value, float) and not value.is_integer():
        raise IntrinsicError(f"States.{name}: expected an integer, got {value}")
    return int(value)


def _array(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise IntrinsicError(f"States.{name}: expected an array, got {json.dumps(value)}")
    return value


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise IntrinsicError(f"States.{name}: expected a string, got {json.dumps(value)}")
    return value


def _format(args: list[Any], _: Callable[[int], bytes]) -> str:
    _count(args, 1, None, "Format")
    template = _string(args[0], "Format")
    values = args[1:]
    out: list[str] = []
    used = 0
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if template.startswith("{}", i):
            if used >= len(values):
                raise IntrinsicError("States.Format: more placeholders than arguments")
            out.append(java_text(values[used]))
            used += 1
            i += 2
            continue
        out.append(ch)
        i += 1
    if used != len(values):
        raise IntrinsicError("States.Format: more arguments than placeholders")
    return "".join(out)


def _string_to_json(args: list[Any], _: Callable[[int], bytes]) -> Any:
    _count(args, 1, 1, "StringToJson")
    text = _string(args[0], "StringToJson")
    return json.loads(text) if text.strip() else None


def _json_to_string(args: list[Any], _: Callable[[int], bytes]) -> str:
    _count(args, 1, 1, "JsonToString")
    return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)


def _array_fn(args: list[Any], _: Callable[[int], bytes]) -> list[Any]:
    return list(args)


def _partition(args: list[Any], _: Callable[[int], bytes]) -> list[Any]:
    _count(args, 2, 2, "ArrayPartition")
    array, size = _array(args[0], "ArrayPartition"), _int(args[1], "ArrayPartition")
    if size <= 0:
        raise IntrinsicError("States.ArrayPartition: chunk size must be greater than 0")
    return [array[i : i + size] for i in range(0, len(array), size)]


def _contains(args: list[Any], _: Callable[[int], bytes]) -> bool:
    _count(args, 2, 2, "ArrayContains")
    return args[1] in _array(args[0], "ArrayContains")


def _range(args: list[Any], _: Callable[[int], bytes]) -> list[int]:
    _count(args, 3, 3, "ArrayRange")
    start, end, step = (_int(a, "ArrayRange") for a in args)
    if step == 0:
        raise IntrinsicError("States.ArrayRange: step must not be 0")
    values = range(start, end + (1 if step > 0 else -1), step)
    # Counted before it is made: a range of a billion numbers is refused at once.
    if len(values) > 1000:
        raise IntrinsicError("States.ArrayRange: more than 1000 elements")
    return list(values)


def _get_item(args: list[Any], _: Callable[[int], bytes]) -> Any:
    _count(args, 2, 2, "ArrayGetItem")
    array, index = _array(args[0], "ArrayGetItem"), _int(args[1], "ArrayGetItem")
    if not 0 <= index < len(array):
        raise IntrinsicError(f"States.ArrayGetItem: index {index} out of bounds")
    return array[index]


def _length(args: list[Any], _: Callable[[int], bytes]) -> int:
    _count(args, 1, 1, "ArrayLength")
    return len(_array(args[0], "ArrayLength"))


def _unique(args: list[Any], _: Callable[[int], bytes]) -> list[Any]:
    _count(args, 1, 1, "ArrayUnique")
    seen: set[str] = set()
    out = []
    for item in _array(args[0], "ArrayUnique"):
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _b64encode(args: list[Any], _: Callable[[int], bytes]) -> str:
    _count(args, 1, 1, "Base64Encode")
    text = _string(args[0], "Base64Encode")
    if len(text) > 10000:
        raise IntrinsicError("States.Base64Encode: input over 10000 characters")
    return base64.b64encode(text.encode()).decode()


def _b64decode(args: list[Any], _: Callable[[int], bytes]) -> str:
    _count(args, 1, 1, "Base64Decode")
    text = _string(args[0], "Base64Decode")
    if len(text) > 10000:
        raise IntrinsicError("States.Base64Decode: input over 10000 characters")
    return base64.b64decode(text.encode(), validate=True).decode()


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
_HASHES["SHA-512"] = "sha512"


def _hash(args: list[Any], _: Callable[[int], bytes]) -> str:
    _count(args, 2, 2, "Hash")
    algorithm = _string(args[1], "Hash")
    if algorithm not in _HASHES:
        raise IntrinsicError(f"States.Hash: unsupported algorithm {algorithm!r}")
    data = args[0] if isinstance(args[0], str) else json.dumps(args[0], separators=(",", ":"))
    return hashlib.new(_HASHES[algorithm], data.encode()).hexdigest()


def _merge(args: list[Any], _: Callable[[int], bytes]) -> dict[str, Any]:
    _count(args, 3, 3, "JsonMerge")
    left, right, deep = args
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise IntrinsicError("States.JsonMerge: both arguments must be objects")
    if deep is not False:
        raise IntrinsicError("States.JsonMerge: deep merge is not supported")
    return {**left, **right}


def _seeded_fraction(entropy: Callable[[int], bytes], seed: Any) -> float:
    raw = hashlib.sha256(json.dumps(seed).encode()).digest()[:8] if seed is not None else entropy(8)
    return int.from_bytes(raw, "big") / 2**64


def _random(args: list[Any], entropy: Callable[[int], bytes]) -> int:
    _count(args, 2, 3, "MathRandom")
    start, end = int(_number(args[0], "MathRandom")), int(_number(args[1], "MathRandom"))
    seed = _int(args[2], "MathRandom") if len(args) == 3 else None
    if end <= start:
        raise IntrinsicError("States.MathRandom: end must be greater than start")
    return start + math.floor(_seeded_fraction(entropy, seed) * (end - start))


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntrinsicError(f"States.{name}: expected a number, got {json.dumps(value)}")
    return value


def _add(args: list[Any], _: Callable[[int], bytes]) -> int:
    _count(args, 2, 2, "MathAdd")
    # AWS adds the integer parts (a fractional argument is truncated).
    return int(_number(args[0], "MathAdd")) + int(_number(args[1], "MathAdd"))


def _split(args: list[Any], _: Callable[[int], bytes]) -> list[str]:
    _count(args, 2, 2, "StringSplit")
    text, delimiters = _string(args[0], "StringSplit"), _string(args[1], "StringSplit")
    parts = [text]
    for delimiter in delimiters:
        parts = [piece for part in parts for piece in part.split(delimiter)]
    return [p for p in parts if p]


def uuid_from(raw: bytes) -> str:
    """A version-4 UUID string from 16 bytes."""
    b = bytearray(raw[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid(args: list[Any], entropy: Callable[[int], bytes]) -> str:
    _count(args, 0, 0, "UUID")
    return uuid_from(entropy(16))


_FUNCTIONS: dict[str, Callable[[list[Any], Callable[[int], bytes]], Any]] = {
    "Format": _format,
    "StringToJson": _string_to_json,
    "JsonToString": _json_to_string,
    "Array": _array_fn,
    "ArrayPartition": _partition,
    "ArrayContains": _contains,
    "ArrayRange": _range,
    "ArrayGetItem": _get_item,
    "ArrayLength": _length,
    "ArrayUnique": _unique,
    "Base64Encode": _b64encode,
    "Base64Decode": _b64decode,
    "Hash": _hash,
    "JsonMerge": _merge,
    "MathRandom": _random,
    "MathAdd": _add,
    "StringSplit": _split,
    "UUID": _uuid,
}
