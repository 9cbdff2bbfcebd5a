"""Choice rules (spec §7): JSONPath comparisons and combinators, JSONata conditions."""

from __future__ import annotations

from typing import Any

from cadenza.interpreters.states.validation import jsonata_fields, messages, paths
from cadenza.interpreters.states.validation.context import JSONATA, Checker
from cadenza.interpreters.states.validation.diagnostics import Category
from cadenza.interpreters.states.validation.loading import child_location, item_location

_STRING_OPS = (
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
)
_NUMERIC_OPS = (
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
)
_TIMESTAMP_OPS = (
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)
_TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")

# operator -> what its literal operand must be
COMPARISONS: dict[str, str] = {}
for _op in _STRING_OPS + _TIMESTAMP_OPS:
    COMPARISONS[_op] = "string"
for _op in _NUMERIC_OPS:
    COMPARISONS[_op] = "number"
COMPARISONS["BooleanEquals"] = "boolean"
for _op in _TYPE_TESTS:
    COMPARISONS[_op] = "boolean"
for _op in (*_STRING_OPS, *_NUMERIC_OPS, *_TIMESTAMP_OPS, "BooleanEquals"):
    if _op != "StringMatches":
        COMPARISONS[_op + "Path"] = "path"

COMBINATORS = ("And", "Or", "Not")
_JSONPATH_RULE_FIELDS = frozenset({"Variable", "Comment", *COMPARISONS, *COMBINATORS})
_TOP_RULE_EXTRA = frozenset({"Next", "Assign"})
_JSONATA_RULE_FIELDS = frozenset({"Condition", "Next", "Assign", "Output", "Comment"})


def check_choices(checker: Checker, state: dict[str, Any], location: str, language: str) -> None:
    """Check a Choice state's ``Choices`` list (targets are checked with the graph)."""
    choices = state.get("Choices")
    where = child_location(location, "Choices")
    if "Choices" not in state:
        checker.report(location, messages.field_required("Choices"))
        return
    if not isinstance(choices, list) or not choices:
        checker.report(where, messages.wrong_type("Choices", "a non-empty array"))
        return
    for index, rule in enumerate(choices):
        rule_location = item_location(where, index)
        if language == JSONATA:
            _check_jsonata_rule(checker, rule, rule_location)
        else:
            _check_rule(checker, rule, rule_location, top=True)
    default = state.get("Default")
    if "Default" in state and not isinstance(default, str):
        checker.report(
            child_location(location, "Default"), messages.wrong_type("Default", "a string")
        )


def _check_jsonata_rule(checker: Checker, rule: Any, location: str) -> None:
    if not isinstance(rule, dict):
        checker.report(location, messages.wrong_type("Choices", "an array of objects"))
        return
    for key in rule:
        if key not in _JSONATA_RULE_FIELDS:
            checker.report(location, messages.field_not_supported(key))
    for key in ("Condition", "Next"):
        if key not in rule:
            checker.report(location, messages.field_required(key))
    if "Next" in rule and not isinstance(rule["Next"], str):
        checker.report(child_location(location, "Next"), messages.wrong_type("Next", "a string"))
    if "Condition" in rule:
        jsonata_fields.check_scalar(
            checker,
            rule["Condition"],
            "Condition",
            child_location(location, "Condition"),
            literal_ok=bool,
            expected="a boolean or a JSONata expression",
        )
    for key in ("Assign", "Output"):
        if key in rule:
            jsonata_fields.check_template(checker, rule[key], key, child_location(location, key))


def _check_rule(checker: Checker, rule: Any, location: str, *, top: bool) -> None:
    if not isinstance(rule, dict):
        checker.report(location, messages.wrong_type("Choices", "an array of objects"))
        return
    allowed = _JSONPATH_RULE_FIELDS | (_TOP_RULE_EXTRA if top else frozenset())
    for key in rule:
        if key not in allowed:
            if key == "Next":
                checker.report(location, messages.nested_rule_has_next())
            else:
                checker.report(location, messages.field_not_supported(key))
    if top:
        if "Next" not in rule:
            checker.report(location, messages.field_required("Next"))
        elif not isinstance(rule["Next"], str):
            checker.report(
                child_location(location, "Next"), messages.wrong_type("Next", "a string")
            )
    combinators = [k for k in COMBINATORS if k in rule]
    operators = [k for k in COMPARISONS if k in rule]
    if len(combinators) + len(operators) != 1:
        if len(combinators) + len(operators) == 0:
            checker.report(location, messages.choice_rule_needs_comparison())
        else:
            checker.report(location, messages.choice_rule_two_comparisons(combinators + operators))
        return
    if combinators:
        _check_combinator(checker, rule, location, combinators[0])
        return
    operator = operators[0]
    if "Variable" not in rule:
        checker.report(location, messages.field_required("Variable"))
    else:
        variable = rule["Variable"]
        if not isinstance(variable, str) or not paths.is_path(variable):
            checker.report(
                child_location(location, "Variable"),
                messages.invalid_path("Variable"),
                category=Category.EXPRESSION,
                expression=variable if isinstance(variable, str) else None,
            )
    _check_operand(checker, rule[operator], operator, child_location(location, operator))


def _check_combinator(checker: Checker, rule: dict[str, Any], location: str, name: str) -> None:
    if "Variable" in rule:
        checker.report(location, messages.field_not_supported("Variable"))
    value = rule[name]
    where = child_location(location, name)
    if name == "Not":
        if not isinstance(value, dict):
            checker.report(where, messages.wrong_type(name, "an object"))
            return
        _check_rule(checker, value, where, top=False)
        return
    if not isinstance(value, list) or not value:
        checker.report(where, messages.wrong_type(name, "a non-empty array"))
        return
    for index, nested in enumerate(value):
        _check_rule(checker, nested, item_location(where, index), top=False)


def _check_operand(checker: Checker, value: Any, operator: str, location: str) -> None:
    kind = COMPARISONS[operator]
    if kind == "path":
        if not isinstance(value, str) or not paths.is_path(value):
            checker.report(
                location,
                messages.invalid_path(operator),
                category=Category.EXPRESSION,
                expression=value if isinstance(value, str) else None,
            )
        return
    ok = {
        "string": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }[kind]
    if not ok:
        checker.report(location, messages.wrong_type(operator, f"a {kind}"))
