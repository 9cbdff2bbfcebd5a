"""Ids derived from recorded values, shaped like the UUIDs the engine draws.

The pure core may not draw ids (a replay must name the same things), so it
derives them from what history holds: a seed, a parent and a task id.
"""

from __future__ import annotations

import hashlib


def uuid_shaped(raw: bytes) -> str:
    """The first 16 bytes of ``raw`` written as a UUID is (8-4-4-4-12 hex digits)."""
    digits = raw[:16].hex()
    if len(digits) != 32:
        raise ValueError("an id needs 16 bytes")
    return "-".join(digits[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))


def derived_id(*parts: str) -> str:
    """A UUID-shaped id that is the same for the same ``parts``, and only for them."""
    return uuid_shaped(hashlib.sha256("\n".join(parts).encode()).digest())


#: Between a workflow id and the rest of the id of one of its runs.
RUN_SEPARATOR = "@"


def run_of_workflow(workflow_id: str, unique: str) -> str:
    """The id of a run of workflow ``workflow_id``: ``<workflow id>@<unique>``."""
    return f"{workflow_id}{RUN_SEPARATOR}{unique}"


def workflow_of_run(execution_id: str) -> str | None:
    """The workflow id a run's id starts with (see ``run_of_workflow``), if any."""
    workflow_id, separator, _ = execution_id.rpartition(RUN_SEPARATOR)
    return workflow_id if separator and workflow_id else None


def continued_run_id(execution_id: str, decision: int, workflow_id: str | None = None) -> str:
    """The id of the run that execution ``execution_id`` continues as (continue-as-new)
    at its ``decision``: the same on every replay, another for each continuation;
    a run of workflow ``workflow_id`` when given."""
    derived = derived_id(execution_id, "continued-as-new", str(decision))
    return derived if workflow_id is None else run_of_workflow(workflow_id, derived)


def abandoned_child_id(execution_id: str, task_id: str) -> str:
    """The id of the child started as ``task_id`` and abandoned by ``execution_id``
    (a detached child: known to the parent before the engine names it)."""
    return derived_id(execution_id, "abandoned-child", task_id)
