"""Orquesta's status machines for tasks and for the workflow, as data.

Each table maps the current status to ``{event: new status}``. An event is a short
key computed from what happened and the circumstances that matter:

* task events from actions: ``"<action status>"``, and for with-items items
  ``"<action status>/active"`` or ``"<action status>/dormant/<items>"`` where ``<items>``
  summarises the *other* items (``paused``, ``canceled``, ``failed``, ``incomplete``,
  ``completed``);
* task events from workflow requests: ``"wf:<status>"``, and for with-items
  ``"wf:<status>/active"`` or ``"wf:<status>/dormant"``;
* workflow events from tasks: ``"task:<status>"`` plus ``/active`` or ``/dormant`` and,
  for successes and remediations, the outlook ``/canceled``, ``/paused``, ``/incomplete``
  or ``/completed``;
* workflow requests: ``"wf:<status>"`` plus ``/active``/``/dormant`` for pause and cancel
  requests and ``/completed`` for a resume with nothing left to do.

An event missing from the table changes nothing. The tables follow orquesta 1.6.0's
``machines.py`` transition for transition.
"""

from __future__ import annotations

from collections.abc import Mapping

ACTIVE = frozenset(
    {"requested", "scheduled", "delayed", "running", "resuming", "pausing", "canceling"}
)
COMPLETED = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
ABENDED = frozenset({"failed", "timeout", "abandoned"})
RUNNING_STATUSES = frozenset(
    {"requested", "scheduled", "delayed", "running", "resuming", "retrying"}
)
STARTING = frozenset({"requested", "scheduled", "delayed", "running"})
PAUSE_REQUESTS = frozenset({"pausing", "paused"})
CANCEL_REQUESTS = frozenset({"canceling", "canceled"})


def _same(statuses: str) -> dict[str, str]:
    return {s: s for s in statuses.split()}


def _item_outcomes(dormant: Mapping[str, str], active: str | None = None) -> dict[str, str]:
    out = {f"dormant/{k}": v for k, v in dormant.items()}
    if active is not None:
        out["active"] = active
    return out


def _prefixed(prefix: str, table: Mapping[str, str]) -> dict[str, str]:
    return {f"{prefix}/{k}": v for k, v in table.items()}


_ALL_ITEMS = ("paused", "canceled", "failed", "incomplete", "completed")


def _items(
    paused: str, canceled: str, failed: str, incomplete: str, completed: str
) -> dict[str, str]:
    return dict(zip(_ALL_ITEMS, (paused, canceled, failed, incomplete, completed), strict=True))


# A pause or cancel request moves a running task or workflow to "-ing" while work is
# still active under it and straight to "-ed" when nothing is: one rule for both levels.
_PAUSE_OR_CANCEL_WHILE_RUNNING: Mapping[str, str] = {
    "wf:pausing/active": "pausing",
    "wf:pausing/dormant": "paused",
    "wf:paused/active": "pausing",
    "wf:paused/dormant": "paused",
    "wf:canceling/active": "canceling",
    "wf:canceling/dormant": "canceled",
    "wf:canceled/active": "canceling",
    "wf:canceled/dormant": "canceled",
}

_ABEND_ITEMS_RUNNING = _items("failed", "canceled", "failed", "failed", "failed")
_PAUSE_ITEMS = _items("paused", "canceled", "failed", "paused", "paused")

