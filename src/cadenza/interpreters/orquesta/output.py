"""The workflow output, rendered once the workflow is completed (spec §9.5)."""

from __future__ import annotations

import contextlib
from typing import Any

from cadenza.interpreters.orquesta import contexts
from cadenza.interpreters.orquesta import state as st
from cadenza.interpreters.orquesta.conductor import Conductor, RequestRefused
from cadenza.interpreters.orquesta.machines import COMPLETED
from cadenza.interpreters.orquesta.rendering import render_rolling


def terminal_context(c: Conductor) -> dict[str, Any]:
    """The first terminal task's context, with the others' own contexts merged over it."""
    terminal = [e for e in c.state["sequence"] if e.get("term")]
    if not terminal:
        return {}
    merged = st.context_of(c.state, terminal[0]["ctxs"]["in"])
    for entry in terminal[1:]:
        merged = contexts.deep_merge(merged, contexts.tail_context(c.state, entry["ctxs"]["in"]))
    return merged


def render_output(c: Conductor) -> None:
    """Render ``output`` if the workflow is completed and has no output yet."""
    if c.status not in COMPLETED or c.state["output"]:
        return
    _, rendered, failures = render_rolling(c.definition.output, c.scope(terminal_context(c)))
    if rendered:
        c.state["output"] = rendered
    for failure in failures:
        c.log_failure(failure)
    if failures and c.status not in ("timeout", "abandoned", "canceled"):
        with contextlib.suppress(RequestRefused):
            c.request_status("failed")
