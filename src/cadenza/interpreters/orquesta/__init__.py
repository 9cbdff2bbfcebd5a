"""The Orquesta front end: StackStorm's Orquesta YAML workflows on Cadenza's history.

The folder has the shape of every front end (see :mod:`cadenza.interpreters.states`):
``validation/`` reads and checks a definition, ``frontend`` is what the engine loads,
``interpreter`` is the engine-facing adapter, ``state`` the execution's own data; the
other modules are Orquesta's semantics, which only the interpreter calls.

Modules, from the engine inwards:

``frontend``
    :class:`~.frontend.OrquestaFrontEnd` (``FrontEnd`` protocol): recognises Orquesta
    text, compiles it through ``validation`` into an interpreter, builds rerun events and
    checks answers to ``core.ask`` tasks.
``interpreter``
    :class:`~.interpreter.OrquestaInterpreter` (``Interpreter`` protocol), the adapter
    between the engine and the conductor: turns history events into conductor calls and
    the conductor's outcome into commands (``ScheduleTask``, ``StartChild``,
    ``SetStatus``, ``CompleteExecution``, ``RejectRequest``); it also owns task ids and snapshots. A
    conductor ``Crash`` or an expression failure becomes a logged error and a ``failed``
    workflow, as in StackStorm.
``actions``
    the metadata of actions workflows call (:class:`~.actions.ActionSpec`: a
    StackStorm pack's runner type, parameters, and for workflow actions the definition
    a child execution runs), as plain data the front end is given.
``conductor``
    :class:`~.conductor.Conductor`, Orquesta's semantics (spec §7-§13): starting the
    workflow, staging and rendering the next tasks, workflow status requests, inbound
    (join) status, routes; the exceptions ``RequestRefused`` and ``Crash``.
``task_updates``
    the conductor's fold of one action outcome: task status, retry, transitions taken,
    ``publish``, and the tasks they stage.
``rerun``
    rerunning a completed execution from some of its tasks (spec §16).
``output``
    the workflow ``output``, rendered once the workflow is completed (spec §9.5).
``rendering``
    evaluation of definition values against a context: workflow input and vars, a task's
    action, input, items, delay and concurrency, and publishes.
``machines``
    the task and workflow status tables of orquesta 1.6.0, as data.
``state``
    the execution's JSON state (contexts, routes, task entries, staged tasks, errors,
    output) and the queries and updates on it; what a snapshot holds.
``contexts``
    context lists stored as shared chains, and their merged contexts (spec §9.2-§9.4),
    so that the state grows linearly with a run.
``validation/``
    parse and validate: YAML with lines, the typed definition (tasks, transitions,
    retry, with-items), the task graph, and the syntax, semantics, expression and
    context checks; :func:`~.validation.load_definition` is the one way in.
"""

from __future__ import annotations
