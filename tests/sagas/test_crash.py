"""A real SIGKILL at every node boundary of the test saga, resumed by ``cadenza worker``.

For each action node: the ``cadenza run`` process kills itself just before
the action's side effect, or just after it (before the result is recorded);
for each undo, the same while the saga unwinds from a failure of its last
node. A new ``cadenza worker --exit-when-idle`` process then finishes the
saga. The end state is checked against side effects counted outside the
store (files, and a log of every start and end of an action or undo): only
the interrupted step runs again; every action's effect exists once, or every
completed action is undone exactly once in reverse dependency order; the
history has no gap or duplicate and replays to the same decisions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from cadenza.model.events import TaskCompleted, TaskScheduled
from cadenza.store import open_store

from .kit import (
    ACTIONS,
    World,
    assert_clean_history,
    assert_replays,
    assert_reverse_dependency_order,
    make_engine,
    wide_saga,
)

HERE = Path(__file__).resolve().parent
SAGA = wide_saga("crash", fail="${params.fail}")

#: (boundary, node, the node that fails so that the saga unwinds, or "")
CASES = [
    *((f"{when}:do:{path}", "") for path in ACTIONS for when in ("before", "after")),
    *(
        (f"{when}:undo:{path}", "notify")
        for path in ACTIONS
        if path != "notify"
        for when in ("before", "after")
    ),
]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _recorded_steps(store_url: str) -> set[str]:
    """``"do NODE"``/``"undo NODE"`` for every step whose result history holds."""
    store = open_store(store_url)
    try:
        (record,) = store.list_executions()
        history = store.read_history(record.id)
    finally:
        store.close()
    steps = {
        r.event.task_id: f"{r.event.meta['saga']} {r.event.meta['node']}"
        for r in history
        if isinstance(r.event, TaskScheduled)
    }
    return {steps[r.event.task_id] for r in history if isinstance(r.event, TaskCompleted)}


@pytest.mark.slow
@pytest.mark.parametrize(("crash_at", "fail"), CASES, ids=[c[0] for c in CASES])
def test_sigkill_at_a_node_boundary_then_a_new_worker_finishes_the_saga(
    tmp_path: Path, crash_at: str, fail: str
) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (tmp_path / "wide.saga.json").write_text(json.dumps(SAGA.document))
    store_url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    env = {
        **os.environ,
        "CADENZA_STORE": store_url,
        "SAGA_WORLD": str(world),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    activities = ["--activities", "crash_activities:register"]
    params = json.dumps({"name": "vm", "fail": fail})

    first = _run(
        ["run", "wide.saga.json", "--input", params, "--quiet", "--lease", "600", *activities],
        {**env, "SAGA_CRASH_AT": crash_at},
        tmp_path,
    )
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == -signal.SIGKILL, stderr

    # Steps that started and whose result the store did not record before the
    # crash run again (at least once); nothing else may.
    before_crash = Counter((world / "marks").read_text().splitlines())
    recorded = _recorded_steps(store_url)
    interrupted = {
        line.removeprefix("start ")
        for line in before_crash
        if line.startswith("start ") and line.removeprefix("start ") not in recorded
    }
    _, side, crashed = crash_at.split(":")
    assert f"{side} {crashed}" in interrupted

    second = _run(["worker", "--exit-when-idle", *activities], env, tmp_path)
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr

    marks = Counter((world / "marks").read_text().splitlines())
    resources = {p.name.replace("__", "/") for p in world.iterdir() if p.name != "marks"}
    store = open_store(store_url)
    try:
        engine = make_engine(store, World())
        (record,) = store.list_executions()
        execution_id = record.id
        if fail:
            assert record.status == "failed", record.errors
            assert record.errors[0]["node"] == fail
            assert resources == set()
            # in the order each undo last ended (one interrupted after its effect ran again)
            ends = [
                line.split()[-1]
                for line in (world / "marks").read_text().splitlines()
                if line.startswith("end undo ")
            ]
            undone = [p for i, p in enumerate(ends) if p not in ends[i + 1 :]]
            assert sorted(undone) == sorted(p for p in ACTIONS if p != fail)
            assert_reverse_dependency_order(SAGA.graph, undone)
        else:
            assert record.status == "succeeded", record.errors
            assert resources == set(ACTIONS)
            assert not any(line.startswith("start undo") for line in marks)
        # only the interrupted steps ran again; each ran to its end once
        for line in marks:
            if line.startswith("start "):
                step = line.removeprefix("start ")
                assert marks[line] == 1 + (step in interrupted), (step, marks)
                if step != f"do {fail}":
                    assert 1 <= marks["end " + step] <= marks[line], (step, marks)
        assert all(marks[f"start do {path}"] for path in ACTIONS)
        assert_clean_history(engine.history(execution_id))
        assert_replays(engine, execution_id)
    finally:
        store.close()
