"""A package's public names imported from their submodules on first use.

A front end's package is imported by every process that detects a
definition's kind (detection loads every front end), so its ``__init__``
must not import the interpreter just to re-export its names. It lists the
names with their submodules and installs ``lazy_exports`` as its module
``__getattr__`` (PEP 562), keeping the real imports under ``TYPE_CHECKING``
for type checkers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, defined_in: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: each name of ``defined_in``
    (name -> submodule; a name equal to its submodule is the submodule itself)
    is imported on first use and kept in ``namespace``; any other name is an
    ``AttributeError``."""

    def attribute(name: str) -> object:
        submodule = defined_in.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{submodule}")
        value = module if name == submodule else getattr(module, name)
        namespace[name] = value
        return value

    return attribute
