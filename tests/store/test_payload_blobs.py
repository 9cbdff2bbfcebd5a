"""The claim-check on both stores: a large value is kept once in the blob table,
its rows hold a reference, and every reader gets the value back."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.events import ExecutionStarted, TaskCompleted
from cadenza.store import open_store
from cadenza.store.blobs import CLAIM_PREFIX
from cadenza.store.payloads import MIB, PayloadLimits
from cadenza.store.postgres import PostgresStore
from cadenza.store.protocol import Store
from cadenza.store.sqlite import SQLiteStore
from cadenza.workers.registry import ActivityRegistry, default_registry

BIG = 1 * MIB

#: Two tasks: ``make`` returns a 1 MiB text, ``check`` gets it back as input and
#: fails until the file it names exists (so the execution can be rerun).
WORKFLOW = """\
version: 1.0
input:
  - size
  - gate
tasks:
  make:
    action: test.big size=<% ctx(size) %>
    next:
      - when: <% succeeded() %>
        publish:
          - data: <% result().data %>
        do: check
  check:
    action: test.check text=<% ctx(data) %> gate=<% ctx(gate) %>
    next:
      - when: <% succeeded() %>
        publish:
          - checked: <% result() %>
output:
  - data: <% ctx(data) %>
  - checked: <% ctx(checked) %>
