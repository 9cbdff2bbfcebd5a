"""Which fields each state type has, per query language (spec §2), as data."""

from __future__ import annotations

from cadenza.interpreters.states.validation.context import JSONATA, JSONPATH

STATE_TYPES = (
    "Task",
    "Wait",
    "Pass",
    "Succeed",
    "Fail",
    "Choice",
    "Parallel",
    "Map",
)  # AWS's order

TOP_LEVEL_FIELDS = frozenset(
    {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
)
TOP_LEVEL_REQUIRED = ("States", "StartAt")  # in the order AWS lists them

COMMON = frozenset({"Type", "Comment", "QueryLanguage"})
TRANSITION = frozenset({"Next", "End"})

_IO_PATHS = frozenset({"InputPath", "OutputPath"})
_RESULT_PATHS = frozenset({"ResultSelector", "ResultPath"})
_ERRORS = frozenset({"Retry", "Catch"})

_JSONPATH_FIELDS: dict[str, frozenset[str]] = {
    "Pass": TRANSITION | _IO_PATHS | {"Parameters", "Result", "ResultPath", "Assign"},
    "Task": TRANSITION
    | _IO_PATHS
    | _RESULT_PATHS
    | _ERRORS
    | {
        "Resource",
        "Parameters",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
        "Assign",
    },
    "Choice": _IO_PATHS | {"Choices", "Default", "Assign"},
    "Wait": TRANSITION
    | _IO_PATHS
    | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Assign"},
    "Succeed": _IO_PATHS,
    "Fail": frozenset({"Error", "ErrorPath", "Cause", "CausePath"}),
    "Parallel": TRANSITION
    | _IO_PATHS
    | _RESULT_PATHS
    | _ERRORS
    | {"Branches", "Parameters", "Assign"},
    "Map": TRANSITION
    | _IO_PATHS
    | _RESULT_PATHS
    | _ERRORS
    | {
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "ItemSelector",
        "Parameters",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "Label",
        "Assign",
    },
}

_JSONATA_FIELDS: dict[str, frozenset[str]] = {
    "Pass": TRANSITION | {"Output", "Assign"},
    "Task": TRANSITION
    | _ERRORS
    | {
        "Resource",
        "Arguments",
        "Output",
        "Assign",
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "Credentials",
    },
    "Choice": frozenset({"Choices", "Default", "Output", "Assign"}),
    "Wait": TRANSITION | {"Seconds", "Timestamp", "Output", "Assign"},
    "Succeed": frozenset({"Output"}),
    "Fail": frozenset({"Error", "Cause"}),
    "Parallel": TRANSITION | _ERRORS | {"Branches", "Arguments", "Output", "Assign"},
    "Map": TRANSITION
    | _ERRORS
    | {
        "ItemProcessor",
        "Iterator",
        "Items",
        "ItemSelector",
        "MaxConcurrency",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "ToleratedFailureCount",
        "ToleratedFailurePercentage",
        "Label",
        "Output",
        "Assign",
    },
}

FIELDS: dict[str, dict[str, frozenset[str]]] = {
    JSONPATH: {t: COMMON | f for t, f in _JSONPATH_FIELDS.items()},
    JSONATA: {t: COMMON | f for t, f in _JSONATA_FIELDS.items()},
}

# Fields on the nested objects, per query language where it matters.
SCOPE_FIELDS = frozenset({"StartAt", "States", "Comment"})
PROCESSOR_FIELDS = SCOPE_FIELDS | {"ProcessorConfig"}
PROCESSOR_CONFIG_FIELDS = frozenset({"Mode", "ExecutionType"})
PROCESSOR_MODES = ("INLINE", "DISTRIBUTED")
EXECUTION_TYPES = ("STANDARD", "EXPRESS")

RETRIER_FIELDS = frozenset(
    {
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    }
)
JITTER_STRATEGIES = ("FULL", "NONE")
CATCHER_FIELDS: dict[str, frozenset[str]] = {
    JSONPATH: frozenset({"ErrorEquals", "Next", "ResultPath", "Assign", "Comment"}),
    JSONATA: frozenset({"ErrorEquals", "Next", "Output", "Assign", "Comment"}),
}

STATES_ALL = "States.ALL"


def other_language(language: str) -> str:
    """The query language that is not ``language``."""
    return JSONATA if language == JSONPATH else JSONPATH
