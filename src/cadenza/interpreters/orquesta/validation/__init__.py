"""Loading and inspecting Orquesta workflow definitions.

Public API::

    load_definition(source: str, *, origin: str | None = None,
                    context_names: Iterable[str] = ()) -> OrquestaDefinition

reads YAML (or JSON) text, checks it completely, and returns the typed definition, or
raises :class:`~cadenza.model.errors.DefinitionError` listing every problem (nothing
should be stored before it returns). ``origin`` names the source in messages;
``context_names`` are the keys of the parent context executions will get, which
expressions may use as already assigned.

The checks, in the order they are reported (each problem is a
:class:`~cadenza.model.errors.Problem` whose ``category`` is one of these):

``syntax``
    the JSON schema of spec §2-§4 (types, required and unknown keys, enums, patterns,
    uniqueness), and task names outside ``^\\w+$``;
``semantics``
    reserved task names, no start task, transitions to undefined tasks, joins that cannot
    be reached at one branch level, with-items tasks without an action;
``expressions``
    every YAQL and Jinja expression parses, and no string mixes the two;
``context``
    every ``ctx()`` variable is assigned on every path before it is used, and no private
    (``__``) variable is referenced.
``actions``
    (only with action metadata, see :mod:`.action_inputs`) tasks call actions with the
    parameters their metadata allows; the front end runs this check after the others.

Each problem carries the dotted ``spec_path`` of the value at fault
(``tasks.t1.next[0].do``), the ``schema_path`` of the rule, a message, and the ``line``
in the source where the path is found. A definition that cannot be read at all (not
YAML, duplicate keys, several documents, not a mapping, non-string keys) raises
:class:`~cadenza.model.errors.DefinitionLoadError`, a subclass, with the line at fault.

Lower-level pieces, for tools that show a definition without running it:
:func:`parse_definition` (read only, no checks) and :func:`inspect_definition` (the list
of problems). The returned :class:`OrquestaDefinition` holds the normalised mapping,
the line map, and typed :class:`Task` / :class:`Transition` records with inline
parameters already split from action refs; :class:`TaskGraph` gives edges, start tasks,
reachability, splits, cycles and joins, for the inspection and the conductor alike.

Modules, in the order a definition goes through them:

``loading``
    YAML (or JSON) text to a :class:`~.loading.MappingWithLines`, the mapping plus the
    source line of every key and list item; duplicate keys and unusable documents raise
    ``DefinitionLoadError``; ``with: <expr>`` is expanded to its long form.
``paths``
    spec paths (``tasks.t1.next[0].do``) and schema paths, in orquesta's text form.
``parameters``
    orquesta's inline-parameter grammar (``action: core.echo message=hi``, ``publish``
    strings).
``model``
    the typed definition built from the mapping: :class:`OrquestaDefinition`,
    :class:`Task`, :class:`Transition`, :class:`Retry`, :class:`WithItems`, and
    ``ENGINE_COMMANDS``.
``graph``
    :class:`TaskGraph`: edges, start tasks, reachability, splits, cycles and joins, read by
    the checks below and by the conductor at run time.
``schema``
    the JSON schema of the spec (§2-§4) and the ``syntax`` check.
``semantics``
    the ``semantics`` check: reserved names, start tasks, undefined targets,
    unreachable joins, with-items without an action.
``expressions``
    the ``expressions`` check: every YAQL and Jinja expression parses.
``context``
    the ``context`` check: every ``ctx()`` variable is assigned before it is used.
``inspection``
    :func:`load_definition`, :func:`parse_definition` and :func:`inspect_definition`,
    which run the above in order.
"""

from __future__ import annotations

from cadenza.interpreters.orquesta.validation.graph import Edge, TaskGraph
from cadenza.interpreters.orquesta.validation.inspection import (
    inspect_definition,
    load_definition,
    parse_definition,
)
from cadenza.interpreters.orquesta.validation.model import (
    ENGINE_COMMANDS,
    OrquestaDefinition,
    Retry,
    Task,
    Transition,
    WithItems,
)
from cadenza.interpreters.orquesta.validation.parameters import (
    parse_inline_parameters,
    split_action,
)

__all__ = [
    "ENGINE_COMMANDS",
    "Edge",
    "OrquestaDefinition",
    "Retry",
    "Task",
    "TaskGraph",
    "Transition",
    "WithItems",
    "inspect_definition",
    "load_definition",
    "parse_definition",
    "parse_inline_parameters",
    "split_action",
]
