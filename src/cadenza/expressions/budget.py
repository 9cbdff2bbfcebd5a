"""What one expression evaluation may spend: CPU time, size of values, items.

Every evaluation (YAQL, Jinja, JSONata, JSONPath, States intrinsics) runs under
an :class:`ExpressionBudget`. Going over it stops the evaluation with an
:class:`~cadenza.model.errors.ExpressionBudgetExceeded` (code
``expression.budget_exceeded``) naming the expression and the limit; each
language raises it as its own failure type too, so the interpreters report it
through the error path they already have, as data.

How the budget is enforced, language by language:

* sizes are checked where values are made (string and list repetition, padding,
  concatenation, rendered output, function results) and on every result, so a
  value over ``max_bytes`` is refused before it reaches a context or a history;
* a collection or iterator over ``max_items`` items is refused where the
  language reads it (YAQL's own ``yaql.limitIterators`` and
  ``yaql.memoryQuota`` options are driven from the budget);
* CPU time is read at hooks the libraries call often (a JSONata node, a Jinja
  call, attribute or output, a YAQL function call), through :meth:`Meter.tick`.

The clock is not read here: the pure core imports no clock, so whoever runs
evaluations hands one in (``configure(cpu_clock=time.thread_time)`` once per
process, or ``applied(budget, cpu_clock=...)`` around a block). Without a clock
the size and item limits still hold, and the CPU limit does not.

Designs tried and rejected: a watchdog thread raising an asynchronous exception
in the evaluating thread (needs a thread and a clock in the pure core, and the
exception can land inside a library's cleanup code); ``sys.settrace`` or
``sys.setprofile`` (several times slower on every evaluation); ``SIGALRM``
(main thread only); a subprocess per evaluation (milliseconds each, and the
scope's functions cannot cross). What hooks cannot stop is a single C-level
call that runs long: the next hook after it trips the budget, but not before
it returns.

Regular expressions are such calls, so the ones the languages run for us
(StackStorm's ``regex_*`` functions in YAQL and Jinja, YAQL's own ``regex()``,
``=~``, ``!~`` and friends through ``yaql_regex``, JSONata's regex
literals in ``$match``, ``$replace``, ``$contains``, ``$split``) run on the
``regex`` package through :class:`BoundedPattern`, whose every call is given
what is left of the CPU budget as its ``timeout=``: a catastrophic pattern
stops there with ``expression.budget_exceeded`` (limit ``cpu_seconds``).
That timeout is measured by the ``regex`` package in wall time, a bound the
pure core does not read itself.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from cadenza.model.errors import CadenzaError, ExpressionBudgetExceeded

__all__ = [
    "BoundedPattern",
    "BudgetInterrupt",
    "BudgetSettings",
    "CpuClock",
    "ExpressionBudget",
    "Meter",
    "applied",
    "bounded_pattern",
    "budget_detail",
    "configure",
    "current_meter",
    "current_settings",
    "metered",
    "shorten",
    "size_over",
]

T = TypeVar("T")

CpuClock = Callable[[], float]
"""Seconds of CPU time used by the calling thread (``time.thread_time``)."""

MIB = 1024 * 1024


@dataclass(frozen=True)
class ExpressionBudget:
    """The most one evaluation of one expression may use.

    ``cpu_seconds``: CPU time (enforced when a CPU clock is configured);
    ``max_bytes``: the size of any one value it makes, counted as the length
    of its JSON text (characters of strings, plus punctuation), rendered
    output included; ``max_items``: items in one collection or iterator it
    reads or makes.
    """

    cpu_seconds: float = 1.0
    max_bytes: int = 10 * MIB
    max_items: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "max_bytes", "max_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise CadenzaError(
                    f"ExpressionBudget.{name} must be a positive number, not {value!r}"
                )


@dataclass(frozen=True)
class BudgetSettings:
    """The budget evaluations run under, and the CPU clock that measures them."""

    budget: ExpressionBudget
    cpu_clock: CpuClock | None


_UNSET: Any = object()
_process_settings = BudgetSettings(ExpressionBudget(), None)
_block_settings: ContextVar[BudgetSettings | None] = ContextVar("expression_budget", default=None)


def configure(budget: ExpressionBudget | None = None, *, cpu_clock: Any = _UNSET) -> None:
    """Set the process-wide budget and CPU clock (``None`` turns the CPU limit off).

    Arguments left out keep their current value. ``applied`` overrides these
    for a block of code.
    """
    global _process_settings
    clock = _process_settings.cpu_clock if cpu_clock is _UNSET else cpu_clock
    _process_settings = BudgetSettings(budget or _process_settings.budget, clock)


@contextlib.contextmanager
def applied(budget: ExpressionBudget, *, cpu_clock: Any = _UNSET) -> Iterator[None]:
    """Evaluate under ``budget`` (and ``cpu_clock``) inside the ``with`` block.

    An engine wraps its decisions with this to give them its own budget; the
    setting follows the context (thread or task) it was made in.
    """
    clock = current_settings().cpu_clock if cpu_clock is _UNSET else cpu_clock
    token = _block_settings.set(BudgetSettings(budget, clock))
    try:
        yield
    finally:
        _block_settings.reset(token)


def current_settings() -> BudgetSettings:
    """The budget and clock evaluations started now run under."""
    return _block_settings.get() or _process_settings


class BudgetInterrupt(BaseException):
    """Stops an evaluation that went over its budget; private to the evaluators.

    A ``BaseException`` so that the libraries' own ``except Exception`` clauses
    let it through; :func:`metered` turns it into the public error.
    """

    def __init__(self, limit: str, text: str) -> None:
        super().__init__(text)
        self.limit = limit
        self.text = text


_TICKS_PER_CLOCK_READ = 16
"""Hook calls between two readings of the CPU clock (reading it costs a system call)."""


class Meter:
    """The running account of one evaluation: the hooks call it, it trips the budget."""

    __slots__ = ("_clock", "_countdown", "_deadline", "budget", "expression", "tripped")

    def __init__(self, expression: str, budget: ExpressionBudget, clock: CpuClock | None) -> None:
        self.expression = expression
        self.budget = budget
        self._clock = clock
        self._deadline = clock() + budget.cpu_seconds if clock is not None else 0.0
        self._countdown = _TICKS_PER_CLOCK_READ
        #: The first interrupt raised; kept so that a library swallowing it does
        #: not hide it (the evaluation fails anyway when it returns).
        self.tripped: BudgetInterrupt | None = None

    def tick(self) -> None:
        """One unit of work; every few, compare the CPU clock with the deadline."""
        self._countdown -= 1
        if self._countdown > 0:
            return
        self._countdown = _TICKS_PER_CLOCK_READ
        if self.tripped is not None:
            raise self.tripped
        if self._clock is not None and self._clock() > self._deadline:
            self.trip("cpu_seconds", f"used more than {self.budget.cpu_seconds:g} s of CPU time")

    def seconds_left(self) -> float:
        """CPU seconds the evaluation may still use (all of them without a clock)."""
        if self._clock is None:
            return float(self.budget.cpu_seconds)
        return self._deadline - self._clock()

    def check_clock(self) -> None:
        """Compare the CPU clock with the deadline now (after work no hook saw)."""
        self._countdown = 1
        self.tick()

    def trip(self, limit: str, what: str) -> None:
        """Stop the evaluation: it ``what`` (over the ``limit`` budget)."""
        interrupt = BudgetInterrupt(limit, what)
        if self.tripped is None:
            self.tripped = interrupt
        raise interrupt

    def check_length(self, length: int, what: str = "a value") -> None:
        """Refuse ``what`` of ``length`` characters or items before it is made."""
        if length > self.budget.max_bytes:
            self.trip("max_bytes", f"would make {what} of {length} characters or items")

    def check_items(self, count: int) -> None:
        """Refuse a collection of ``count`` items."""
        if count > self.budget.max_items:
            limit = self.budget.max_items
            self.trip("max_items", f"read or made a collection of more than {limit} items")

    def check_value(self, value: Any) -> None:
        """Refuse a value whose JSON text would be over ``max_bytes``."""
        if size_over(value, self.budget.max_bytes):
            self.trip("max_bytes", f"made a value over {self.budget.max_bytes} bytes")


_current_meter: ContextVar[Meter | None] = ContextVar("expression_meter", default=None)


def current_meter() -> Meter | None:
    """The meter of the evaluation running now, or ``None`` outside any."""
    return _current_meter.get()


def metered(
    evaluate: Callable[[], T],
    failure: Callable[[str, str], Exception],
    expression: str = "",
) -> T:
    """``evaluate()`` under the current budget, its result size-checked.

    On an overrun, raises ``failure(detail, limit)``: the language's own
    failure type that is also an ``ExpressionBudgetExceeded``, where ``detail``
    reads like ``expression.budget_exceeded: used more than 1 s of CPU time
    (limit cpu_seconds=1 per evaluation)`` and ``limit`` is the budget's field
    name. An evaluation started inside another one (a re-evaluated result, a
    path read by an intrinsic) shares the outer one's meter.
    """
    if _current_meter.get() is not None:
        return evaluate()
    settings = current_settings()
    meter = Meter(expression, settings.budget, settings.cpu_clock)
    token = _current_meter.set(meter)
    try:
        result = evaluate()
        if meter.tripped is not None:
            raise meter.tripped
        meter.check_value(result)
    except BudgetInterrupt as interrupt:
        detail = budget_detail(interrupt.limit, interrupt.text, settings.budget)
        raise failure(detail, interrupt.limit) from None
    except RecursionError:
        what = "nested deeper than the interpreter's stack allows"
        raise failure(budget_detail("max_depth", what, settings.budget), "max_depth") from None
    finally:
        _current_meter.reset(token)
    return result


def budget_detail(limit: str, what: str, budget: ExpressionBudget) -> str:
    """``expression.budget_exceeded: <what> (limit <name>=<value> per evaluation)``."""
    value = getattr(budget, limit, None)
    if value is None:
        shown = limit
    elif isinstance(value, float):
        shown = f"{limit}={value:g}"
    else:
        shown = f"{limit}={value}"
    return f"expression.budget_exceeded: {what} (limit {shown} per evaluation)"


def shorten(text: str, keep: int = 200) -> str:
    """``text``, cut to ``keep`` characters for a message."""
    return text if len(text) <= keep else text[:keep] + "..."


def size_over(value: Any, limit: int) -> bool:
    """Whether the JSON text of ``value`` would be longer than ``limit``.

    Walks the value without recursion and stops as soon as it is over, so the
    cost is bounded by ``limit`` however big or deep the value is (a value
    that holds itself is over any limit).
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 + len(item)
            for key, member in item.items():
                total += len(key) + 3 if isinstance(key, str) else 8
                stack.append(member)
        elif isinstance(item, list | tuple):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 8
        if total > limit:
            return True
    return False


