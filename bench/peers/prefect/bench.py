"""One in-process Prefect measurement (W1, W2, W3, W6); prints one JSON object.

Same protocol as bench/workloads/cadenza_bench.py. Steps are ``@task``s
called from a ``@flow``: W1/W6 call them in a row; W2 uses ``task.map``
(futures on the default ThreadPoolTaskRunner) and passes the futures to the
summing task; W3 runs 1,000 async flow runs with ``asyncio.gather``,
at most ``IN_FLIGHT`` at a time. The
ephemeral server is started before the timed window by a warm-up flow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import common  # noqa: F401 - environment setup before Prefect is imported
from prefect import flow, task


@task
def inc(value: int) -> int:
    return value + 1


@task
def ident(value: int) -> int:
    return value


@task
def total(values: list[int]) -> int:
    return sum(values)


@flow
def chain(steps: int) -> int:
    v = 0
    for _ in range(steps):
        v = inc(v)
    return v


@flow
def fan(width: int) -> int:
    return total(ident.map(range(width)))


@task
async def ainc(value: int) -> int:
    return value + 1


@flow
async def achain(steps: int) -> int:
    v = 0
    for _ in range(steps):
        v = await ainc(v)
    return v


#: At most this many flow runs in flight at once. Starting all 1,000 at once
#: (as the other systems do) makes the ephemeral server answer 503 Service
#: Unavailable and the runs fail, already at 50 on this 2-core machine.
IN_FLIGHT = 4


async def many(runs: int) -> list[int]:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> int:
        async with gate:
            return await achain(3)

    return list(await asyncio.gather(*(one() for _ in range(runs))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", required=True, choices=["W1", "W2", "W3", "W6"])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--store-url", required=True, help="ignored: the ephemeral server")
    args = parser.parse_args()
    n = args.size
    chain(1)  # start the ephemeral server and warm up, outside the timed window
    metrics: dict[str, Any]
    t0 = time.perf_counter()
    if args.workload in ("W1", "W6"):
        assert chain(n) == n
        wall = time.perf_counter() - t0
        metrics = {"wall_s": wall, "per_step_ms": wall / n * 1000}
        if args.workload == "W6":
            # As the others' W6: a second run of the same length, same process.
            t0 = time.perf_counter()
            assert chain(n) == n
            metrics["warm_per_step_ms"] = (time.perf_counter() - t0) / n * 1000
    elif args.workload == "W2":
        assert fan(n) == sum(range(n))
        wall = time.perf_counter() - t0
        metrics = {"wall_s": wall, "per_step_ms": wall / (n + 1) * 1000}
    else:
        assert asyncio.run(many(n)) == [3] * n
        wall = time.perf_counter() - t0
        metrics = {"wall_s": wall, "runs_per_s": n / wall, "steps_per_s": 3 * n / wall}
    print(json.dumps({"metrics": metrics}))


if __name__ == "__main__":
    main()
