"""What a sequential step costs on SQLite, counted in statements (never timed).

A step is one decision round: its read (the executions to decide), and one
write transaction that ends the finished attempt, saves the decision (the
execution row, guarded by its decision number, then the history and task
rows) and claims the next task. In a sequential run the finished attempt's
event comes with the round, not through the inbox, so the round reads no
inbox; and the write checks the decision number in the statement that saves
the execution row, so it reads none under lock either.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

from cadenza.engine.engine import Engine
from cadenza.store.sqlite.store import SQLiteStore

from .test_postgres_round_trips import STEPS, chain

#: A round's statements, each row of an insert counted: the read; BEGIN, the
#: finish, the execution row, two history rows (the task's completion, the
#: next one's scheduling), the task row, the claim, the sweep of unreferenced
#: blobs and COMMIT: ten, plus the first round's and the last's few more
#: (10.6 in all). With a read of the inbox and a locked read of the decision
#: numbers in every round it was 12.6.
MOST_STATEMENTS_PER_STEP = 11.0


def _statement(sql: str) -> str:
    """A statement's kind: its first words, values left out."""
    words = re.sub(r"\s+", " ", sql).strip().split(" ")
    return " ".join(words[:4])


def test_a_sequential_step_costs_one_read_and_one_write(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "steps.db"))
    engine = Engine(store)
    definition = engine.register(chain(STEPS), origin="chain.yaml")
    execution_id = engine.start(definition, {"v": 0})
    seen: list[str] = []
    statements: list[str] = []
    loop = threading.get_ident()

    def trace(sql: str) -> None:
        # A trigger's statements are reported with the text of the statement
        # that fired it, right after it: counted once, as the statement.
        if seen and seen[-1] == sql:
            return
        seen.append(sql)
        # The loop's own statements (the activity's, on a task thread, are none).
        if threading.get_ident() == loop:
            statements.append(_statement(sql))

    store._conn.set_trace_callback(trace)
    done = engine.drive(execution_id, timeout=60)
    store._conn.set_trace_callback(None)
    assert done.status == "succeeded" and done.output == {"v": STEPS}
    kinds = Counter(statements)
    # The inbox is read once, in the first round (the start is there), and the
    # decision numbers never on their own.
    assert kinds["SELECT id, execution_id, time,"] == 1
    assert not [s for s in kinds if s.startswith("SELECT id, decision_no FROM")]
    # A write per step and the first round's (the loop writes nothing else here).
    assert kinds["BEGIN IMMEDIATE"] == STEPS + 1
    per_step = (len(statements) - _between_rounds(kinds)) / STEPS
    assert per_step <= MOST_STATEMENTS_PER_STEP, kinds.most_common()
    engine.close()


def _between_rounds(kinds: Counter[str]) -> int:
    """Statements the loop runs between rounds as wall time passes (looking for
    due timers every few milliseconds, the reaper every second)."""
    return sum(
        n
        for kind, n in kinds.items()
        if kind.startswith(("SELECT 1 FROM timers", "SELECT DISTINCT lease_owner", "SELECT * FROM"))
    )
