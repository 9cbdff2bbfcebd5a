"""Triggerflow's ingestion experiment on this machine: one workspace joins a fork of
TASKS parallel tasks x EVENTS events each, read from Redis Streams and from NATS
JetStream, against a plain consumer that only reads and acknowledges the same stream.

    python bench/triggers.py                          # 200 x 1000, both brokers, SQLite
    python bench/triggers.py --tasks 20 --events 500  # a quick run
    python bench/triggers.py --store postgresql://postgres@127.0.0.1:5432/postgres --json

For each broker, in one run:

1. The stream is filled with TASKS x EVENTS CloudEvents (task i reports
   ``event.triggerflow.termination.success`` with subject ``task-i``), the
   tasks interleaved as parallel tasks would be. Not timed.
2. **plain consumer**: a fresh consumer group (durable consumer) reads the
   whole stream in batches and acknowledges every message. Timed.
3. **cadenza**: a workspace with one ``JOIN`` trigger per task (``join`` =
   EVENTS, its action emits ``task.joined``) and a final ``JOIN`` over the
   TASKS tasks (``TERMINATE``). A ``TriggerWorker`` reads the same stream
   with another fresh group and delivers each batch in one store transaction;
   the engine decides in the same process. Timed from the worker's start to
   the workspace's end. Then every counter is checked: each task trigger
   counted exactly EVENTS, the final join fired once, no event was a
   duplicate or a dead letter.

4. **memory** (``--brokers ...,none``): the same workspace fed batches from
   memory by a thread while the engine decides: what the store and the
   interpreter can do without any broker client, to tell which side bounds
   the figures above.

Reported: events/s of each, and cadenza's time over the plain consumer's, as
medians of ``--repeat`` runs (each run reads the whole stream again with fresh
groups and a fresh store), with the load average at the start and the end;
and the CPU time per event of the listener processes and of the engine, which
depends much less than events/s on what else the machine runs: on a machine
with a core free for each, events/s is bounded by 1,000,000 / the larger of
the two (in microseconds).
With ``--wake-batches N``, the script also measures how soon an engine serving
the SQLite store decides a batch that another process committed (N one-event
batches, 30 ms apart; the engine polls every 20 ms, and is rung through the
store's wake-up sockets, ``cadenza.engine.wake_sockets``): medians and 90th
percentiles in milliseconds. ``--brokers ""`` runs only that.
With ``--kills K`` a trigger worker is SIGKILLed K times mid-stream (once a
batch of its generation has been decided) and restarted under the same
consumer name; ``--listeners N`` runs N trigger workers sharing the stream.
The counters are checked after every run, kills or not.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REDIS_URL = os.environ.get("CADENZA_BENCH_REDIS", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("CADENZA_BENCH_NATS", "nats://127.0.0.1:4222")
SUCCESS = "event.triggerflow.termination.success"


def workspace(tasks: int, events: int, source: dict[str, Any]) -> str:
    """The fork-join workspace as definition text."""
    triggers: list[dict[str, Any]] = [
        {
            "id": f"task-{i}",
            "activation": [{"subject": f"task-{i}", "type": SUCCESS}],
            "condition": "JOIN",
            "context": {"join": events, "emit": {"subject": "fork", "type": "task.joined"}},
            "action": "EMIT",
        }
        for i in range(tasks)
    ]
    triggers.append(
        {
            "id": "fork-join",
            "activation": [{"subject": "fork", "type": "task.joined"}],
            "condition": "JOIN",
            "context": {"join": tasks, "result": "joined"},
            "action": "TERMINATE",
        }
    )
    return json.dumps({"workspace": "ingestion", "sources": [source], "triggers": triggers})


def produced(tasks: int, events: int, run: str) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": f"{run}-{n}-{i}",
            "source": f"bench/{run}",
            "subject": f"task-{i}",
            "type": SUCCESS,
            "data": {"n": n},
        }
        for n in range(events)
        for i in range(tasks)
    ]


# --- Redis Streams ------------------------------------------------------------------------


def redis_fill(stream: str, events: list[dict[str, Any]]) -> None:
    import redis

    from cadenza.triggers.redis_streams import publish

    client = redis.Redis.from_url(REDIS_URL)
    client.delete(stream)
    for start in range(0, len(events), 10_000):
        publish(client, stream, events[start : start + 10_000])


def redis_plain(stream: str, total: int, batch: int, group: str) -> float:
    """Read and acknowledge every entry with a fresh group; the seconds it took."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.xgroup_create(stream, group, id="0")
    began = time.perf_counter()
    done = 0
    while done < total:
        found: Any = client.xreadgroup(group, "c", {stream: ">"}, count=batch, block=1000)
        for _stream, entries in found or []:
            for _id, fields in entries:
                json.loads(fields[b"event"])  # what any consumer must do with the body
            client.xack(stream, group, *[e[0] for e in entries])
            done += len(entries)
    return time.perf_counter() - began


