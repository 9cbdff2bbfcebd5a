"""How large the values a store keeps may be: an inline threshold and two ceilings.

A value (a task result, an execution input or output, a signal's data, a
snapshot) is kept in its row when its JSON text is at most ``inline_bytes``;
a larger one is kept once in the store's blob table and its row holds a
reference (see ``cadenza.store.claim_check``). Above ``max_value_bytes`` a
value is not kept at all: the engine fails the step that made it, or refuses
the request that brought it, with ``PayloadTooLarge``. ``max_execution_bytes``
bounds what one execution's history keeps, added up: every task result is
checked against it, with the running total each execution row keeps
(``payload_bytes``), as a store last read it when it claimed one of the
execution's tasks (``ClaimedTotals``).

Every size is the length in bytes of the value's compact JSON text (UTF-8).
The defaults can be changed per store (``payload_limits=`` when opening one)
or for a process through the environment variables named below.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from cadenza.model.errors import InputError, PayloadTooLarge
from cadenza.model.events import JSON

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

#: Environment variables that change the defaults for a process.
INLINE_VARIABLE = "CADENZA_PAYLOAD_INLINE_BYTES"
MAX_VALUE_VARIABLE = "CADENZA_PAYLOAD_MAX_VALUE_BYTES"
MAX_EXECUTION_VARIABLE = "CADENZA_PAYLOAD_MAX_EXECUTION_BYTES"


@dataclass(frozen=True)
class PayloadLimits:
    """The inline threshold and the ceilings, in bytes of JSON text."""

    #: Larger values are kept in the blob table, with a reference in their row.
    inline_bytes: int = 256 * KIB
    #: Larger values are refused (``PayloadTooLarge``).
    max_value_bytes: int = 64 * MIB
    #: What one execution's history keeps may add up to this much.
    max_execution_bytes: int = 1 * GIB

    def __post_init__(self) -> None:
        for name in ("inline_bytes", "max_value_bytes", "max_execution_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(
                    f"the payload limit {name} must be a positive number of bytes, not {value!r}",
                    limit=name,
                )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PayloadLimits:
        """The defaults, changed by the ``CADENZA_PAYLOAD_*_BYTES`` variables set."""
        env = os.environ if environ is None else environ
        given: dict[str, int] = {}
        for variable, name in (
            (INLINE_VARIABLE, "inline_bytes"),
            (MAX_VALUE_VARIABLE, "max_value_bytes"),
            (MAX_EXECUTION_VARIABLE, "max_execution_bytes"),
        ):
            text = env.get(variable, "").strip()
            if not text:
                continue
            try:
                given[name] = int(text)
            except ValueError:
                raise InputError(
                    f"{variable} must be a whole number of bytes, not {text!r}", variable=variable
                ) from None
        return cls(**given)

    def check(self, value: JSON, where: str) -> int:
        """The size of ``value``; ``PayloadTooLarge`` naming ``where`` when it is
        over ``max_value_bytes``."""
        size = payload_size(value)
        if size > self.max_value_bytes:
            raise too_large(where, size, self.max_value_bytes, "max_value_bytes")
        return size


def payload_size(value: JSON) -> int:
    """The length in bytes of ``value``'s compact JSON text (UTF-8)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # ASCII text is as long in bytes as in characters: skip the encoding then.
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def too_large(where: str, size: int, limit: int, name: str) -> PayloadTooLarge:
    """The error for a value of ``size`` bytes at ``where`` over the limit ``name``."""
    return PayloadTooLarge(
        f"{where} is {describe_size(size)} ({size} bytes), larger than the limit of "
        f"{describe_size(limit)} ({name}={limit})",
        where=where,
        size=size,
        limit=limit,
        limit_name=name,
    )


def describe_size(size: int) -> str:
    """``size`` bytes for people: ``"1.5 MiB"``."""
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


class ClaimedTotals:
    """The stored payload bytes of executions as their claimed tasks brought them,
    so that a task's result is checked against the per-execution ceiling
    without another read; the least recently claimed are forgotten first.

    A total is as of the latest claim of one of the execution's tasks: results
    of its other tasks saved since are not in it.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._totals: OrderedDict[str, int] = OrderedDict()

    def note(self, execution_id: str, total: int) -> None:
        """Remember ``total`` for ``execution_id``."""
        with self._lock:
            self._totals[execution_id] = total
            self._totals.move_to_end(execution_id)
            while len(self._totals) > self.max_entries:
                self._totals.popitem(last=False)

    def get(self, execution_id: str) -> int | None:
        """The total last noted for ``execution_id``, if any."""
        with self._lock:
            return self._totals.get(execution_id)
