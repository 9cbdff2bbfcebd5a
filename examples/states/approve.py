"""Answer the human-approval example: take one waiting approval and decide it.

This is an activity worker, the local counterpart of GetActivityTask and
SendTaskSuccess / SendTaskFailure. It opens the same store as the engine
(``$CADENZA_STORE``, else ``sqlite:///cadenza.db`` in the current folder),
waits for a task of the ``approve`` activity, shows its input and answers:

    python approve.py                       # approve
    python approve.py --reject "not on a Friday"
    python approve.py --fail                # answer with a task failure

The execution carries on in whichever process is serving it (the
``cadenza run`` still waiting in another terminal, or ``cadenza worker``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import time

from cadenza.engine.engine import Engine

ACTIVITY = "arn:aws:states:us-east-1:111111111111:activity:approve"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="store URL (default: $CADENZA_STORE or cadenza.db)")
    parser.add_argument("--reject", metavar="NOTE", help="say no, with this note")
    parser.add_argument("--fail", action="store_true", help="fail the task instead")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for a task")
    args = parser.parse_args()

    engine = Engine(args.store)
    me = getpass.getuser()
    deadline = time.monotonic() + args.wait
    task = engine.external.poll(ACTIVITY, me)
    while task is None and time.monotonic() < deadline:
        time.sleep(0.5)
        task = engine.external.poll(ACTIVITY, me)
    if task is None:
        print(f"no approval waiting after {args.wait:.0f}s")
        return 1

    print(f"execution {task.execution_id} asks:")
    print(json.dumps(task.input, indent=2))
    if args.fail:
        engine.external.fail(task.token, "ApproverUnavailable", f"{me} cannot decide this")
        print("answered: failure ApproverUnavailable")
    elif args.reject is not None:
        engine.external.succeed(task.token, {"approved": False, "by": me, "note": args.reject})
        print("answered: rejected")
    else:
        engine.external.succeed(task.token, {"approved": True, "by": me, "note": "looks good"})
        print("answered: approved")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