# --- NATS JetStream -----------------------------------------------------------------------


def nats_fill(stream: str, subject: str, events: list[dict[str, Any]]) -> None:
    from cadenza.triggers.nats_jetstream import publish

    publish(NATS_URL, stream, subject, events)


def nats_plain(stream: str, subject: str, total: int, batch: int, durable: str) -> float:
    import nats
    from nats.js.api import ConsumerConfig

    async def consume() -> float:
        client = await nats.connect(NATS_URL)
        try:
            jetstream = client.jetstream()
            config = ConsumerConfig(max_ack_pending=batch * 4)
            sub = await jetstream.pull_subscribe(
                subject, durable=durable, stream=stream, config=config
            )
            began = time.perf_counter()
            done = 0
            while done < total:
                try:
                    messages = await sub.fetch(batch, timeout=1.0)
                except TimeoutError:
                    continue
                for message in messages:
                    json.loads(message.data)
                    await message.ack()
                await client.flush()
                done += len(messages)
            return time.perf_counter() - began
        finally:
            await client.close()

    return asyncio.run(consume())


def nats_drop(stream: str) -> None:
    import nats

    async def drop() -> None:
        client = await nats.connect(NATS_URL)
        try:
            await client.jetstream().delete_stream(stream)
        except Exception:
            pass
        finally:
            await client.close()

    asyncio.run(drop())


# --- Cadenza ------------------------------------------------------------------------------


