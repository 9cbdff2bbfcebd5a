"""Machine-type rules: what an EXPRESS state machine may not use (spec §1)."""

from __future__ import annotations

import re

from cadenza.interpreters.states.validation import messages
from cadenza.interpreters.states.validation.context import EXPRESS, Checker

_ACTIVITY_ARN = re.compile(r"arn:[^:]+:states:[^:]*:[^:]*:activity:.+")
_SYNC = re.compile(r"\.sync(:\d+)?$")
_WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"


def is_activity_arn(resource: str) -> bool:
    """Whether ``resource`` names an activity (``arn:aws:states:…:activity:name``)."""
    return _ACTIVITY_ARN.fullmatch(resource) is not None


def integration_pattern(resource: str) -> str:
    """``sync``, ``waitForTaskToken`` or ``request-response`` for a Task resource."""
    if _SYNC.search(resource):
        return "sync"
    if resource.endswith(_WAIT_FOR_TASK_TOKEN):
        return "waitForTaskToken"
    return "request-response"


def check_resource(checker: Checker, resource: str, location: str) -> None:
    """Refuse, in an EXPRESS machine, activities and the two waiting integration patterns."""
    if checker.machine_type != EXPRESS:
        return
    if is_activity_arn(resource):
        checker.report(location, messages.express_activity())
        return
    pattern = integration_pattern(resource)
    if pattern == "sync":
        checker.report(location, messages.express_sync())
    elif pattern == "waitForTaskToken":
        checker.report(location, messages.express_wait_for_task_token())
