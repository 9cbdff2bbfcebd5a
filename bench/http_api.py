"""Cadenza over HTTP: K clients start executions, M outside workers run their tasks.

One ``cadenza server`` process per store (a temporary SQLite file, and a fresh
PostgreSQL database when ``--store-url`` reaches one). ``--clients`` threads
start ``--executions`` executions of a one-step workflow whose action only the
HTTP workers know; ``--workers`` threads long-poll ``/v1/workers/tasks/claim``
and complete each task. Measured from the first start request until every
execution succeeded:

* executions per second;
* latency of each execution, from its creation to its completion as the
  server recorded them (``created_at`` to ``updated_at``): median and p99.

Peers: Prefect's server has no equivalent of an outside worker answering a
task of a running flow over HTTP (its workers start whole flow runs from work
pools), and DBOS has no server at all, so no peer runs the same workload; the
figures stand alone. Run ``python bench/http_api.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

FLOW = """\
version: 1.0
tasks:
  work:
    action: bench.work
    input:
      n: <% ctx().n %>
input:
  - n
"""

LISTENING = re.compile(r"listening on (http://\S+),")


@contextmanager
def server(store_url: str, workdir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A ``cadenza server`` on a free loopback port."""
    env = {k: v for k, v in os.environ.items() if k not in ("CADENZA_STORE", "CADENZA_API_TOKEN")}
    process = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "server", "--bind", "127.0.0.1:0", "--store", store_url],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    url = None
    for line in process.stderr:
        found = LISTENING.search(line)
        if found:
            url = found.group(1)
            break
    if url is None:
        raise SystemExit(f"the server exited ({process.wait()}) before listening")
    try:
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def postgres_database(url: str) -> Iterator[str | None]:
    """A fresh database on the server of ``url``, or None when it cannot be reached."""
    try:
        import psycopg
    except ImportError:
        yield None
        return
    name = f"bench_http_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        yield None
        return
    base = url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(url: str, executions: int, clients: int, workers: int) -> dict[str, Any]:
    """One timed run against the server at ``url``."""
    http = httpx.Client(base_url=url, timeout=120)
    definition = http.post("/v1/definitions", json={"source": FLOW}).json()["id"]
    remaining = threading.Semaphore(0)
    done = threading.Event()
    started: list[str] = []
    lock = threading.Lock()

    def client(share: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as own:
            for i in range(share):
                answer = own.post(
                    "/v1/executions", json={"definition_id": definition, "input": {"n": i}}
                )
                answer.raise_for_status()
                with lock:
                    started.append(answer.json()["id"])

    def worker(name: str) -> None:
        with httpx.Client(base_url=url, timeout=120) as own:
            while not done.is_set():
                tasks = own.post(
                    "/v1/workers/tasks/claim",
                    json={"worker": name, "actions": ["bench.work"], "limit": 8, "wait": 1},
                ).json()["tasks"]
                for task in tasks:
                    own.post(
                        "/v1/workers/tasks/complete",
                        json={"token": task["token"], "result": {"n": task["input"]["n"]}},
                    ).raise_for_status()
                    remaining.release()

    pool = [threading.Thread(target=worker, args=(f"w{i}",), daemon=True) for i in range(workers)]
    for thread in pool:
        thread.start()
    began = time.perf_counter()
    shares = [
        executions // clients + (1 if i < executions % clients else 0) for i in range(clients)
    ]
    starters = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    for _ in range(executions):
        remaining.acquire()
    # Every task is answered; wait for the last decisions to be recorded.
    while True:
        page = http.get("/v1/executions", params={"status": "succeeded", "limit": 1000})
        succeeded = page.json()["executions"]
        if len(succeeded) >= min(executions, 1000):
            break
        time.sleep(0.01)  # the clock of a benchmark, not a test
    wall = time.perf_counter() - began
    done.set()
    latencies = sorted(e["updated_at"] - e["created_at"] for e in succeeded)
    http.close()
    return {
        "executions": executions,
        "clients": clients,
        "workers": workers,
        "wall_s": wall,
        "executions_per_s": executions / wall,
        "latency_p50_ms": statistics.median(latencies) * 1000,
        "latency_p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        workdir = Path(tmp)
        for repetition in range(args.repeat):
            stores: list[tuple[str, Any]] = [("sqlite", lambda r=repetition: _sqlite(workdir, r))]
            stores.append(("postgres", lambda: postgres_database(args.store_url)))
            for store, opener in stores:
                with opener() as url:
                    if url is None:
                        print(f"{store}: unavailable, skipped", file=sys.stderr)
                        continue
                    with server(url, workdir) as (api, _process):
                        run = measure(api, args.executions, args.clients, args.workers)
                    run["store"] = store
                    results.append(run)
                    print(
                        f"[{repetition + 1}/{args.repeat}] {store}: "
                        f"{run['executions_per_s']:.1f} executions/s, "
                        f"p50 {run['latency_p50_ms']:.1f} ms, p99 {run['latency_p99_ms']:.1f} ms",
                        file=sys.stderr,
                    )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{args.executions} executions, {args.clients} clients, {args.workers} workers, "
        f"{args.repeat} runs: median (min-max)"
    )
    print("| store | executions/s | latency p50 ms | latency p99 ms |")
    print("|---|---|---|---|")
    for store in ("sqlite", "postgres"):
        mine = [r for r in results if r["store"] == store]
        if not mine:
            continue
        cells = []
        for key in ("executions_per_s", "latency_p50_ms", "latency_p99_ms"):
            values = [r[key] for r in mine]
            cells.append(f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})")
        print(f"| {store} | " + " | ".join(cells) + " |")
    return 0


@contextmanager
def _sqlite(workdir: Path, repetition: int) -> Iterator[str]:
    yield f"sqlite:///{workdir / f'store-{repetition}.db'}"


if __name__ == "__main__":
    sys.exit(main())
