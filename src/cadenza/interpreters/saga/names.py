"""Names the saga front end shares with its interpreter: the kind, the
statuses and the operator requests.

They live apart so that the front end, which every process that detects a
definition's kind loads, reads them without importing the interpreter.
"""

from __future__ import annotations

KIND = "saga"
#: Statuses after which nothing more happens.
FINAL = frozenset({"succeeded", "failed", "canceled", "abandoned"})
#: A stuck saga waits for an operator.
WAITING = frozenset({"stuck"})

#: The requests a saga takes, with what each does (shown by the CLI and API).
OPERATOR_REQUESTS: dict[str, str] = {
    "retry-undo": "run the stuck undo again (args: node, optional)",
    "mark-undone": "the stuck node was reverted by hand: carry on unwinding "
    "(a reason is required; args: node, optional)",
    "abandon": "stop the saga as it is, leaving what is not undone (status abandoned)",
}
