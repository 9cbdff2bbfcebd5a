"""CloudEvents 1.0 read from broker messages, checked with the ``cloudevents`` package.

A workspace takes events as JSON objects (the structured form: attributes
plus ``data``). Messages arrive in the two forms the CloudEvents bindings
define:

* **structured**: the message body is the event as JSON
  (``application/cloudevents+json``);
* **binary**: the attributes are headers (``ce-id``, ``ce-source``, ...,
  ``content-type`` for ``datacontenttype``) and the body is the data.

A message that is not a valid CloudEvent is not dropped: it becomes an
``invalid`` event (``source``/``id`` from the broker, the reason in
``problem``), which the workspace keeps as a dead letter.

Validation runs once per event read, so its cost bounds a source's
throughput. The package's rules judge each attribute on its own (required
ones present, text attributes non-empty text, ``time`` a zone-aware time,
extension names of lowercase letters and digits). Hence a structured event
whose attribute *names* the package has already accepted, and whose values
are of the kinds it accepts, is accepted without building the package's
event; every other event, and the first of each set of names, is judged by
the package itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent

from cadenza.interpreters.triggers.decision import INVALID_TYPE


def from_structured(body: bytes | str) -> dict[str, Any]:
    """The event in a structured-mode body; ``ValueError`` if it is not one."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a CloudEvent in JSON: {exc}") from exc
    return checked(document)


def checked(document: Any) -> dict[str, Any]:
    """A structured event already decoded from JSON, once its attributes passed
    the ``cloudevents`` package's validation; ``ValueError`` if they did not.

    The JSON object itself is returned: converting it to the package's event
    and back would only cost time (this runs once per event read).
    """
    if not isinstance(document, dict):
        raise ValueError("not a CloudEvent in JSON: not a JSON object")
    if "data" in document and "data_base64" in document:
        raise ValueError("not a valid CloudEvent: it has both data and data_base64")
    if _plainly_valid(document):
        return document
    attributes = {k: v for k, v in document.items() if k != "data" and k != "data_base64"}
    names = frozenset(attributes)  # before the package adds a time of its own
    if "time" in attributes:
        attributes["time"] = _time(attributes["time"])
    _validate(attributes)
    if len(_accepted_names) < _MAX_NAME_SETS:
        _accepted_names.add(names)
    return document


#: Sets of attribute names the package has accepted (see the module docstring);
#: bounded, so a producer inventing extension names cannot grow it forever.
_accepted_names: set[frozenset[str]] = set()
_MAX_NAME_SETS = 1024
#: The attributes whose values the package requires to be non-empty text.
_TEXT_ATTRIBUTES = ("id", "source", "type", "subject", "datacontenttype", "dataschema")


def _plainly_valid(document: dict[str, Any]) -> bool:
    """Whether the package is known to accept ``document``'s attributes without
    asking it: names it accepted before, values of the kinds it accepts. False
    means "ask the package", not "invalid"."""
    names = frozenset(document.keys() - _PAYLOAD_KEYS)
    if names not in _accepted_names or document.get("specversion") != "1.0":
        return False
    for name in _TEXT_ATTRIBUTES:
        if name in document:
            value = document[name]
            if type(value) is not str or not value:
                return False
    if "time" in document:
        value = document["time"]
        if type(value) is not str:
            return False
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return False
        if moment.tzinfo is None:
            return False
    return True


_PAYLOAD_KEYS = frozenset({"data", "data_base64"})


def from_binary(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The event of a binary-mode message (``ce-*`` headers, body = data)."""
    attributes: dict[str, Any] = {}
    for key, value in headers.items():
        lowered = key.lower()
        if lowered.startswith("ce-"):
            attributes[lowered[3:]] = value
        elif lowered == "content-type":
            attributes["datacontenttype"] = value
    stamped = "time" not in attributes
    if not stamped:
        attributes["time"] = _time(attributes["time"])
    try:
        event = CloudEvent(attributes, body or None)
    except BaseCloudEventException as exc:
        raise ValueError(f"not a valid CloudEvent: {exc}") from exc
    return as_object(event, stamped=stamped)


def _time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"not a valid CloudEvent: time {value!r} is not RFC 3339") from exc


def _validate(attributes: dict[str, Any]) -> None:
    """Check attributes with the ``cloudevents`` package (1.0 only)."""
    if attributes.get("specversion") != "1.0":
        found = attributes.get("specversion")
        raise ValueError(f"not a CloudEvents 1.0 event: specversion is {found!r}")
    try:
        CloudEvent(attributes, None)
    except BaseCloudEventException as exc:
        raise ValueError(f"not a valid CloudEvent: {exc}") from exc


def as_object(event: CloudEvent | Any, stamped: bool = False) -> dict[str, Any]:
    """A parsed event as the JSON object a workspace takes: attributes (``time``
    as RFC 3339 text) and ``data`` (JSON data decoded, other bytes as
    ``data_base64``).

    ``stamped``: the parser added a ``time`` the producer did not send; it is
    left out, so that a redelivered message reads the same.
    """
    out: dict[str, Any] = {}
    for key, value in event.get_attributes().items():
        if stamped and key == "time":
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    data = event.get_data()
    if isinstance(data, bytes | bytearray):
        content_type = str(out.get("datacontenttype") or "application/json")
        if "json" in content_type:
            try:
                out["data"] = json.loads(bytes(data))
                return out
            except ValueError:
                pass
        out["data_base64"] = base64.b64encode(bytes(data)).decode("ascii")
    else:
        out["data"] = data
    return out


def invalid(source: str, message_id: str, problem: str, raw: Any) -> dict[str, Any]:
    """What a message that is not a CloudEvent becomes (a dead letter)."""
    return {
        "specversion": "1.0",
        "id": message_id,
        "source": source,
        "type": INVALID_TYPE,
        "problem": problem,
        "raw": raw,
    }
