"""What the Step Functions API keeps beyond definitions: state machine types and
deletions, and activities.

The store keeps definitions and nothing else of this kind, and a definition
cannot be deleted, so each change is kept as a small definition record of the
kind ``sfn.catalog`` named ``stateMachine:NAME`` or ``activity:NAME``; its
source is JSON (``{"status": "ACTIVE"|"DELETED", "type": ...}``) and the newest
record of a name is the current entry. Every server on one store sees the
same catalog. These records are not workflows: starting one is refused, as
for any kind no front end reads.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.store.records import DefinitionRecord

#: The definition kind of catalog records.
CATALOG_KIND = "sfn.catalog"

ACTIVE = "ACTIVE"
DELETED = "DELETED"

#: The most entries one listing reads.
_LIMIT = 100_000


@dataclass(frozen=True)
class CatalogEntry:
    """The newest word on one state machine or activity."""

    name: str
    status: str
    type: str
    #: When this entry was written (the activity's creation date when ACTIVE).
    at: float

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def _entry(record: DefinitionRecord) -> CatalogEntry:
    try:
        body: Any = json.loads(record.source)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    name = record.name.split(":", 1)[1] if ":" in record.name else record.name
    return CatalogEntry(
        name=name,
        status=str(body.get("status", ACTIVE)),
        type=str(body.get("type", "STANDARD")),
        at=record.created_at,
    )


class Catalog:
    """State machine and activity entries kept in one engine's store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, what: str, name: str) -> CatalogEntry | None:
        """The newest entry of ``what`` (``stateMachine`` or ``activity``) ``name``."""
        found = self.engine.store.list_definitions(
            name=f"{what}:{name}", kind=CATALOG_KIND, limit=1
        )
        return _entry(found[0]) if found else None

    def put(self, what: str, name: str, status: str, type: str = "STANDARD") -> CatalogEntry:
        """Record a new entry; it is newer than every entry before it."""
        previous = self.engine.store.list_definitions(
            name=f"{what}:{name}", kind=CATALOG_KIND, limit=1
        )
        now = self.engine.clock.now()
        if previous and previous[0].created_at >= now:
            # Two changes within the clock's resolution still keep their order.
            now = previous[0].created_at + 1e-6
        source = json.dumps({"status": status, "type": type}, sort_keys=True)
        record = DefinitionRecord(
            id=f"{CATALOG_KIND}:{uuid.uuid4()}",
            kind=CATALOG_KIND,
            name=f"{what}:{name}",
            source=source,
            created_at=now,
        )
        self.engine.store.save_definition(record)
        return _entry(record)

    def entries(self, what: str) -> list[CatalogEntry]:
        """The newest entry of every name of ``what``, by name."""
        newest: dict[str, CatalogEntry] = {}
        prefix = f"{what}:"
        for record in self.engine.store.list_definitions(kind=CATALOG_KIND, limit=_LIMIT):
            if record.name.startswith(prefix):
                entry = _entry(record)
                newest.setdefault(entry.name, entry)
        return sorted(newest.values(), key=lambda e: e.name)
