"""Names the code front end shares with its interpreter: the kind, statuses,
the interpreter's own timers, the operator request and the rerun option.

They live apart so that the front end, which every process that detects a
definition's kind loads, reads them without importing the interpreter.
"""

from __future__ import annotations

KIND = "code"
PAUSED = "paused"
FINAL = frozenset({"succeeded", "failed", "canceled"})
#: The status of an execution whose code no longer matches its history.
NONDETERMINISTIC = "nondeterministic"
#: The operator request that replays a stopped execution through today's code.
REPLAY_REQUEST = "replay"
#: Prefix of the zero-delay timer started when an execution stops: its firing
#: tells later replays from which decision on the engine applied nothing.
STUCK_TIMER = "code.stuck@"
UNSTUCK_TIMER = "code.unstuck@"
#: A zero-delay timer ``code.batch@<decision>`` that wakes the execution to
#: schedule the next batch of what its code issued beyond the cap.
BATCH_TIMER = "code.batch@"
#: Prefix of the timers that enforce an activity's schedule-to-start and
#: schedule-to-close timeouts: ``code.timeout:<which>:<task id>``.
TIMEOUT_TIMER = "code.timeout:"
#: The key of a ``RerunRequested`` task holding the new input of that activity.
NEW_INPUT = "input"