"""


def open_with(url: str, limits: PayloadLimits | None = None) -> Store:
    """A store at ``url`` with these limits."""
    if url.startswith("sqlite:"):
        return SQLiteStore(url[len("sqlite:///") :], payload_limits=limits)
    return PostgresStore(url, payload_limits=limits)


def raw_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows as the database holds them, read past every Cadenza layer (``?`` marks)."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        return [tuple(row) for row in pg.execute(sql.replace("?", "%s"), params).fetchall()]


def registry(gate_calls: list[str]) -> ActivityRegistry:
    """``test.big`` and ``test.check``, noting each call in ``gate_calls``."""
    found = default_registry()

    def big(size: int) -> dict[str, str]:
        gate_calls.append("make")
        return {"data": "x" * size}

    found.register("test.big", big)

    def check(text: str, gate: str) -> int:
        gate_calls.append(gate)
        from pathlib import Path

        if not Path(gate).exists():
            raise RuntimeError("the gate is closed")
        return len(text)

    found.register("test.check", check)
    return found


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def engine(store: Store, calls: list[str]) -> Iterator[Engine]:
    yield Engine(store, registry=registry(calls))


def test_a_large_result_is_kept_once_beside_history_and_read_back(
    engine: Engine, store_url: str, tmp_path: Any
) -> None:
    (tmp_path / "gate").write_text("open")
    definition = engine.register(WORKFLOW, kind="orquesta")
    done = engine.run(definition, {"size": BIG, "gate": str(tmp_path / "gate")}, timeout=60)
    assert done.status == "succeeded", done.errors
    assert done.output == {"data": "x" * BIG, "checked": BIG}

    text = json.dumps("x" * BIG).encode()
    digest = hashlib.sha256(text).hexdigest()
    assert raw_rows(store_url, "SELECT size FROM blobs WHERE digest = ?", digest) == [(len(text),)]
    # History, snapshot and output rows hold references, not the megabyte.
    [(largest,)] = raw_rows(
        store_url, "SELECT MAX(LENGTH(payload)) FROM history WHERE execution_id = ?", done.id
    )
    assert largest < 4096
    [(snapshot, output)] = raw_rows(
        store_url, "SELECT snapshot, output FROM executions WHERE id = ?", done.id
    )
    assert output.startswith(CLAIM_PREFIX) and len(output) < 4096
    assert snapshot is None or len(snapshot) < 16384

    # Readers get the real value: history, and the execution's row.
    completed = [r.event for r in engine.history(done.id) if isinstance(r.event, TaskCompleted)]
    assert completed[0].result == {"data": "x" * BIG}
    assert engine.get(done.id).output["data"] == "x" * BIG


def test_restart_replay_and_rerun_read_blobs_back(
    store_url: str, tmp_path: Any, calls: list[str]
) -> None:
    gate = tmp_path / "gate"
    first = Engine(open_store(store_url), registry=registry(calls))
    definition = first.register(WORKFLOW, kind="orquesta")
    failed = first.run(definition, {"size": BIG, "gate": str(gate)}, timeout=60)
    assert failed.status == "failed"
    first.close()

    # Another process: no state held, no snapshot; history alone (with its
    # references) rebuilds the workflow, and the rerun hands the big value on.
    gate.write_text("open")
    second = Engine(open_store(store_url), registry=registry(calls))
    second.store.forget_snapshots([failed.id])
    assert second.describe(failed.id).status == "failed"
    second.rerun(failed.id)
    done = second.drive(failed.id, timeout=60)
    assert done.status == "succeeded", done.errors
    assert done.output == {"data": "x" * BIG, "checked": BIG}
    # make ran once (its result was read back from the blob table), check twice.
    assert calls == ["make", str(gate), str(gate)]
    second.close()


def test_small_values_stay_inline_and_the_threshold_is_the_stores(
    store_url: str, tmp_path: Any, calls: list[str]
) -> None:
    (tmp_path / "gate").write_text("open")
    limits = PayloadLimits(inline_bytes=2048)
    engine = Engine(open_with(store_url, limits), registry=registry(calls))
    definition = engine.register(WORKFLOW, kind="orquesta")
    small = engine.run(definition, {"size": 100, "gate": str(tmp_path / "gate")}, timeout=60)
    medium = engine.run(definition, {"size": 4000, "gate": str(tmp_path / "gate")}, timeout=60)
    assert small.output == {"data": "x" * 100, "checked": 100}
    assert medium.output == {"data": "x" * 4000, "checked": 4000}
    refs = "SELECT COUNT(*) FROM history WHERE execution_id = ? AND payload LIKE ?"
    assert raw_rows(store_url, refs, small.id, CLAIM_PREFIX + "%") == [(0,)]
    # The result, the next task's input, the end: each holds a reference.
    assert raw_rows(store_url, refs, medium.id, CLAIM_PREFIX + "%")[0][0] >= 2
    engine.close()


def test_a_large_start_input_is_kept_with_its_start_each_time(
    store_url: str, tmp_path: Any, calls: list[str]
) -> None:
    # The first start of a definition also stores it; later ones write only
    # the execution and its inbox row (on PostgreSQL one statement, whose blob
    # must commit with it or be dropped as unreferenced).
    (tmp_path / "gate").write_text("open")
    engine = Engine(
        open_with(store_url, PayloadLimits(inline_bytes=2048)), registry=registry(calls)
    )
    definition = engine.register(WORKFLOW, kind="orquesta")
    gate = str(tmp_path / "gate")
    # Each input a different text over the threshold: a blob each.
    inputs = [{"size": 10 + n, "gate": gate, "pad": str(n) * 3000} for n in range(3)]
    ids = [engine.start(definition, value) for value in inputs]
    for execution_id in ids:
        [(payload,)] = raw_rows(
            store_url, "SELECT payload FROM inbox WHERE execution_id = ?", execution_id
        )
        assert payload.startswith(CLAIM_PREFIX) and len(payload) < 2048, payload[:80]
    [(blobs,)] = raw_rows(store_url, "SELECT COUNT(*) FROM blobs")
    assert blobs == 3
    engine.run_until_idle()
    for execution_id, value in zip(ids, inputs, strict=True):
        assert engine.get(execution_id).status == "succeeded"
        (first, *_rest) = engine.history(execution_id)
        assert isinstance(first.event, ExecutionStarted) and first.event.input == value
    engine.close()


def test_cadenza_history_and_status_show_the_real_value(
    engine: Engine, store_url: str, tmp_path: Any
) -> None:
    (tmp_path / "gate").write_text("open")
    definition = engine.register(WORKFLOW, kind="orquesta")
    done = engine.run(definition, {"size": BIG, "gate": str(tmp_path / "gate")}, timeout=60)
    assert done.status == "succeeded", done.errors
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    for command in (["history", done.id, "--json"], ["status", done.id, "--json"]):
        shown = subprocess.run(
            [sys.executable, "-m", "cadenza", *command, "--store", store_url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        ).stdout
        assert '"' + "x" * BIG + '"' in shown, command
        assert CLAIM_PREFIX not in shown and "sha256" not in shown


def test_blobs_can_be_files_in_a_directory(store_url: str, tmp_path: Any) -> None:
    (tmp_path / "gate").write_text("open")
    folder = tmp_path / "blobs"
    if store_url.startswith("sqlite:"):
        store: Store = SQLiteStore(store_url[len("sqlite:///") :], blob_dir=str(folder))
    else:
        store = PostgresStore(store_url, blob_dir=str(folder))
    engine = Engine(store, registry=registry([]))
    definition = engine.register(WORKFLOW, kind="orquesta")
    size = BIG + 7  # a text no other test keeps (a shared database keeps its blobs)
    done = engine.run(definition, {"size": size, "gate": str(tmp_path / "gate")}, timeout=60)
    assert done.status == "succeeded", done.errors
    digest = hashlib.sha256(json.dumps("x" * size).encode()).hexdigest()
    assert (folder / digest[:2] / digest).stat().st_size == size + 2
    assert raw_rows(store_url, "SELECT COUNT(*) FROM blobs WHERE digest = ?", digest) == [(0,)]
    assert engine.get(done.id).output == {"data": "x" * size, "checked": size}
    assert not list(folder.glob("*/.incoming-*"))
    engine.close()


def test_the_http_api_answers_with_the_real_value(store_url: str, tmp_path: Any) -> None:
    from api.test_http_api import register, start_server

    echo = (
        "version: 1.0\ninput:\n  - big\ntasks:\n  a:\n    action: core.noop\n"
        "output:\n  - big: <% ctx(big) %>\n"
    )
    server = start_server(store_url, tmp_path)
    try:
        definition = register(server, echo)
        value = "h" * (BIG - 100)  # under the body limit, over the inline threshold
        started = server.http.post(
            "/v1/executions", json={"definition_id": definition["id"], "input": {"big": value}}
        )
        assert started.status_code == 201, started.text
        done = server.wait_for(started.json()["id"], lambda e: e["status"] == "succeeded")
        assert done["output"] == {"big": value}
        history = server.http.get(f"/v1/executions/{done['id']}/history").json()
        assert value in json.dumps(history) and CLAIM_PREFIX not in json.dumps(history)
    finally:
        server.stop()
