"""Sagas: all-or-nothing work with undo, as Oxide's Steno runs it, made durable.

Write a saga in Python (:class:`SagaBuilder`, :func:`action`,
:func:`constant`, :func:`subsaga`) or in YAML/JSON (``saga:`` and
``stages:``); see ``docs/reference/sagas.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.interpreters.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from .builder import Saga, SagaBuilder, action, constant, subsaga
    from .faults import Faults, register_fault_activities
    from .frontend import SagaFrontEnd, create
    from .interpreter import SagaInterpreter

__all__ = [
    "Faults",
    "Saga",
    "SagaBuilder",
    "SagaFrontEnd",
    "SagaInterpreter",
    "action",
    "constant",
    "create",
    "register_fault_activities",
    "subsaga",
]

#: The submodule that defines each name of ``__all__``. They are imported on
#: first use: importing the front end (``.frontend``) runs this module, and
#: every process that detects a definition's kind imports the front end.
_DEFINED_IN = {
    "Faults": "faults",
    "Saga": "builder",
    "SagaBuilder": "builder",
    "SagaFrontEnd": "frontend",
    "SagaInterpreter": "interpreter",
    "action": "builder",
    "constant": "builder",
    "create": "frontend",
    "register_fault_activities": "faults",
    "subsaga": "builder",
}


# Only at run time: type checkers see the imports above, and an unknown name
# stays an error for them.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _DEFINED_IN, globals())
