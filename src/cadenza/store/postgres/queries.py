"""The PostgreSQL backend's statements (``queries.sql``), by name."""

from __future__ import annotations

from cadenza.store.queries import load_queries

#: Every statement of the backend, by name.
QUERIES: dict[str, str] = load_queries("cadenza.store.postgres")