TASK_MACHINE: Mapping[str, Mapping[str, str]] = {
    "null": {
        **_same("requested scheduled delayed running pending"),
        "cmd:continue": "succeeded",
        "cmd:noop": "succeeded",
        "cmd:fail": "failed",
    },
    **{
        start: {
            **_same("scheduled delayed running pending pausing paused canceling canceled failed"),
            "timeout": "timeout",
            "abandoned": "abandoned",
        }
        for start in ("requested", "scheduled", "delayed")
    },
    "running": {
        **_same("running pending pausing paused canceling canceled failed succeeded"),
        "timeout": "failed",
        "abandoned": "failed",
        **_prefixed("pending", _item_outcomes(_PAUSE_ITEMS, "pausing")),
        **_prefixed("paused", _item_outcomes(_PAUSE_ITEMS, "pausing")),
        **_prefixed("canceled", _item_outcomes(_items(*["canceled"] * 5), "canceling")),
        **_prefixed("failed", _item_outcomes(_ABEND_ITEMS_RUNNING)),
        **_prefixed("timeout", _item_outcomes(_ABEND_ITEMS_RUNNING)),
        **_prefixed("abandoned", _item_outcomes(_ABEND_ITEMS_RUNNING)),
        **_prefixed(
            "succeeded",
            _item_outcomes(
                _items("paused", "canceled", "failed", "running", "succeeded"), "running"
            ),
        ),
        **_PAUSE_OR_CANCEL_WHILE_RUNNING,
    },
    "pending": {
        **_same("canceled failed succeeded"),
        "timeout": "failed",
        "abandoned": "failed",
    },
    "pausing": {
        **_same("paused resuming canceling canceled failed"),
        "timeout": "failed",
        "abandoned": "failed",
        **_prefixed("pending", _item_outcomes(_PAUSE_ITEMS)),
        **_prefixed("paused", _item_outcomes(_PAUSE_ITEMS)),
        **_prefixed("canceled", _item_outcomes(_items(*["canceled"] * 5))),
        **_prefixed("failed", _item_outcomes(_ABEND_ITEMS_RUNNING)),
        **_prefixed("timeout", _item_outcomes(_ABEND_ITEMS_RUNNING)),
        **_prefixed("abandoned", _item_outcomes(_ABEND_ITEMS_RUNNING)),
        **_prefixed(
            "succeeded",
            _item_outcomes(_items("paused", "canceled", "failed", "paused", "succeeded")),
        ),
    },
    "paused": _same("running resuming canceling canceled"),
    "resuming": _same("running canceling canceled"),
    "retrying": {
        **_same("running canceling canceled"),
        "wf:canceling": "canceled",
        "wf:canceled": "canceled",
    },
    "canceling": {
        "paused": "canceled",
        "canceled": "canceled",
        "failed": "failed",
        "timeout": "failed",
        "abandoned": "failed",
        **{
            f"{s}/dormant/{i}": "canceled"
            for s in (
                "pending",
                "paused",
                "canceled",
                "failed",
                "timeout",
                "abandoned",
                "succeeded",
            )
            for i in _ALL_ITEMS
        },
        "succeeded/dormant/completed": "succeeded",
    },
    "canceled": {},
    "succeeded": {"cmd:retry": "retrying"},
    "failed": {"cmd:retry": "retrying"},
}


def _task_outcomes(
    incomplete: str, completed: str, paused: str, canceled: str, *, active: bool
) -> dict[str, str]:
    side = "active" if active else "dormant"
    return {
        f"{side}/incomplete": incomplete,
        f"{side}/completed": completed,
        f"{side}/paused": paused,
        f"{side}/canceled": canceled,
    }


def _succeeded_like(table: Mapping[str, str]) -> dict[str, str]:
    return {**_prefixed("task:succeeded", table), **_prefixed("task:remediated", table)}


_REQUESTS_FROM_ACTIVE = {
    **_PAUSE_OR_CANCEL_WHILE_RUNNING,
    "wf:failed": "failed",
}
_REQUESTS_BEFORE_RUNNING = {
    "wf:running": "running",
    "wf:pausing/dormant": "paused",
    "wf:paused/dormant": "paused",
    "wf:canceling/dormant": "canceled",
    "wf:canceled/dormant": "canceled",
    "wf:failed": "failed",
}