class Listeners:
    """``cadenza triggers listen`` processes feeding the workspace; SIGKILLed and
    restarted on request (a restarted one keeps its consumer name)."""

    def __init__(self, store_url: str, execution_id: str, count: int) -> None:
        self.store_url = store_url
        self.execution_id = execution_id
        self.names = [f"bench-{i}" for i in range(count)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0

    def start(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cadenza",
                "triggers",
                "listen",
                self.execution_id,
                "--store",
                self.store_url,
                "--consumer",
                name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def kill_one(self) -> None:
        name = self.names[self.kills % len(self.names)]
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()
        self.kills += 1
        self.start(name)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def cadenza_run(
    store_url: str, text: str, tasks: int, events: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Run the workspace: listeners in their own processes (``--listeners``), the
    engine deciding here; SIGKILL a listener every ``--kill-every`` seconds,
    ``--kills`` times."""
    from cadenza.engine.engine import Engine
    from cadenza.model.events import SignalReceived

    engine = Engine(store_url, poll_interval=0.02, decision_batch=256)
    execution_id = engine.start(engine.register(text, kind="triggers"))
    engine.run_until_idle()
    listeners = Listeners(store_url, execution_id, args.listeners)
    stop = threading.Event()

    def killer() -> None:
        # Kill only mid-stream: once a batch delivered since the last (re)start
        # has been decided, and at least --kill-every seconds after it.
        seen = 0
        while listeners.kills < args.kills and not stop.wait(args.kill_every):
            while not stop.is_set():
                newer = engine.store.read_history(execution_id, seen)
                if newer:
                    seen = newer[-1].seq
                if any(r.event.type == "SignalReceived" for r in newer):
                    break
                stop.wait(0.05)
            if stop.is_set():
                return
            listeners.kill_one()

    children_before = children_cpu()
    began, cpu_began = time.perf_counter(), time.process_time()
    listeners.start_all()
    threading.Thread(target=killer, daemon=True).start()
    try:
        engine.serve(stop, until=lambda: engine.is_final(engine.get(execution_id)))
    finally:
        seconds = time.perf_counter() - began
        engine_cpu = time.process_time() - cpu_began
        stop.set()
        listeners.stop_all()
    listener_cpu = children_cpu() - children_before
    record = engine.get(execution_id)
    view = engine.describe(execution_id)
    counts = {t.name: (t.result or {}).get("counter") for t in view.tasks}
    fired = {t.name: t.status for t in view.tasks}
    history = engine.history(execution_id)
    batches = [r.event for r in history if isinstance(r.event, SignalReceived)]
    delivered = sum(len(e.data) for e in batches)
    problems = []
    if record.status != "succeeded" or record.output != "joined":
        problems.append(f"the workspace ended {record.status} with {record.output!r}")
    wrong = {k: v for k, v in counts.items() if k != "fork-join" and v != events}
    if wrong:
        problems.append(f"task counters not exact: {sorted(wrong.items())[:5]}")
    if counts.get("fork-join") != tasks or fired.get("fork-join") != "fired":
        final = (counts.get("fork-join"), fired.get("fork-join"))
        problems.append(f"the final join: counter {final[0]}, {final[1]}")
    if sum(1 for r in history if r.event.type == "ExecutionCompleted") != 1:
        problems.append("the workspace did not end exactly once")
    engine.close()
    return {
        "seconds": seconds,
        "engine_cpu": engine_cpu,
        "listener_cpu": listener_cpu,
        "batches": len(batches),
        "delivered": delivered,
        "kills": listeners.kills,
        "problems": problems,
    }


def without_broker(store_url: Callable[[str], str], args: argparse.Namespace) -> dict[str, Any]:
    """``memory_run`` ``--repeat`` times; the median."""
    runs = [memory_run(store_url(f"none-{k}"), args) for k in range(args.repeat)]
    seconds = statistics.median(r["seconds"] for r in runs)
    total = args.tasks * args.events
    return {
        "broker": "none",
        "events": total,
        "repeats": args.repeat,
        "cadenza_seconds": [round(r["seconds"], 3) for r in runs],
        "cadenza_events_per_s": round(total / seconds),
        # The feeding thread's delivery included (it runs in this process).
        "engine_cpu_us_per_event": round(
            statistics.median(r["cpu"] for r in runs) / total * 1e6, 1
        ),
        "problems": [p for r in runs for p in r["problems"]],
    }


def memory_run(store_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The same workspace fed from memory: batches delivered to the inbox by a
    thread while the engine decides. What the store and the interpreter can
    do, without any broker client."""
    from cadenza.engine.engine import Engine
    from cadenza.triggers.inbox import WorkspaceInbox

    run = uuid.uuid4().hex[:8]
    events = produced(args.tasks, args.events, run)
    source = {"kind": "redis", "stream": "unused"}
    engine = Engine(store_url, poll_interval=0.02, decision_batch=256)
    execution_id = engine.start(
        engine.register(workspace(args.tasks, args.events, source), kind="triggers")
    )
    engine.run_until_idle()
    inbox = WorkspaceInbox(engine.store, execution_id, on_delivered=engine.wake)

    def feed() -> None:
        for start in range(0, len(events), args.batch):
            inbox.deliver(events[start : start + args.batch], "memory")

    began, cpu_began = time.perf_counter(), time.process_time()
    threading.Thread(target=feed, daemon=True).start()
    engine.serve(threading.Event(), until=lambda: engine.is_final(engine.get(execution_id)))
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    record = engine.get(execution_id)
    engine.close()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "problems": [] if record.output == "joined" else [f"ended {record.status}"],
    }


_RING_FROM_ANOTHER_PROCESS = """
import json, sys, time
from cadenza.engine.engine import Engine
from cadenza.triggers.inbox import WorkspaceInbox
engine = Engine(sys.argv[1])
committed = []

def delivered():
    committed.append(time.time())  # the commit is done: now ring the serving engine
    engine.wake()

inbox = WorkspaceInbox(engine.store, sys.argv[2], on_delivered=delivered)
for n in range(int(sys.argv[3])):
    event = {"specversion": "1.0", "id": f"w{n}", "source": "wake", "subject": "ping", "type": "t"}
    inbox.deliver([event], "latency")
    time.sleep(0.03 + (n % 7) / 1000)  # apart, at every phase of the engine's poll
print(json.dumps(committed))
"""


def wake_latency(store_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """How soon an engine serving an SQLite store decides a batch another process
    committed: that process delivers ``--wake-batches`` one-event batches, 30 ms
    apart; the engine here (polling every 20 ms, as in the runs above) notes when
    it saved each decision. Medians and 90th percentiles in milliseconds, and the
    engine's CPU time meanwhile."""
    from cadenza.engine.engine import Engine

    count = args.wake_batches
    text = json.dumps(
        {
            "workspace": "latency",
            "triggers": [
                {
                    "id": "ping",
                    "activation": [["ping", "t"]],
                    "condition": "JOIN",
                    "context": {"join": count, "result": "done"},
                    "action": "TERMINATE",
                }
            ],
        }
    )
    engine = Engine(store_url, poll_interval=0.02, decision_batch=256)
    execution_id = engine.start(engine.register(text, kind="triggers"))
    engine.run_until_idle()
    decided: list[float] = []
    engine.add_listener(
        lambda outcome: (
            decided.append(time.time()) if outcome.execution_id == execution_id else None
        )
    )
    stop = threading.Event()
    serving = threading.Thread(
        target=engine.serve,
        args=(stop,),
        kwargs={"until": lambda: engine.is_final(engine.get(execution_id))},
        daemon=True,
    )
    cpu_began = time.process_time()
    serving.start()
    time.sleep(0.2)  # the serve loop is listening
    child = subprocess.run(
        [sys.executable, "-c", _RING_FROM_ANOTHER_PROCESS, store_url, execution_id, str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    serving.join(timeout=60)
    stop.set()
    cpu = time.process_time() - cpu_began
    committed = json.loads(child.stdout)
    engine.close()
    waits = sorted(
        1000 * (min((d for d in decided if d >= c), default=float("nan")) - c) for c in committed
    )
    return {
        "batches": count,
        "median_ms": round(statistics.median(waits), 2),
        "p90_ms": round(waits[int(len(waits) * 0.9) - 1], 2),
        "engine_cpu_s": round(cpu, 3),
    }


def one_broker(
    broker: str, args: argparse.Namespace, store_url: Callable[[str], str]
) -> dict[str, Any]:
    """Fill the stream once; then, ``--repeat`` times, the plain consumer and
    cadenza each read all of it with a fresh group (durable consumer)."""
    run = uuid.uuid4().hex[:8]
    total = args.tasks * args.events
    events = produced(args.tasks, args.events, run)
    if broker == "redis":
        stream = f"cadenza-bench-{run}"
        redis_fill(stream, events)
    else:
        stream, subject = f"CADENZA_BENCH_{run.upper()}", f"bench.{run}"
        nats_fill(stream, subject, events)
    del events
    plains: list[float] = []
    runs: list[dict[str, Any]] = []
    try:
        for k in range(args.repeat):
            if broker == "redis":
                plains.append(redis_plain(stream, total, args.batch, f"plain-{k}"))
                source: dict[str, Any] = {
                    "kind": "redis",
                    "url": REDIS_URL,
                    "stream": stream,
                    "group": f"cadenza-{k}",
                    "batch": args.batch,
                    "claim_idle": 5,
                }
            else:
                plains.append(nats_plain(stream, subject, total, args.batch, f"plain-{k}"))
                source = {
                    "kind": "nats",
                    "url": NATS_URL,
                    "stream": stream,
                    "subject": subject,
                    "durable": f"cadenza-{k}",
                    "batch": args.batch,
                    "ack_wait": 3,
                }
            text = workspace(args.tasks, args.events, source)
            runs.append(
                cadenza_run(store_url(f"{broker}-{k}"), text, args.tasks, args.events, args)
            )
    finally:
        if broker == "redis":
            import redis

            redis.Redis.from_url(REDIS_URL).delete(stream)
        else:
            nats_drop(stream)
    plain = statistics.median(plains)
    cadenza = statistics.median(r["seconds"] for r in runs)
    delivered = max(r["delivered"] for r in runs)
    return {
        "broker": broker,
        "events": total,
        "repeats": args.repeat,
        "plain_seconds": [round(p, 3) for p in plains],
        "plain_events_per_s": round(total / plain),
        "cadenza_seconds": [round(r["seconds"], 3) for r in runs],
        "cadenza_events_per_s": round(total / cadenza),
        "overhead": round(cadenza / plain, 2),
        # CPU per event (less sensitive to other work than events/s): the listener process
        # (reading, validating, committing, acknowledging; its start-up
        # included) and the engine (deciding and saving).
        "listener_cpu_us_per_event": round(
            statistics.median(r["listener_cpu"] for r in runs) / total * 1e6, 1
        ),
        "engine_cpu_us_per_event": round(
            statistics.median(r["engine_cpu"] for r in runs) / total * 1e6, 1
        ),
        "batches": max(r["batches"] for r in runs),
        "delivered": delivered,
        "redelivered": delivered - total,
        "kills": sum(r["kills"] for r in runs),
        "problems": [p for r in runs for p in r["problems"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000, help="events per task")
    parser.add_argument("--batch", type=int, default=1000, help="events per delivered batch")
    parser.add_argument(
        "--brokers",
        default="redis,nats,none",
        help="comma-separated: redis, nats, none (the workspace fed from memory)",
    )
    parser.add_argument("--store", help="store URL (default: a new SQLite file per broker)")
    parser.add_argument("--listeners", type=int, default=1, help="trigger worker processes")
    parser.add_argument("--kills", type=int, default=0, help="SIGKILL a trigger worker this often")
    parser.add_argument("--kill-every", type=float, default=1.0, help="seconds between kills")
    parser.add_argument("--repeat", type=int, default=3, help="runs per broker (medians)")
    parser.add_argument(
        "--wake-batches",
        type=int,
        default=0,
        help="also measure how soon the engine decides a batch another process "
        "committed (this many one-event batches)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:

        def store_url(name: str) -> str:
            return args.store or f"sqlite:///{Path(folder) / f'{name}.db'}"

        for broker in args.brokers.split(","):
            if broker == "none":
                results.append(without_broker(store_url, args))
            elif broker:
                results.append(one_broker(broker, args, store_url))
        latency = wake_latency(store_url("wake"), args) if args.wake_batches else None
    report: dict[str, Any] = {
        "tasks": args.tasks,
        "events_per_task": args.events,
        "batch": args.batch,
        "store": "sqlite" if not args.store else args.store.split(":")[0],
        "listeners": args.listeners,
        "redis_parser": redis_parser(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "results": results,
        "wake_latency": latency,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.tasks} tasks x {args.events} events, batches of {args.batch}, "
            f"{report['store']}, {report['machine']}, redis parser {report['redis_parser']}"
        )
        start, end = (
            ", ".join(f"{x:.2f}" for x in report[k])
            for k in ("load_average_at_start", "load_average_at_end")
        )
        print(f"medians of {args.repeat} runs; load average {start} at start, {end} at end")
        print(
            f"{'broker':<7} {'plain ev/s':>11} {'cadenza ev/s':>13} {'overhead':>9} "
            f"{'listener µs/ev':>15} {'engine µs/ev':>13} {'kills':>6} {'redelivered':>12}  checks"
        )
        for r in results:
            checks = "exact" if not r["problems"] else "; ".join(r["problems"])
            if r["broker"] == "none":
                print(
                    f"{'memory':<7} {'-':>11} {r['cadenza_events_per_s']:>13,}"
                    f" {'-':>9} {'-':>15} {r['engine_cpu_us_per_event']:>13}"
                    f" {'-':>6} {'-':>12}  {checks}"
                )
                continue
            print(
                f"{r['broker']:<7} {r['plain_events_per_s']:>11,} {r['cadenza_events_per_s']:>13,} "
                f"{r['overhead']:>8}x {r['listener_cpu_us_per_event']:>15} "
                f"{r['engine_cpu_us_per_event']:>13} {r['kills']:>6} {r['redelivered']:>12}"
                f"  {checks}"
            )
        if latency is not None:
            print(
                f"another process's commit to the engine's decision: median "
                f"{latency['median_ms']} ms, 90th percentile {latency['p90_ms']} ms "
                f"({latency['batches']} batches; engine CPU {latency['engine_cpu_s']} s)"
            )
    return 0 if all(not r["problems"] for r in results) else 1


def children_cpu() -> float:
    """CPU seconds (user + system) of the child processes that ended so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def redis_parser() -> str:
    """Which RESP parser the Redis client uses: ``hiredis`` (C) or ``python``."""
    return "hiredis" if importlib.util.find_spec("hiredis") is not None else "python"


if __name__ == "__main__":
    sys.exit(main())
