"""Each backend's SQL, kept in its ``queries.sql`` and looked up by name.

Keeping the statements in one SQL file per backend lets them be read,
reviewed and tried in ``psql`` or ``sqlite3`` as SQL; the Python that runs
them refers to each by its name.
"""

from __future__ import annotations

from importlib import resources

_MARK = "-- name:"


def parse_queries(text: str) -> dict[str, str]:
    """Split ``text`` into ``{name: statement}`` at each ``-- name: NAME`` line.

    Full-line comments are dropped: a ``%`` in one would read as a placeholder.
    """
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), f"{_MARK} "]:
        if line.startswith(_MARK):
            if name is not None:
                statement = "\n".join(lines).strip().rstrip(";").strip()
                if not statement:
                    raise ValueError(f"query {name!r} is empty")
                if name in queries:
                    raise ValueError(f"query {name!r} appears twice")
                queries[name] = statement
            name = line[len(_MARK) :].strip() or None
            lines = []
        elif not line.lstrip().startswith("--"):
            lines.append(line)
    return queries


def load_queries(package: str) -> dict[str, str]:
    """The statements in ``queries.sql`` of the backend package ``package``."""
    text = resources.files(package).joinpath("queries.sql").read_text(encoding="utf-8")
    return parse_queries(text)


def like_pattern(text: str | None) -> str | None:
    """A ``LIKE``/``ILIKE`` pattern matching values that contain ``text``
    (``%``, ``_`` and ``\\`` in it match only themselves); None for no filter."""
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
