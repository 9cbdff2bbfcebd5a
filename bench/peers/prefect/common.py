"""Shared setup of the Prefect scripts.

No ``PREFECT_API_URL`` is set, so the first API call starts Prefect's
ephemeral local server (a subprocess on 127.0.0.1 with its SQLite database
under ``PREFECT_HOME``, which the harness points into a fresh temp dir).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# bench/ on the path for the stdlib-only helpers shared with Cadenza's side.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# Quiet console: the harness reads one JSON line from stdout.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
# The server starts under load too (default 20 s can be too short on 2 cores).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# No telemetry: only 127.0.0.1 is to be reached.
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
