"""Operating a saga: a stuck undo retried, marked undone by hand or abandoned;
a running saga canceled (unwound); and the extras Steno leaves out (retries
with backoff, concurrency limit, timeouts), each off unless configured."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.saga import Faults, SagaBuilder, SagaFrontEnd, action
from cadenza.interpreters.saga.interpreter import SagaInterpreter
from cadenza.model.commands import ScheduleTask
from cadenza.model.errors import InputError
from cadenza.model.events import (
    ExecutionStarted,
    MarkerRecorded,
    OperatorRequested,
    TaskCompleted,
    TaskScheduled,
)
from cadenza.model.retry import RetryPolicy
from cadenza.store.protocol import Store

from .kit import (
    ACTIONS,
    WIDE,
    World,
    act,
    assert_clean_history,
    assert_replays,
    assert_reverse_dependency_order,
    make_engine,
)


def stuck_at(store: Store, world: World, node: str) -> tuple[Engine, str]:
    """A run of the test saga whose last action fails and whose undo at ``node`` fails."""
    engine = make_engine(store, world)
    definition = engine.register(json.dumps(WIDE.document), kind="saga")
    faults = Faults().action_error("notify").undo_error(node)
    execution_id = engine.start(definition, {"name": "vm"}, context=faults.context())
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "stuck"
    return engine, execution_id


def operator_events(engine: Engine, execution_id: str) -> list[Any]:
    return [
        r.event
        for r in engine.history(execution_id)
        if r.event.type in ("OperatorRequested", "RequestRejected")
        or (isinstance(r.event, MarkerRecorded) and r.event.kind == "saga.operator")
    ]


def test_retry_undo_runs_the_stuck_undo_again_and_the_saga_finishes_unwinding(
    store: Store,
) -> None:
    world = World()
    engine, execution_id = stuck_at(store, world, "disk")
    assert "disk" in world.resources and "reserve" in world.resources
    engine.operator_request(execution_id, "retry-undo", by="alice", reason="disk API is back")
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["node"] == "notify"
    assert world.resources == set()
    assert world.calls["undo", "disk"] == 1  # the injected failure ran no undo
    assert_reverse_dependency_order(WIDE.graph, world.undo_order)
    requested, marker = operator_events(engine, execution_id)
    assert isinstance(requested, OperatorRequested)
    assert (requested.request, requested.by, requested.reason) == (
        "retry-undo",
        "alice",
        "disk API is back",
    )
    assert marker.details == {
        "request": "retry-undo",
        "nodes": ["disk"],
        "by": "alice",
        "reason": "disk API is back",
    }
    assert_clean_history(engine.history(execution_id))
    assert_replays(engine, execution_id)


def test_a_stuck_saga_rebuilt_from_history_alone_goes_on_when_asked(store: Store) -> None:
    world = World()
    engine, execution_id = stuck_at(store, world, "attach/link")
    engine.store.forget_snapshots([execution_id])
    engine.forget_held()
    restarted = make_engine(store, world)  # another process: nothing held in memory
    restarted.operator_request(execution_id, "retry-undo", by="frank", reason="restarted")
    restarted.run_until_idle(skip_time=True)
    assert restarted.get(execution_id).status == "failed"
    assert world.resources == set()
    assert all(n == 1 for (side, _), n in world.calls.items() if side == "undo")
    assert_replays(restarted, execution_id)


def test_mark_undone_needs_a_reason_and_then_carries_on_unwinding(store: Store) -> None:
    world = World()
    engine, execution_id = stuck_at(store, world, "attach/nic")
    engine.operator_request(execution_id, "mark-undone", by="bob")
    assert engine.get(execution_id).status == "stuck"
    rejection = engine.last_rejection(execution_id)
    assert "mark-undone needs a reason" in rejection["message"]

    engine.operator_request(
        execution_id, "mark-undone", {"node": "attach/nic"}, by="bob", reason="deleted by hand"
    )
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "failed"
    # the NIC was never deleted by the saga: the operator vouched for it
    assert world.resources == {"attach/nic"}
    assert world.calls["undo", "attach/nic"] == 0
    nic = next(t for t in engine.describe(execution_id).tasks if t.name == "attach/nic")
    assert nic.status == "undone"
    assert nic.result == {"marked_undone": {"by": "bob", "reason": "deleted by hand"}}
    assert_replays(engine, execution_id)


def test_abandon_stops_a_stuck_saga_and_says_what_was_left(store: Store) -> None:
    world = World()
    engine, execution_id = stuck_at(store, world, "net")
    engine.operator_request(execution_id, "abandon", by="carol", reason="decommissioned host")
    record = engine.get(execution_id)
    assert record.status == "abandoned"
    abandoned = record.errors[-1]
    assert abandoned["type"] == "saga.abandoned"
    assert set(abandoned["not_undone"]) == {"reserve", "net"}
    assert any(e["type"] == "saga.stuck" and e["node"] == "net" for e in record.errors)
    # nothing more happens, and a final saga refuses more requests
    engine.operator_request(execution_id, "retry-undo", by="carol")
    assert "abandoned" in engine.last_rejection(execution_id)["message"]
    assert_replays(engine, execution_id)


def test_requests_that_do_not_fit_are_refused_and_change_nothing(store: Store) -> None:
    world = World()
    engine, execution_id = stuck_at(store, world, "net")
    with pytest.raises(InputError, match="take no operator request 'resume-forward'"):
        engine.operator_request(execution_id, "resume-forward")
    engine.operator_request(execution_id, "retry-undo", {"node": "disk"}, by="dan")
    assert (
        "'disk' is not a node whose undo is stuck" in engine.last_rejection(execution_id)["message"]
    )
    engine.cancel(execution_id)
    assert "already stuck" in engine.last_rejection(execution_id)["message"]
    assert engine.get(execution_id).status == "stuck"
    assert_replays(engine, execution_id)


def test_cancel_unwinds_a_running_saga_after_its_running_action_finishes(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    definition = engine.register(json.dumps(WIDE.document), kind="saga")
    execution_id = engine.start(definition, {"name": "vm"})
    engine.decide()  # reserve is scheduled, not yet run
    engine.cancel(execution_id)
    assert engine.get(execution_id).status == "unwinding"
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "canceled"
    assert record.errors[0]["type"] == "saga.canceled"
    # the action in flight ran to its end, and was then undone; nothing else ran
    assert world.calls == {("do", "reserve"): 1, ("undo", "reserve"): 1}
    assert world.resources == set()
    statuses = {t.name: t.status for t in engine.describe(execution_id).tasks}
    assert statuses["reserve"] == "undone"
    assert {statuses[p] for p in ACTIONS if p != "reserve"} == {"abandoned"}
    assert_replays(engine, execution_id)


def flaky(world: World, fails: int) -> Any:
    def activity(node: str, path: str) -> dict[str, str]:
        world.calls["try", path] += 1
        if world.calls["try", path] <= fails:
            raise RuntimeError(f"{path} is not ready yet")
        return world.do(node, path)

    return activity


def test_an_action_retries_by_its_policy_with_backoff(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    engine.registry.register("test.flaky", flaky(world, 2))
    saga = (
        SagaBuilder("retrying")
        .append(
            action(
                "a",
                do="test.flaky",
                undo="test.undo",
                input={"node": "a", "path": "a"},
                retry=RetryPolicy(max_attempts=3, initial_delay=5, backoff=2),
            )
        )
        .build()
    )
    definition = engine.register(json.dumps(saga.document), kind="saga")
    started = engine.clock.now()
    execution_id = engine.start(definition, {})
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "succeeded"
    assert world.calls["try", "a"] == 3
    delays = [
        r.event.delay for r in engine.history(execution_id) if isinstance(r.event, TaskScheduled)
    ]
    assert delays == [0.0, 5.0, 10.0]
    assert engine.clock.now() - started == 15.0
    assert_replays(engine, execution_id)


def test_without_a_policy_an_action_error_is_final_as_in_steno(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    engine.registry.register("test.flaky", flaky(world, 1))
    saga = (
        SagaBuilder("steno")
        .append(act("a"))
        .append(action("b", do="test.flaky", input={"node": "b", "path": "b"}))
        .build()
    )
    definition = engine.register(json.dumps(saga.document), kind="saga")
    execution_id = engine.start(definition, {})
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "failed"
    assert world.calls["try", "b"] == 1
    assert world.resources == set()


def test_a_failing_undo_is_retried_with_capped_backoff_until_it_succeeds(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    saga = SagaBuilder("undo-retry").append(act("a")).append(act("b")).build()
    definition = engine.register(json.dumps(saga.document), kind="saga")
    execution_id = engine.start(definition, {}, context=Faults().action_error("b").context())
    world.broken_undos.add("a")
    for _ in range(200):  # rounds, each one attempt at most; no wall clock involved
        engine.tick()
        if world.calls["undo", "a"] >= 8:
            break
        engine.clock.set(engine.store.next_wakeup(["saga"]) or engine.clock.now())  # type: ignore[attr-defined]
    view = engine.describe(execution_id)
    a = next(t for t in view.tasks if t.name == "a")
    assert (view.status, a.status) == ("unwinding", "undoing")
    assert a.result["error"]["message"] == "the undo of 'a' failed: cannot delete a"
    assert a.result["undoing"]["attempt"] >= 8
    delays = [
        r.event.delay
        for r in engine.history(execution_id)
        if isinstance(r.event, TaskScheduled) and r.event.meta["node"] == "a"
    ]
    assert delays[1:8] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    world.broken_undos.clear()
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "failed"
    assert world.resources == set()
    assert_replays(engine, execution_id)


def test_an_undo_whose_policy_is_spent_gets_stuck(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    saga = (
        SagaBuilder("undo-limit")
        .append(
            action(
                "a",
                do="test.do",
                undo="test.undo",
                input={"node": "a", "path": "a"},
                undo_retry=RetryPolicy(max_attempts=2, initial_delay=1),
            )
        )
        .append(act("b"))
        .build()
    )
    definition = engine.register(json.dumps(saga.document), kind="saga")
    world.broken_undos.add("a")
    execution_id = engine.start(definition, {}, context=Faults().action_error("b").context())
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "stuck"
    assert world.calls["undo", "a"] == 2
    world.broken_undos.clear()
    engine.operator_request(execution_id, "retry-undo", by="eve", reason="fixed")
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "failed"
    assert world.resources == set()


def test_max_parallel_limits_the_tasks_in_flight(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    saga = (
        SagaBuilder("narrow", max_parallel=2)
        .append(act("a"))
        .append_parallel(*(act(f"p{i}") for i in range(5)))
        .append(act("z"))
        .build()
    )
    definition = engine.register(json.dumps(saga.document), kind="saga")
    execution_id = engine.start(definition, {})
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "succeeded"
    in_flight, widest = 0, 0
    for recorded in engine.history(execution_id):
        if recorded.event.type == "TaskScheduled":
            in_flight += 1
        elif recorded.event.type == "TaskCompleted":
            in_flight -= 1
        widest = max(widest, in_flight)
    assert widest == 2
    assert world.resources == {"a", "z", *(f"p{i}" for i in range(5))}


def test_timeouts_and_policies_reach_the_scheduled_tasks() -> None:
    saga = (
        SagaBuilder("timeouts")
        .append(action("a", do="x.a", undo="x.u", timeout=30, undo_timeout=60))
        .build()
    )
    interpreter = SagaInterpreter(saga.graph)
    state = interpreter.new_state()
    commands = interpreter.decide(state, [ExecutionStarted(input={})], 0.0)
    scheduled = [c for c in commands if isinstance(c, ScheduleTask)]
    assert [(c.task_id, c.action, c.timeout) for c in scheduled] == [("a.do.1", "x.a", 30.0)]
    assert scheduled[0].retry is not None and scheduled[0].retry.retryable_errors == frozenset(
        {"worker.lost"}
    )


def test_a_saga_refuses_pause_resume_rerun_and_signals(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    definition = engine.register(json.dumps(WIDE.document), kind="saga")
    execution_id = engine.start(definition, {"name": "vm"})
    engine.decide()
    engine.pause(execution_id)
    assert "cannot pause" in engine.last_rejection(execution_id)["message"]
    engine.signal(execution_id, "hurry", by="gina")
    assert "takes no signal ('hurry')" in engine.last_rejection(execution_id)["message"]
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "succeeded"
    with pytest.raises(InputError, match="a saga is not rerun"):
        engine.rerun(execution_id)
    assert_replays(engine, execution_id)


def test_a_late_completion_of_a_withdrawn_task_changes_nothing() -> None:
    interpreter = SagaInterpreter(WIDE.graph)
    state = interpreter.new_state()
    interpreter.decide(state, [ExecutionStarted(input={"name": "vm"})], 0.0)
    before = interpreter.dump_state(state)
    late = TaskCompleted(task_id="reserve.do.7", status="succeeded", result={})
    assert interpreter.decide(state, [late], 1.0) == []
    assert interpreter.dump_state(state) == before


def test_an_action_that_outlives_its_timeout_fails_and_the_saga_unwinds(store: Store) -> None:
    world = World()
    release = threading.Event()

    def hang(node: str, path: str) -> None:
        release.wait(30)  # until the saga is over: the timeout must end the attempt first

    engine = Engine(
        store,
        registry=world.registry(),
        front_ends={"saga": SagaFrontEnd()},
        poll_interval=0.05,
    )
    engine.registry.register("test.hang", hang)
    saga = (
        SagaBuilder("timeouts")
        .append(act("a"))
        .append(action("b", do="test.hang", input={"node": "b", "path": "b"}, timeout=0.2))
        .build()
    )
    definition = engine.register(json.dumps(saga.document), kind="saga")
    execution_id = engine.start(definition, {})

    def release_when_over(_: object) -> None:
        # The late attempt goes on after its timeout; let its thread end with the saga.
        if engine.is_final(engine.get(execution_id)):
            release.set()

    engine.add_listener(release_when_over)
    try:
        record = engine.drive(execution_id, timeout=60)
    finally:
        release.set()
    assert record.status == "failed"
    assert record.errors[0]["node"] == "b"
    assert record.errors[0]["type"] == "task.timeout"
    assert world.resources == set()
    assert world.calls["undo", "a"] == 1
