"""CloudEvents over HTTP: the three content modes of the HTTP protocol binding.

For an HTTP endpoint that feeds a workspace (``POST`` a request, get its
events, deliver them with :class:`~cadenza.triggers.inbox.WorkspaceInbox`):

* **binary**: attributes in ``ce-*`` headers (percent-encoded), the body is
  the data, ``Content-Type`` is ``datacontenttype``;
* **structured**: ``Content-Type: application/cloudevents+json``, the body is
  the event;
* **batched**: ``Content-Type: application/cloudevents-batch+json``, the body
  is a JSON array of events.

Every event is checked with the ``cloudevents`` package; a request with any
invalid event is refused whole (``ValueError`` naming the event), so that the
sender can correct it and send it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage
from cloudevents.core.bindings.http import from_binary as binary_event
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat

from cadenza.triggers.events import as_object, checked

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


def events_from_http(headers: Mapping[str, str], body: bytes) -> list[dict[str, Any]]:
    """The CloudEvents an HTTP request carries, as JSON objects (see the module
    docstring); ``ValueError`` with the reason if it carries none or a bad one."""
    lowered = {key.lower(): value for key, value in headers.items()}
    content_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if any(key.startswith("ce-") for key in lowered):
        try:
            event = binary_event(HTTPMessage(headers=lowered, body=body), JSONFormat())
        except BaseCloudEventException as exc:
            raise ValueError(f"not a valid CloudEvent (binary mode): {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"not a valid CloudEvent (binary mode): {exc}") from exc
        return [as_object(event, stamped="ce-time" not in lowered)]
    if content_type == STRUCTURED:
        return [_decoded(body, "the event")]
    if content_type == BATCH:
        documents = _json(body, "the batch")
        if not isinstance(documents, list):
            raise ValueError("a CloudEvents batch is a JSON array of events")
        out = []
        for i, document in enumerate(documents):
            try:
                out.append(checked(document))
            except ValueError as exc:
                raise ValueError(f"event {i} of the batch: {exc}") from exc
        return out
    raise ValueError(
        f"not a CloudEvents request: no ce- headers, and the content type is "
        f"{content_type or 'missing'} (expected {STRUCTURED} or {BATCH})"
    )


def _decoded(body: bytes, what: str) -> dict[str, Any]:
    return checked(_json(body, what))


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from exc
