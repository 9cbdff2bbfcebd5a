"""``core.ask`` ``ttl``: an inquiry nobody answers in time expires, as in StackStorm.

StackStorm's garbage collector marks an inquiry older than its ``ttl`` minutes
``timeout`` (its result stays the question) and the workflow goes on from there:
unhandled, the workflow fails; ``when: <% failed() %>`` handles it. A ``ttl`` of 0
never expires. Run through the engine with a fake clock on every store backend, and
across a restart (a new engine on the same store).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.cli.main import main
from cadenza.engine.engine import Engine
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.model.errors import OperationRefused
from cadenza.model.events import TaskCanceled, TaskCompleted
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import default_registry

ASK = """
version: 1.0
tasks:
  approve:
    action: core.ask
    input:
      ttl: {ttl}
      roles: [admins]
      users: [ops]
    next:
      - when: <% succeeded() %>
        publish: answer=<% task(approve).result.response %>
      - when: <% failed() %>
        publish: expired=<% task(approve).result %>
        do: note
  note:
    action: core.noop
output:
  - answer: <% ctx().get(answer) %>
  - expired: <% ctx().get(expired) %>
"""

UNHANDLED = """
version: 1.0
tasks:
  approve:
    action: core.ask
    input:
      ttl: 5
"""


def _engine(store: Store, clock: FakeClock) -> Engine:
    return Engine(
        store,
        registry=default_registry(),
        clock=clock,
        front_ends={"orquesta": OrquestaFrontEnd()},
    )


def test_an_unanswered_inquiry_expires_after_its_ttl(store: Store) -> None:
    clock = FakeClock()
    engine = _engine(store, clock)
    execution = engine.start(engine.register(ASK.format(ttl=10), kind="orquesta"), {})
    started = clock.now()
    engine.run_until_idle()
    assert engine.get(execution).status == "paused"

    # Nine minutes on, it still waits; a new engine (a restart) finds the timer.
    clock.set(started + 9 * 60)
    engine = _engine(store, clock)
    engine.run_until_idle()
    assert engine.get(execution).status == "paused"

    engine.run_until_idle(skip_time=True)
    assert clock.now() == pytest.approx(started + 10 * 60)
    record = engine.get(execution)
    assert record.status == "succeeded"
    question = {
        "schema": {
            "title": "response_data",
            "type": "object",
            "properties": {
                "continue": {
                    "type": "boolean",
                    "description": "Would you like to continue the workflow?",
                    "required": True,
                }
            },
        },
        "roles": ["admins"],
        "users": ["ops"],
        "route": "",
        "ttl": 10,
    }
    assert record.output == {"answer": None, "expired": question}
    # Orquesta has no ``timeout`` task status: a timed-out action's task is ``failed``.
    tasks = {t.name: t.status for t in engine.describe(execution).tasks}
    assert tasks == {"approve": "failed", "note": "succeeded"}
    # History shows the waiting task withdrawn, and no answer.
    events = [r.event for r in engine.history(execution)]
    assert TaskCanceled(task_id="approve.0.0") in events
    assert not any(isinstance(e, TaskCompleted) and e.task_id == "approve.0.0" for e in events)
    # Expired: an answer now is refused.
    with pytest.raises(OperationRefused):
        engine.respond(execution, "approve", {"continue": True})


def test_an_unhandled_expiry_fails_the_workflow_with_why(store: Store) -> None:
    clock = FakeClock()
    engine = _engine(store, clock)
    execution = engine.start(engine.register(UNHANDLED, kind="orquesta"), {})
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution)
    assert record.status == "failed"
    messages = [e["message"] for e in record.errors if isinstance(e, dict)]
    assert any("not answered within its ttl of 5 minute(s)" in m for m in messages), messages


def test_an_answer_in_time_wins_and_the_timer_does_nothing(store: Store) -> None:
    clock = FakeClock()
    engine = _engine(store, clock)
    execution = engine.start(engine.register(ASK.format(ttl=10), kind="orquesta"), {})
    engine.run_until_idle()
    clock.set(clock.now() + 60)
    engine.respond(execution, "approve", {"continue": True})
    engine.run_until_idle(skip_time=True)  # the expiry timer fires, and changes nothing
    record = engine.get(execution)
    assert record.status == "succeeded"
    assert record.output == {"answer": {"continue": True}, "expired": None}
    tasks = {t.name: t.status for t in engine.describe(execution).tasks}
    assert tasks == {"approve": "succeeded"}


def test_a_ttl_of_zero_never_expires(store: Store) -> None:
    clock = FakeClock()
    engine = _engine(store, clock)
    execution = engine.start(engine.register(ASK.format(ttl=0), kind="orquesta"), {})
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution).status == "paused"
    assert store.next_wakeup(engine.front_ends.usable()) is None


def test_inquiries_lists_the_expiry_time_and_who_may_answer(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "ask.yaml"
    flow.write_text(ASK.format(ttl=30))
    assert main(["run", "--store", store_url, "--quiet", "--json", str(flow)]) == 3
    execution = json.loads(capsys.readouterr().out)["execution_id"]
    assert main(["inquiries", "--store", store_url, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["execution_id"] == execution
    assert row["expires_at"] == pytest.approx(row["waiting_since"] + 30 * 60, abs=5)
    assert row["question"]["roles"] == ["admins"] and row["question"]["users"] == ["ops"]
    assert main(["inquiries", "--store", store_url]) == 0
    listed = capsys.readouterr().out
    assert execution in listed and "expires in 30m" in listed
