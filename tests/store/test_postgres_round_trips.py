"""How many round trips a step costs on PostgreSQL, counted (never timed).

The engine's connections are traced by libpq; a round trip is each time the
client stops sending and waits for the server's answer. A sequential step is
one decision round: its write sent as one pipeline with the commit (the
database checks the write's assumptions itself, so nothing is read back
before the commit), and no read at all when the loop knows the execution's
row from its own last round and has heard of no other work; such a round's
write is one statement, its own transaction. The write phase
sent statement by statement cost about eleven round trips; a pipeline
answered before a separate commit, three; with a read before each write, two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

from cadenza.engine.engine import Engine  # noqa: E402
from cadenza.store.postgres import connections  # noqa: E402

STEPS = 30

#: The most round trips per step the rounds of a sequential chain may take:
#: one per round that reads nothing (the write with its commit), two in a
#: round that reads (the first, the last, and one at least every few dozen
#: milliseconds, so more of them on a slow machine), a few more in a round
#: that ends an execution with a parent or children to tell, and
#: answers that the driver happens to read while it is still sending (which
#: the trace cannot tell from a wait). Measured: 1.4 with the write of a
#: round that read nothing as one statement, about 1.6 with it as a pipeline
#: between BEGIN and COMMIT, 2.1 with a read in every round; with the commit
#: sent after the write's answers were checked, 3.3; statement by statement,
#: eleven.
MOST_ROUND_TRIPS_PER_STEP = 3.0


def chain(steps: int) -> str:
    """An Orquesta chain of ``steps`` no-op tasks, each publishing a counter."""
    lines = ["version: 1.0", "input:", "  - v: 0", "tasks:"]
    for i in range(1, steps + 1):
        lines += [
            f"  s{i}:",
            "    action: core.noop",
            "    next:",
            "      - when: <% succeeded() %>",
            "        publish:",
            "          - v: <% ctx().v + 1 %>",
        ]
        if i < steps:
            lines.append(f"        do: s{i + 1}")
    lines += ["output:", "  - v: <% ctx().v %>", ""]
    return "\n".join(lines)


def round_trips_in_rounds(trace: str) -> tuple[int, int, int]:
    """``(rounds, round trips inside them, rounds that read nothing)`` in one
    connection's trace.

    A round begins with its read (the statement ``WITH taken AS ...``), or,
    when it reads nothing, with its BEGIN or its one statement
    (``cadenza_quiet_round``), and ends when the answer to its COMMIT (or to
    that statement) arrives (or when the next round begins, after a round that
    had nothing to write). A round trip is a server message after
    a client one. What the engine does between rounds (looking for due timers,
    heartbeats) depends on wall time, so it is not counted.
    """
    prepared: dict[str, str] = {}
    parsed = ""
    rounds = trips = quiet = 0
    in_round = committing = False
    previous = ""
    for line in trace.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] not in ("F", "B"):
            continue  # the continuation of a statement's text
        direction, message = parts[0], parts[2]
        rest = parts[3].strip() if len(parts) > 3 else ""
        if direction == "F":
            text = None
            if message == "Parse":
                name, _, parsed = rest.partition(" ")
                prepared[name] = parsed
            elif message == "Bind":
                statement = rest.split(" ")[1]
                text = parsed if statement == '""' else prepared.get(statement, "")
            elif message == "Query":
                text = rest
            # A statement's first line, without the quotes the trace adds (and,
            # after a Parse, the count of parameter types).
            first = None if text is None else text.split('"')[1 if text.startswith('"') else 0]
            one_statement = text is not None and "cadenza_quiet_round" in text and not in_round
            starts_write = (first == "BEGIN" and not in_round) or one_statement
            if text is not None and ("WITH taken AS" in text or starts_write):
                rounds += 1
                quiet += starts_write
                # A round of one statement ends with its answer.
                in_round, committing = True, one_statement
            elif in_round and first == "COMMIT":
                committing = True
        elif previous == "F" and in_round:
            trips += 1
            if committing:
                in_round = committing = False
        previous = direction
    return rounds, trips, quiet


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[Path]]:
    """Trace every connection the store opens from now on into a file of its own."""
    files: list[Path] = []
    opened: list[Any] = []
    connect = connections.connect

    def tracing_connect(url: str, where: str, connect_timeout: float) -> connections.Connection:
        conn = connect(url, where, connect_timeout)
        path = tmp_path / f"conn{len(files)}.trace"
        handle = path.open("w")
        opened.append(handle)
        conn.pgconn.trace(handle.fileno())
        conn.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
        )
        files.append(path)
        return conn

    monkeypatch.setattr(connections, "connect", tracing_connect)
    yield files
    for handle in opened:
        handle.close()


def test_a_sequential_step_costs_two_round_trips(postgres_url: str, traced: list[Path]) -> None:
    engine = Engine(postgres_url)
    try:
        definition = engine.register(chain(STEPS), origin="chain.yaml")
        record = engine.run(definition, timeout=60)
        commits = engine.store.commits
    finally:
        engine.close()
    assert record.status == "succeeded", record
    assert record.output == {"v": STEPS}

    counts = [round_trips_in_rounds(path.read_text()) for path in traced]
    rounds = sum(r for r, _, _ in counts)
    trips = sum(t for _, t, _ in counts)
    quiet = sum(q for _, _, q in counts)
    assert rounds >= STEPS  # the trace saw every step's round
    assert trips / STEPS <= MOST_ROUND_TRIPS_PER_STEP, f"{trips} round trips in {rounds} rounds"
    # Most steps read nothing: the loop knew the row and heard of no other
    # work (a round still reads at least every few dozen milliseconds).
    assert quiet >= STEPS // 2, f"only {quiet} of {rounds} rounds read nothing"
    # Still one commit per step, plus opening the store, registering, starting
    # the execution and its first decision.
    assert commits <= STEPS + 4
