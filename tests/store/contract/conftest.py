"""Fixtures and small helpers for the Store contract suite.

Everything here goes through the ``Store`` protocol: the deciders are tiny
hand-written ``DecideFn`` functions that build ``DecisionResult`` objects, and
the inbox is looked at through a round whose decider decides nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Generic, TypeVar

import pytest

from cadenza.model.events import JSON, Event, ExecutionStarted, TaskScheduled
from cadenza.store import open_store
from cadenza.store.protocol import ClaimRequest, DecideFn, RoundOutcome, RoundRequest, Store
from cadenza.store.records import (
    DecisionResult,
    DecisionWork,
    DefinitionRecord,
    NewTask,
    TaskRecord,
)

T = TypeVar("T")

NOW = 1_700_000_000.0

#: Upper bound for anything that should happen "at once"; never a sleep.
PROMPTLY = 10.0

DEFINITION = DefinitionRecord(
    id="def-steps", kind="steps", name="one", source='{"steps": []}', created_at=NOW
)
#: A definition of another kind (for ``RoundRequest.kinds``).
OTHER_KIND = DefinitionRecord(
    id="def-states", kind="states", name="two", source='{"States": {}}', created_at=NOW
)

#: Sentinel: the default snapshot ``{"decision": n}``.
_DEFAULT: Any = object()


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def backend(store_url: str) -> str:
    """``sqlite`` or ``postgres``: which backend this case runs on."""
    return "sqlite" if store_url.startswith("sqlite:") else "postgres"


@pytest.fixture
def open_same(store_url: str) -> Iterator[Callable[[], Store]]:
    """Opens more store objects on the same database or file as ``store``
    (each with connections of its own, as another process would have)."""
    opened: list[Store] = []

    def open_one() -> Store:
        other = open_store(store_url)
        opened.append(other)
        return other

    yield open_one
    for other in opened:
        other.close()


@pytest.fixture
def ignoring_marks(backend: str) -> Callable[[], AbstractContextManager[None]]:
    """A context in which a round does not see the marks other rounds' read
    phases put on the executions they took.

    PostgreSQL marks executions being decided (session advisory locks) so that
    other deciders rarely take them; "rarely" because a decider's read can
    still see a row as it was before another decider's commit. This opens that
    window on demand, to check that the decision-number guard, not the
    marking, is what keeps a decision from being applied twice. SQLite has no
    marks: the context changes nothing there.
    """

    @contextmanager
    def ignoring() -> Iterator[None]:
        if backend != "postgres":
            yield
            return
        from cadenza.store.postgres import round_statements

        original = round_statements.DECIDING_LOCK_SPACE
        round_statements.DECIDING_LOCK_SPACE = original + 1
        try:
            yield
        finally:
            round_statements.DECIDING_LOCK_SPACE = original

    return ignoring


# --- setting up ---------------------------------------------------------------------


def start(
    store: Store,
    count: int,
    prefix: str = "e",
    definition: DefinitionRecord = DEFINITION,
    at: float = NOW,
) -> list[str]:
    """Create ``count`` executions ``<prefix>000``..., each with ``ExecutionStarted``
    in its inbox, one second apart from ``at``."""
    ids = [f"{prefix}{i:03d}" for i in range(count)]
    for i, execution_id in enumerate(ids):
        store.create_execution(execution_id, definition, ExecutionStarted(seed=i), at + i)
    return ids


def start_with_tasks(
    store: Store,
    count: int,
    *tasks: NewTask,
    prefix: str = "e",
    definition: DefinitionRecord = DEFINITION,
) -> list[str]:
    """``start`` these executions and decide each once, scheduling ``tasks``
    (task ``t1``, due at ``NOW``, when none are given)."""
    ids = start(store, count, prefix, definition)
    wanted = tasks or (new_task("t1"),)
    outcome = run(
        store,
        planned({i: lambda w: result_for(w, tasks=wanted) for i in ids}),
        decide_limit=count + 100,
    )
    assert sorted(r.execution_id for r in outcome.saved) == ids
    return ids


def new_task(
    task_id: str,
    *,
    name: str = "t",
    queue: str = "default",
    available_at: float = NOW,
    timeout: float | None = None,
    heartbeat_timeout: float | None = None,
    external: bool = False,
    input: JSON = None,
    action: str = "x",
) -> NewTask:
    return NewTask(
        task_id=task_id,
        name=name,
        action=action,
        input={"task": task_id} if input is None else input,
        queue=queue,
        available_at=available_at,
        retry=None,
        timeout=timeout,
        heartbeat_timeout=heartbeat_timeout,
        meta={"for": task_id},
        external=external,
    )


def result_for(
    work: DecisionWork,
    *,
    tasks: Sequence[NewTask] = (),
    timers: Sequence[tuple[str, float]] = (),
    canceled: Sequence[str] = (),
    records: Sequence[Event] = (),
    status: str = "running",
    snapshot: JSON = _DEFAULT,
    consumed: int | None = None,
    completed: bool = False,
    output: JSON = None,
    errors: Sequence[JSON] = (),
    at: float = NOW,
) -> DecisionResult:
    """One decision for ``work``: fold the first ``consumed`` inputs (all by
    default), record a ``TaskScheduled`` per task plus ``records``."""
    decision = work.decision_no + 1
    taken = len(work.inputs) if consumed is None else consumed
    appended: list[tuple[int, float, Event]] = [
        (decision, t, e) for e, t in zip(work.inputs[:taken], work.input_times[:taken], strict=True)
    ]
    appended.extend(
        (decision, at, TaskScheduled(task_id=t.task_id, name=t.name, action=t.action))
        for t in tasks
    )
    appended.extend((decision, at, e) for e in records)
    return DecisionResult(
        execution_id=work.execution_id,
        decision_no=decision,
        consumed_inputs=taken,
        appended=appended,
        snapshot={"decision": decision} if snapshot is _DEFAULT else snapshot,
        status=status,
        completed=completed,
        output=output,
        errors=list(errors),
        tasks=list(tasks),
        timers=list(timers),
        canceled_tasks=list(canceled),
    )


def fold_inputs(works: list[DecisionWork]) -> list[DecisionResult]:
    """A ``DecideFn`` that records every input and schedules nothing."""
    return [result_for(work) for work in works]


def one_task_each(works: list[DecisionWork]) -> list[DecisionResult]:
    """A ``DecideFn`` that records every input and schedules task ``t<decision>``."""
    return [result_for(work, tasks=[new_task(f"t{work.decision_no + 1}")]) for work in works]


def planned(plan: dict[str, Callable[[DecisionWork], DecisionResult]]) -> DecideFn:
    """A ``DecideFn`` that decides only the executions in ``plan``, as it says."""

    def decide(works: list[DecisionWork]) -> list[DecisionResult]:
        return [plan[w.execution_id](w) for w in works if w.execution_id in plan]

    return decide


class Recorder:
    """A ``DecideFn`` that remembers the works of each call, then decides as ``decide``."""

    def __init__(self, decide: DecideFn = fold_inputs) -> None:
        self.decide = decide
        self.calls: list[list[DecisionWork]] = []

    def __call__(self, works: list[DecisionWork]) -> list[DecisionResult]:
        self.calls.append(list(works))
        return self.decide(works)

    @property
    def works(self) -> dict[str, DecisionWork]:
        """The works of the last call, by execution id."""
        assert self.calls, "decide was never called"
        return {w.execution_id: w for w in self.calls[-1]}


class Blocking:
    """A ``DecideFn`` that says it was entered, then waits to be released."""

    def __init__(self, decide: DecideFn = fold_inputs) -> None:
        self.decide = decide
        self.entered = threading.Event()
        self.release = threading.Event()
        self.works: list[DecisionWork] = []

    def __call__(self, works: list[DecisionWork]) -> list[DecisionResult]:
        self.works = list(works)
        self.entered.set()
        if not self.release.wait(PROMPTLY):
            raise AssertionError(f"the blocked decider was not released within {PROMPTLY} s")
        return self.decide(works)


class Background(Generic[T]):
    """``fn`` running on a thread of its own; ``result`` waits for it, with a deadline."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:
            self._error = exc
        finally:
            self._done.set()

    def finished_within(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def result(self, timeout: float = PROMPTLY) -> T:
        if not self._done.wait(timeout):
            raise AssertionError(f"{self._fn} did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def wait_until(condition: Callable[[], bool], timeout: float = PROMPTLY) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(0.01)


# --- acting and looking -------------------------------------------------------------


def run(store: Store, decide: DecideFn = fold_inputs, **request: Any) -> RoundOutcome:
    """One round by owner ``me`` at ``NOW`` unless ``request`` says otherwise."""
    request.setdefault("owner", "me")
    request.setdefault("now", NOW)
    return store.run_round(RoundRequest(**request), decide)


def claim(
    store: Store,
    *,
    owner: str = "w",
    queues: tuple[str, ...] = ("default",),
    limit: int = 10,
    lease: float = 30.0,
    external: bool = False,
    now: float = NOW,
) -> list[TaskRecord]:
    return store.claim_tasks(ClaimRequest(owner, queues, limit, lease, external), now)


def pending(store: Store, **request: Any) -> dict[str, DecisionWork]:
    """What a round would decide now, by execution id; decides nothing."""
    recorder = Recorder(lambda works: [])
    outcome = run(store, recorder, decide_limit=request.pop("decide_limit", 1000), **request)
    assert outcome.saved == [] and outcome.refused == []
    return recorder.works if recorder.calls else {}


def inbox(store: Store, execution_id: str) -> list[Event]:
    """The events waiting in the execution's inbox, oldest first."""
    work = pending(store).get(execution_id)
    return [] if work is None else list(work.inputs)


def history(store: Store, execution_id: str) -> list[tuple[int, int, str]]:
    """``(seq, decision, type)`` of each recorded event."""
    return [(r.seq, r.decision, r.event.type) for r in store.read_history(execution_id)]


def types_of(store: Store, execution_id: str) -> list[str]:
    return [r.event.type for r in store.read_history(execution_id)]
