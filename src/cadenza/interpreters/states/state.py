"""The interpreter state of one States execution: what ``decide`` keeps between calls.

Everything here is plain JSON (dicts, lists, strings, numbers), so the engine
stores it as is (``dump_state``/``load_state``); the classes here are
``TypedDict``s: they only name the keys and give their types.

* :class:`ExecutionState` — the whole state: status, counters, the context
  object, and the live threads, task ids and timers by id;
* :class:`Thread` — one machine, Parallel branch or Map iteration running
  the states of one scope (see :mod:`~cadenza.interpreters.states.definition`);
* :class:`ChildFrame` — what a running Parallel/Map keeps about its children;
* :class:`Resource` / :class:`RunningTask` — a Task state's resource, and the
  attempt of it the engine was asked to run;
* :class:`Timer` — a started timer and the thread it resumes;
* :class:`RedrivePoint` / :class:`FinishedChildren` — where a redrive restarts.

The modules that *do* the work of each state type use these types; none of
them is imported here.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = [
    "ChildFrame",
    "ExecutionState",
    "FinishedChildren",
    "RedrivePoint",
    "Resource",
    "RunningTask",
    "Thread",
    "Timer",
]


class Resource(TypedDict):
    """What kind of resource a Task state's ARN names (``tasks.classify``).

    ``kind`` is ``lambda``, ``activity``, ``service`` or ``unknown``; a service
    integration also has its ``resourceType`` (``lambda``, ``sqs``,
    ``aws-sdk:s3``, ...), its ``action``, its integration ``pattern`` (``""``,
    ``sync``, ``waitForTaskToken``) and, when its ARN names one, its ``region``.
    """

    kind: str
    resource: str
    resourceType: NotRequired[str]
    action: NotRequired[str]
    pattern: NotRequired[str]
    region: NotRequired[str]


class RunningTask(Resource):
    """One attempt of a Task state, as ``ScheduleTask`` asked the engine to run it."""

    id: str
    timeout: float | None
    heartbeat: float | None
    #: The Lambda function called (function ARN or ``lambda:invoke``).
    function: NotRequired[str]
    #: ``lambda:invoke`` with ``LogType: Tail``: the response carries a log tail.
    log_tail: NotRequired[bool]
    #: ``.waitForTaskToken``: the task id of the service call, while it runs.
    call: NotRequired[str]
    #: The timer of the state's ``TimeoutSeconds``.
    timer: NotRequired[str]
    #: An activity worker took it (``ActivityStarted`` was recorded).
    started: NotRequired[bool]
    #: ``states:startExecution.sync``/``.sync:2``: the child execution it waits for.
    child: NotRequired[dict[str, Any]]


class FinishedChildren(TypedDict):
    """Which branches/iterations of a Parallel/Map had succeeded, and their results."""

    results: list[Any]
    finished: list[bool]


class ChildFrame(FinishedChildren):
    """A running Parallel or Map state's children.

    ``running`` maps a child thread id to its slot (branch or item index);
    ``remaining`` counts the slots not finished yet. The other keys belong to a
    Map only.
    """

    kind: str  # "parallel" or "map"
    running: dict[str, int]
    remaining: int
    items: NotRequired[list[Any]]
    data: NotRequired[Any]
    next: NotRequired[int]
    limit: NotRequired[int]
    failures: NotRequired[int]
    tolerated_count: NotRequired[float]
    tolerated_percentage: NotRequired[float]
    distributed: NotRequired[bool]
    #: With a ``ResultWriter``: each child's input, [start, stop] times, and
    #: the slots whose failure was tolerated.
    inputs: NotRequired[list[Any]]
    times: NotRequired[list[list[float]]]
    failed: NotRequired[list[int]]


class Thread(TypedDict):
    """The states of one scope, run one after another.

    ``id`` is ``root`` for the machine, ``t<n>`` for a branch or an iteration of
    the ``parent`` thread, in ``slot`` of its Parallel/Map. ``state`` is the
    current state and ``input`` its input; ``prev`` is the id of the last
    history event on this thread and ``entered`` that of its current state's
    ``...StateEntered``.
    """

    id: str
    scope: str
    parent: str | None
    slot: int
    state: str
    input: Any
    vars: dict[str, Any]
    prev: int
    entered: int
    entered_time: float
    #: Attempts per retrier (by its index, as text) of the current state.
    attempts: dict[str, int]
    retry_count: int
    #: The current state is entered and not yet exited, failed or aborted.
    active: bool
    done: bool
    #: A child execution of a distributed Map: no events in this history.
    silent: NotRequired[bool]
    entered_prev: NotRequired[int]
    task: NotRequired[RunningTask]
    frame: NotRequired[ChildFrame]
    #: After a redrive: the children of this Parallel/Map that had succeeded.
    redrive_frame: NotRequired[FinishedChildren | None]
    #: The ``...StateFailed`` events to record once Retry does not apply.
    failed_events: NotRequired[list[str]]
    #: The failure happened while the work ran (its state is no longer active).
    work_failed: NotRequired[bool]
    #: Failed, and its Parallel/Map has not heard of it yet.
    pending_failure: NotRequired[bool]
    #: A Wait state's effective input, passed on when its timer fires.
    wait_data: NotRequired[Any]
    #: A Map state's ``MaxConcurrency``, between evaluating it and the first launch.
    map_limit: NotRequired[float]
    #: A Map's ``ItemReader``/``ResultWriter`` task waited for: ``{"task", "kind"}``.
    map_io: NotRequired[dict[str, str]]
    #: The items an ``ItemReader`` read, until the iterations start.
    read_items: NotRequired[list[Any]]
    #: A distributed Map's Map Run ARN.
    map_run_arn: NotRequired[str]


class Timer(TypedDict):
    """A started timer: the thread it resumes and why (``execution``, ``retry``,
    ``wait`` or ``timeout``, which also names the ``task`` timed)."""

    thread: str
    kind: str
    task: NotRequired[str]


class RedrivePoint(TypedDict):
    """Where a redrive restarts: the root thread's state when the execution ended."""

    scope: str
    state: str
    input: Any
    vars: dict[str, Any]
    frame: FinishedChildren | None


