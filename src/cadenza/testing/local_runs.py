"""Running code workflows in a test: in-process, with mocks, a fake clock and replay checks.

::

    from cadenza.testing import run_workflow

    def test_a_rich_goal_buys_a_boat():
        done = run_workflow(PirateBusiness, {"goal": 100}, mocks={raise_money: 500})
        assert done.status == "succeeded"
        assert [c.name for c in done.calls][:2] == ["pirates.raise_money", "pirates.buy_boat"]

What a run does:

* the workflow runs on a real engine over an in-memory SQLite store, so
  history, retries, timers, children and signals behave as in production;
* the clock is a :class:`~cadenza.testing.clock.FakeClock` that jumps to the
  next timer or retry, so durable sleeps, backoffs and timeouts pass at once;
* activities run in the test's process: the real functions of the
  workflow module (and of ``activities=``), unless ``mocks`` replaces them by
  activity or by name. A mock is a callable (called with the activity's
  arguments; it may raise to test a failure path) or any other value (returned
  as the result). Every attempt is kept in ``calls``;
* after the run, **every decision is replayed cold from history** through the
  workflow code (see :mod:`cadenza.testing.decision_replay`) and any
  difference raises :class:`~cadenza.model.errors.ReplayMismatch` with the
  diff: code that would break when a decider restarts fails the test now.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.code.activities import ActivityDefinition, activities_in, split_input
from cadenza.interpreters.code.continuation import CONTINUED_MARKER
from cadenza.interpreters.code.frontend import create as code_front_end
from cadenza.interpreters.code.nondeterminism import NONDETERMINISTIC
from cadenza.interpreters.code.workflow import Workflow
from cadenza.model.definitions import CodeReference
from cadenza.model.errors import ActivityError, InputError, ReplayMismatch
from cadenza.model.events import JSON, MarkerRecorded, RecordedEvent
from cadenza.model.tokens import decode_token
from cadenza.store.records import DefinitionRecord
from cadenza.store.sqlite.store import SQLiteStore
from cadenza.testing.clock import FakeClock
from cadenza.testing.decision_replay import decision_mismatches
from cadenza.workers.context import ActivityContext
from cadenza.workers.registry import default_registry

#: What a test may pass as a workflow: a ``Workflow`` subclass, a workflow
#: function, or its reference text (``package.module:Name``).
WorkflowTarget = type[Workflow] | Callable[..., Any] | str


@dataclass(frozen=True)
class ActivityCall:
    """One attempt of an activity in a local run, as the worker received it."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    execution_id: str
    task_id: str
    attempt: int


