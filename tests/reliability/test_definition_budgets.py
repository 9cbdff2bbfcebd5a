"""Limits narrowed for one definition, on both stores.

An engine holds ``DefinitionLimits`` by definition name: the executions of that
definition decide under a smaller expression budget and start under a smaller
value ceiling, while other definitions on the same engine keep the engine's.
Limits above the engine's own are refused when the engine is made, and a
process that did not register the definition still finds its limits (it asks
the store for the record).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.engine.payload_ceilings import (
    DefinitionLimits,
    LimitsByDefinition,
    read_definition_limits,
)
from cadenza.expressions.budget import ExpressionBudget
from cadenza.model.errors import InputError, PayloadTooLarge
from cadenza.store import open_store
from cadenza.store.payloads import PayloadLimits

pytestmark = pytest.mark.timeout(60)

#: Publishes a 2,000-character text: over a max_bytes of 1,000, far under the default.
REPEAT = """\
version: 1.0
tasks:
  make:
    action: core.noop
    next:
      - publish:
          - text: <% '{word}' * 500 %>
output:
  - size: <% len(ctx(text)) %>
"""

#: Some 0.15 s of YAQL calls (1,000 items; about 150 µs each): well over 0.02 s of CPU.
SPIN = """\
version: 1.0
tasks:
  spin:
    action: core.noop
    next:
      - publish:
          - total: <% range(0, 1000).select($ * 2).sum() %>
output:
  - total: <% ctx(total) %>
"""


def register(engine: Engine, source: str, name: str) -> Any:
    return engine.register(source, kind="orquesta", name=name)


def test_a_definitions_size_budget_fails_its_executions_only(store_url: str) -> None:
    limits = {"small": DefinitionLimits(max_bytes=1000)}
    engine = Engine(open_store(store_url), definition_limits=limits)
    small = register(engine, REPEAT.format(word="abcd"), "small")
    other = register(engine, REPEAT.format(word="wxyz"), "other")

    failed = engine.run(small, {}, timeout=30)
    assert failed.status == "failed"
    message = json.dumps(failed.errors)
    assert "expression.budget_exceeded" in message and "max_bytes=1000" in message

    done = engine.run(other, {}, timeout=30)
    assert done.status == "succeeded", done.errors
    assert done.output == {"size": 2000}
    engine.close()


def test_a_definitions_cpu_budget_stops_a_long_expression(store_url: str) -> None:
    # The engine allows 30 s, so the same expression passes in "generous" (on
    # any machine); "tight" allows 0.02 s.
    limits = {"tight": DefinitionLimits(cpu_seconds=0.02)}
    engine = Engine(
        open_store(store_url),
        expression_budget=ExpressionBudget(cpu_seconds=30.0),
        definition_limits=limits,
    )
    tight = engine.register(SPIN, kind="orquesta", name="tight")
    failed = engine.run(tight, {}, timeout=30)
    assert failed.status == "failed"
    assert "cpu_seconds=0.02" in json.dumps(failed.errors)

    generous = engine.register(SPIN + "# another definition\n", kind="orquesta", name="generous")
    done = engine.run(generous, {}, timeout=30)
    assert done.status == "succeeded", done.errors
    assert done.output == {"total": 2 * sum(range(1000))}
    engine.close()


def test_a_process_that_did_not_register_the_definition_applies_its_limits(
    store_url: str,
) -> None:
    starter = Engine(open_store(store_url))
    definition = register(starter, REPEAT.format(word="efgh"), "small")
    execution_id = starter.start(definition, {})
    starter.close()

    # A worker of the same store: it knows the limits by name only.
    worker = Engine(
        open_store(store_url), definition_limits={"small": DefinitionLimits(max_bytes=1000)}
    )
    failed = worker.drive(execution_id, timeout=30)
    assert failed.status == "failed"
    assert "max_bytes=1000" in json.dumps(failed.errors)
    worker.close()


def test_an_input_over_the_definitions_ceiling_is_refused_before_anything_is_stored(
    store_url: str,
) -> None:
    engine = Engine(
        open_store(store_url), definition_limits={"small": DefinitionLimits(max_value_bytes=100)}
    )
    definition = register(engine, REPEAT.format(word="ijkl"), "small")
    with pytest.raises(PayloadTooLarge) as raised:
        engine.start(definition, {"text": "x" * 200})
    assert "max_value_bytes=100" in raised.value.message and "'small'" in raised.value.message
    assert engine.store.list_executions() == []
    # Under the ceiling it starts as usual.
    assert engine.run(definition, {"text": "x" * 10}, timeout=30).status == "succeeded"
    engine.close()


def test_limits_above_the_engines_are_refused() -> None:
    with pytest.raises(InputError) as raised:
        LimitsByDefinition(
            {
                "greedy": DefinitionLimits(cpu_seconds=5.0, max_value_bytes=2**40),
                "fine": DefinitionLimits(cpu_seconds=0.5),
            },
            ExpressionBudget(cpu_seconds=1.0),
            PayloadLimits(),
        )
    assert raised.value.code == "input.invalid"
    assert "greedy: cpu_seconds=5 is above the engine's cpu_seconds=1" in raised.value.message
    assert "max_value_bytes" in raised.value.message and "fine" not in raised.value.message
    # Decisions never use more than the engine allows, whatever is configured.
    narrowed = DefinitionLimits(cpu_seconds=5.0, max_items=10).budget_within(ExpressionBudget())
    assert (narrowed.cpu_seconds, narrowed.max_items) == (1.0, 10)
    table = LimitsByDefinition(
        {"small": DefinitionLimits(max_value_bytes=100)}, ExpressionBudget(), PayloadLimits()
    )
    assert table.payload_limits("small", PayloadLimits()).max_value_bytes == 100
    assert table.payload_limits("other", PayloadLimits()) == PayloadLimits()


def test_the_limits_file_of_the_command_line(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'cadenza.db'}"  # the command line reads both alike
    limits = tmp_path / "limits.yaml"
    limits.write_text("small:\n  max_bytes: 1000\n  cpu_seconds: 0.5\n")
    assert read_definition_limits(str(limits)) == {
        "small": DefinitionLimits(cpu_seconds=0.5, max_bytes=1000)
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("small:\n  max_byte: 1000\n")
    with pytest.raises(InputError, match="unknown limit 'max_byte'"):
        read_definition_limits(str(bad))

    flow = tmp_path / "small.yaml"  # registered under its file's stem, "small"
    flow.write_text(REPEAT.format(word="mnop"))
    shown = cadenza(
        "run", str(flow), "--store", store_url, "--json", "--quiet", "--limits", str(limits)
    )
    assert shown.returncode == 1, shown.stderr
    assert "max_bytes=1000" in shown.stdout
    refused = cadenza("run", str(flow), "--store", store_url, "--limits", str(bad))
    assert refused.returncode == 2 and "error [input.invalid]" in refused.stderr
    assert "Traceback" not in refused.stderr


def cadenza(*args: str) -> subprocess.CompletedProcess[str]:
    """``cadenza ARGS`` in a new process, its store only the one it is given."""
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
