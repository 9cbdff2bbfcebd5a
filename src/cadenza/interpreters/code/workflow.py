"""The workflow API user code calls: ``Workflow`` classes and ``WorkflowContext``.

Two faces on one runtime:

* the simpleflow shape — subclass :class:`Workflow`, write ``run(self, ...)``,
  ``self.submit(activity, ...)`` returns a future, ``future.result`` waits;
* the ``async def`` shape — ``async def run(self, ...)`` on a ``Workflow``, or
  a plain ``async def flow(ctx, ...)`` taking a :class:`WorkflowContext`;
  ``await ctx.activity(act, ...)`` waits.

Everything here only *records intentions* through the runtime; nothing runs
an activity, reads a clock or draws a random number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, NoReturn

from cadenza.interpreters.code.activities import ActivityDefinition
from cadenza.interpreters.code.futures import Future, all_of
from cadenza.interpreters.code.runtime import REQUEST_CANCEL, Runtime, WorkflowUsageError
from cadenza.model.events import JSON


class WorkflowContext:
    """What a workflow may do. ``Workflow`` subclasses have it all as ``self``."""

    _runtime: Runtime

    def __init__(self, runtime: Runtime | None = None) -> None:
        if runtime is not None:
            self._runtime = runtime

    def _bind(self, runtime: Runtime) -> None:
        self._runtime = runtime

    # --- tasks --------------------------------------------------------------------------

    def submit(self, target: Any, *args: Any, **kwargs: Any) -> Future:
        """Start ``target`` — an ``@activity``, or a ``Workflow`` subclass (a child
        execution of its registered name) — and return its future.

        A future among the arguments stands for its result: the workflow waits
        for it before submitting.
        """
        if isinstance(target, ActivityDefinition):
            return self._runtime.submit_activity(target, args, kwargs)
        if isinstance(target, type) and issubclass(target, Workflow):
            return self.child(
                target.definition_name(), _child_input(args, kwargs), policy=target.child_policy
            )
        raise WorkflowUsageError(
            f"cannot submit {target!r}: declare it with @activity, or pass a Workflow subclass"
        )

    def activity(self, target: ActivityDefinition, *args: Any, **kwargs: Any) -> Future:
        """Schedule an activity (``await ctx.activity(act, ...)`` in ``async def``)."""
        if not isinstance(target, ActivityDefinition):
            raise WorkflowUsageError(f"{target!r} is not declared with @activity")
        return self._runtime.submit_activity(target, args, kwargs)

    def map(self, target: Any, iterable: Iterable[Any]) -> list[Future]:
        """``submit(target, item)`` for each item: parallel tasks."""
        return [self.submit(target, item) for item in iterable]

    def starmap(self, target: Any, iterable: Iterable[Iterable[Any]]) -> list[Future]:
        """``submit(target, *items)`` for each tuple of items."""
        return [self.submit(target, *items) for items in iterable]

    def child(
        self,
        definition: str,
        input: JSON = None,
        *,
        name: str | None = None,
        policy: str = REQUEST_CANCEL,
    ) -> Future:
        """Start an execution of the registered definition ``definition`` (any kind)
        as a child; its future's result is the child's output.

        ``policy`` is what happens to the child if this execution ends first:
        ``"request_cancel"`` (default) asks it to cancel, ``"terminate"`` ends
        it by force (its code is not asked); ``"abandon"`` lets it run on,
        detached: its future then finishes at once with ``{"execution_id": ...}``
        and its end is not reported back.
        """
        return self._runtime.start_child(definition, input, name, policy)

    def continue_as_new(self, *args: Any, **kwargs: Any) -> NoReturn:
        """End this run now and start a new run of the same workflow with these
        arguments as its input (positional or keyword, as for a child). The run
        succeeds with output ``{"continued_as_new": <next run's id>}``; tasks still
        open are cancelled. Use it to keep a long loop's history short."""
        self._runtime.continue_as_new(_child_input(args, kwargs))

    # --- time, signals, markers -------------------------------------------------------------

    def timer(self, seconds: float) -> Future:
        """A durable timer: a future finished ``seconds`` from now."""
        return self._runtime.start_timer(seconds)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (durably: a process may die meanwhile). In ``async def``
        code, ``await ctx.timer(seconds)`` instead."""
        self._runtime.start_timer(seconds).result  # noqa: B018 - waiting is the point

    def wait_signal(self, name: str) -> Future:
        """A future finished by the next signal ``name`` sent to this execution
        (signals are queued: each is read by one ``wait_signal``)."""
        return self._runtime.wait_signal(name)

    def record_marker(self, name: str, details: JSON = None) -> None:
        """Keep ``details`` in the execution's history under ``name``."""
        self._runtime.record_marker(name, details)

    def patched(self, patch_id: str) -> bool:
        """Whether this execution takes the new code path ``patch_id``: True for
        executions that reach it under the new code, False for those whose
        history was recorded by the code before the patch."""
        return self._runtime.patched(patch_id)

    # --- values that must not change on replay ----------------------------------------------

    def now(self) -> float:
        """The recorded time (epoch seconds) of the decision in which the workflow
        reached this call: the same on replay."""
        return self._runtime.current_time()

    def random(self) -> float:
        """A float in [0, 1), the same on replay."""
        return self._runtime.random()

    def uuid4(self) -> str:
        """A random UUID (text), the same on replay."""
        return self._runtime.uuid4()

    @property
    def execution_id(self) -> str:
        """This execution's id."""
        return str(self._runtime.meta.get("execution_id", ""))

    @property
    def workflow_id(self) -> str | None:
        """The workflow id the run was started under (``Engine.start_workflow``,
        ``signal_with_start``), the same along continue-as-new; None without one."""
        return self._runtime.workflow_id

    @property
    def input(self) -> JSON:
        """The execution's input, as started."""
        return self._runtime.input

    @staticmethod
    def all_of(*futures: Future) -> Future:
        """A future finished when all ``futures`` are (``await ctx.all_of(a, b)``)."""
        return all_of(*futures)


class Workflow(WorkflowContext):
    """Base class of workflows written as Python classes.

    Override ``run`` (plain or ``async def``); its arguments come from the
    execution's input: an object is passed as keyword arguments, a list as
    positional arguments, null as none, anything else as one argument.
    ``name`` is the definition name a parent's ``submit(ThisClass, ...)``
    starts (default: the class's ``__qualname__``, which is also the name
    ``Engine.register`` gives it by default).
    """

    name: ClassVar[str | None] = None
    #: What happens to an execution of this class started by ``submit`` in a
    #: parent when the parent ends (see ``WorkflowContext.child``).
    child_policy: ClassVar[str] = REQUEST_CANCEL

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__qualname__} must define run()")

    @classmethod
    def definition_name(cls) -> str:
        return cls.name or cls.__qualname__


