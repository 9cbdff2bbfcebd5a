"""StackStorm inquiries (``core.ask``): the question, the answer check, the result.

A ``core.ask`` task asks with a JSON ``schema`` (default: "continue?" as a boolean),
``roles``, ``users``, ``route`` and ``ttl``. StackStorm's inquirer runner records these
five fields as the pending result, and a response is added to them under
``response``: workflows read ``task(ask).result.response.<field>``.

An inquiry not answered within ``ttl`` minutes (default 1440; 0 or less: never)
expires: the task ends ``timeout`` with the question as its result, as StackStorm's
garbage collector times it out, and a later answer is refused. ``roles`` and
``users`` are recorded and shown, not enforced (there are no identities yet).

Answers are checked as StackStorm checks them: draft-4 keywords, except that
``required: true`` may sit on a property (draft 3 style; the draft-4 list form is
honoured too), an optional property without a default (or with a ``null`` default)
accepts ``null``, and defaults fill missing properties before the check.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from cadenza.model.events import JSON
from cadenza.model.questions import DEFAULT_SCHEMA, DEFAULT_TTL

#: The action whose tasks are inquiries.
INQUIRY_ACTION = "core.ask"

#: ``ScheduleTask.meta`` key marking an inquiry task (so its answer is checked).
INQUIRY_META = "inquiry"

#: ``ScheduleTask.meta`` key of an inquiry's deadline (seconds since the epoch), for
#: listings; absent when its ``ttl`` is 0 or less (it never expires).
EXPIRES_META = "expires_at"

#: Error type of an inquiry that expired unanswered (the task ends ``timeout``).
INQUIRY_EXPIRED = "InquiryExpired"

#: Error type of a task failed by an answer (``cadenza respond --failed``): the
#: answer is the result, so the workflow error keeps orquesta's own message.
ANSWERED_FAILURE = "responded"


def question(parameters: JSON) -> dict[str, JSON]:
    """The inquirer runner's record of a question: its five fields, defaults filled."""
    given = parameters if isinstance(parameters, Mapping) else {}
    schema = given.get("schema")
    return {
        "schema": copy.deepcopy(dict(schema))
        if isinstance(schema, Mapping)
        else dict(DEFAULT_SCHEMA),
        "roles": list(given.get("roles") or []),
        "users": list(given.get("users") or []),
        "route": given.get("route") or "",
        "ttl": given.get("ttl", DEFAULT_TTL),
    }


def ttl_seconds(parameters: JSON) -> float | None:
    """How long an inquiry waits for its answer: its ``ttl`` (minutes, default a day)
    in seconds; ``None`` for a ``ttl`` of 0 or less, which StackStorm never expires."""
    ttl = question(parameters)["ttl"]
    if isinstance(ttl, bool) or not isinstance(ttl, int | float | str):
        return None
    try:
        minutes = float(ttl)
    except ValueError:
        return None
    return minutes * 60 if minutes > 0 else None


def answered(parameters: JSON, response: JSON) -> dict[str, JSON]:
    """The result of an answered inquiry: the question with the ``response``."""
    result = question(parameters)
    result["response"] = response
    return result


def problems(schema: Mapping[str, Any], response: JSON) -> list[str]:
    """What is wrong with ``response`` for ``schema``, as StackStorm validates it."""
    import jsonschema  # here: costly at start-up, needed only for answers

    schema = _allow_default_none(schema)
    if schema.get("type") == "object" and isinstance(response, dict):
        response = _with_defaults(response, schema)
    validator_class = jsonschema.validators.extend(
        jsonschema.Draft4Validator,
        {"properties": _properties, "required": _required_list},
    )
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '(answer)'}: {error.message}"
        for error in validator_class(schema).iter_errors(response)
    )


def _properties(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """Draft 3's ``properties``: a missing property with ``required: true`` is an error."""
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    for name, subschema in properties.items():
        if name in instance:
            yield from validator.descend(instance[name], subschema, path=name, schema_path=name)
        elif isinstance(subschema, Mapping) and subschema.get("required") is True:
            yield ValidationError(f"{name!r} is a required property")


def _required_list(validator: Any, required: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """Draft 4's ``required`` list; a boolean ``required`` belongs to ``_properties``."""
    from jsonschema.exceptions import ValidationError

    if not isinstance(required, list) or not validator.is_type(instance, "object"):
        return
    for name in required:
        if name not in instance:
            yield ValidationError(f"{name!r} is a required property")


def _with_defaults(instance: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Missing (or ``null``) properties take their schema default, nested objects too."""
    filled = dict(instance)
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return filled
    for name, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        if "default" in sub and filled.get(name) is None:
            filled[name] = copy.deepcopy(sub["default"])
        if _has_type(sub.get("type"), "object") and isinstance(filled.get(name), dict):
            filled[name] = _with_defaults(filled[name], sub)
    return filled


def _allow_default_none(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An optional property, or one whose default is ``null``, also accepts ``null``."""
    out = copy.deepcopy(dict(schema))
    properties = out.get("properties")
    if not isinstance(properties, dict):
        return out
    for name, sub in list(properties.items()):
        if not isinstance(sub, dict):
            continue
        optional = not sub.get("required", False)
        if ("default" in sub or optional) and sub.get("default") is None:
            _make_nullable(sub)
        if _has_type(sub.get("type"), "object") and isinstance(sub.get("properties"), Mapping):
            properties[name] = _allow_default_none(sub)
    return out


def _make_nullable(sub: dict[str, Any]) -> None:
    for key in ("anyOf", "oneOf"):
        if isinstance(sub.get(key), list):
            if not any(isinstance(t, Mapping) and t.get("type") == "null" for t in sub[key]):
                sub[key].append({"type": "null"})
            return
    kind = sub.get("type", "string")
    if isinstance(kind, list):
        if "null" not in kind:
            kind.append("null")
    elif kind != "null":
        sub["type"] = [kind, "null"]


def _has_type(kind: Any, wanted: str) -> bool:
    return kind == wanted or (isinstance(kind, list) and wanted in kind)
