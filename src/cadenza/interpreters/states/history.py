"""Step Functions history events, recorded as ``MarkerRecorded(kind="sfn")``.

The interpreter emits each event of AWS's ``GetExecutionHistory`` as a marker
whose details are the API's event object: ``id``, ``previousEventId``,
``type``, ``timestamp`` (epoch seconds) and one ``...EventDetails`` object.
``input``/``output``/``parameters`` inside the details are JSON *text*, as the
API returns them. :func:`sfn_history` reads them back out of a kernel history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cadenza.model.events import Event, MarkerRecorded, RecordedEvent

__all__ = ["MARKER_KIND", "sfn_history"]

MARKER_KIND = "sfn"


def sfn_history(history_events: Iterable[Event | RecordedEvent]) -> list[dict[str, Any]]:
    """The execution's Step Functions history (the API's event list) from kernel events."""
    out: list[dict[str, Any]] = []
    for item in history_events:
        event = item.event if isinstance(item, RecordedEvent) else item
        if isinstance(event, MarkerRecorded) and event.kind == MARKER_KIND:
            out.append(dict(event.details))
    return out