def input_arguments(input: JSON) -> tuple[list[Any], dict[str, Any]]:
    """The arguments ``run`` receives for an execution ``input`` (see ``Workflow``)."""
    if input is None:
        return [], {}
    if isinstance(input, dict):
        return [], dict(input)
    if isinstance(input, list):
        return list(input), {}
    return [input], {}


def _child_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> JSON:
    if args and kwargs:
        raise WorkflowUsageError(
            "a child workflow takes positional or keyword arguments, not both "
            "(its input is one JSON list or object)"
        )
    resolved = [a.result if isinstance(a, Future) else a for a in args]
    if resolved:
        return resolved
    return {k: v.result if isinstance(v, Future) else v for k, v in kwargs.items()} or None


#: Makes the code's entry point for one run: a callable returning the result
#: (plain code) or a coroutine (async code).
EntryFactory = Callable[[Runtime, list[Any], dict[str, Any]], Callable[[], Any]]


def workflow_entry(target: Any, *, is_class: bool) -> EntryFactory:
    """The entry factory for a ``Workflow`` subclass or a function taking a context."""

    def entry(runtime: Runtime, args: list[Any], kwargs: dict[str, Any]) -> Callable[[], Any]:
        def start() -> Any:
            if is_class:
                instance = target()
                instance._bind(runtime)
                return instance.run(*args, **kwargs)
            return target(WorkflowContext(runtime), *args, **kwargs)

        return start

    return entry
