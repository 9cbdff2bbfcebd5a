"""The deployed Lambda handler, called the way the resource map calls a handler.

A Lambda handler takes ``(event, context)``; a resource map's ``python``
handler takes the event alone. This adapter passes no context.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "functions" / "check_order"))

import app  # the function's own module, unchanged


def check_order(event: Any) -> Any:
    """The order check, for the resource map."""
    return app.lambda_handler(event, None)
