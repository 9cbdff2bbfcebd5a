"""Engines for code-workflow tests: a fake clock, the code front end, the
pirate example's activities, and every store backend."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.code import register_activities
from cadenza.interpreters.code.frontend import create
from cadenza.model.definitions import CodeReference
from cadenza.store.protocol import Store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import default_registry

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples" / "code"
QUEUES = ("default", "money", "boats", "tavern")

# Workflows are registered by module name ("code_flows:Sequence",
# "pirates:PirateBusiness"), so their folders must be importable as top level.
for _folder in (HERE, EXAMPLES):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))


def make_engine(store: Store, *activity_sources: Any, **kwargs: Any) -> Engine:
    """An engine deciding code workflows with ``activity_sources`` registered."""
    registry = default_registry()
    if activity_sources:
        register_activities(registry, *activity_sources)
    return Engine(
        store,
        registry=registry,
        clock=kwargs.pop("clock", None) or FakeClock(),
        front_ends={"code": create, **kwargs.pop("front_ends", {})},
        queues=kwargs.pop("queues", QUEUES),
        **kwargs,
    )


def ref(target: str, version: str = "1") -> CodeReference:
    return CodeReference(target, version)
