"""The YAQL parser, with its LALR tables read from a cache instead of built at each start.

Building YAQL's parser tables takes most of the time of a process's first
YAQL expression (about 80 ms on an idle machine, several times that on a busy
one). The ply copy that yaql ships no longer writes table files, so Cadenza
keeps the two tables (actions and gotos, plain data) itself: as JSON in the
user's cache directory (``$XDG_CACHE_HOME/cadenza``, else ``~/.cache/cadenza``),
in a file named after a digest of the grammar they were built from.

Why a user cache and not tables built into the package: the tables belong to
the installed yaql's grammar, which Cadenza does not pin exactly, and a package
file would need a build step and still a fallback for any other yaql. Keyed by
the grammar's digest, a cached file can only be used with the grammar that
made it; a new yaql gets a new file. Nothing is ever written inside the
installed packages: when the cache cannot be read or written (read-only home,
a corrupt or foreign file), the tables are built in memory as before, and a
bad file is replaced.
"""

from __future__ import annotations

import collections.abc  # noqa: F401 - yaql 3.x uses collections.abc without importing it
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

#: Bump when the file's layout changes: old files are then ignored.
_FORMAT = 1


def cache_dir() -> Path:
    """Where the tables are kept: ``$XDG_CACHE_HOME/cadenza`` or ``~/.cache/cadenza``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cadenza"


def grammar_digest(grammar: Any) -> str:
    """A digest of everything the tables depend on: productions, precedence, start."""
    material = json.dumps(
        {
            "format": _FORMAT,
            "start": grammar.Start,
            "productions": [str(p) for p in grammar.Productions],
            "precedence": sorted((k, list(v)) for k, v in grammar.Precedence.items()),
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def table_file(digest: str) -> Path:
    """The cache file of the tables of the grammar with ``digest``."""
    return cache_dir() / f"yaql-lalr-{digest[:24]}.json"


Tables = tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]


def _read(path: Path, digest: str) -> Tables | None:
    """The tables in ``path``, or None if it is missing, unreadable or not ours."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc["digest"] != digest:
            return None
        action = {int(state): dict(row) for state, row in doc["action"].items()}
        goto = {int(state): dict(row) for state, row in doc["goto"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not action or 0 not in action:
        return None
    return action, goto


def _write(path: Path, digest: str, tables: Tables) -> None:
    """Keep ``tables`` in ``path`` (atomically); a failure only costs the next start."""
    action, goto = tables
    text = json.dumps({"digest": digest, "action": action, "goto": goto}, separators=(",", ":"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".yaql-lalr-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


def create_engine() -> Any:
    """A YAQL engine as ``YaqlFactory().create()`` makes it, with cached tables."""
    import yaql._ply.yacc as yacc
    import yaql.language.factory as yaql_factory

    # ply's own class, even while another thread's build has swapped in its stand-in.
    built = getattr(yacc.LRTable, "original", yacc.LRTable)

    class CachedTable:
        """Stands in for ply's ``LRTable`` while yaql builds its parser."""

        original = built

        def __init__(self, grammar: Any, log: Any = None) -> None:
            digest = grammar_digest(grammar)
            path = table_file(digest)
            tables = _read(path, digest)
            if tables is None:
                fresh = built(grammar, log)
                tables = fresh.lr_action, fresh.lr_goto
                _write(path, digest, tables)
            self.lr_action, self.lr_goto = tables
            self.lr_productions = grammar.Productions
            # Read by ply only in debug mode; the cached tables have no conflicts to report.
            self.sr_conflicts: list[Any] = []
            self.rr_conflicts: list[Any] = []

        def bind_callables(self, pdict: dict[str, Any]) -> None:
            for production in self.lr_productions:
                production.bind(pdict)

    # yaql builds its parser through ply's module-level ``yacc()``, which names
    # ``LRTable`` directly: swapping it for the build is the only seam there is.
    # Builds in two threads at once stay correct without a lock: each swaps in
    # a stand-in or finds the other's (both give the right tables) and puts
    # back ply's own class.
    yacc.LRTable = CachedTable
    try:
        return yaql_factory.YaqlFactory().create()
    finally:
        yacc.LRTable = built