class ExecutionState(TypedDict):
    """The whole interpreter state of one execution.

    ``status`` uses Step Functions' names (``NEW``, ``RUNNING``, ``SUCCEEDED``,
    ``FAILED``, ``TIMED_OUT``, ``ABORTED``). ``tasks`` maps each task id the
    execution waits for to its thread id. ``seq`` numbers threads, tasks and
    timers; ``seed`` and ``draws`` make its randomness replayable.
    """

    status: str
    output: Any
    error: str | None
    cause: str | None
    next_event_id: int
    seq: int
    draws: int
    seed: int
    redrive_count: int
    #: ``Execution`` and ``StateMachine`` of the context object.
    context: dict[str, Any]
    threads: dict[str, Thread]
    tasks: dict[str, str]
    timers: dict[str, Timer]
    #: The last final outcome reported (status, output, error, cause).
    reported: list[Any] | None
    redrive: RedrivePoint | None
    execution_id: str
    #: Resources the engine said do not exist.
    unavailable: NotRequired[list[str]]
    #: Redriven in this decision: the execution is open again.
    reopened: NotRequired[bool]
    #: A mock configuration's test case: each mocked state's response table
    #: (see :mod:`~cadenza.interpreters.states.mocks`).
    mocks: NotRequired[dict[str, list[list[Any]]]]
    #: How many times each mocked state was invoked so far.
    mock_calls: NotRequired[dict[str, int]]
    #: Secret paths of the results of named states (the start context's
    #: ``secret_results``; see :mod:`cadenza.model.secrets`).
    secret_results: NotRequired[dict[str, list[str]]]
