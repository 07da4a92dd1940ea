"""Schema migrations: one numbered SQL script per file and per dialect.

``sqlite/NNNN_name.sql`` and ``postgresql/NNNN_name.sql`` (package data) are run in number order,
each whole by its driver's script execution (``sqlite3``'s ``executescript``, psycopg's
multi-statement ``execute``), and recorded in the ``schema_migrations`` table. Both dialects
have the same numbers (a migration one dialect does not need is a no-op script), so a version
means the same tables on either store. A migration, once released, is never edited: add one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

DIALECTS = ("sqlite", "postgresql")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@functools.cache
def migrations(dialect: str) -> tuple[Migration, ...]:
    """The migrations of ``dialect``, in order; RuntimeError when they are not numbered 1…n."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    found = []
    for entry in (resources.files(__package__) / dialect).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"the {dialect} migrations are not numbered 1…{len(found)}: {versions}")
    return tuple(found)
