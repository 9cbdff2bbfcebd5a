"""The wording of every diagnostic, in one place.

Texts marked *(recorded)* are what AWS Step Functions answered in the
conformance cases or in public reports of its answers, and must stay
byte-for-byte (one of them ends in a space). The others follow the same
style where AWS's exact words are not known.
"""

from __future__ import annotations

from collections.abc import Sequence


def not_json_object() -> str:
    """*(recorded)* The text is empty, or its value is not an object."""
    return "Definition must be a valid JSON object"


def not_json(reason: str, where: str) -> str:
    """*(recorded)* The text is not JSON: the JSON reader's complaint and where it stopped."""
    return f"{reason}\n at {where}"


def unrecognized_token(token: str) -> str:
    """*(recorded)* A bare word where a JSON value should start."""
    return (
        f"Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object "
        "or token 'null', 'true' or 'false')"
    )


def unexpected_character(char: str) -> str:
    """A character that cannot continue the JSON text."""
    return f"Unexpected character ('{char}' (code {ord(char)}))"


def unexpected_end() -> str:
    """JSON text that stops before its value is complete."""
    return "Unexpected end-of-input"


def json_source(text: str, line: int, column: int) -> str:
    """*(recorded)* Where the JSON reader stopped, as AWS's reader names it."""
    limit = 500
    shown = text if len(text) <= limit else f'{text[:limit]}"[truncated {len(text) - limit} chars]'
    closing = "" if len(text) > limit else '"'
    return f'[Source: (String)"{shown}{closing}; line: {line}, column: {column}]'


def fields_required(names: Sequence[str]) -> str:
    """*(recorded)* Several required fields are missing (listed as AWS lists them)."""
    return f"These fields are required: [{', '.join(names)}]"


def field_required(name: str) -> str:
    """*(recorded)* One required field is missing."""
    return f"The field '{name}' is required but was missing"


def field_not_supported(name: str) -> str:
    """*(recorded)* A field that this object does not have."""
    return f"Field '{name}' is not supported"


def field_needs_other_language(name: str, language: str, other: str) -> str:
    """*(recorded)* A field of the other query language."""
    return (
        f"The QueryLanguage is set to '{language}', but field '{name}' is only "
        f"supported for the '{other}' QueryLanguage"
    )


def query_language_downgrade() -> str:
    """*(recorded)* A JSONPath state inside a JSONata machine."""
    return "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"


def value_not_allowed(name: str, allowed: Sequence[str], value: object) -> str:
    """*(recorded)* A value outside an enumeration."""
    listed = ", ".join(allowed)
    return f"The value for '{name}' must be one of the values: [{listed}] but was '{value}'"


def wrong_type(name: str, expected: str) -> str:
    """A value of the wrong JSON type."""
    return f"The value of the field '{name}' must be {expected}"


def out_of_range(name: str, bound: str) -> str:
    """A number outside its range."""
    return f"The value of the field '{name}' must be {bound}"


def mutually_exclusive(names: Sequence[str]) -> str:
    """Fields of which at most one may be given."""
    return f"Only one of these fields may be set: [{', '.join(names)}]"


def exactly_one_of(names: Sequence[str]) -> str:
    """Fields of which exactly one must be given."""
    return f"Exactly one of these fields must be set: [{', '.join(names)}]"


def next_or_end() -> str:
    """A state that neither transitions nor ends."""
    return "The state must have either 'Next' or 'End'"


def next_and_end() -> str:
    """A state that both transitions and ends."""
    return "The state must not have both 'Next' and 'End'"


def end_must_be_true() -> str:
    """``End`` given as something other than ``true``."""
    return "The value of the field 'End' must be true"


def unknown_state_type(types: Sequence[str]) -> str:
    """*(recorded)* A ``Type`` that is not a state type."""
    return f"The field 'Type' should have one of these values: [{', '.join(types)}]"


def must_be_non_empty(name: str) -> str:
    """An empty ``States``, ``Choices``, ``Branches`` or ``ErrorEquals``."""
    return f"The field '{name}' should be non-empty"


def state_name_too_long(name: str) -> str:
    """A state name over 80 characters."""
    return f"State name '{name}' exceeds the maximum length of 80 characters"


