"""The functions Orquesta expressions can call, written once for both languages.

Each function takes the :class:`Scope` first; the YAQL and Jinja front ends bind it.
Failures raise :class:`FunctionFailure` with the class name Orquesta reports, so that
error entries read the same as Orquesta's.

* Orquesta's own: ``ctx``, ``result``, ``item``, ``succeeded``, ``failed``, ``completed``,
  ``task_status``, ``json``, ``zip``.
* StackStorm's: ``task`` and ``st2kv`` (answered from the values recorded in the scope,
  not from a database; :class:`DatastoreView`),
  plus the pure data helpers of :mod:`cadenza.expressions.st2_data`.
* ``random`` and ``now`` are replaced by versions driven by the execution's seed and the
  decision's recorded time, so that replay gives the same values.
"""

from __future__ import annotations

import datetime
import itertools
import json as json_module
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cadenza.expressions.budget import bounded_pattern
from cadenza.expressions.scope import FunctionFailure, Scope
from cadenza.model.events import JSON

COMPLETED_STATUSES = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})

_EVALUATION = "ExpressionEvaluationException"


def ctx(scope: Scope, key: Any = None) -> Any:
    """The whole context without private ``__`` names, or one variable of it."""
    if key is None or key == "":
        return {k: v for k, v in scope.variables.items() if not str(k).startswith("__")}
    if isinstance(key, str) and key.startswith("__"):
        raise FunctionFailure(
            "VariableInaccessibleError",
            f'The variable "{key}" is for internal use and inaccessible.',
        )
    if key not in scope.variables:
        raise FunctionFailure("VariableUndefinedError", f'The variable "{key}" is undefined.')
    return scope.variables[key]


def _current(scope: Scope) -> Any:
    if scope.current_task is None:
        raise FunctionFailure(_EVALUATION, "The current task is not set in the context.")
    return scope.current_task


def result(scope: Scope) -> Any:
    """The result of the task whose transition or retry is being evaluated."""
    return _current(scope).result


def task_status(scope: Scope, name: Any, route: Any = None) -> str:
    """Status of task ``name`` on the current route (``"null"`` if it has not run)."""
    if route is None:
        route = scope.current_task.route if scope.current_task is not None else 0
    return scope.facts.task_status(str(name), int(route))


def succeeded(scope: Scope) -> bool:
    current = _current(scope)
    return scope.facts.task_status(current.name, current.route) == "succeeded"


def failed(scope: Scope) -> bool:
    current = _current(scope)
    return scope.facts.task_status(current.name, current.route) == "failed"


def completed(scope: Scope) -> bool:
    current = _current(scope)
    return scope.facts.task_status(current.name, current.route) in COMPLETED_STATUSES


def item(scope: Scope, key: Any = None) -> Any:
    """The current with-items item, or one field of it."""
    current = scope.item if scope.has_item else None
    if not key:
        return current
    if not isinstance(current, Mapping):
        raise FunctionFailure(_EVALUATION, "Item is not type of collections.Mapping.")
    if key not in current:
        raise FunctionFailure(_EVALUATION, f'Item does not have key "{key}".')
    return current[key]


def json(value: Any) -> Any:
    """Parse a JSON string; a plain dict is returned as it is."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise FunctionFailure("TypeError", "Given object is not typeof string.")
    try:
        return json_module.loads(value)
    except ValueError as exc:
        raise FunctionFailure("JSONDecodeError", str(exc)) from exc


def zip_lists(*lists: Any, pad: Any = None) -> Any:
    """Zip lists, padding the shorter ones with ``pad``; ``None`` counts as empty."""
    columns = [[] if value is None else list(value) for value in lists]
    if len(columns) == 1:
        return lists[0] if lists[0] is not None else []
    return [list(row) for row in itertools.zip_longest(*columns, fillvalue=pad)]


def task(scope: Scope, name: Any = None, route: Any = None) -> Any:
    """StackStorm's ``task()``: the latest run of a task on a route."""
    if name is None:
        name = _current(scope).name
    if route is None:
        route = scope.current_task.route if scope.current_task is not None else 0
    record = scope.facts.task_record(str(name), int(route))
    if record is None:
        raise FunctionFailure(_EVALUATION, f'Unable to find task execution for "{name}".')
    return record


