"""An engine-backed conformance driver for the States front end.

Where ``driver.py`` plays the engine itself against the interpreter, this
driver runs every execution of a case through the real :class:`Engine` on a
SQLite store with a :class:`FakeClock`. Decisions, task rows, leases, timers
and history all go through the engine and the store; only the world outside
is scripted from the case:

* Lambda functions are registry activities named by their function ARN
  (Lambda-style handlers taking the whole event). A ``sleep`` function is
  claimed by the driver through ``engine.runner`` and finished only when the
  fake clock reaches its claim time plus the sleep, so state timeouts can win.
* Activity workers poll and answer through ``engine.external`` (GetActivityTask,
  SendTaskHeartbeat/Success/Failure), sleeping on the fake clock.
* Timers fire as the clock is moved to the store's next wake-up.

The Step Functions history is projected from the kernel history with
``sfn_history`` and shaped exactly as the pure driver shapes it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.engine.external_tasks import ActivityTask
from cadenza.interpreters.states.frontend import AWS_PAYLOAD_LIMIT, StatesFrontEnd
from cadenza.interpreters.states.history import sfn_history
from cadenza.interpreters.states.interpreter import AWS_TO_CADENZA
from cadenza.model.errors import ActivityError, LeaseLost
from cadenza.model.events import TimerFired, TimerStarted
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.store.records import TaskRecord
from cadenza.store.sqlite import SQLiteStore
from cadenza.testing.clock import FakeClock
from cadenza.workers.context import ActivityContext
from cadenza.workers.registry import ActivityRegistry

from .driver import (
    REGION_ACCOUNT,
    SORTED_STRETCH_DROPS,
    START_TIME,
    _lambda_error,
    _parsed_object,
    _python_str,
    _recorder_view,
)

#: Rounds of the driving loop per execution before giving up (a runaway guard).
MAX_ROUNDS = 20_000
CADENZA_TO_AWS = {cadenza: aws for aws, cadenza in AWS_TO_CADENZA.items()}

Behaviour = dict[str, Any]


# --- the world outside the engine, from the case's data -------------------------------------


def _unslept(behaviour: Behaviour) -> tuple[float, Behaviour]:
    """How long a Lambda behaviour sleeps before it acts, and how it then acts."""
    delay = 0.0
    while behaviour.get("kind") == "sleep":
        delay += float(behaviour.get("seconds", 0))
        behaviour = behaviour.get("then") or {"kind": "identity"}
    return delay, behaviour


def lambda_handler(behaviour: Behaviour) -> Any:
    """A Lambda-style handler (one event in, one result out) acting as ``behaviour`` says."""
    kind = behaviour.get("kind")
    if kind == "identity":
        return lambda event: event
    if kind == "return":
        value = behaviour.get("value")
        return lambda event: value
    if kind == "raise":

        def fail(event: Any) -> Any:
            raise ActivityError(
                behaviour.get("errorMessage", ""),
                type=str(behaviour.get("errorType", "Exception")),
                details=_lambda_error(behaviour),
            )

        return fail
    if kind == "return_bytes":
        text = behaviour.get("text")
        if text is None:
            text = str(behaviour.get("repeat", "")) * int(behaviour.get("count", 0))
        try:
            result: Any = json.loads(text)
        except ValueError:
            result = text
        return lambda event: result
    if kind == "python_format":
        prefix = str(behaviour.get("prefix", ""))
        return lambda event: prefix + _python_str(event)
    raise AssertionError(f"unknown Lambda behaviour {kind!r}")


def build_registry(case: dict[str, Any]) -> ActivityRegistry:
    """Every Lambda function of the case, registered under its function ARN."""
    registry = ActivityRegistry()
    for arn, behaviour in case.get("resources", {}).items():
        if behaviour.get("kind") == "activity_worker":
            continue
        _delay, acting = _unslept(behaviour)
        registry.register(arn, lambda_handler(acting), whole_input=True)
    return registry


def unavailable_resources(case: dict[str, Any]) -> list[str]:
    """Activities the account does not have (deleted: no worker name and no steps)."""
    return [
        arn
        for arn, resource in case.get("resources", {}).items()
        if resource.get("kind") == "activity_worker"
        and "worker_name" not in resource
        and not resource.get("steps")
    ]


def start_context(case: dict[str, Any], execution: dict[str, Any]) -> dict[str, Any]:
    """The ``ExecutionStarted.context`` the States front end reads (see frontend.py)."""
    machine = case.get("state_machine", {})
    name = execution.get("name", "execution")
    machine_name = machine.get("name", "machine")
    context: dict[str, Any] = {
        "state_machine_name": machine_name,
        "state_machine_arn": machine.get("arn")
        or f"arn:aws:states:{REGION_ACCOUNT}:stateMachine:{machine_name}",
        "execution_name": name,
        "execution_arn": execution.get("arn")
        or f"arn:aws:states:{REGION_ACCOUNT}:execution:{machine_name}:{name}",
        "unavailable_resources": unavailable_resources(case),
    }
    if machine.get("role_arn"):
        context["role_arn"] = machine["role_arn"]
    return context


@dataclass
class _Sleeping:
    """A Lambda attempt the driver holds until the clock reaches ``until``."""

    until: float
    task: TaskRecord


@dataclass
class _WorkerJob:
    """One activity task a worker took, and where it is in its step list."""

    task: ActivityTask
    steps: list[dict[str, Any]]
    position: int = 0
    resume_at: float = 0.0


@dataclass
class EngineCaseRun:
    """Every execution of one case through one engine on one SQLite file."""

    case: dict[str, Any]
    database: Path
    engine: Engine = field(init=False)
    sleeping: list[_Sleeping] = field(default_factory=list)
    jobs: list[_WorkerJob] = field(default_factory=list)

    def __post_init__(self) -> None:
        machine_type = self.case.get("state_machine", {}).get("type", "STANDARD")
        self.engine = Engine(
            SQLiteStore(str(self.database)),
            registry=build_registry(self.case),
            clock=FakeClock(START_TIME),
            front_ends={"states": StatesFrontEnd(machine_type, payload_limit=AWS_PAYLOAD_LIMIT)},
        )
        self.clock: FakeClock = self.engine.clock  # type: ignore[assignment]

    # --- Lambda functions -----------------------------------------------------------------

    def _run_lambdas(self) -> int:
        """Claim the due Lambda attempts: run each now, or hold it while it sleeps."""
        runner = self.engine.runner
        claimed = runner.claim(self.engine.queues, self.engine.concurrency)
        for task in claimed:
            behaviour = self.case.get("resources", {}).get(task.action or "")
            delay = 0.0 if behaviour is None else _unslept(behaviour)[0]
            if delay > 0:
                # A running attempt, as far as the runner's lease heartbeats go.
                context = ActivityContext(task.execution_id, task.task_id, task.attempt)
                runner.running.add(task, context)
                self.sleeping.append(_Sleeping(self.clock.now() + delay, task))
            else:
                runner.run(task)
        return len(claimed)

    def _wake_sleepers(self) -> int:
        """Finish the held Lambda attempts whose sleep is over."""
        now = self.clock.now()
        due = [s for s in self.sleeping if s.until <= now]
        self.sleeping = [s for s in self.sleeping if s.until > now]
        runner = self.engine.runner
        for sleeper in due:
            outcome = runner.execute(sleeper.task)
            # LeaseLost: the attempt was given up (timed out) while it slept.
            with contextlib.suppress(LeaseLost):
                runner.finish(sleeper.task, outcome, owner=runner.owner)
        return len(due)

    # --- activity workers ---------------------------------------------------------------

    def _poll_workers(self) -> int:
        """Each activity with a worker takes every task waiting on it."""
        taken = 0
        for arn, resource in self.case.get("resources", {}).items():
            if resource.get("kind") != "activity_worker" or not resource.get("steps"):
                continue
            if "worker_name" not in resource:
                continue
            while True:
                task = self.engine.external.poll(arn, str(resource["worker_name"]))
                if task is None:
                    break
                steps = list(resource["steps"])
                self.jobs.append(_WorkerJob(task, steps, resume_at=self.clock.now()))
                taken += 1
        return taken

    def _work(self) -> int:
        """Carry every worker on through its steps as far as the clock allows."""
        now = self.clock.now()
        done = 0
        for job in list(self.jobs):
            while job.resume_at <= now and job in self.jobs:
                done += 1
                self._step(job, now)
        return done

    def _step(self, job: _WorkerJob, now: float) -> None:
        if job.position >= len(job.steps):
            self.jobs.remove(job)
            return
        step = job.steps[job.position]
        job.position += 1
        action = step.get("do")
        external = self.engine.external
        try:
            if action == "sleep":
                job.resume_at = now + float(step.get("seconds", 0))
            elif action == "heartbeat":
                external.heartbeat(job.task.token)
            elif action == "success":
                output = step.get("output")
                external.succeed(job.task.token, job.task.input if output == "$input" else output)
                self.jobs.remove(job)
            elif action == "failure":
                cause = step.get("cause")
                if cause == "$input":
                    cause = json.dumps(job.task.input)
                external.fail(job.task.token, step.get("error"), cause)
                self.jobs.remove(job)
            elif action == "nothing":
                self.jobs.remove(job)
            else:
                raise AssertionError(f"unknown activity worker step {action!r}")
        except LeaseLost:
            # The engine gave the task up (timed out): the worker's answer is refused.
            self.jobs.remove(job)

    # --- the loop -------------------------------------------------------------------------

    def _round(self) -> int:
        engine = self.engine
        work = engine.store.fire_due_timers(self.clock.now(), 100)
        engine.runner.heartbeat()
        work += engine.runner.reap()
        work += engine.decide()
        work += self._run_lambdas()
        work += self._wake_sleepers()
        work += self._poll_workers()
        work += self._work()
        return work

    def _next_time(self) -> float | None:
        times = [s.until for s in self.sleeping] + [j.resume_at for j in self.jobs]
        wakeup = self.engine.store.next_wakeup()
        if wakeup is not None:
            times.append(wakeup)
        later = [t for t in times if t > self.clock.now()]
        return min(later) if later else None

    def _check_not_stalled(self, execution_id: str) -> None:
        """Stopping with a timer of the execution still open means the store hid it."""
        started: dict[str, float] = {}
        fired: set[str] = set()
        for recorded in self.engine.history(execution_id):
            event = recorded.event
            if isinstance(event, TimerStarted):
                started[event.timer_id] = recorded.time + event.delay
            elif isinstance(event, TimerFired):
                fired.add(event.timer_id)
        open_timers = {t: at for t, at in started.items() if t not in fired}
        if open_timers:
            timer, at = min(open_timers.items(), key=lambda item: item[1])
            raise AssertionError(
                f"engine stalled: timer {timer!r} of {execution_id} is due at +"
                f"{at - START_TIME:g} s but store.next_wakeup() is "
                f"{self.engine.store.next_wakeup()} (not after now, +"
                f"{self.clock.now() - START_TIME:g} s): a task waiting on a queue no engine "
                "worker serves (an activity nobody polls) hides every later timer"
            )

    def drive(self, execution_id: str) -> None:
        """Run until the execution ends, or nothing more can happen."""
        for _ in range(MAX_ROUNDS):
            if self._round():
                continue
            if self.engine.get(execution_id).status in FINAL_EXECUTION_STATUSES:
                break
            due = self._next_time()
            if due is None:
                self._check_not_stalled(execution_id)
                break
            self.clock.set(due)
        else:
            raise AssertionError(f"execution {execution_id} still busy after {MAX_ROUNDS} rounds")
        # What the world still holds for this execution can no longer matter.
        for sleeper in self.sleeping:
            if sleeper.task.execution_id == execution_id:
                self.engine.runner.running.remove(sleeper.task)
        self.sleeping = [s for s in self.sleeping if s.task.execution_id != execution_id]
        self.jobs = [j for j in self.jobs if j.task.execution_id != execution_id]

    def run(self) -> dict[str, Any]:
        source = json.dumps(self.case["definition"])
        definition = self.engine.register(
            source, kind="states", name=self.case.get("state_machine", {}).get("name")
        )
        reports = []
        for execution in self.case["executions"]:
            execution_input = None if execution.get("input_omitted") else execution.get("input")
            execution_id = self.engine.start(
                definition,
                execution_input,
                context=start_context(self.case, execution),
                execution_id=execution.get("name"),
            )
            self.drive(execution_id)
            reports.append(self.report(execution_id))
        return {"executions": reports}

    def report(self, execution_id: str) -> dict[str, Any]:
        """The execution in the comparator's ``actual`` shape (as ``driver.Driver.report``)."""
        record = self.engine.get(execution_id)
        events = [_recorder_view(e) for e in sfn_history(self.engine.history(execution_id))]
        if self.case.get("hints", {}).get("parallel_events_sorted"):
            events = [e for e in events if e.get("type") not in SORTED_STRETCH_DROPS]
        status = CADENZA_TO_AWS.get(record.status, record.status.upper())
        out: dict[str, Any] = {"status": status, "events": events}
        if status == "SUCCEEDED":
            out["output"] = record.output
        elif record.errors:
            error = record.errors[0]
            if isinstance(error, dict):
                if error.get("error") is not None:
                    out["error"] = error["error"]
                if error.get("cause") is not None:
                    out["cause"] = _parsed_object(error["cause"])
        return out

    def close(self) -> None:
        self.engine.close()


# --- known engine gaps: cases the pure driver passes that the engine cannot run -------------


#: (property, reason, levels it breaks) — checked in order after ``cases.KNOWN_GAPS``.
#: Cases that cannot pass through the engine although the interpreter passes them:
#: (property of the case, reason, levels). Empty: the engine reproduces the
#: interpreter's results on every case.
ENGINE_GAPS: list[tuple[Callable[[dict[str, Any]], bool], str, set[str]]] = []


def engine_gap(case: dict[str, Any], level: str) -> str | None:
    """Why the case cannot pass at ``level`` through the engine alone, or None."""
    for prop, reason, levels in ENGINE_GAPS:
        if prop(case):
            return reason if level in levels else None
    return None


def run_case_on_engine(case: dict[str, Any], database: Path) -> dict[str, Any]:
    """Every execution of an ``execution`` case through the engine, in the comparator's
    ``actual`` shape. ``database`` is the SQLite file to create for it."""
    run = EngineCaseRun(case, database)
    try:
        return run.run()
    finally:
        run.close()
