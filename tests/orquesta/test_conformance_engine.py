"""Every shared Orquesta case end to end: Engine + a real store, on every backend.

Compared on the order-insensitive facts (the README's rules for a scheduler
without the fifo hook). Along the way snapshots are dropped and rebuilt from
history, and at the end every recorded decision is replayed through a fresh
interpreter and must decide exactly what was recorded.
"""

from __future__ import annotations

from typing import Any

import pytest

from cadenza.store.protocol import Store

from .cases import cases_dir, compare_order_insensitive, load_cases, target_facts
from .engine_driver import run_case_on_engine

if not cases_dir().is_dir():
    pytest.skip(
        f"no Orquesta conformance cases at {cases_dir()} (set CADENZA_ORQUESTA_CASES)",
        allow_module_level=True,
    )

CASES = load_cases()


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_case_end_to_end(case: dict[str, Any], store: Store) -> None:
    target = target_facts(case)
    actual = run_case_on_engine(case, store)
    problems = compare_order_insensitive(target, actual)
    problems += actual.get("replay_problems", [])
    if not target.get("valid", True):
        assert store.list_executions() == [], "an invalid definition must store nothing"
    assert not problems, "\n".join(problems)
