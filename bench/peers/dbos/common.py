"""Shared setup of the DBOS scripts: configuration, launch, commit counting.

DBOS is configured the way its configuration reference describes: a
``DBOSConfig`` with a name and ``system_database_url`` (``sqlite:///FILE``
or ``postgresql://...``), then ``DBOS.launch()``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig

# bench/ on the path for the stdlib-only helpers shared with Cadenza's side.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

#: Commits seen by SQLAlchemy in this process: all of them, and those whose
#: transaction ran at least one statement that is not a SELECT (what
#: Cadenza's ``commits`` counter counts: write transactions).
COUNTS = {"commits": 0, "write_commits": 0}


def _mark(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
    if not statement.lstrip()[:6].upper().startswith("SELECT"):
        conn.info["bench_wrote"] = True


def _commit(conn: Any) -> None:
    COUNTS["commits"] += 1
    if conn.info.pop("bench_wrote", False):
        COUNTS["write_commits"] += 1


# Listening on the Engine class (not an instance) sees every engine DBOS
# creates, without reaching into DBOS's internals.
sa.event.listen(sa.engine.Engine, "before_cursor_execute", _mark)
sa.event.listen(sa.engine.Engine, "commit", _commit)


def launch(url: str, name: str = "bench") -> None:
    config: DBOSConfig = {"name": name, "system_database_url": url, "run_admin_server": False}
    DBOS(config=config)
    DBOS.launch()


def is_pg(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))
