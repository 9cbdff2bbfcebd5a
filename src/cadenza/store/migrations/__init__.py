"""Versioned schema migrations, one folder per backend.

Files are named ``NNNN_description.sql`` and applied in order; the store
records the highest applied number in ``cadenza_meta``. A store whose schema
is newer than the newest migration this version knows is refused with
``SchemaMismatch``: an old engine must not write to a schema it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(backend: str) -> list[Migration]:
    """The migrations of ``backend`` (``sqlite`` or ``postgres``), oldest first."""
    folder = resources.files(__name__).joinpath(backend)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)
