"""Cadenza: a durable workflow engine for Python.

Describe a workflow in Orquesta YAML (and, as they land, other front ends);
Cadenza runs it durably on an append-only history in SQLite or PostgreSQL.
"""

from __future__ import annotations

__version__ = "0.1.0"
