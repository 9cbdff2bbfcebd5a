"""Two hundred code workflows (an activity, a timer, a child workflow, a signal,
an activity that fails once and is retried) while the deciding process and the
activity worker processes are SIGKILLed at random points.

Every execution completes with the right result; an activity's side effect runs
again only for an attempt a kill interrupted, and never once its task completed.
The randomness is seeded: the seed is printed, and ``CADENZA_CRASH_SEED=N``
replays a run's choices (the machine's timing still varies).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.definitions import CodeReference
from cadenza.model.events import TaskCompleted, TaskScheduled
from cadenza.store import open_store

from .conftest import HERE

pytestmark = pytest.mark.slow

EXECUTIONS = 200
#: Kills of each kind of process over the run.
DECIDER_KILLS = 6
WORKER_KILLS = 10
#: Log lines (effect starts and ends) between one kill and the next, drawn at random.
PROGRESS_BETWEEN_KILLS = (10, 60)


def _effects(log: Path) -> list[tuple[str, str, int]]:
    """(what, key, pid) for each line of the side-effect log."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        what, key, pid = line.split()
        found.append((what, key, int(pid)))
    return found


#: How often the test asks the store whether every execution settled (seconds):
#: each ask lists them all, work taken from the processes under test on a
#: machine with few cores.
SETTLED_POLL = 0.1


def _poll(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(SETTLED_POLL)


# The run takes seconds; the limit leaves room for the stall report below.
@pytest.mark.timeout(300)
def test_two_hundred_executions_survive_killed_deciders_and_workers(
    store_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("CADENZA_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash test seed: CADENZA_CRASH_SEED={seed}")
    chooser = random.Random(seed)
    log = tmp_path / "effects.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "CODE_CHAOS_LOG": str(log),
    }
    # A killed process's leases are broken as soon as a live one on this host sees
    # its pid gone, so the lease's length does not slow recovery; a long one keeps
    # a report that a busy machine delays from passing for a lost worker (whose
    # task would run again though no kill explains it, failing the checks below).
    base = [sys.executable, "-m", "cadenza", "worker", "--store", store_url, "--lease", "10"]
    # The decider serves only the default task list, where no effect runs;
    # the workers serve the effects' task list (and decide too, as every worker does).
    decider_argv = [*base, "--queue", "default"]
    worker_argv = [
        *base,
        "--queue",
        "effects",
        "--concurrency",
        "8",
        "--activities",
        "chaos_flows:register_effects",
    ]

    def spawn(argv: list[str]) -> subprocess.Popen[bytes]:
        # Each process's stderr in a file of its own: shown if the executions stall.
        with (tmp_path / f"stderr-{len(list(tmp_path.glob('stderr-*')))}.txt").open("wb") as err:
            return subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=err)

    engine = Engine(open_store(store_url))
    try:
        _run_and_check(engine, spawn, decider_argv, worker_argv, log, chooser, seed)
    finally:
        engine.close()


def _run_and_check(
    engine: Engine,
    spawn: Callable[[list[str]], subprocess.Popen[bytes]],
    decider_argv: list[str],
    worker_argv: list[str],
    log: Path,
    chooser: random.Random,
    seed: int,
) -> None:
    killed: set[int] = set()
    kills = Counter[str]()
    engine.register(CodeReference("chaos_flows:ErrandLeg", "1"))
    errand = engine.register(CodeReference("chaos_flows:Errand", "1"))
    # Every execution exists before the processes start, so the kills fall on
    # work in progress however fast the store is; half the signals come before
    # their workflow waits for them, half while the kills go on.
    ids = {f"e{n}": engine.start(errand, [f"e{n}"]) for n in range(EXECUTIONS)}
    late_signals = [tag for n, tag in enumerate(ids) if n % 2]
    for tag in ids:
        if tag not in late_signals:
            engine.signal(ids[tag], "go", tag.upper())
    decider = spawn(decider_argv)
    workers = [spawn(worker_argv), spawn(worker_argv)]

    def kill(process: subprocess.Popen[bytes], kind: str) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed.add(process.pid)
        kills[kind] += 1

    def all_settled() -> bool:
        records = engine.store.list_executions(limit=10 * EXECUTIONS)
        return len(records) >= 2 * EXECUTIONS and all(engine.is_settled(r) for r in records)

    try:
        plan = ["decider"] * DECIDER_KILLS + ["worker"] * WORKER_KILLS
        chooser.shuffle(plan)
        for done, kind in enumerate(plan):
            share = len(late_signals) // (len(plan) - done)
            for tag in late_signals[:share]:
                engine.signal(ids[tag], "go", tag.upper())
            del late_signals[:share]
            # A random point: some number of effect starts and ends after the last
            # kill (fewer when the work left waits for signals not sent yet).
            _wait_for_progress(log, chooser.randint(*PROGRESS_BETWEEN_KILLS), all_settled)
            if all_settled():
                break
            if kind == "decider":
                kill(decider, kind)
                decider = spawn(decider_argv)
                continue
            # A worker in the middle of an effect, so the kill interrupts it; if
            # none starts one soon (all waiting for signals), any worker.
            running = _running_soon(log, {w.pid for w in workers}, 2.0)
            pid = chooser.choice(running or sorted(w.pid for w in workers))
            victim = next(w for w in workers if w.pid == pid)
            workers.remove(victim)
            kill(victim, kind)
            workers.append(spawn(worker_argv))
        for tag in late_signals:
            engine.signal(ids[tag], "go", tag.upper())
        try:
            _poll(all_settled, 120, f"every execution to settle (seed {seed})")
        except AssertionError as stalled:
            raise AssertionError(f"{stalled}\n{_stall_report(engine, log.parent)}") from None
    finally:
        for process in [decider, *workers]:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    print(f"kills: {dict(kills)}")
    assert kills["decider"] >= 1 and kills["worker"] >= 1, (seed, kills)
    for tag, execution_id in ids.items():
        record = engine.get(execution_id)
        assert record.status == "succeeded", (seed, tag, record.errors)
        assert record.output == [f"{tag}:a", f"{tag}:leg", f"{tag}:b:{tag.upper()}"]
    attempts = _completing_attempts(engine)
    assert len(attempts) == 3 * EXECUTIONS
    _check_effects(_effects(log), attempts, killed, seed)


