"""Reading CloudEvents: structured and binary broker messages, and the three HTTP modes."""

from __future__ import annotations

import json

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
