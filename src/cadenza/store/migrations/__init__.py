"""Versioned schema migrations, one folder per backend.

Files are named ``NNNN_description.sql`` and applied in order; the store
records the highest applied number in ``cadenza_meta``. A store whose schema
is newer than the newest migration this version knows is refused with
``SchemaMismatch``: an old engine must not write to a schema it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The SQL files are read from this package's folder on disk: ``importlib.resources``
# would also find them inside a zip, but importing it costs tens of milliseconds at
# every start, and Cadenza is not run from a zip.
_FOLDER = Path(__file__).parent


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(backend: str) -> list[Migration]:
    """The migrations of ``backend`` (``sqlite`` or ``postgres``), oldest first."""
    found = []
    for entry in (_FOLDER / backend).glob("*.sql"):
        number, _, rest = entry.name.partition("_")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)