# --- regular expressions ------------------------------------------------------------

#: The shortest timeout a regular expression is given (``regex`` refuses 0).
_MIN_REGEX_SECONDS = 0.001


class BoundedPattern:
    """A regular expression compiled by the ``regex`` package (its ``re``-compatible
    VERSION0), each of whose runs may take only what is left of the budget.

    The methods are those of ``re.Pattern`` that the languages use; each one
    passes ``timeout=`` and turns the package's ``TimeoutError`` into a budget
    overrun. ``finditer`` and ``findall`` finish the search at once, under one
    timeout, so that no search runs after its evaluation ended.
    """

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        import regex  # here: only evaluations that use regular expressions pay for it

        self.pattern = pattern
        self.flags = flags
        try:
            self._compiled: Any = regex.compile(pattern, flags | regex.VERSION0)
        except regex.error as exc:
            raise _as_re_error(exc) from None

    @property
    def groups(self) -> int:
        """How many capturing groups the pattern has."""
        return int(self._compiled.groups)

    def _run(self, method: str, *args: Any, whole: bool = False) -> Any:
        """``method`` of the compiled pattern under the budget (``whole``: its
        iterator read to the end inside it)."""
        meter = _current_meter.get()
        left = current_settings().budget.cpu_seconds if meter is None else meter.seconds_left()
        if left <= 0 and meter is not None:
            meter.check_clock()
        import regex

        try:
            found = getattr(self._compiled, method)(*args, timeout=max(left, _MIN_REGEX_SECONDS))
            return list(found) if whole else found
        except regex.error as exc:
            if method == "sub" and isinstance(args[0], str):
                # What ``re`` says of a bad template (its group and position),
                # which callers such as JSONata's $replace read to recover.
                re.compile(self.pattern, self.flags).sub(args[0], "")
            raise _as_re_error(exc) from None
        except TimeoutError:
            what = f"ran the regular expression {shorten(self.pattern, 80)!r} too long"
            if meter is not None:
                meter.trip("cpu_seconds", what)
            raise ExpressionBudgetExceeded(
                budget_detail("cpu_seconds", what, current_settings().budget),
                expression=self.pattern,
                limit="cpu_seconds",
            ) from None

    def search(self, string: str, pos: int = 0) -> Any:
        """The first match anywhere in ``string``, or None."""
        return self._run("search", string, pos)

    def match(self, string: str, pos: int = 0) -> Any:
        """The match at the start of ``string``, or None."""
        return self._run("match", string, pos)

    def fullmatch(self, string: str, pos: int = 0) -> Any:
        """The match of the whole of ``string``, or None."""
        return self._run("fullmatch", string, pos)

    def finditer(self, string: str) -> Iterator[Any]:
        """Every match, all found before the first is returned."""
        return iter(self._run("finditer", string, whole=True))

    def findall(self, string: str) -> list[Any]:
        """What ``re.findall`` returns: the matches' texts or groups."""
        return list(self._run("findall", string))

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        """``string`` with matches replaced by ``repl`` (a template or a function)."""
        return str(self._run("sub", repl, string, count))

    def split(self, string: str, maxsplit: int = 0) -> list[Any]:
        """``string`` split where the pattern matches."""
        return list(self._run("split", string, maxsplit))


def _as_re_error(exc: Any) -> re.error:
    """An error of the ``regex`` package as the ``re.error`` callers expect."""
    return re.error(str(exc.msg), exc.pattern, exc.pos)


@functools.lru_cache(maxsize=512)
def bounded_pattern(pattern: str, flags: int = 0) -> BoundedPattern:
    """``pattern`` compiled once (``re``'s flag values) as a :class:`BoundedPattern`."""
    return BoundedPattern(pattern, flags)
