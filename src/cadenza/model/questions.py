"""A question a task asks a person (the ``core.ask`` action): its defaults.

Shared by the action, which asks, and the front ends, which check answers:
the vocabulary of a StackStorm inquiry.
"""

from __future__ import annotations

from collections.abc import Mapping

from cadenza.model.events import JSON

#: The question asked when the input gives no ``schema``: "continue?" as a boolean.
DEFAULT_SCHEMA: Mapping[str, JSON] = {
    "title": "response_data",
    "type": "object",
    "properties": {
        "continue": {
            "type": "boolean",
            "description": "Would you like to continue the workflow?",
            "required": True,
        }
    },
}

#: Minutes an unanswered question stays open, as StackStorm's inquiries do.
DEFAULT_TTL = 1440
