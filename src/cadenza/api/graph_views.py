"""What the console needs to draw a graph that neither the source text nor the
history says plainly: a definition's document as data (a state machine written
in YAML reads the same as its JSON; a DAG or a state machine run on triggers is
shown as the triggers it compiles to) and a workspace's triggers with how often
each has fired.

Both are views of what the server already knows; any client may use them.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from cadenza.engine.engine import Engine
from cadenza.interpreters.protocol import DrawnInterpreter
from cadenza.model.errors import CadenzaError, InputError
from cadenza.model.events import JSON
from cadenza.model.yaml_documents import safe_load_bounded


def definition_document(engine: Engine, definition_id: str) -> dict[str, JSON]:
    """``{"kind", "document"}``: the definition's source read as data. A trigger
    set (a workspace, a DAG, a state machine on triggers) is the workspace it
    compiles to, so its triggers are listed whatever form it was written in.
    A code workflow is Python, not a document: ``InputError``."""
    record = engine.store.load_definition(definition_id)
    try:
        interpreter = engine.interpreter_of(definition_id)
    except CadenzaError:
        interpreter = None  # this server lacks its language, or it no longer compiles
    if isinstance(interpreter, DrawnInterpreter):
        return {"kind": record.kind, "document": interpreter.document()}
    try:
        if record.source.lstrip().startswith("{"):
            as_json: JSON = json.loads(record.source)  # JSON's own reader is the fast one
        else:
            # YAML's types (dates, sets) go through JSON, as the languages read them.
            document: Any = safe_load_bounded(record.source)
            as_json = json.loads(json.dumps(document))
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise InputError(
            f"definition {definition_id} is not a YAML or JSON document "
            f"({record.kind} definitions are written in their own form)",
            definition_id=definition_id,
        ) from exc
    if not isinstance(as_json, dict):
        raise InputError(
            f"definition {definition_id} is not a YAML or JSON document "
            f"({record.kind} definitions are written in their own form)",
            definition_id=definition_id,
        )
    return {"kind": record.kind, "document": as_json}


def workspace_triggers(engine: Engine, execution_id: str) -> JSON:
    """Each trigger of a ``triggers`` execution, as its state rebuilt from
    history holds it: ``id``, ``activation`` (``[{subject, type}]``),
    ``condition``, ``action``, ``context`` (as defined), ``transient``,
    ``timeout``, ``enabled``, ``fired`` (how many times), ``timed_out``.
    Triggers added while it ran (interception) are listed too."""
    record = engine.get(execution_id)
    interpreter, state = engine.replayed(execution_id)
    if not isinstance(interpreter, DrawnInterpreter):
        raise InputError(
            f"{record.kind} executions have no triggers; only trigger workspaces do",
            execution_id=execution_id,
        )
    return interpreter.drawn_state(state)
