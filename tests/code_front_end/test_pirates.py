"""The seed deck's pirate business, in both faces, on every store backend."""

from __future__ import annotations

import pytest

from cadenza.store.protocol import Store
from cadenza.testing.replay import check_replay

from .conftest import make_engine, ref


@pytest.mark.parametrize("target", ["pirates:PirateBusiness", "pirates:pirate_business"])
def test_a_rich_business_builds_its_boat(store: Store, target: str) -> None:
    import pirates

    engine = make_engine(store, pirates)
    definition = engine.register(ref(target))
    assert definition.kind == "code"
    execution_id = engine.start(definition, {"goal": 1200, "crew_size": 2})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded", engine.describe(execution_id)
    assert record.output == {
        "money": 1200,
        "boat": {"boat": "sloop", "how": "built", "cost": 1200},
        "crew": ["Anne", "Mary"],
        "parrot": "a green parrot",
    }
    interpreter = engine.compile(ref(target), kind="code")
    assert check_replay(interpreter, engine.history(execution_id)) == []


@pytest.mark.parametrize("target", ["pirates:PirateBusiness", "pirates:pirate_business"])
def test_a_poor_business_steals_its_boat(store: Store, target: str) -> None:
    import pirates

    engine = make_engine(store, pirates)
    execution_id = engine.start(engine.register(ref(target)), [300])
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output["boat"] == {"boat": "rowing boat", "how": "stolen", "cost": 0}
    assert record.output["crew"] == ["Anne", "Mary", "Jack"]
    scheduled = [
        r.event.name for r in engine.history(execution_id) if r.event.type == "TaskScheduled"
    ]
    assert scheduled == [
        "pirates.raise_money",
        "pirates.steal_boat",
        "pirates.find_crew",
        "pirates.buy_parrot",
    ]


def test_crew_and_parrot_are_scheduled_in_one_decision(store: Store) -> None:
    import pirates

    engine = make_engine(store, pirates)
    execution_id = engine.start(engine.register(ref("pirates:PirateBusiness")), {"goal": 5000})
    engine.run_until_idle()
    history = engine.history(execution_id)
    decision_of = {r.event.name: r.decision for r in history if r.event.type == "TaskScheduled"}
    assert (
        decision_of["pirates.build_boat"]
        == decision_of["pirates.find_crew"]
        == decision_of["pirates.buy_parrot"]
    )
    assert decision_of["pirates.raise_money"] < decision_of["pirates.build_boat"]
    queues = {r.event.task_id: r.event.name for r in history if r.event.type == "TaskScheduled"}
    assert "pirates.buy_parrot@" in " ".join(queues)  # idempotent: a content-hash id


def test_the_tasks_view_and_the_description_list_each_task(store: Store) -> None:
    import pirates

    engine = make_engine(store, pirates)
    execution_id = engine.start(engine.register(ref("pirates:PirateBusiness")), {"goal": 20})
    engine.run_until_idle()
    view = engine.history_view(execution_id, "tasks")
    assert [(row["name"], row["status"]) for row in view] == [
        ("pirates.raise_money", "succeeded"),
        ("pirates.steal_boat", "succeeded"),
        ("pirates.find_crew", "succeeded"),
        ("pirates.buy_parrot", "succeeded"),
    ]
    described = engine.describe(execution_id)
    assert described.status == "succeeded"
    assert [task.key for task in described.tasks] == [row["task_id"] for row in view]
    assert described.tasks[0].result == 20
