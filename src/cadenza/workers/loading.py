"""Loading a user's activities by name, for ``cadenza worker --activities``."""

from __future__ import annotations

import importlib

from cadenza.model.errors import InputError
from cadenza.workers.registry import ActivityRegistry


def load_activities(registry: ActivityRegistry, spec: str) -> None:
    """Add the activities named by ``spec`` (``"package.module:name"``) to ``registry``.

    ``name`` is either an ``ActivityRegistry`` (its activities are copied) or
    a callable that takes the registry and registers into it.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InputError(f"--activities wants MODULE:NAME, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import {module_name!r} for --activities: {exc}") from exc
    target = getattr(module, attribute, None)
    if isinstance(target, ActivityRegistry):
        for name in target.names():
            registry.register(name, target.get(name).fn, replace=True)
    elif callable(target):
        target(registry)
    else:
        raise InputError(
            f"{spec}: {attribute!r} is not an ActivityRegistry or a function taking one"
        )
