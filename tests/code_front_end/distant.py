"""An activity on its own task list, in a module of its own (see ``testing_flows``)."""

from __future__ import annotations

from cadenza.code import activity


@activity(task_list="distant")
def triple(x: int) -> int:
    return 3 * x