#: ``st2kv()`` called without ``default``.
_NO_DEFAULT: Any = object()

#: The key prefix naming StackStorm's system scope (``st2kv('system.key')``).
_SYSTEM_SCOPE = "system."


class DatastoreView(Mapping[str, JSON]):
    """The datastore values one execution reads: recorded when it started.

    ``system`` and ``user`` hold the values of each scope as stored (an
    encrypted value as its ``fernet:`` text, named in ``encrypted``);
    ``decrypt`` turns such a text into the clear one, or is None when no key
    is configured. ``override`` answers first, as the plain map given to the
    front end in code always did (``system.`` stripped). As a mapping, the
    keys are the names ``st2kv`` takes: ``system.<key>`` and user keys.
    """

    def __init__(
        self,
        system: Mapping[str, JSON] | None = None,
        user: Mapping[str, JSON] | None = None,
        *,
        encrypted: Mapping[str, Any] | None = None,
        partial: Any = (),
        decrypt: Callable[[str], str] | None = None,
        override: Mapping[str, JSON] | None = None,
    ) -> None:
        self.system = dict(system or {})
        self.user = dict(user or {})
        given = encrypted or {}
        self.encrypted = {
            scope: frozenset(str(k) for k in given.get(scope) or ()) for scope in ("system", "user")
        }
        self.partial = frozenset(str(p) for p in partial or ())
        self.decrypt = decrypt
        self.override = dict(override or {})

    def lookup(self, key: str) -> tuple[bool, JSON, bool]:
        """``(found, value, encrypted)`` of ``st2kv(key)``."""
        name = key[len(_SYSTEM_SCOPE) :] if key.startswith(_SYSTEM_SCOPE) else key
        if name in self.override:
            return True, self.override[name], False
        if key.startswith(_SYSTEM_SCOPE):
            found = name in self.system
            return found, self.system.get(name), name in self.encrypted["system"]
        found = key in self.user
        return found, self.user.get(key), key in self.encrypted["user"]

    def missing(self, key: str) -> str:
        """Why ``key`` has no value, for the error message."""
        scope = "system" if key.startswith(_SYSTEM_SCOPE) else "user"
        if scope in self.partial:
            return (
                f'The key "{key}" was not among the datastore values recorded when the '
                f"execution started (its {scope} scope had more entries than are recorded)."
            )
        return f'The key "{key}" does not exist in the StackStorm datastore.'

    def __getitem__(self, key: str) -> JSON:
        found, value, _ = self.lookup(key)
        if not found:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        names = {*(_SYSTEM_SCOPE + k for k in self.system), *self.user, *self.override}
        return iter(sorted(names))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def st2kv(scope: Scope, key: Any, decrypt: Any = False, default: Any = _NO_DEFAULT) -> Any:
    """StackStorm's datastore lookup, answered from the execution's recorded values.

    ``system.<key>`` reads the system scope, any other key the user scope of the
    user the execution runs as (with a plain map given to the front end, both
    read the map). A missing key gives ``default`` when one is given, even
    ``null``, and fails otherwise. An encrypted value is returned encrypted
    unless ``decrypt`` is true; decrypting needs the key file.
    """
    if not isinstance(key, str):
        raise FunctionFailure("TypeError", "Given key is not typeof string.")
    kv = scope.kv
    if isinstance(kv, DatastoreView):
        found, value, encrypted = kv.lookup(key)
        if found:
            return _decrypted(kv, key, value) if encrypted and decrypt else value
        missing = kv.missing(key)
    else:
        name = key[len(_SYSTEM_SCOPE) :] if key.startswith(_SYSTEM_SCOPE) else key
        if name in kv:
            return kv[name]
        missing = f'The key "{key}" does not exist in the StackStorm datastore.'
    if default is not _NO_DEFAULT:
        return default
    raise FunctionFailure(_EVALUATION, missing)


