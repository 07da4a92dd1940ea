"""Copying an organisation's store to another database (``parcours migrate-store``).

Every table of the source is copied row for row, the same values in the same columns (events
keep their ``seq`` and ids, blocks their leaves and anchors, outbox rows their ids), so that the
ledger verifies on the destination exactly as on the source. The copy streams: each table is
read in primary-key order, ``batch`` rows at a time (keyset paging, bounded memory), and each
batch is written in one destination transaction together with the progress record
(``store_transfers``: the last key copied and the row count, per source and table). A copy
killed at any point therefore resumes after the last committed batch, and no row is written
twice.

A destination is refused when it already holds data that is not a copy of this very source in
progress. At the end, the identity sequences of the destination are moved past the copied ids
and the row count of every table is compared with the source's.

The source is a SQLite store (its tables and primary keys read from its own catalogue); the
destination a PostgreSQL store (rows written with ``COPY``) or another SQLite store. Both are
migrated to the current schema first, so their tables are the same.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from hub.blobs import BlobStore
from hub.store.base import Store
from hub.store.sqlite import SQLiteStore

#: The destination's own bookkeeping: never copied.
NOT_COPIED = ("schema_migrations", "store_transfers")
#: Session advisory lock (PostgreSQL) held by a running copy: two copies never write at once.
LOCK_TRANSFER = 0x50480003


class TransferError(Exception):
    """The copy cannot start or did not end with the same rows on both sides."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # primary key columns (``rowid`` for a table without one)


@dataclass
class TableReport:
    name: str
    source_rows: int = 0
    copied_now: int = 0
    destination_rows: int = 0


@dataclass
class TransferReport:
    source: str
    resumed: bool = False
    tables: list[TableReport] = field(default_factory=list)
    blobs_copied: int = 0
    blobs_present: int = 0

    @property
    def rows(self) -> int:
        return sum(t.destination_rows for t in self.tables)


def source_identity(store: SQLiteStore) -> str:
    """What names a source in the progress records: its file, and its first event (a different
    database at the same path is another source)."""
    first = store.first_event()
    return f"sqlite:///{Path(store.path).resolve()}#{first['id'] if first else '-'}"


def sqlite_tables(store: SQLiteStore) -> list[Table]:
    """The tables of ``store`` to copy, each after the tables its foreign keys reference."""
    conn = store.conn
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    names = [n for n in names if n not in NOT_COPIED]
    tables: dict[str, Table] = {}
    needs: dict[str, set[str]] = {}
    for name in names:
        info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
        columns = tuple(r["name"] for r in info)
        key = tuple(r["name"] for r in sorted((r for r in info if r["pk"]), key=lambda r: r["pk"])) or ("rowid",)
        tables[name] = Table(name, columns, key)
        needs[name] = {r["table"] for r in conn.execute(f'PRAGMA foreign_key_list("{name}")')} - {name}
    ordered: list[Table] = []
    placed: set[str] = set()
    while len(ordered) < len(tables):
        ready = [n for n in names if n not in placed and needs[n] <= placed]
        if not ready:
            raise TransferError(f"circular foreign keys between tables {sorted(set(names) - placed)}")
        for name in ready:
            ordered.append(tables[name])
            placed.add(name)
    return ordered


