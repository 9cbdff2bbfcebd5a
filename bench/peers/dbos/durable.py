"""W5 for DBOS: a chain of slow steps under a fixed workflow id.

``--phase first`` starts the workflow (the harness SIGKILLs this process in
the middle of a step). ``--phase recover`` is a new process: ``DBOS.launch()``
recovers the pending workflows of this executor by itself, and the script
waits on the same workflow id for the result.
"""

from __future__ import annotations

import argparse

from common import DBOS, launch
from dbos import SetWorkflowID
from workloads import steplog

WORKFLOW_ID = "bench-w5"


@DBOS.step()
def slow(index: int, ms: float) -> int:
    return steplog.slow_step(index, ms)


@DBOS.workflow()
def slow_chain(steps: int, ms: float) -> int:
    for i in range(1, steps + 1):
        slow(i, ms)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store-url", required=True)
    parser.add_argument("--phase", choices=["first", "recover"], required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--step-ms", type=float, required=True)
    args = parser.parse_args()
    launch(args.store_url)
    if args.phase == "first":
        with SetWorkflowID(WORKFLOW_ID):
            handle = DBOS.start_workflow(slow_chain, args.steps, args.step_ms)
    else:
        handle = DBOS.retrieve_workflow(WORKFLOW_ID)
    result = handle.get_result()
    assert result == args.steps, result
    DBOS.destroy()


if __name__ == "__main__":
    main()
