"""The triggers front end: event-condition-action workspaces over CloudEvents
(Triggerflow), and DAGs compiled onto them. Pure: no I/O, no clock.

See ``docs/reference/triggers.md``.
"""

from __future__ import annotations

from cadenza.interpreters.triggers.context import TriggerContext
from cadenza.interpreters.triggers.frontend import TriggersFrontEnd, create
from cadenza.interpreters.triggers.functions import TriggerFunctions
from cadenza.interpreters.triggers.interpreter import TriggersInterpreter
from cadenza.interpreters.triggers.model import Trigger, Workspace

__all__ = [
    "Trigger",
    "TriggerContext",
    "TriggerFunctions",
    "TriggersFrontEnd",
    "TriggersInterpreter",
    "Workspace",
    "create",
]
