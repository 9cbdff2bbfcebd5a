"""TestState of the Step Functions API: one state run with an input, nothing kept
(the work is ``cadenza.interpreters.states.test_state``)."""

from __future__ import annotations

import json
from typing import Any

from cadenza.api.aws_protocol import AwsError, json_text, required
from cadenza.interpreters.states.test_state import Mock, run_one_state
from cadenza.interpreters.states.validation.api import (
    InvalidStatesDefinition,
    UnloadableStatesDefinition,
)
from cadenza.model.errors import DefinitionError, InputError

#: TestState's inspection levels (DEBUG and TRACE show the same here).
_INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")


def run_test_state(body: dict[str, Any]) -> dict[str, Any]:
    """TestState: run one state with an input; no execution is kept."""
    definition = required(body, "definition")
    if not isinstance(definition, str):
        raise AwsError("ValidationException", "'definition' must be a string")
    level = body.get("inspectionLevel") or "INFO"
    if level not in _INSPECTION_LEVELS:
        raise AwsError(
            "ValidationException",
            f"'inspectionLevel' must be INFO, DEBUG or TRACE, not {level}",
        )
    given = json_text(body.get("input"), "input")
    variables = json_text(body.get("variables"), "variables") if "variables" in body else None
    if variables is not None and not isinstance(variables, dict):
        raise AwsError("ValidationException", "'variables' must be a JSON object")
    configuration = body.get("stateConfiguration") or {}
    retry_count = configuration.get("retrierRetryCount", 0) if configuration else 0
    if not isinstance(retry_count, int) or isinstance(retry_count, bool) or retry_count < 0:
        raise AwsError("ValidationException", "'retrierRetryCount' must be a whole number")
    try:
        outcome = run_one_state(
            definition,
            given,
            state_name=body.get("stateName"),
            mock=mock_of(body.get("mock")),
            retry_count=retry_count,
            variables=variables,
        )
    except (InvalidStatesDefinition, UnloadableStatesDefinition) as exc:
        raise AwsError("InvalidDefinition", exc.aws_message) from exc
    except DefinitionError as exc:
        raise AwsError("InvalidDefinition", exc.message) from exc
    except InputError as exc:
        raise AwsError("ValidationException", exc.message) from exc
    out: dict[str, Any] = {"status": outcome.status}
    if outcome.has_output:
        out["output"] = json.dumps(outcome.output)
    if outcome.error is not None:
        out["error"] = outcome.error
    if outcome.cause is not None:
        out["cause"] = outcome.cause
    if outcome.next_state is not None:
        out["nextState"] = outcome.next_state
    if level != "INFO":
        out["inspectionData"] = outcome.inspection
    return out


def mock_of(given: Any) -> Mock | None:
    """TestState's ``mock``: a result (JSON text) or an ``errorOutput``."""
    if given is None:
        return None
    if not isinstance(given, dict):
        raise AwsError("ValidationException", "'mock' must be an object")
    failure = given.get("errorOutput")
    if failure is not None:
        if not isinstance(failure, dict):
            raise AwsError("ValidationException", "'mock.errorOutput' must be an object")
        return Mock(error=str(failure.get("error") or ""), cause=failure.get("cause"))
    if "result" not in given:
        raise AwsError("ValidationException", "'mock' needs 'result' or 'errorOutput'")
    return Mock(result=json_text(given["result"], "mock.result"))
