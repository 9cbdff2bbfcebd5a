"""User conditions and actions, registered by name as Python callables.

A workspace names its conditions and actions; it never stores code. Give the
front end a :class:`TriggerFunctions` to resolve names in this process::

    functions = TriggerFunctions()

    @functions.condition("big-order")
    def big_order(ctx, event):
        return event["data"]["total"] > 1000

    engine = Engine(front_ends={"triggers": TriggersFrontEnd(functions=functions)})

or write ``module:function`` in the definition, which every process that
compiles it imports. Either way the callables must be deterministic
functions of ``(ctx, event)``: they run again when a workspace's state is
rebuilt from history.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from cadenza.model.errors import RegistryError

if TYPE_CHECKING:
    from cadenza.interpreters.triggers.builtins import Action, Condition

F = TypeVar("F", bound=Callable[..., Any])


class TriggerFunctions:
    """Named user conditions and actions (see the module docstring)."""

    def __init__(self) -> None:
        self.conditions: dict[str, Condition] = {}
        self.actions: dict[str, Action] = {}

    def condition(self, name: str) -> Callable[[F], F]:
        """Register the decorated function as the condition ``name``."""
        return self._register(self.conditions, name, "condition")

    def action(self, name: str) -> Callable[[F], F]:
        """Register the decorated function as the action ``name``."""
        return self._register(self.actions, name, "action")

    @staticmethod
    def _register(table: dict[str, Any], name: str, what: str) -> Callable[[F], F]:
        # Imported here: the triggers front end makes a ``TriggerFunctions`` in
        # every process that detects a definition's kind; few register any.
        from cadenza.interpreters.triggers.builtins import ACTIONS, CONDITIONS

        if name in CONDITIONS or name in ACTIONS:
            raise RegistryError(f"{name!r} is a built-in; choose another {what} name")
        if ":" in name:
            raise RegistryError(f"{what} names may not contain ':' (it marks module:function)")

        def register(function: F) -> F:
            if name in table:
                raise RegistryError(f"the {what} {name!r} is already registered")
            table[name] = function
            return function

        return register


def import_function(reference: str) -> Callable[..., Any]:
    """The callable a ``module:function`` reference names (imported now)."""
    module_name, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{reference} is {type(target).__name__}, not a function")
    return target  # type: ignore[no-any-return]
