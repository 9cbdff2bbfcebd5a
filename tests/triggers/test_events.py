"""Reading CloudEvents: structured and binary broker messages, and the three HTTP modes."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

import pytest

from cadenza.triggers.events import from_binary, from_structured
from cadenza.triggers.http_binding import BATCH, STRUCTURED, events_from_http

EVENT = {
    "specversion": "1.0",
    "id": "1",
    "source": "shop",
    "subject": "order",
    "type": "placed",
    "time": "2026-01-02T03:04:05+00:00",
    "data": {"total": 12},
}


def test_a_structured_event_reads_as_sent() -> None:
    assert from_structured(json.dumps(EVENT).encode()) == EVENT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[1]", "not a JSON object"),
        (b"{", "not a CloudEvent in JSON"),
        (json.dumps({**EVENT, "specversion": "0.3"}).encode(), "not a CloudEvents 1.0 event"),
        (json.dumps({**EVENT, "source": ""}).encode(), "source"),
        (json.dumps({**EVENT, "time": "noon"}).encode(), "not RFC 3339"),
        (json.dumps({**EVENT, "data_base64": "AA=="}).encode(), "both data and data_base64"),
    ],
)
def test_a_bad_structured_event_is_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        from_structured(body)


def test_a_binary_event_reads_from_headers_without_a_made_up_time() -> None:
    headers = {
        "ce-id": "1",
        "ce-source": "shop",
        "ce-type": "placed",
        "ce-specversion": "1.0",
        "content-type": "application/json",
    }
    event = from_binary(headers, b'{"total": 12}')
    assert event == {
        "id": "1",
        "source": "shop",
        "type": "placed",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": {"total": 12},
    }
    binary = from_binary({**headers, "content-type": "application/octet-stream"}, b"\x00\x01")
    assert binary["data_base64"] == "AAE="


def test_http_structured_batched_and_binary_modes() -> None:
    assert events_from_http({"Content-Type": STRUCTURED}, json.dumps(EVENT).encode()) == [EVENT]
    batch = [EVENT, {**EVENT, "id": "2"}]
    got = events_from_http({"content-type": f"{BATCH}; charset=utf-8"}, json.dumps(batch).encode())
    assert [e["id"] for e in got] == ["1", "2"]
    binary = events_from_http(
        {
            "ce-id": "b%201",
            "ce-source": "shop",
            "ce-type": "placed",
            "ce-specversion": "1.0",
            "ce-subject": "order",
            "Content-Type": "application/json",
        },
        b"[1, 2]",
    )
    assert binary == [
        {
            "id": "b 1",
            "source": "shop",
            "type": "placed",
            "specversion": "1.0",
            "subject": "order",
            "datacontenttype": "application/json",
            "data": [1, 2],
        }
    ]


def test_http_requests_that_carry_no_valid_event_are_refused() -> None:
    with pytest.raises(ValueError, match="not a CloudEvents request"):
        events_from_http({"content-type": "text/plain"}, b"hello")
    with pytest.raises(ValueError, match="event 1 of the batch"):
        events_from_http({"content-type": BATCH}, json.dumps([EVENT, {"id": "x"}]).encode())
    with pytest.raises(ValueError, match="a JSON array"):
        events_from_http({"content-type": BATCH}, json.dumps(EVENT).encode())
    with pytest.raises(ValueError, match="binary mode"):
        events_from_http({"ce-id": "1", "ce-specversion": "1.0"}, b"")


_ATTRIBUTE_CASES: list[dict[str, Any]] = [
    {},
    {"subject": ""},
    {"subject": 3},
    {"id": ""},
    {"id": 7},
    {"source": None},
    {"type": ["x"]},
    {"specversion": "0.3"},
    {"time": "2026-01-02T03:04:05"},  # no zone
    {"time": "2026-01-02T03:04:05Z"},
    {"time": 12},
    {"datacontenttype": ""},
    {"dataschema": "http://example.com/s"},
    {"shopregion": "eu"},
    {"shopregion": 3},
    {"Shop-Region": "eu"},
    {"data": None},
]


@pytest.mark.parametrize("change", _ATTRIBUTE_CASES)
def test_the_fast_check_and_the_cloudevents_package_agree(change: dict[str, Any]) -> None:
    """Whatever the shortcut for names already accepted decides, the package
    decides the same, on a first reading (the package asked) and on later ones."""
    from cloudevents.core.exceptions import BaseCloudEventException
    from cloudevents.core.v1.event import CloudEvent

    document = {**EVENT, **change}
    attributes = {k: v for k, v in document.items() if k != "data"}
    if isinstance(attributes.get("time"), str):
        with contextlib.suppress(ValueError):
            attributes["time"] = datetime.fromisoformat(attributes["time"])
    try:
        CloudEvent(dict(attributes), None)
        expected = True
    except BaseCloudEventException:
        expected = False
    body = json.dumps(document).encode()
    # The same names with good values first, so that the shortcut knows them.
    good = {**EVENT, **{k: "ok" for k in change if k not in EVENT}}
    if all(k.isalnum() and k.islower() for k in change if k not in EVENT):
        from_structured(json.dumps(good).encode())
    for _ in range(2):
        try:
            from_structured(body)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == expected
