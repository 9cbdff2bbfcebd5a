"""The engine's behaviour on every store backend, with a fake clock."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.errors import ActivityError, DefinitionError, LeaseLost
from cadenza.model.retry import RetryPolicy
from cadenza.store.protocol import ClaimRequest, FinishRequest, Store
from cadenza.store.records import FinishOutcome, TaskFinish
from cadenza.testing.clock import FakeClock
from cadenza.testing.replay import check_replay, replay_state
from cadenza.workers.registry import default_registry

from .steps import StepsFrontEnd, steps


def make_engine(store: Store, *, retry: RetryPolicy | None = None, **kwargs: Any) -> Engine:
    registry = kwargs.pop("registry", None) or default_registry()
    return Engine(
        store,
        registry=registry,
        clock=kwargs.pop("clock", None) or FakeClock(),
        front_ends={"steps": StepsFrontEnd(retry), **kwargs.pop("front_ends", {})},
        **kwargs,
    )


def types_of(engine: Engine, execution_id: str) -> list[str]:
    return [r.event.type for r in engine.history(execution_id)]


def test_sequential_steps_complete_with_their_results(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps(
            {"name": "a", "action": "core.echo", "input": {"message": "one"}},
            {"name": "b", "action": "core.echo", "input": {"message": "two"}},
        ),
        kind="steps",
    )
    execution_id = engine.start(definition, {})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert [r["stdout"] for r in record.output] == ["one", "two"]
    assert types_of(engine, execution_id) == [
        "ExecutionStarted",
        "ExecutionStatusChanged",
        "TaskScheduled",
        "TaskCompleted",
        "TaskScheduled",
        "TaskCompleted",
        "CompleteExecution".replace("CompleteExecution", "ExecutionCompleted"),
    ]
    seqs = [r.seq for r in engine.history(execution_id)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_an_hour_long_delay_takes_no_time_with_the_fake_clock(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock)
    definition = engine.register(
        steps({"name": "later", "action": "core.noop", "delay": 3600}), kind="steps"
    )
    start = clock.now()
    execution_id = engine.start(definition)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "running"
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "succeeded"
    assert clock.now() - start == pytest.approx(3600)


def test_state_rebuilt_from_history_equals_the_snapshot(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps(*({"name": f"s{i}", "action": "core.noop"} for i in range(5))), kind="steps"
    )
    execution_id = engine.start(definition)
    engine.run_until_idle()
    interpreter = engine.compile(definition.source, kind="steps")
    rebuilt = replay_state(interpreter, engine.history(execution_id))
    # An ended execution's state is not held in memory: its final snapshot has it.
    assert execution_id not in engine._decider.held()
    snapshot, tail = store.snapshot_and_tail(execution_id)
    assert tail == [] and snapshot is not None
    assert rebuilt == interpreter.load_state(snapshot)
    assert check_replay(interpreter, engine.history(execution_id)) == []
    assert interpreter.describe(rebuilt).status == "succeeded"


def test_activity_failures_are_retried_under_the_policy(store: Store) -> None:
    registry = default_registry()
    calls: list[int] = []

    @registry.activity("flaky")
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ActivityError("not yet", type="Transient")
        return "ok"

    policy = RetryPolicy(max_attempts=3, initial_delay=10, backoff=2)
    engine = make_engine(store, retry=policy, registry=registry)
    definition = engine.register(steps({"name": "f", "action": "flaky"}), kind="steps")
    execution_id = engine.start(definition)
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "succeeded"
    failed = [r.event for r in engine.history(execution_id) if r.event.type == "TaskAttemptFailed"]
    assert [(e.attempt, e.retry_in) for e in failed] == [(1, 10.0), (2, 20.0)]  # type: ignore[attr-defined]


def test_non_retryable_error_stops_retries(store: Store) -> None:
    registry = default_registry()

    @registry.activity("broken")
    def broken() -> None:
        raise ActivityError("bad request", type="BadRequest", non_retryable=True)

    engine = make_engine(store, retry=RetryPolicy(max_attempts=5), registry=registry)
    definition = engine.register(steps({"name": "b", "action": "broken"}), kind="steps")
    execution_id = engine.start(definition)
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["error"]["type"] == "BadRequest"


def test_an_expired_lease_counts_as_a_failed_attempt_and_the_task_runs_again(store: Store) -> None:
    clock = FakeClock()
    engine = make_engine(store, clock=clock, lease=30)
    definition = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    execution_id = engine.start(definition)
    engine.decide()
    # A worker that claims the task and then vanishes.
    claimed = store.claim_tasks(ClaimRequest("ghost", ("default",), 10, 30), clock.now())
    assert [t.attempt for t in claimed] == [1]
    engine.run_until_idle()
    assert engine.get(execution_id).status == "running"
    clock.advance(31)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"
    events = [r.event for r in engine.history(execution_id)]
    lost = [e for e in events if e.type == "TaskAttemptFailed"]
    assert lost and lost[0].error["type"] == "worker.lost"  # type: ignore[attr-defined]
    # The ghost's late report is refused: its attempt is no longer the current one.
    with pytest.raises(LeaseLost):
        finish = TaskFinish(FinishOutcome.DONE, [])
        store.finish_task(
            FinishRequest(execution_id, claimed[0].task_id, 1, "ghost", finish), clock.now()
        )


def test_concurrent_claims_give_each_task_to_exactly_one_worker(store_url: str) -> None:
    from cadenza.store import open_store

    setup = open_store(store_url)
    engine = make_engine(setup)
    definition = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    for _ in range(40):
        engine.start(definition)
    engine.decide()
    workers = 8
    barrier = threading.Barrier(workers)
    won: list[list[str]] = [[] for _ in range(workers)]

    def claim(i: int) -> None:
        own = open_store(store_url)
        barrier.wait()
        while True:
            got = own.claim_tasks(ClaimRequest(f"w{i}", ("default",), 3, 30), engine.clock.now())
            if not got:
                break
            won[i].extend(t.execution_id for t in got)
        own.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [e for w in won for e in w]
    assert len(claimed) == 40 and len(set(claimed)) == 40
    setup.close()


def test_many_decisions_share_one_commit(store: Store) -> None:
    engine = make_engine(store, decision_batch=64)
    definition = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    for _ in range(50):
        engine.start(definition)
    before = store.commits
    assert engine.decide() == 50
    assert store.commits - before == 1


def test_two_engines_in_one_process_share_a_store(store_url: str) -> None:
    from cadenza.store import open_store

    first = make_engine(open_store(store_url))
    second = make_engine(open_store(store_url))
    definition = first.register(
        steps({"name": "a", "action": "core.noop"}, {"name": "b", "action": "core.noop"}),
        kind="steps",
    )
    ids = [first.start(definition) for _ in range(4)]
    for _ in range(10):
        first.tick()
        second.tick()
    assert {first.get(i).status for i in ids} == {"succeeded"}
    first.close()
    second.close()


def test_pause_then_resume_and_a_refused_request(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps({"name": "a", "action": "core.noop"}, {"name": "b", "action": "core.noop"}),
        kind="steps",
    )
    execution_id = engine.start(definition)
    engine.decide()
    engine.pause(execution_id)
    assert engine.get(execution_id).status == "pausing"
    engine.run_until_idle()
    assert engine.get(execution_id).status == "paused"
    engine.resume(execution_id)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"
    engine.pause(execution_id)
    assert engine.last_rejection(execution_id) == {"kind": "Refused", "message": "not running"}
    assert engine.get(execution_id).status == "succeeded"


def test_an_invalid_definition_stores_nothing(store: Store) -> None:
    engine = make_engine(store)
    with pytest.raises(DefinitionError) as caught:
        engine.register("{not json", kind="steps")
    assert caught.value.code == "definition.invalid"
    assert store.list_executions() == []


def test_a_broken_interpreter_fails_its_execution_only(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(store)
    good = engine.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    bad = engine.register(
        steps({"name": "x", "action": "core.noop", "delay": "soon"}), kind="steps"
    )
    ok_id = engine.start(good)
    bad_id = engine.start(bad)
    engine.run_until_idle()
    assert engine.get(ok_id).status == "succeeded"
    broken = engine.get(bad_id)
    assert broken.status == "failed"
    error = broken.errors[0]
    assert error["code"] == "engine.interpreter_defect"
    assert "could not convert string to float" in error["message"]
    assert "Traceback" in error["traceback"] and "_schedule" in error["traceback"]
    # Loud, not only recorded: the traceback is logged too.
    logged = [r for r in caplog.records if r.name == "cadenza.engine" and r.exc_info]
    assert logged and bad_id in logged[0].getMessage()
    assert [r.event.type for r in engine.history(bad_id)] == [
        "ExecutionStarted",
        "ExecutionCompleted",
    ]


def test_dropped_snapshots_are_rebuilt_from_history(store: Store) -> None:
    engine = make_engine(store)
    definition = engine.register(
        steps(
            *(
                {"name": f"s{i}", "action": "core.echo", "input": {"message": str(i)}}
                for i in range(4)
            )
        ),
        kind="steps",
    )
    execution_id = engine.start(definition)
    engine.tick()
    engine.tick()
    assert store.forget_snapshots() >= 1
    engine.forget_held()
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert [r["stdout"] for r in record.output] == ["0", "1", "2", "3"]


def test_a_hung_activity_with_a_heartbeat_timeout_is_timed_out(store: Store) -> None:
    clock = FakeClock()
    registry = default_registry()
    release = threading.Event()

    @registry.activity("hang")
    def hang() -> str:
        release.wait(30)
        return "late"

    engine = make_engine(store, clock=clock, registry=registry, lease=30)
    definition = engine.register(
        steps({"name": "h", "action": "hang", "heartbeat_timeout": 5}), kind="steps"
    )
    execution_id = engine.start(definition)
    engine.decide()
    [task] = engine.runner.claim(["default"], 1)
    worker = threading.Thread(target=engine.runner.run, args=(task,))
    worker.start()
    try:
        clock.advance(4)
        engine.runner.heartbeat()  # the live worker must not keep a silent activity alive
        clock.advance(2)
        assert engine.runner.reap() == 1
    finally:
        release.set()
        worker.join()
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["error"]["type"] == "task.heartbeat_timeout"


def test_an_activity_timed_out_here_is_told_to_stop(store: Store) -> None:
    from cadenza.workers.context import ActivityContext

    clock = FakeClock()
    registry = default_registry()
    told = threading.Event()

    @registry.activity("slow")
    def slow(context: ActivityContext) -> str:
        # Runs until told to stop (or 30 s, which the test would notice).
        if context.cancel_event.wait(30):
            told.set()
        return "stopped"

    engine = make_engine(store, clock=clock, registry=registry, lease=30)
    definition = engine.register(steps({"name": "s", "action": "slow", "timeout": 5}), kind="steps")
    execution_id = engine.start(definition)
    engine.decide()
    [task] = engine.runner.claim(["default"], 1)
    worker = threading.Thread(target=engine.runner.run, args=(task,))
    worker.start()
    clock.advance(6)
    assert engine.runner.reap() == 1
    worker.join(timeout=10)
    assert told.is_set()
    engine.run_until_idle()
    assert engine.get(execution_id).status == "failed"


def test_prepare_compiles_a_registered_definition_before_its_first_decision(
    store: Store,
) -> None:
    compiled: list[str] = []

    class CountingSteps(StepsFrontEnd):
        def compile(self, source: Any, *, origin: str | None = None) -> Any:
            compiled.append(str(origin))
            return super().compile(source, origin=origin)

    first = Engine(store, front_ends={"steps": CountingSteps()})
    definition = first.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    assert len(compiled) == 1
    second = Engine(store, front_ends={"steps": CountingSteps()})
    second.prepare(definition)
    assert len(compiled) == 2
    done = second.run(definition, timeout=30)
    assert done.status == "succeeded"
    assert len(compiled) == 2  # the run's decisions found it compiled


class _NoCompiling(StepsFrontEnd):
    """A front end whose definitions must not be compiled: an engine using it
    proves that it decided without its interpreter."""

    def compile(self, source: Any, *, origin: str | None = None) -> Any:
        raise AssertionError("the definition was compiled")


def test_a_lost_attempt_is_recorded_without_rebuilding_the_state(store: Store) -> None:
    clock = FakeClock()
    first = make_engine(store, clock=clock, lease=30)
    definition = first.register(steps({"name": "a", "action": "core.noop"}), kind="steps")
    execution_id = first.start(definition)
    first.decide()
    claimed = store.claim_tasks(ClaimRequest("ghost", ("default",), 10, 30), clock.now())
    assert [t.attempt for t in claimed] == [1]
    clock.advance(31)

    # Another process, holding no state, takes over: the lost attempt's note is
    # recorded without compiling the definition or replaying the history.
    other = make_engine(store, clock=clock, lease=30, front_ends={"steps": _NoCompiling()})
    assert other.runner.reap() == 1
    assert other.decide() == 1
    assert types_of(other, execution_id)[-1] == "TaskAttemptFailed"
    assert other.get(execution_id).status == "running"

    # The attempt runs again and the run completes, decided with the interpreter.
    first.run_until_idle()
    assert first.get(execution_id).status == "succeeded"
    assert types_of(first, execution_id).count("TaskAttemptFailed") == 1
