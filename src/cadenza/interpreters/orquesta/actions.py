"""What a workflow knows about the actions it calls: StackStorm's action metadata.

In StackStorm every action has metadata (a pack's ``actions/<name>.yaml``): its runner
type, its parameters with their types, defaults and flags, and for workflow actions the
workflow file. With it, StackStorm refuses a workflow that calls an action with a
missing or unexpected parameter before it runs, fills in defaults, and runs workflow
actions as child executions.

An :class:`ActionSpec` is that metadata as plain data, so the Orquesta front end can
do the same while staying pure: it is given the specs (by
:mod:`cadenza.packs`, or by hand) and the interpreter reads them, never a file.

* An action whose spec names a ``workflow`` (a pack's ``runner_type: orquesta`` action,
  or any registered definition made callable by name) runs as a child execution
  (``StartChild``); the task's result is ``{"output": ...}`` as in StackStorm.
* Any other spec'd action is scheduled as usual; its parameters are checked at
  inspection and its defaults filled in before it is scheduled (so history shows the
  parameters the action really received).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cadenza.model.events import JSON

#: Runner types whose action is a workflow, run as a child execution.
WORKFLOW_RUNNERS = frozenset({"orquesta"})

#: Runner type of a definition made callable as an action (not a StackStorm runner).
DEFINITION_RUNNER = "workflow"

#: StackStorm parameter types and the JSON values each accepts.
_TYPE_CHECKS: Mapping[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, Mapping),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class ActionParameter:
    """One parameter of an action, as its metadata declares it."""

    name: str
    #: A StackStorm (JSON schema) type name, or ``None`` for any value.
    type: str | None = None
    #: Whether the metadata gives a default (a default may be ``null``).
    has_default: bool = False
    default: JSON = None
    required: bool = False
    #: A secret value: StackStorm masks it wherever the execution is shown.
    secret: bool = False
    #: The default always applies; a workflow may not set it.
    immutable: bool = False
    #: Position on a shell script's command line (``local-shell-script``); ``None``
    #: passes it as ``--name=value``.
    position: int | None = None
    description: str = ""

    def accepts(self, value: JSON) -> bool:
        """Whether ``value`` has this parameter's type (``None`` is always accepted,
        as StackStorm accepts ``null`` for an optional parameter)."""
        if value is None or self.type is None:
            return True
        check = _TYPE_CHECKS.get(self.type)
        return True if check is None else bool(check(value))


@dataclass(frozen=True)
class ActionSpec:
    """The metadata of one action, by ref (``pack.name``)."""

    ref: str
    runner_type: str
    parameters: tuple[ActionParameter, ...] = ()
    #: The definition (id or registered name) a child execution runs, for workflow
    #: actions; ``None`` for an action a worker runs.
    workflow: str | None = None
    #: StackStorm's ``output_schema`` (JSON schema of the result), kept for tools.
    output_schema: Mapping[str, JSON] | None = None
    description: str = ""
    #: Whether the metadata lists every parameter (StackStorm's actions do); a
    #: definition made callable by name takes any input its own language accepts.
    closed: bool = True
    #: Where the metadata came from (a file), for messages.
    origin: str | None = None
    #: The pack's config (``config_context`` in parameter defaults).
    config: Mapping[str, JSON] | None = None

    def parameter(self, name: str) -> ActionParameter | None:
        """The parameter called ``name``, if the action has one."""
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def runs_child(self) -> bool:
        """Whether the action runs as a child execution rather than on a worker."""
        return self.workflow is not None

    def secret_paths(self, given: Mapping[str, JSON]) -> list[list[str | int]]:
        """Where the parameters marked ``secret`` sit in the input ``given``, so every
        view masks their values (``cadenza.model.secrets``)."""
        return [[p.name] for p in self.parameters if p.secret and given.get(p.name) is not None]

    def with_defaults(self, given: Mapping[str, JSON]) -> dict[str, JSON]:
        """``given`` with each missing parameter's default, and immutable ones forced to
        theirs, in the metadata's order and then the given order."""
        out: dict[str, JSON] = {}
        for param in self.parameters:
            if param.immutable and param.has_default:
                out[param.name] = param.default
            elif param.name in given:
                out[param.name] = given[param.name]
            elif param.has_default:
                out[param.name] = param.default
        for name, value in given.items():
            out.setdefault(name, value)
        return out


def child_result(output: JSON, error: JSON) -> dict[str, JSON]:
    """A workflow action's result as StackStorm gives it: the child's output, and its
    errors when it did not succeed."""
    result: dict[str, JSON] = {"output": output}
    if isinstance(error, Mapping):
        errors = error.get("errors")
        result["errors"] = list(errors) if isinstance(errors, list) else [dict(error)]
    return result


def workflow_action(ref: str, definition: str) -> ActionSpec:
    """A spec that makes the registered definition ``definition`` (of any kind)
    callable as the action ``ref``: a task naming ``ref`` runs it as a child."""
    return ActionSpec(ref=ref, runner_type=DEFINITION_RUNNER, workflow=definition, closed=False)


@dataclass
class ActionCatalog:
    """The action specs a front end knows, by ref; later additions replace earlier."""

    specs: dict[str, ActionSpec] = field(default_factory=dict)

    def add(self, *specs: ActionSpec) -> None:
        """Know ``specs`` from now on (a ref given again is replaced)."""
        for spec in specs:
            self.specs[spec.ref] = spec

    def get(self, ref: str | None) -> ActionSpec | None:
        """The spec of ``ref``, if known."""
        return None if ref is None else self.specs.get(ref)

    def __contains__(self, ref: object) -> bool:
        return ref in self.specs

    def __len__(self) -> int:
        return len(self.specs)