def _decrypted(kv: DatastoreView, key: str, value: JSON) -> str:
    if kv.decrypt is None:
        raise FunctionFailure(
            "secret.key_invalid",
            f'The value of "{key}" is encrypted and no key is configured to decrypt it: '
            "give the key file with --key-file or CADENZA_KEY_FILE.",
        )
    try:
        return kv.decrypt(str(value))
    except Exception as exc:  # the key's own error names what is wrong with it
        raise FunctionFailure(
            "secret.undecryptable", f'The value of "{key}" cannot be decrypted: {exc}'
        ) from exc


class DatastoreAccess:
    """``st2kv`` as Jinja sees it in StackStorm: callable as the function, and
    ``st2kv.system.<key>`` / ``st2kv.user.<key>`` read a scope by attribute
    (the value as stored: an encrypted one stays encrypted)."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def __call__(self, key: Any, decrypt: Any = False, default: Any = _NO_DEFAULT) -> Any:
        return st2kv(self._scope, key, decrypt, default)

    @property
    def system(self) -> DatastoreScope:
        return DatastoreScope(self._scope, _SYSTEM_SCOPE)

    @property
    def user(self) -> DatastoreScope:
        return DatastoreScope(self._scope, "")


class DatastoreScope:
    """One scope of :class:`DatastoreAccess`: ``.key`` and ``["key"]`` read it."""

    def __init__(self, scope: Scope, prefix: str) -> None:
        self._scope = scope
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return st2kv(self._scope, self._prefix + name)

    def __getitem__(self, name: Any) -> Any:
        return st2kv(self._scope, self._prefix + str(name))


def seeded_random(scope: Scope, low: Any = None, high: Any = None) -> Any:
    """``random()`` in [0, 1), or ``random(a, b)`` an integer in [a, b], from the seed."""
    draw = scope.draw()
    if low is None:
        return draw
    if high is None:
        low, high = 0, low
    return int(low) + int(draw * (int(high) - int(low) + 1))


def recorded_now(scope: Scope) -> datetime.datetime:
    """The decision's recorded time (UTC), never the machine's clock."""
    return datetime.datetime.fromtimestamp(scope.now, tz=datetime.UTC)


SCOPED_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "ctx": ctx,
    "result": result,
    "item": item,
    "succeeded": succeeded,
    "failed": failed,
    "completed": completed,
    "task_status": task_status,
    "task": task,
    "st2kv": st2kv,
}
"""Functions that read the scope (the evaluators pass it as the first argument)."""

PURE_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "json": json,
    "zip": zip_lists,
}
"""Functions of their arguments only."""


# StackStorm's regular-expression functions, on patterns bounded by the budget
# (a catastrophic pattern stops with expression.budget_exceeded).


def regex_match(value: Any, pattern: Any) -> bool:
    """Whether ``pattern`` matches at the start of ``value``."""
    return bounded_pattern(pattern).match(value) is not None


def regex_search(value: Any, pattern: Any) -> bool:
    """Whether ``pattern`` matches anywhere in ``value``."""
    return bounded_pattern(pattern).search(value) is not None


def regex_replace(value: Any, pattern: Any, replacement: Any) -> str:
    """``value`` with every match of ``pattern`` replaced."""
    return bounded_pattern(pattern).sub(replacement, value)


def regex_substring(value: Any, pattern: Any, result_index: int = 0) -> Any:
    """The ``result_index``-th match of ``pattern`` in ``value``."""
    found = bounded_pattern(pattern).findall(value)
    if not found:
        raise FunctionFailure("Exception", f"Could not find pattern {pattern} in {value}")
    return found[result_index]


REGEX_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "regex_match": regex_match,
    "regex_search": regex_search,
    "regex_replace": regex_replace,
    "regex_substring": regex_substring,
}
"""Regular-expression functions (they replace ``st2_data``'s, which run on ``re``)."""
