"""The code front end's checks: what it recognises, what it refuses, and why."""

from __future__ import annotations

import code_flows as flows
import pytest

from cadenza.interpreters.code.frontend import CodeFrontEnd
from cadenza.interpreters.protocol import Recognition
from cadenza.model.errors import DefinitionError
from cadenza.store.protocol import Store

from .conftest import make_engine, ref


def test_it_recognises_references_to_workflows_only() -> None:
    front_end = CodeFrontEnd()
    assert front_end.recognize(ref("code_flows:Sequence")) is Recognition.YES
    assert front_end.recognize(ref("code_flows:sequence")) is Recognition.YES
    assert front_end.recognize(ref("code_flows:NOT_A_WORKFLOW")) is Recognition.NO
    assert front_end.recognize("version: 1.0\ntasks: {}\n") is Recognition.NO
    # Maybe another language's; compile says what is wrong once the kind is named.
    assert front_end.recognize(ref("no_such_module:Flow")) is Recognition.NO


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module:Flow", "cannot load 'no_such_module:Flow': ModuleNotFoundError"),
        ("code_flows:Missing", "cannot load 'code_flows:Missing': AttributeError"),
        ("code_flows:NoRun", "code_flows:NoRun does not define run()"),
        ("code_flows:NOT_A_WORKFLOW", "code_flows:NOT_A_WORKFLOW is list: expected a Workflow"),
    ],
)
def test_a_bad_reference_is_refused_with_the_reason(target: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        CodeFrontEnd().compile(ref(target))
    assert message in str(caught.value)


def test_text_is_refused() -> None:
    with pytest.raises(DefinitionError, match="registered by reference"):
        CodeFrontEnd().compile("def run(): pass")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("code_flows:awaits_asyncio", "may only await what the workflow API returns"),
        ("code_flows:reads_result_in_async", "'await' it instead of reading .result"),
        ("code_flows:PassesAnObject", "must be JSON values"),
    ],
)
def test_misusing_the_workflow_api_fails_the_execution_clearly(
    store: Store, target: str, message: str
) -> None:
    engine = make_engine(store, flows.ACTIVITIES)
    execution_id = engine.start(engine.register(ref(target)))
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert message in record.errors[0]["message"]
    assert record.errors[0]["type"] == "WorkflowUsageError"
