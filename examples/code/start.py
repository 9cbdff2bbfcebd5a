"""Start a pirate business and wait for its result (workers do the rest).

    python start.py --goal 1200        # the store: --store, else $CADENZA_STORE

Registers ``pirates:PirateBusiness`` (or ``--async`` for the ``async def``
face), starts an execution, and waits until it is settled, printing its
status and output. It runs no activity itself: start ``cadenza worker``
processes for the task lists ``money``, ``boats`` and ``tavern`` (README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cadenza.engine.engine import Engine
from cadenza.model.definitions import CodeReference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default=os.environ.get("CADENZA_STORE", "sqlite:///pirates.db"))
    parser.add_argument("--goal", type=int, default=2000)
    parser.add_argument("--crew", type=int, default=3)
    parser.add_argument("--async", dest="use_async", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    target = "pirates:pirate_business" if args.use_async else "pirates:PirateBusiness"
    engine = Engine(args.store)
    definition = engine.register(CodeReference(target, "1"))
    execution_id = engine.start(definition, {"goal": args.goal, "crew_size": args.crew})
    print(f"started {execution_id}", file=sys.stderr)
    deadline = time.monotonic() + args.timeout
    record = engine.get(execution_id)
    while not engine.is_settled(record):
        if time.monotonic() > deadline:
            print(f"{execution_id} is still {record.status} after {args.timeout:g} s")
            return 1
        time.sleep(0.1)
        record = engine.get(execution_id)
    print(json.dumps({"status": record.status, "output": record.output}, indent=2))
    engine.close()
    return 0 if record.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