@dataclass(frozen=True)
class WorkflowResult:
    """How a local run ended.

    ``execution_id`` is the run that was started; when it continued as new,
    ``runs`` lists every run of the chain in order and ``status``,
    ``output``, ``errors`` and ``history`` are those of the last one.
    """

    execution_id: str
    status: str
    output: JSON
    errors: list[JSON]
    history: list[RecordedEvent]
    calls: list[ActivityCall]
    runs: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class LocalRun:
    """An engine for one test: start a workflow, signal it, run it, read the result.

    ``workflow`` is the workflow under test; ``workflows`` are other code
    workflows it starts as children (registered under their definition
    names). ``mocks`` maps activities (or their names) to replacements;
    ``activities`` adds real activities defined outside the workflow's
    module. ``queues`` adds task lists to serve when a mock is given by name
    for an activity the run cannot see. Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        workflow: WorkflowTarget,
        *,
        mocks: Mapping[ActivityDefinition | str, Any] | None = None,
        activities: Iterable[ActivityDefinition] = (),
        workflows: Iterable[WorkflowTarget] = (),
        queues: Iterable[str] = (),
        version: str = "1",
        clock: FakeClock | None = None,
        replay_check: bool = True,
    ) -> None:
        self.clock = clock or FakeClock()
        self.calls: list[ActivityCall] = []
        self.replay_check = replay_check
        registry = default_registry()
        known = _activities_of([workflow, *workflows], activities)
        task_lists = {"default", *queues}
        #: Task lists worked by outside workers (``external`` activities): tasks
        #: may wait there for the test to poll them through ``engine.external``.
        self._outside = {a.task_list for a in known.values() if a.external}
        for declared in known.values():
            registry.register(
                declared.name,
                self._recorded(declared.name, declared.fn),
                replace=True,
                whole_input=True,
            )
            task_lists.add(declared.task_list)
        #: Mocks of external activities, by task list and name: this run polls
        #: those lists as an outside worker would and answers with the mock.
        self._outside_mocks: dict[str, dict[str, Callable[..., Any]]] = {}
        for key, mock in (mocks or {}).items():
            name = key.name if isinstance(key, ActivityDefinition) else key
            if not isinstance(name, str):
                raise InputError(f"a mock is keyed by an activity or its name, not {key!r}")
            mocked = key if isinstance(key, ActivityDefinition) else known.get(name)
            attempt = self._recorded(name, _as_callable(mock))
            if mocked is not None and mocked.external:
                self._outside_mocks.setdefault(mocked.task_list, {})[name] = attempt
                continue
            if mocked is not None:
                task_lists.add(mocked.task_list)
            registry.register(name, attempt, replace=True, whole_input=True)
        self.engine = Engine(
            SQLiteStore(":memory:"),
            registry=registry,
            clock=self.clock,
            front_ends={"code": code_front_end},
            queues=sorted(task_lists),
        )
        for other in workflows:
            self._register(other, version)
        self.definition = self._register(workflow, version)
        self.execution_id: str | None = None

    # --- driving ---------------------------------------------------------------------------

    def start(self, input: JSON = None, *, execution_id: str | None = None) -> str:
        """Start the workflow with ``input`` (nothing runs until :meth:`run_until_idle`)."""
        self.execution_id = self.engine.start(self.definition, input, execution_id=execution_id)
        return self.execution_id

    def run_until_idle(self) -> WorkflowResult:
        """Run everything that can happen, skipping time, then check every decision
        by replay (``ReplayMismatch`` on a difference); return where the run stands."""
        self.engine.run_until_idle(skip_time=True)
        while self._answer_outside():
            self.engine.run_until_idle(skip_time=True)
        self._check_served()
        if self.replay_check:
            self.check_replay()
        return self.result()

    def signal(self, name: str, data: JSON = None, *, execution_id: str | None = None) -> None:
        """Send the signal ``name`` to the run (the last of its chain by default)."""
        self.engine.signal(execution_id or self._last_run(), name, data)

    def cancel(self, execution_id: str | None = None) -> None:
        """Ask the run (the last of its chain by default) to cancel."""
        self.engine.cancel(execution_id or self._last_run())

    def advance(self, seconds: float) -> None:
        """Move the fake clock on by ``seconds`` (timers then due fire on the next run)."""
        self.clock.advance(seconds)

    # --- reading ----------------------------------------------------------------------------

    def result(self) -> WorkflowResult:
        """The started run, followed through its continue-as-new chain."""
        runs = self.chain()
        last = self.engine.get(runs[-1])
        return WorkflowResult(
            execution_id=runs[0],
            status=last.status,
            output=last.output,
            errors=list(last.errors),
            history=self.engine.history(last.id),
            calls=list(self.calls),
            runs=runs,
        )

    def chain(self) -> list[str]:
        """The started run and the runs it continued as, in order."""
        if self.execution_id is None:
            raise InputError("the workflow was not started: call start() first")
        runs = [self.execution_id]
        while True:
            following = _continued_as(self.engine.history(runs[-1]))
            if following is None or following in runs:
                return runs
            runs.append(following)

    def check_replay(self) -> None:
        """Replay every decision of every code execution in this run's store cold
        from history; raise ``ReplayMismatch`` with the diff of the first difference
        (or with the report of a run that stopped as nondeterministic)."""
        for record in self.engine.store.list_executions(limit=100_000, kinds=["code"]):
            history = self.engine.history(record.id)
            if record.status == NONDETERMINISTIC:
                report = _nondeterminism_report(history)
                raise ReplayMismatch(
                    f"execution {record.id} stopped as nondeterministic: {report}",
                    execution_id=record.id,
                )
            definition = self.engine.store.load_definition(record.definition_id)
            interpreter = self.engine.compile(
                CodeReference(definition.source, definition.version or "1"), kind="code"
            )
            for mismatch in decision_mismatches(interpreter, history):
                raise ReplayMismatch(
                    str(mismatch), execution_id=record.id, decision=mismatch.decision
                )

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> LocalRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------------

    def _register(self, workflow: WorkflowTarget, version: str) -> DefinitionRecord:
        target, name = _reference(workflow)
        return self.engine.register(CodeReference(target, version), kind="code", name=name)

    def _recorded(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        calls = self.calls

        def attempt(input: JSON, context: ActivityContext) -> Any:
            args, kwargs = split_input(input, name)
            calls.append(
                ActivityCall(
                    name=name,
                    args=tuple(args),
                    kwargs=kwargs,
                    execution_id=context.execution_id,
                    task_id=context.task_id,
                    attempt=context.attempt,
                )
            )
            return fn(*args, **kwargs)

        return attempt

    def _answer_outside(self) -> int:
        """Poll the task lists of mocked external activities and answer each task
        with its mock (a mock that raises fails the task); return how many."""
        answered = 0
        for task_list, by_name in self._outside_mocks.items():
            while (task := self.engine.external.poll(task_list, "local-run")) is not None:
                answered += 1
                mock = by_name.get(task.name)
                if mock is None:
                    known = ", ".join(sorted(by_name))
                    self.engine.external.fail(
                        task.token,
                        "LocalRunNoMock",
                        f"task list {task_list!r} is worked by mocks ({known}); "
                        f"none is for {task.name!r}",
                    )
                    continue
                token = decode_token(task.token)
                context = ActivityContext(task.execution_id, token.task_id, token.attempt)
                try:
                    result = mock(task.input, context)
                except ActivityError as exc:
                    self.engine.external.fail(task.token, exc.type or exc.code, exc.message)
                except Exception as exc:
                    self.engine.external.fail(task.token, type(exc).__name__, str(exc))
                else:
                    self.engine.external.succeed(task.token, result)
        return answered

    def _check_served(self) -> None:
        """A task waiting on a task list nobody here works would leave the run
        hanging with no hint: say which list, and how to serve it."""
        waiting = self.engine.store.task_counts()
        served = set(self.engine.queues) | self._outside | set(self._outside_mocks)
        unserved = sorted({q for (q, status), n in waiting.items() if n and q not in served})
        if unserved:
            raise InputError(
                f"tasks wait on task list {', '.join(map(repr, unserved))}, which this local "
                "run does not work: mock the activity by its @activity object (not its "
                "name), pass it in activities=, or name the list in queues=",
                task_lists=unserved,
            )

    def _last_run(self) -> str:
        return self.chain()[-1]


def run_workflow(
    workflow: WorkflowTarget,
    input: JSON = None,
    *,
    mocks: Mapping[ActivityDefinition | str, Any] | None = None,
    activities: Iterable[ActivityDefinition] = (),
    workflows: Iterable[WorkflowTarget] = (),
    signals: Iterable[tuple[str, JSON]] = (),
    queues: Iterable[str] = (),
) -> WorkflowResult:
    """Run ``workflow`` with ``input`` to where it stops (it ends, or waits for a
    signal nobody sends), every decision checked by a cold replay.

    ``signals`` are ``(name, data)`` pairs sent right after the start (a
    workflow reads each when it first waits for that name). See
    :class:`LocalRun` for the other arguments and for signalling mid-run.
    """
    with LocalRun(
        workflow, mocks=mocks, activities=activities, workflows=workflows, queues=queues
    ) as run:
        run.start(input)
        for name, data in signals:
            run.signal(name, data)
        return run.run_until_idle()


def _as_callable(mock: Any) -> Callable[..., Any]:
    if callable(mock):
        return mock  # type: ignore[no-any-return]

    def constant(*args: Any, **kwargs: Any) -> Any:
        return mock

    return constant


def _reference(workflow: WorkflowTarget) -> tuple[str, str]:
    """The reference text of ``workflow`` and the definition name to register it under."""
    if isinstance(workflow, str):
        return workflow, workflow.rsplit(":", 1)[-1]
    qualname = getattr(workflow, "__qualname__", "")
    if not qualname or "<locals>" in qualname:
        raise InputError(
            f"{workflow!r} must be defined at the top level of a module: the engine "
            "finds a workflow by its module and name"
        )
    target = f"{workflow.__module__}:{qualname}"
    if isinstance(workflow, type) and issubclass(workflow, Workflow):
        return target, workflow.definition_name()
    return target, qualname


def _activities_of(
    workflows: list[WorkflowTarget], extra: Iterable[ActivityDefinition]
) -> dict[str, ActivityDefinition]:
    """The activities visible at the top level of the workflows' modules, and ``extra``."""
    found: dict[str, ActivityDefinition] = {}
    for workflow in workflows:
        module_name = (
            workflow.split(":", 1)[0] if isinstance(workflow, str) else workflow.__module__
        )
        module = sys.modules.get(module_name)
        if module is None and isinstance(workflow, str):
            module = importlib.import_module(module_name)
        if inspect.ismodule(module):
            found.update((a.name, a) for a in activities_in(module))
    found.update((a.name, a) for a in extra)
    return found


def _continued_as(history: list[RecordedEvent]) -> str | None:
    for recorded in reversed(history):
        event = recorded.event
        if isinstance(event, MarkerRecorded) and event.kind == CONTINUED_MARKER:
            details = event.details
            if isinstance(details, dict) and isinstance(details.get("execution_id"), str):
                return str(details["execution_id"])
    return None


def _nondeterminism_report(history: list[RecordedEvent]) -> str:
    for recorded in reversed(history):
        event = recorded.event
        if isinstance(event, MarkerRecorded) and event.kind == "code.nondeterminism":
            details = event.details
            if isinstance(details, dict):
                expected, got = details.get("expected"), details.get("got")
                return f"{details.get('message')}; expected {expected}, got {got}"
    return "no report recorded"