def _check_effects(
    effects: list[tuple[str, str, int]], attempts: dict[str, int], killed: set[int], seed: int
) -> None:
    """Each side effect ran once per attempt at most, never after its task completed,
    and was cut short (or ran again) only where a kill explains it."""
    per_run = Counter((what, key, pid) for what, key, pid in effects)
    starts = Counter(key for what, key, _ in effects if what == "start")
    ends = Counter(key for what, key, _ in effects if what == "end")
    fails = Counter(key for what, key, _ in effects if what == "fail")
    killed_ends = Counter(key for what, key, pid in effects if what == "end" and pid in killed)
    interrupted = 0
    for (what, key, pid), count in per_run.items():
        if what != "start":
            continue
        cut = count - per_run[("end", key, pid)] - per_run[("fail", key, pid)]
        # An effect that started and neither ended nor failed was in a killed process.
        assert cut == 0 or pid in killed, (seed, key, pid, count)
        interrupted += cut
    assert interrupted >= 1, f"no kill interrupted an effect (seed {seed})"
    for key, attempt in attempts.items():
        retried_on_purpose = ":b:" in key
        assert fails[key] == (1 if retried_on_purpose else 0), (seed, key, fails[key])
        assert ends[key] >= 1, (seed, key)
        # One run per attempt at most, and none after the attempt that completed it.
        assert starts[key] <= attempt, (seed, key, starts[key], attempt)
        # A run that ended again was one whose report a kill lost.
        assert ends[key] - 1 <= killed_ends[key], (seed, key, ends[key], killed_ends[key])


def _wait_for_progress(log: Path, lines: int, all_settled: Callable[[], bool]) -> None:
    """Until ``lines`` more effect lines are logged, the log stays still for
    half a second, or every execution has settled."""
    seen = len(_effects(log))
    target, last_change = seen + lines, time.monotonic()
    deadline = last_change + 60
    next_settled_look = last_change + SETTLED_POLL
    while seen < target and time.monotonic() - last_change < 0.5:
        assert time.monotonic() < deadline, "no progress within 60 s"
        time.sleep(0.01)
        now_seen = len(_effects(log))
        if now_seen != seen:
            seen, last_change = now_seen, time.monotonic()
        elif time.monotonic() >= next_settled_look:
            if all_settled():
                return
            next_settled_look = time.monotonic() + SETTLED_POLL


def _running_soon(log: Path, pids: set[int], timeout: float) -> list[int]:
    """The pids among ``pids`` running an effect, polled for up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (running := _running_in(log, pids)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return running


def _running_in(log: Path, pids: set[int]) -> list[int]:
    """The pids among ``pids`` with an effect started and not yet ended."""
    open_runs = Counter[tuple[str, int]]()
    for what, key, pid in _effects(log):
        open_runs[(key, pid)] += 1 if what == "start" else -1
    return sorted({pid for (_, pid), n in open_runs.items() if n > 0 and pid in pids})


def _stall_report(engine: Engine, workdir: Path) -> str:
    """What the executions that did not settle wait on, and what the processes said."""
    open_ones = [
        r for r in engine.store.list_executions(limit=10 * EXECUTIONS) if not engine.is_settled(r)
    ]
    lines = [f"{len(open_ones)} executions not settled; tasks by (queue, status):"]
    lines.append(f"  {engine.store.task_counts()}; lease owners: {engine.store.lease_owners()}")
    for record in open_ones[:5]:
        tail = [type(r.event).__name__ for r in engine.history(record.id)[-6:]]
        lines.append(f"  {record.id} {record.status}: ... {', '.join(tail)}")
    for err in sorted(workdir.glob("stderr-*.txt")):
        text = err.read_text(errors="replace").strip()
        if text:
            lines.append(f"{err.name}:\n{text[-2000:]}")
    return "\n".join(lines)


def _completing_attempts(engine: Engine) -> dict[str, int]:
    """Side-effect key -> the attempt that completed its task, over every execution."""
    found: dict[str, int] = {}
    for record in engine.store.list_executions(limit=10 * EXECUTIONS):
        history = engine.history(record.id)
        keys = {
            r.event.task_id: r.event.input["args"][0]
            for r in history
            if isinstance(r.event, TaskScheduled)
        }
        for r in history:
            if isinstance(r.event, TaskCompleted) and r.event.task_id in keys:
                found[keys[r.event.task_id]] = r.event.attempt
    return found
