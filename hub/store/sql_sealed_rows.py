"""The events rows as a format-3 leaf seals them (hub.ledger.merkle): columns exactly as stored.

A format-3 leaf is SHA-256 of ``0x00`` and the row's columns, each as a netstring over its UTF-8
bytes (NULL: ``-``; else ``<byte length>:<bytes>``, an integer as its decimal text). The database
builds those bytes itself (:meth:`SqlSealedRows.stored_leaf_bytes`, one query per block, no row
decoded in Python); :meth:`SqlSealedRows.stored_rows` gives the same columns as values, for a proof
that carries them. The ledger names the columns (``hub.ledger.merkle.LEAF_COLUMNS``); the store
only accepts columns of the events table.

:meth:`SqlSealedRows.undecodable_events` finds the rows that cannot be decoded without decoding
every row: the database picks out the rows that might not decode (a cheap check in SQL that every
undecodable row fails), and only those are decoded (hub.store.base.event_dict) to be sure.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

from hub.store.base import STORED_COLUMNS, _as_stored, event_dict
from hub.store.dialect import SqlDialect

SEALABLE_COLUMNS = frozenset(STORED_COLUMNS + ("learner_id", "learner_key"))
# occurred_us of years 1 to 9999 (hub.timefmt.format_us): a row outside cannot be decoded
FIRST_US, LAST_US = -62_135_596_800_000_000, 253_402_300_799_999_999


def checked_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """``columns`` when each is a column of the events table a leaf may seal (they are written into SQL)."""
    unknown = [c for c in columns if c not in SEALABLE_COLUMNS]
    if unknown or not columns:
        raise ValueError(f"no events column may be sealed as {unknown or 'nothing'}")
    return tuple(columns)


class SqlSealedRows(SqlDialect):
    """What a format-3 leaf reads of the events rows, in SQL."""

    @abc.abstractmethod
    def _leaf_bytes_sql(self, columns: tuple[str, ...]) -> str:
        """The SQL expression of ``0x00`` followed by the netstrings of ``columns`` (a BLOB/bytea)."""

    @abc.abstractmethod
    def _plain_rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        """All rows of ``sql`` as plain tuples (no row object per row: the leaves of a block are many)."""

    @abc.abstractmethod
    def _maybe_undecodable_sql(self) -> str:
        """A condition true of every events row that :func:`hub.store.base.event_dict` cannot decode
        (it may be true of some that it can: those are decoded to be sure)."""

    def stored_leaf_bytes(self, columns: Sequence[str], first_seq: int, last_seq: int | None = None, *,
                          limit: int | None = None) -> list[tuple[int, bytes]]:
        """``(seq, 0x00 || netstrings of columns)`` of the events from ``first_seq`` to ``last_seq``
        (None: on to the newest; at most ``limit`` rows), by seq: what a format-3 leaf hashes."""
        sql = f"SELECT seq, {self._leaf_bytes_sql(checked_columns(columns))} FROM events WHERE seq >= ?"
        params: list[Any] = [first_seq]
        if last_seq is not None:
            sql += " AND seq <= ?"
            params.append(last_seq)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [(seq, bytes(leaf)) for seq, leaf in self._plain_rows(sql, params)]

    def stored_rows(self, columns: Sequence[str], first_seq: int, last_seq: int) -> list[dict[str, Any]]:
        """``{"seq", "id", "stored": {column: value as stored}}`` of the events from ``first_seq`` to
        ``last_seq``, by seq (a SQLite blob comes as ``{"bytes": hex}``, as JSON can carry it)."""
        names = checked_columns(columns)
        rows = self._execute(f"SELECT seq, {', '.join(names)} FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq",
                             (first_seq, last_seq))
        return [_stored_row(r, names) for r in rows]

    def stored_rows_at(self, columns: Sequence[str], seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
        names = checked_columns(columns)
        rows = self._rows_in(f"SELECT seq, {', '.join(names)} FROM events WHERE {{}}", "seq", list(seqs), "bigint")
        return {r["seq"]: _stored_row(r, names) for r in rows}


    def undecodable_events(self, first_seq: int, last_seq: int) -> list[dict[str, Any]]:
        """The events from ``first_seq`` to ``last_seq`` that cannot be decoded, marked (see
        :func:`hub.store.base.event_dict`), by seq."""
        rows = self._execute(f"SELECT * FROM events WHERE seq >= ? AND seq <= ? AND ({self._maybe_undecodable_sql()}) "
                             "ORDER BY seq", (first_seq, last_seq))
        return [e for e in map(event_dict, rows) if "unreadable" in e]


def _stored_row(row, names: Sequence[str]) -> dict[str, Any]:
    return {"seq": row["seq"], "id": row["id"] if "id" in names else None,
            "stored": {name: _as_stored(row[name]) for name in names}}
