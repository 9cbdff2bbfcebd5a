"""The base class StackStorm's Python actions subclass, for packs run by Cadenza.

A pack's ``python-script`` action is a module with a class like::

    from st2common.runners.base_action import Action

    class Greet(Action):
        def run(self, name):
            return f"{self.config['greeting']}, {name}"

StackStorm is not installed next to Cadenza, so :func:`provide_st2common_module`
makes ``st2common.runners.base_action`` importable, holding :class:`Action` from this
module, unless a real ``st2common`` is installed (then the pack gets that one, and
Cadenza accepts a subclass of either).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from collections.abc import Mapping
from typing import Any

#: The module a StackStorm Python action imports its base class from.
BASE_ACTION_MODULE = "st2common.runners.base_action"


class Action:
    """What a Python action's ``self`` has: ``config`` (the pack config), ``logger``,
    and ``action_service`` (StackStorm's datastore access, which Cadenza does not offer:
    it is ``None``)."""

    def __init__(self, config: Mapping[str, Any] | None = None, action_service: Any = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.action_service = action_service
        self.logger = logging.getLogger(f"cadenza.packs.{type(self).__name__}")

    def run(self, **kwargs: Any) -> Any:
        """Do the action's work; return its result, or ``(succeeded, result)``."""
        raise NotImplementedError(f"{type(self).__name__} does not define run()")


def provide_st2common_module() -> None:
    """Make ``from st2common.runners.base_action import Action`` work (see the module
    docstring); does nothing if ``st2common`` is installed or already provided."""
    if BASE_ACTION_MODULE in sys.modules:
        return
    if "st2common" not in sys.modules and importlib.util.find_spec("st2common") is not None:
        return
    parts = BASE_ACTION_MODULE.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        module = sys.modules.get(name)
        if module is None:
            module = types.ModuleType(name, f"Provided by Cadenza for StackStorm packs ({name}).")
            module.__path__ = []  # a package, so the next part can be imported from it
            sys.modules[name] = module
            if depth > 1:
                setattr(sys.modules[".".join(parts[: depth - 1])], parts[depth - 1], module)
    base = sys.modules[BASE_ACTION_MODULE]
    base.Action = Action  # type: ignore[attr-defined]


def base_action_classes() -> tuple[type, ...]:
    """The classes a Python action may subclass: ours, and a real ``st2common``'s."""
    found: list[type] = [Action]
    module = sys.modules.get(BASE_ACTION_MODULE)
    other = getattr(module, "Action", None)
    if isinstance(other, type) and other is not Action:
        found.append(other)
    return tuple(found)