class _Destination:
    """Writing batches and progress into the destination store, whichever database it is."""

    def __init__(self, store: Store):
        self.store = store
        self.postgres = type(store).__name__ == "PostgresStore"

    def tables(self) -> dict[str, tuple[str, ...]]:
        if self.postgres:
            rows = self.store._execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position").fetchall()
            out: dict[str, list[str]] = {}
            for r in rows:
                out.setdefault(r["table_name"], []).append(r["column_name"])
            return {k: tuple(v) for k, v in out.items()}
        return {t.name: t.columns for t in sqlite_tables(self.store)}

    def lock(self) -> None:
        if self.postgres:
            got = self.store._execute(
                "SELECT pg_try_advisory_lock(?, hashtext(coalesce(current_schema(), ''))) AS ok",
                (LOCK_TRANSFER,)).fetchone()["ok"]
            if not got:
                raise TransferError("another migrate-store is writing to this destination now")

    def has_rows(self, table: str) -> bool:
        return self.store._execute(f'SELECT 1 AS x FROM "{table}" LIMIT 1').fetchone() is not None

    def count(self, table: str) -> int:
        return int(self.store._execute(f'SELECT count(*) AS n FROM "{table}"').fetchone()["n"])

    def progress(self) -> dict[str, dict[str, Any]]:
        return {r["table_name"]: dict(r) for r in self.store._execute("SELECT * FROM store_transfers")}

    def write(self, table: Table, columns: tuple[str, ...], rows: list[tuple], source: str, last_key: list,
              copied: int, done: bool) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        with self.store._transaction():
            if rows and self.postgres:
                with self.store.conn.cursor() as cur:
                    with cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                        for row in rows:
                            copy.write_row(row)
            elif rows:
                marks = ", ".join("?" * len(columns))
                self.store._executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
            self.store._execute(
                "INSERT INTO store_transfers (source, table_name, last_key, rows, done, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, table_name) DO UPDATE SET "
                "last_key = excluded.last_key, rows = excluded.rows, done = excluded.done, "
                "updated_at = excluded.updated_at",
                (source, table.name, json.dumps(last_key), copied, done, time.time()))

    def reset_identities(self) -> None:
        """Move each identity sequence past the highest id copied (PostgreSQL); SQLite's
        AUTOINCREMENT already follows the highest rowid."""
        if not self.postgres:
            return
        for r in self.store._execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
            table, column = r["table_name"], r["column_name"]
            self.store._execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), m) FROM (SELECT max(\"{column}\") AS m FROM \"{table}\") t "
                "WHERE m IS NOT NULL", (f'"{table}"', column))


def transfer(source: SQLiteStore, destination: Store, *, batch: int = 2000,
             on_batch: Callable[[str, int], None] | None = None) -> TransferReport:
    """Copy every table of ``source`` into ``destination`` (both opened and migrated), resuming
    an interrupted copy of the same source; ``on_batch(table, rows)`` after each committed batch."""
    if batch < 1:
        raise TransferError(f"batch must be at least 1 (got {batch})")
    if source.schema_version() != destination.schema_version():
        raise TransferError(f"the source is at schema version {source.schema_version()} and the destination at "
                            f"{destination.schema_version()}: run this command with the same parcours version on both")
    dest = _Destination(destination)
    dest.lock()
    identity = source_identity(source)
    tables = sqlite_tables(source)
    dest_tables = dest.tables()
    for table in tables:
        if table.name not in dest_tables:
            raise TransferError(f"the destination has no table {table.name!r}")
        missing = [c for c in table.columns if c not in dest_tables[table.name]]
        if missing:
            raise TransferError(f"the destination's table {table.name!r} lacks column(s) {', '.join(missing)}")

    progress = dest.progress()
    others = sorted({p["source"] for p in progress.values()} - {identity})
    if others:
        raise TransferError(f"the destination holds a copy of another store ({others[0].split('#')[0]}): "
                            "copy into an empty database or schema")
    mine = {name: p for name, p in progress.items() if p["source"] == identity}
    if not mine:
        filled = [t.name for t in tables if dest.has_rows(t.name)]
        if filled:
            raise TransferError(f"the destination is not empty (table {filled[0]!r} has rows) and is not an "
                                "interrupted copy of this source: copy into an empty database or schema")
    report = TransferReport(identity, resumed=bool(mine))
    finished_before = bool(mine) and all(mine.get(t.name, {}).get("done") for t in tables)

    for table in tables:
        done = mine.get(table.name)
        entry = TableReport(table.name)
        report.tables.append(entry)
        if done and done["done"]:
            continue
        last_key = json.loads(done["last_key"]) if done and done["last_key"] else None
        copied = int(done["rows"]) if done else 0
        # A rowid table reads its rowid too (to page by it) but does not write it.
        columns = table.columns
        read = table.columns + (("rowid",) if table.key == ("rowid",) else ())
        for rows in _pages(source, table, read, last_key, batch):
            last_key = [rows[-1][read.index(k)] for k in table.key]
            written = [tuple(r[: len(columns)]) for r in rows]
            copied += len(rows)
            dest.write(table, columns, written, identity, last_key, copied, done=False)
            entry.copied_now += len(rows)
            if on_batch is not None:
                on_batch(table.name, len(rows))
        dest.write(table, columns, [], identity, last_key or [], copied, done=True)

    dest.reset_identities()
    for entry in report.tables:
        entry.source_rows = int(source._execute(f'SELECT count(*) AS n FROM "{entry.name}"').fetchone()["n"])
        entry.destination_rows = dest.count(entry.name)
    differ = [t for t in report.tables if t.source_rows != t.destination_rows]
    if differ:
        t = differ[0]
        why = ("the copy was complete already and the destination has been written to since" if finished_before
               else "the source changed during the copy (stop every daemon before migrating)")
        raise TransferError(f"table {t.name!r} has {t.source_rows} row(s) in the source and {t.destination_rows} in the "
                            f"destination: {why}")
    return report


def _pages(source: SQLiteStore, table: Table, read: tuple[str, ...], after: list | None,
           batch: int) -> Iterator[list[tuple]]:
    """The rows of ``table`` after key ``after``, in key order, ``batch`` at a time."""
    columns = ", ".join(f'"{c}"' if c != "rowid" else "rowid" for c in read)
    key = ", ".join(f'"{k}"' if k != "rowid" else "rowid" for k in table.key)
    marks = ", ".join("?" * len(table.key))
    base = f'SELECT {columns} FROM "{table.name}"'
    while True:
        if after is None:
            rows = source.conn.execute(f"{base} ORDER BY {key} LIMIT ?", (batch,)).fetchall()
        else:
            rows = source.conn.execute(f"{base} WHERE ({key}) > ({marks}) ORDER BY {key} LIMIT ?",
                                       (*after, batch)).fetchall()
        if not rows:
            return
        rows = [tuple(r) for r in rows]
        yield rows
        after = [rows[-1][read.index(k)] for k in table.key]


def copy_blobs(source: Path, destination: Path, *, on_blob: Callable[[], None] | None = None) -> tuple[int, int]:
    """Copy the blob files of folder ``source`` into ``destination`` (checked against their hash,
    written durably, idempotent); (copied, already present)."""
    if not source.is_dir():
        raise TransferError(f"the blobs folder {source} does not exist")
    src, dst = BlobStore(source), BlobStore(destination)
    copied = present = 0
    for path in sorted(source.glob("??/??/*")):
        name = path.name
        if name.startswith(".tmp-") or len(name) != 64 or path.parent.parent.name != name[:2]:
            continue  # a temporary file of an interrupted write, or not a blob
        if dst.exists(name):
            present += 1
            continue
        try:
            content = src.get(name)
        except ValueError as exc:
            raise TransferError(str(exc)) from None
        dst.put(content)
        copied += 1
        if on_blob is not None:
            on_blob()
    return copied, present
