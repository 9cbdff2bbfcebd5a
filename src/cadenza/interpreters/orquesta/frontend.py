"""The Orquesta front end: definition text in, :class:`OrquestaInterpreter` out.

``OrquestaFrontEnd().compile(source)`` loads and inspects the definition with
:mod:`cadenza.interpreters.orquesta.spec` (raising ``DefinitionError`` with every
problem) and returns an interpreter over the typed definition.

Engine contract of the interpreter (see :mod:`.interpreter` for details):

* task ids are ``"<task>.<route>.<run>[.<item>]"``; ``ScheduleTask.meta`` carries
  ``route``, ``run`` and, for with-items tasks, ``item_id``, ``items_count`` and
  ``concurrency``;
* an action-less task is scheduled with ``action=None``; a with-items task over an empty
  list is scheduled once with ``action=None`` and ``meta["items_count"] == 0``; the
  engine answers both with ``TaskCompleted(status="succeeded")`` (the interpreter uses
  ``[]`` as the empty with-items result);
* responding to a pending task is a ``TaskCompleted`` for its task id.

``context_names`` are the keys of the parent context executions will get (inspection
treats them as assigned); ``datastore`` answers ``st2kv()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cadenza.expressions.syntax import has_expressions
from cadenza.interpreters.orquesta.interpreter import OrquestaInterpreter
from cadenza.interpreters.orquesta.spec import load_definition
from cadenza.interpreters.protocol import ActionUse


class OrquestaFrontEnd:
    """Compiles Orquesta YAML into interpreters (``FrontEnd`` protocol)."""

    kind = "orquesta"

    def __init__(
        self, context_names: Iterable[str] = (), datastore: Mapping[str, Any] | None = None
    ) -> None:
        self.context_names = tuple(context_names)
        self.datastore = dict(datastore or {})

    def compile(self, source: str, *, origin: str | None = None) -> OrquestaInterpreter:
        """Load, check and compile ``source``; raises ``DefinitionError`` if invalid."""
        definition = load_definition(source, origin=origin, context_names=self.context_names)
        uses = [
            ActionUse(
                task.action, f"tasks.{name}.action", definition.line_of(f"tasks.{name}.action")
            )
            for name, task in definition.tasks.items()
            if task.action is not None and not has_expressions(task.action)
        ]
        return OrquestaInterpreter(definition, self.datastore, uses)