WORKFLOW_MACHINE: Mapping[str, Mapping[str, str]] = {
    "null": {
        "wf:requested": "requested",
        "wf:scheduled": "scheduled",
        "wf:delayed": "delayed",
        "wf:running": "running",
        "wf:failed": "failed",
    },
    "requested": {**_REQUESTS_BEFORE_RUNNING, "wf:scheduled": "scheduled", "wf:delayed": "delayed"},
    "scheduled": {**_REQUESTS_BEFORE_RUNNING, "wf:delayed": "delayed"},
    "delayed": {**_REQUESTS_BEFORE_RUNNING, "wf:scheduled": "scheduled"},
    "running": {
        **_REQUESTS_FROM_ACTIVE,
        "wf:succeeded": "succeeded",
        "task:pending/active": "pausing",
        "task:pending/dormant": "paused",
        "task:pausing": "running",
        "task:paused/active": "running",
        "task:paused/dormant": "paused",
        **_succeeded_like(
            _task_outcomes("running", "running", "pausing", "canceling", active=True)
        ),
        **_succeeded_like(
            _task_outcomes("running", "succeeded", "paused", "canceled", active=False)
        ),
        "task:failed/active": "failed",
        "task:failed/dormant": "failed",
        "task:canceling": "canceling",
        "task:canceled/active": "canceling",
        "task:canceled/dormant": "canceled",
    },
    "pausing": {
        **_REQUESTS_FROM_ACTIVE,
        "wf:running": "running",
        "wf:resuming": "resuming",
        "task:pending/active": "pausing",
        "task:pending/dormant": "paused",
        "task:paused/active": "pausing",
        "task:paused/dormant": "paused",
        **_prefixed(
            "task:succeeded",
            _task_outcomes("pausing", "pausing", "pausing", "pausing", active=True),
        ),
        **_prefixed(
            "task:succeeded", _task_outcomes("paused", "paused", "paused", "canceled", active=False)
        ),
        **_prefixed(
            "task:remediated",
            _task_outcomes("pausing", "pausing", "pausing", "canceling", active=True),
        ),
        **_prefixed(
            "task:remediated",
            _task_outcomes("paused", "paused", "paused", "canceled", active=False),
        ),
        "task:failed/active": "failed",
        "task:failed/dormant": "failed",
        "task:canceling": "canceling",
        "task:canceled/active": "canceling",
        "task:canceled/dormant": "canceled",
        "task:retrying/active": "pausing",
        "task:retrying/dormant": "paused",
    },
    "paused": {
        "wf:running": "running",
        "wf:running/completed": "succeeded",
        "wf:resuming": "resuming",
        "wf:resuming/completed": "succeeded",
        "wf:canceling/dormant": "canceled",
        "wf:canceled/dormant": "canceled",
        "wf:failed": "failed",
        "task:running": "running",
        "task:resuming": "running",
    },
    "resuming": {
        **_REQUESTS_FROM_ACTIVE,
        "wf:running": "running",
        "task:running": "running",
        "task:pending/active": "pausing",
        "task:pending/dormant": "paused",
        **_succeeded_like(
            {"active/incomplete": "running", "active/completed": "running"}
            | {
                "dormant/incomplete": "running",
                "dormant/completed": "succeeded",
                "dormant/paused": "paused",
                "dormant/canceled": "canceled",
            }
        ),
        "task:failed/active": "failed",
        "task:failed/dormant": "failed",
        "task:canceling": "canceling",
        "task:canceled/active": "canceling",
        "task:canceled/dormant": "canceled",
    },
    "canceling": {
        "wf:canceling/active": "canceling",
        "wf:canceling/dormant": "canceled",
        "wf:canceled/active": "canceling",
        "wf:canceled/dormant": "canceled",
        "wf:failed": "failed",
        "task:pending/active": "canceling",
        "task:pending/dormant": "canceled",
        "task:paused/active": "canceling",
        "task:paused/dormant": "canceled",
        **_prefixed(
            "task:succeeded", {"active/incomplete": "canceling", "active/completed": "canceling"}
        ),
        **_prefixed(
            "task:remediated", {"active/incomplete": "canceling", "active/completed": "canceling"}
        ),
        **{
            f"task:{kind}/dormant/{outlook}": "canceled"
            for kind in ("succeeded", "remediated")
            for outlook in ("incomplete", "completed", "paused", "canceled")
        },
        "task:failed/active": "canceling",
        "task:failed/dormant": "canceled",
        "task:canceled/active": "canceling",
        "task:canceled/dormant": "canceled",
        "task:retrying/active": "canceling",
        "task:retrying/dormant": "canceled",
    },
    "canceled": {},
    # A succeeded workflow still fails when its output does not render.
    "succeeded": {"wf:failed": "failed"},
    "failed": {},
}
