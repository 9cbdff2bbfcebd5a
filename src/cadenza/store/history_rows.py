"""A round's history rows as both backends write them: each appended event at
its sequence number, encoded, and the bytes the rows add to each execution."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cadenza.model.events import Event
from cadenza.store.claim_check import is_claim, referenced, text_size
from cadenza.store.codec import encode_event
from cadenza.store.records import DecisionResult, DecisionWork


def history_rows(
    decisions: Sequence[tuple[DecisionWork, DecisionResult]],
) -> Iterator[tuple[str, int, int, float, Event]]:
    """``(execution_id, seq, decision, time, event)`` for every appended event."""
    for work, result in decisions:
        seq = work.next_seq
        for decision, time, event in result.appended:
            yield result.execution_id, seq, decision, time, event
            seq += 1


#: A ``history`` row as both backends insert it: execution_id, seq, decision,
#: time, type, payload.
HistoryRow = tuple[str, int, int, float, str, str]


@dataclass(frozen=True)
class HistoryBytes:
    """What a round's history rows add to each execution's stored bytes (its
    ``payload_bytes``, held against the per-execution ceiling): the bytes of
    the rows' payload text, and the blobs those rows refer to, one digest per
    reference (the backend adds up their sizes from its blob table)."""

    inline: dict[str, int]
    blobs: dict[str, list[str]]


def encoded_history(
    decisions: Sequence[tuple[DecisionWork, DecisionResult]],
) -> tuple[list[HistoryRow], HistoryBytes]:
    """The history rows of these decisions, encoded (large values are written to
    the blob table now, so call it before the statement that adds up their
    sizes), and the bytes they add to each execution."""
    rows: list[HistoryRow] = []
    inline: dict[str, int] = {}
    blobs: dict[str, list[str]] = {}
    for execution_id, seq, decision, time, event in history_rows(decisions):
        type_name, payload = encode_event(event)
        rows.append((execution_id, seq, decision, time, type_name, payload))
        inline[execution_id] = inline.get(execution_id, 0) + text_size(payload)
        if is_claim(payload):
            blobs.setdefault(execution_id, []).extend(referenced([payload]))
    return rows, HistoryBytes(inline, blobs)
