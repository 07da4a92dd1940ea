"""The dialect hooks the SQL stores' shared methods are written over.

Shared SQL uses ``?`` placeholders and reads rows by column name; :class:`SqlDialect` is what
``SQLiteStore`` and ``PostgresStore`` implement so that it runs on either database: executing,
transactions, "one of these values", byte-order sorting of text.
"""

from __future__ import annotations

import abc
from typing import Any, ContextManager, Iterable, Iterator, Sequence

from hub.store.base import Store


class SqlDialect(Store):
    """A store over one SQL connection, through the hooks below."""

    #: Appended to a text column in ORDER BY so that it sorts byte by byte in either database.
    binary_order: str = ""
    #: Most values one ``_in`` list may hold in a look-up that can grow with a batch (None: any).
    in_chunk: int | None = None
    #: Appended to a SELECT inside a transaction so that the rows read cannot be written by another
    #: connection before it ends ("" where the transaction itself holds the database's write lock).
    share_lock: str = ""

    _conn: Any

    # ------------------------------------------------------------------ dialect hooks
    @abc.abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run ``sql`` (``?`` placeholders); a cursor whose rows are read by column name."""

    @abc.abstractmethod
    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` (``?`` placeholders) once for each of ``rows``."""

    @abc.abstractmethod
    def _transaction(self) -> ContextManager[Any]:
        """Several statements as one transaction, rolled back on any exception."""

    @abc.abstractmethod
    def _write(self) -> ContextManager[Any]:
        """What a single-statement write runs in."""

    @abc.abstractmethod
    def _registry_transaction(self) -> ContextManager[Any]:
        """A transaction that changes the learner registry, serialised with ingest."""

    @abc.abstractmethod
    def _json_text(self, column: str, key: str) -> str:
        """The SQL expression of the text value of top-level ``key`` in the JSON text ``column``
        (``key``: a checked identifier, never input)."""

    @abc.abstractmethod
    def _in(self, column: str, values: Sequence[Any], sql_type: str = "text") -> tuple[str, list[Any]]:
        """The condition "``column`` is one of ``values``" and its parameters."""

    def _rows_in(self, sql: str, column: str, values: Sequence[Any], sql_type: str = "text") -> Iterator[Any]:
        """Rows of ``sql`` whose ``{}`` is "``column`` is one of ``values``", in chunks if need be."""
        size = self.in_chunk or max(len(values), 1)
        for start in range(0, len(values), size):
            condition, params = self._in(column, values[start : start + size], sql_type)
            yield from self._execute(sql.format(condition), params)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
