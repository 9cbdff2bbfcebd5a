"""W5 for Prefect: a chain of slow tasks that a re-run can skip.

Prefect does not resume a crashed flow run by itself; its documented way to
avoid redoing finished work is task caching with persisted results. Each
task persists its result and is cached on its inputs and source (not on the
flow run id, which the default policy includes), so ``--phase recover``
(a new process running the flow again with the same parameters) gets
completed steps from the cache and executes the rest.
"""

from __future__ import annotations

import argparse

import common  # noqa: F401 - environment setup before Prefect is imported
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from workloads import steplog


@task(persist_result=True, cache_policy=INPUTS + TASK_SOURCE)
def slow(index: int, ms: float) -> int:
    return steplog.slow_step(index, ms)


@flow
def slow_chain(steps: int, ms: float) -> int:
    for i in range(1, steps + 1):
        slow(i, ms)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store-url", help="ignored: the ephemeral server")
    parser.add_argument("--phase", choices=["first", "recover"], required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--step-ms", type=float, required=True)
    args = parser.parse_args()
    assert slow_chain(args.steps, args.step_ms) == args.steps


if __name__ == "__main__":
    main()
