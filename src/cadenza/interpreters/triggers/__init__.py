"""The triggers front end: event-condition-action workspaces over CloudEvents
(Triggerflow), and DAGs compiled onto them. Pure: no I/O, no clock.

See ``docs/reference/triggers.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.interpreters.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

#: The submodule that defines each name of ``__all__``. They are imported on
#: first use: importing the front end (``.frontend``) runs this module, and
#: every process that detects a definition's kind imports the front end.
_DEFINED_IN = {
    "Trigger": "model",
    "TriggerContext": "context",
    "TriggerFunctions": "functions",
    "TriggersFrontEnd": "frontend",
    "TriggersInterpreter": "interpreter",
    "Workspace": "model",
    "create": "frontend",
}


# Only at run time: type checkers see the imports above, and an unknown name
# stays an error for them.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _DEFINED_IN, globals())