def duplicate_state_name(name: str) -> str:
    """A state name used twice."""
    return f"Duplicate State name: {name}"


def missing_target(target: str) -> str:
    """*(recorded)* A transition to a state not in the scope (always says 'Next')."""
    return f"Missing 'Next' target: {target}"


def missing_start(target: str) -> str:
    """``StartAt`` names no state of its scope."""
    return f"Missing 'StartAt' target: {target}"


def unreachable(name: str) -> str:
    """*(recorded)* A state no transition leads to."""
    return f'State "{name}" is not reachable.'


def no_terminal_state() -> str:
    """*(recorded)* A scope with no state that ends it."""
    return "Workflow has no terminal state"


def invalid_path(name: str) -> str:
    """A field that must hold a JSONPath."""
    return f"The value for the field '{name}' must be a valid JSONPath"


def invalid_reference_path(name: str) -> str:
    """A field that must hold a reference path (one node; no wildcard or filter)."""
    return f"The value for the field '{name}' must be a valid ReferencePath"


def invalid_path_or_intrinsic(name: str) -> str:
    """*(recorded)* A ``.$`` key whose value is neither a path nor an intrinsic call."""
    return (
        f"The value for the field '{name}' must be a valid JSONPath "
        "or a valid intrinsic function call"
    )


def invalid_jsonata(name: str, reason: str) -> str:
    """A JSONata expression that does not parse."""
    return f"The JSONata expression specified for the field '{name}' is invalid: {reason}"


def top_level_reference(name: str) -> str:
    """*(recorded)* A JSONata field name read from no context (not ``$states``, not a variable)."""
    return f"Reference to '{name}' at the top level is not supported."


def jsonata_required(name: str) -> str:
    """A JSONata-mode field whose value must be a ``{% … %}`` expression."""
    return f"The value of the field '{name}' must be a JSONata expression '{{% … %}}'"


def invalid_timestamp() -> str:
    """*(recorded)* A Wait ``Timestamp`` that is not RFC 3339 with a zone."""
    return "String does not match RFC3339 timestamp"


def invalid_variable_name(name: str) -> str:
    """An ``Assign`` key that cannot name a variable."""
    return f"The variable name '{name}' is not valid"


def states_all_not_last() -> str:
    """``States.ALL`` not alone in the last retrier or catcher."""
    return "'States.ALL' must be the only error name in the last 'ErrorEquals'"


def invalid_resource(value: str) -> str:
    """*(recorded)* A Task ``Resource`` that is not an ARN."""
    return (
        f"The resource provided {value} is not recognized. The value is not a valid resource "
        "ARN, or the resource is not available in this region."
    )


def invalid_label(value: str) -> str:
    """A Map ``Label`` over 40 characters or with a forbidden character."""
    return f"Invalid label: '{value}'"


def express_activity() -> str:
    """*(recorded)* An activity task in an EXPRESS machine."""
    return "Express state machine does not support Activity ARN"


def express_sync() -> str:
    """*(recorded)* A ``.sync`` integration in an EXPRESS machine."""
    return "Express state machine does not support '.sync' service integration"


def express_wait_for_task_token() -> str:
    """*(recorded)* A ``.waitForTaskToken`` integration in an EXPRESS machine.

    AWS's text ends in a space; kept so the joined message matches exactly.
    """
    return "Express state machine does not support '.waitForTaskToken' service integration "


def choice_rule_needs_comparison() -> str:
    """A JSONPath Choice rule with no comparison operator or combinator."""
    return "The Choice rule must have exactly one comparison operator or combinator"


def choice_rule_two_comparisons(names: Sequence[str]) -> str:
    """A JSONPath Choice rule with several operators."""
    return f"The Choice rule has more than one comparison operator: [{', '.join(names)}]"


def nested_rule_has_next() -> str:
    """``Next`` inside a nested Choice rule."""
    return "A nested Choice rule must not have 'Next'"


def heartbeat_not_below_timeout() -> str:
    """``HeartbeatSeconds`` not smaller than ``TimeoutSeconds``."""
    return "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'"
