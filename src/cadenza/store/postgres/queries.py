"""The backend's SQL, kept in ``queries.sql`` and looked up by name.

Keeping the statements in one SQL file lets them be read, reviewed and tried
in ``psql`` as SQL; the Python that runs them refers to each by its name.
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
                    raise ValueError(f"query {name!r} in queries.sql is empty")
                if name in queries:
                    raise ValueError(f"query {name!r} appears twice in queries.sql")
                queries[name] = statement
            name = line[len(_MARK) :].strip() or None
            lines = []
        elif not line.lstrip().startswith("--"):
            lines.append(line)
    return queries


#: Every statement of the backend, by name.
QUERIES: dict[str, str] = parse_queries(
    resources.files("cadenza.store.postgres").joinpath("queries.sql").read_text(encoding="utf-8")
)
