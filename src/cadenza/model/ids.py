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
