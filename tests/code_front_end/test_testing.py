"""``cadenza.testing`` for code workflows: mocks, a clock that skips time, and a
cold replay of every decision that catches replay-only bugs."""

from __future__ import annotations

import pytest
import testing_flows as flows

from cadenza.model.errors import ActivityError, InputError, ReplayMismatch
from cadenza.testing import LocalRun, run_workflow


def test_a_run_with_mocks_skips_time_and_records_the_calls() -> None:
    done = run_workflow(flows.Voyage, [100], mocks={flows.raise_money: 250})
    assert done.status == "succeeded"
    assert done.output == {"boat": "a boat for 250", "waited": 2 * 24 * 3600}
    assert [(c.name, c.args) for c in done.calls] == [
        ("testing_flows.raise_money", (100,)),
        ("testing_flows.buy_boat", (250,)),
    ]
    assert done.calls[0].task_id == "testing_flows.raise_money#1"
    assert done.calls[0].execution_id == done.execution_id


def test_a_mock_may_be_named_and_may_decide_from_the_arguments() -> None:
    done = run_workflow(
        flows.Voyage, [100], mocks={"testing_flows.raise_money": lambda goal: goal // 2}
    )
    assert done.output["boat"] == "a stolen boat"  # 50 < 100


def test_a_mock_that_raises_drives_the_failure_path_through_the_retries() -> None:
    def broke(goal: int) -> int:
        raise ActivityError("the bank is closed", type="Closed")

    done = run_workflow(flows.Voyage, [100], mocks={flows.raise_money: broke})
    assert done.output == {"boat": "a stolen boat", "why": "failed"}
    attempts = [c.attempt for c in done.calls if c.name == "testing_flows.raise_money"]
    assert attempts == [1, 2, 3]  # max_attempts=3, the 60 s backoffs skipped


def test_the_real_activity_runs_when_it_is_not_mocked() -> None:
    done = run_workflow(flows.hires_with_a_workflow_uuid, ["cook"])
    assert done.output == "cook hired (36)"
    assert done.history[0].event.type == "ExecutionStarted"


def test_a_stdlib_uuid_in_workflow_code_fails_the_replay_check_with_a_diff() -> None:
    # The live run succeeds (the coroutine ran once); a decider that restarts
    # would draw another key and schedule another task: the check says where.
    with pytest.raises(ReplayMismatch) as caught:
        run_workflow(flows.hires_with_a_stdlib_uuid, ["cook"])
    message = str(caught.value)
    assert "decision 1" in message
    assert "- TaskScheduled" in message and "+ TaskScheduled" in message
    assert "testing_flows.hire#1" in message
    assert "testing_flows.py:" in message  # the line of workflow code that issued it
    assert caught.value.details["decision"] == 1


def test_module_state_in_the_simpleflow_face_fails_the_replay_check() -> None:
    flows.SEEN["runs"] = 0
    with pytest.raises(ReplayMismatch) as caught:
        run_workflow(flows.Remembers)
    assert "'cook'" in str(caught.value) or "cook" in str(caught.value)
    assert "gunner" in str(caught.value)


def test_the_same_workflow_passes_when_it_uses_the_workflow_safe_helper() -> None:
    first = run_workflow(flows.hires_with_a_workflow_uuid, ["cook"])
    second = run_workflow(flows.hires_with_a_workflow_uuid, ["cook"])
    assert first.succeeded and second.succeeded
    [call] = first.calls
    assert len(call.args[1]) == 36


def test_a_local_run_takes_signals_mid_run_and_time_moves_only_when_asked() -> None:
    with LocalRun(flows.Inbox) as run:
        run.start([2])
        assert run.run_until_idle().status == "running"
        run.signal("item", "rum")
        run.advance(3600)
        assert run.run_until_idle().status == "running"
        run.signal("item", "map")
        done = run.run_until_idle()
    assert done.output == {"items": ["rum", "map"], "workflow_id": None}


def test_signals_given_up_front_are_read_in_order() -> None:
    done = run_workflow(flows.Inbox, [2], signals=[("item", 1), ("item", 2)])
    assert done.output["items"] == [1, 2]


def test_a_workflow_defined_inside_a_function_is_refused_clearly() -> None:
    async def local(ctx: object) -> None:
        return None

    with pytest.raises(InputError, match="top level of a module"):
        run_workflow(local)


def test_a_local_run_follows_continue_as_new_to_the_last_run() -> None:
    done = run_workflow(flows.Counting, [0, 25, 10])
    assert done.status == "succeeded"
    assert done.output == sum(range(25))
    assert len(done.runs) == 3 and done.runs[0] == done.execution_id


@pytest.mark.parametrize("workflow", ["pirates:PirateBusiness", "pirates:pirate_business"])
def test_the_pirate_business_with_a_poor_season_steals_its_boat(workflow: str) -> None:
    # The tutorial's test: the module's real activities run, raise_money is mocked.
    import pirates

    done = run_workflow(workflow, {"goal": 2000}, mocks={pirates.raise_money: 300})
    assert done.output["boat"] == {"boat": "rowing boat", "how": "stolen", "cost": 0}
    assert done.output["crew"] == ["Anne", "Mary", "Jack"]
    names = sorted(c.name for c in done.calls)
    assert names == [
        "pirates.buy_parrot",
        "pirates.find_crew",
        "pirates.raise_money",
        "pirates.steal_boat",
    ]


def test_children_run_in_the_local_run_and_are_replayed_too() -> None:
    import code_flows

    done = run_workflow(code_flows.Parent, [3], workflows=[code_flows.Child])
    assert done.output == [7, 9]
    runs = {c.execution_id for c in done.calls}  # the doublings ran in the two children
    assert len(runs) == 2 and done.execution_id not in runs


def test_a_run_that_stopped_as_nondeterministic_raises_with_the_report() -> None:
    import code_flows

    with LocalRun(code_flows.Switchable) as run:
        run.start()
        run.engine.tick()  # a runs
        run.engine.tick()  # b runs; its completion waits in the inbox
        code_flows.VARIANT["second"] = "c"  # the code changes under the run
        try:
            with pytest.raises(ReplayMismatch, match="stopped as nondeterministic") as caught:
                run.run_until_idle()
        finally:
            code_flows.VARIANT["second"] = "b"
        assert "code_flows.step_b#1" in str(caught.value)
        assert run.result().status == "nondeterministic"


def test_continuing_with_arguments_that_are_not_json_fails_the_run_naming_the_call() -> None:
    done = run_workflow(flows.ContinuesWithAnObject)
    assert done.status == "failed"
    assert "continue_as_new" in done.errors[0]["message"]
    assert done.runs == [done.execution_id]


def test_a_task_list_the_run_cannot_see_is_named_instead_of_hanging() -> None:
    # The activity comes from another module: the run cannot see its task list.
    with pytest.raises(InputError, match="'distant'"):
        run_workflow(flows.UsesADistantActivity, [4])
    done = run_workflow(flows.UsesADistantActivity, [4], activities=[flows.distant.triple])
    assert done.output == 12


def test_a_mocked_external_activity_is_answered_by_the_local_run() -> None:
    import code_flows

    done = run_workflow(code_flows.Translates, ["ahoy"], mocks={code_flows.translate: "arr"})
    assert done.output == "arr"
    [call] = done.calls
    assert call.args == ("ahoy",) and call.kwargs == {"to": "pirate"}


def test_a_mocked_external_activity_that_raises_fails_its_task() -> None:
    import code_flows

    def refuse(text: str, to: str) -> str:
        raise ActivityError("no parrot speaks that", type="Untranslatable")

    done = run_workflow(code_flows.Translates, ["ahoy"], mocks={"code_flows.translate": refuse})
    assert done.status == "failed"
    assert done.errors[0]["error"] == {"type": "Untranslatable", "message": "no parrot speaks that"}


def test_an_external_activity_without_a_mock_waits_for_the_test_to_answer() -> None:
    import code_flows

    with LocalRun(code_flows.Translates) as run:
        run.start(["ahoy"])
        assert run.run_until_idle().status == "running"
        task = run.engine.external.poll("translations", "test")
        assert task is not None
        run.engine.external.succeed(task.token, "yarr")
        assert run.run_until_idle().output == "yarr"
