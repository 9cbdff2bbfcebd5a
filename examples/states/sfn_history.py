"""Print an execution's history as Step Functions' GetExecutionHistory shapes it.

    python sfn_history.py EXECUTION_ID            # one line per event
    python sfn_history.py EXECUTION_ID --json     # the events as a JSON list

``cadenza history ID --view sfn`` prints the same events as JSON; this script is
the Python call behind it (``sfn_history`` picks the Step Functions events out
of the engine's history) with a one-line-per-event view.
"""

from __future__ import annotations

import argparse
import json

from cadenza.engine.engine import Engine
from cadenza.interpreters.states.history import sfn_history


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("execution_id")
    parser.add_argument("--store", help="store URL (default: $CADENZA_STORE or cadenza.db)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    events = sfn_history(Engine(args.store).history(args.execution_id))
    if args.json:
        print(json.dumps(events, indent=2))
        return 0
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        keys = ("name", "resource", "workerName", "error")
        name = next((str(details[k]) for k in keys if k in details), "")
        if "index" in details:
            name = f"{name}[{details['index']}]"
        print(f"{event['id']:>4} {event['previousEventId']:>4}  {event['type']:<28} {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
