"""The activity registry: action names mapped to Python callables.

A registry is an ordinary object; build as many as you like (one per worker,
one per test). :func:`default_registry` returns a fresh one holding the
built-in actions (``core.noop``, ``core.echo``, ``core.local``, ``core.http``,
``core.ask``).

An activity is any callable, sync or ``async def``. It receives the action's
input mapping as keyword arguments; a parameter annotated
:class:`~cadenza.workers.context.ActivityContext` (or, failing that, one
named ``context``) receives the live context instead, and an input key of
that name is refused.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cadenza.model.errors import ActionNotFound, RegistryError
from cadenza.workers.context import ActivityContext

F = TypeVar("F", bound=Callable[..., Any])

#: Action names: no whitespace (Orquesta's inline form ``action: core.echo message=hi``
#: splits the name off at the first space), and no leading or trailing dots. Colons,
#: slashes and ``$`` are allowed so that resource ARNs (``arn:aws:lambda:…:function:f``,
#: ``…:$LATEST``) can name actions.
_NAME = re.compile(r"[A-Za-z0-9_\-:/$]+(?:\.[A-Za-z0-9_\-:/$]+)*")

#: How many call shapes an activity remembers whether they bind (see ``Activity``).
_MAX_SHAPES = 64


@dataclass(frozen=True)
class Activity:
    """One registered activity and what was learnt about it at registration."""

    name: str
    fn: Callable[..., Any]
    signature: inspect.Signature
    is_async: bool
    context_param: str | None
    #: Called with the whole input as one argument (a Lambda-style handler taking
    #: an event), instead of the input's keys as keyword arguments.
    whole_input: bool = False
    #: Call shape (positional count, keyword names) -> why it does not bind, or
    #: None. Whether a call binds depends on its shape only, never on the values,
    #: and every attempt asks: binding once per shape spares it per attempt.
    _shape_errors: dict[tuple[int, tuple[str, ...]], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def description(self) -> str:
        """The first line of the callable's docstring, or ``""``."""
        doc = inspect.getdoc(self.fn) or ""
        return doc.splitlines()[0] if doc else ""

    def binding_error(self, positional: int, keywords: tuple[str, ...]) -> str | None:
        """Why a call with ``positional`` arguments and these keyword arguments (by
        name, in order) does not match the signature; None when it does."""
        shape = (positional, keywords)
        known = self._shape_errors
        if shape in known:
            return known[shape]
        try:
            self.signature.bind(*([None] * positional), **dict.fromkeys(keywords))
            error = None
        except TypeError as exc:
            error = str(exc)
        if len(known) < _MAX_SHAPES:
            # Inputs with ever new keys (each a new shape) must not grow it without end.
            known[shape] = error
        return error


class ActivityRegistry:
    """Action names mapped to activities.

    Registering a name twice is an error unless ``replace=True``, so that two
    packages cannot silently take over each other's actions.
    """

    def __init__(self) -> None:
        self._activities: dict[str, Activity] = {}

    def register(self, name: str, fn: F, *, replace: bool = False, whole_input: bool = False) -> F:
        """Register ``fn`` under ``name`` and return ``fn`` unchanged.

        With ``whole_input`` the activity is called with the task's input as its
        one positional argument (any JSON value), as a Lambda handler is.
        """
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise RegistryError(
                f"invalid action name {name!r}: use letters, digits, '_', '-' "
                "and dots between parts (for example 'billing.charge')",
                name=str(name),
            )
        if not callable(fn):
            raise RegistryError(f"action {name!r}: {fn!r} is not callable", name=name)
        if name in self._activities and not replace:
            raise RegistryError(
                f"action {name!r} is already registered; pass replace=True to override it",
                name=name,
            )
        self._activities[name] = _describe(name, fn, whole_input)
        return fn

    def activity(self, name: str | None = None, *, replace: bool = False) -> Callable[[F], F]:
        """Decorator form of :meth:`register`; ``name`` defaults to the function's name."""

        def decorate(fn: F) -> F:
            return self.register(name if name is not None else fn.__name__, fn, replace=replace)

        return decorate

    def get(self, name: str) -> Activity:
        """The activity registered under ``name``.

        Raises:
            ActionNotFound: nothing is registered under ``name``; the message
                suggests the closest registered names.
        """
        try:
            return self._activities[name]
        except KeyError:
            raise _not_found(name, self.names()) from None

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._activities)

    def __contains__(self, name: object) -> bool:
        return name in self._activities

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._activities)


def default_registry() -> ActivityRegistry:
    """A new registry holding the built-in actions."""
    # Imported here: the built-ins import this package's other modules, and
    # a worker that never asks for them need not load httpx.
    from cadenza.workers.builtins import BUILTINS
    from cadenza.workers.builtins.s3_items import register_s3_actions

    registry = ActivityRegistry()
    for name, fn in BUILTINS.items():
        registry.register(name, fn)
    # A distributed Map's items and results in S3, with boto3's own configuration
    # (a resource map's ``s3:`` entry replaces them with an explicit one).
    register_s3_actions(registry)
    return registry


def _not_found(name: str, known: list[str]) -> ActionNotFound:
    # Imported here: only an unknown action name needs suggestions, and every
    # process that builds a registry would pay for importing it.
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.7)
    message = f"no action is registered under {name!r}"
    if close:
        message += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    elif known:
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        message += f" (registered: {shown})"
    else:
        message += " (the registry is empty)"
    ref, _, rest = name.partition(" ")
    if "=" in rest and ref in known:
        # Orquesta reads ``core.echo message=hi`` as one action name: a bare word
        # is not an inline parameter value (StackStorm drops it too).
        message += (
            f"; {ref!r} is registered: quote the inline parameter values "
            '(message="hi"), or give them in an input block'
        )
    return ActionNotFound(message, name=name, suggestions=close)


def _describe(name: str, fn: Callable[..., Any], whole_input: bool = False) -> Activity:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"action {name!r}: cannot read the signature of {fn!r}: {exc}") from exc
    return Activity(
        name=name,
        fn=fn,
        signature=signature,
        is_async=_is_async(fn),
        context_param=_context_param(fn, signature),
        whole_input=whole_input,
    )


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def _context_param(fn: Callable[..., Any], signature: inspect.Signature) -> str | None:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        # Unresolvable annotations (forward references to names the module
        # never imports at runtime) fall back to their text below.
        hints = {}
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = [p for p in signature.parameters.values() if p.kind in keyword_kinds]
    for param in params:
        if _is_context_annotation(hints.get(param.name, param.annotation)):
            return param.name
    return next((p.name for p in params if p.name == "context"), None)


def _is_context_annotation(annotation: Any) -> bool:
    if annotation is ActivityContext:
        return True
    if isinstance(annotation, str):
        return re.search(r"\bActivityContext\b", annotation) is not None
    return any(arg is ActivityContext for arg in typing.get_args(annotation))
