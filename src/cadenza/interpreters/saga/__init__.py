"""Sagas: all-or-nothing work with undo, as Oxide's Steno runs it, made durable.

Write a saga in Python (:class:`SagaBuilder`, :func:`action`,
:func:`constant`, :func:`subsaga`) or in YAML/JSON (``saga:`` and
``stages:``); see ``docs/reference/sagas.md``.
"""

from __future__ import annotations

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
