"""The embedded store: one SQLite file in WAL mode.

The methods both SQL stores share live in :mod:`hub.store.sql` and its parts; the schema is in
``hub/store/migrations/sqlite/``; here are the connection and what SQLite does its own way:
ingest, claiming deliveries, journey writes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from hub.store.base import event_dict, split_batch, withhold_rows, Claimed, EventRow, IngestResult
from hub.store.migrations import migrations
from hub.store.sql import SqlStore
from hub.store.sql_sealed_rows import FIRST_US, LAST_US

EVENT_COLUMNS = (
    "id, type, occurred_us, received_at, source, source_id, learner, learner_key, "
    "action, data, evidence, supersedes"
)

class SQLiteStore(SqlStore):
    """SQLite in WAL mode. ``synchronous=full`` (default) makes every commit durable on power loss."""

    in_chunk = 500

    def __init__(self, path: str | Path, *, synchronous: str = "full"):
        super().__init__()
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None

    @property
    def reader_url(self) -> str | None:
        return None if str(self.path) == ":memory:" else f"sqlite:///{self.path.resolve()}"

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            for attempt in range(100):
                # Switching a fresh file to WAL can fail with "database is locked" without waiting
                # for busy_timeout when another process opens it at the same moment: retry.
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 99:
                        raise
                    time.sleep(0.01)
            conn.execute(f"PRAGMA synchronous={self._synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
        return self._conn

    # ------------------------------------------------------------------ dialect hooks
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def _tx(self):
        return _Transaction(self.conn)

    _transaction = _tx
    # BEGIN IMMEDIATE takes the write lock up front, and serialises registry changes with ingest.
    _write = _tx
    _registry_transaction = _tx

    def _json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def _in(self, column: str, values: Sequence[Any], sql_type: str = "text") -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _leaf_bytes_sql(self, columns: tuple[str, ...]) -> str:
        # CAST(c AS BLOB): a text's UTF-8 bytes, an integer's decimal text; || keeps the bytes as they are
        parts = " || ".join(f"CASE WHEN {c} IS NULL THEN '-' ELSE length(CAST({c} AS BLOB)) || ':' || CAST({c} AS BLOB) END"
                            for c in columns)
        return f"CAST(X'00' || {parts} AS BLOB)"

    def _plain_rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        cursor = self.conn.cursor()
        cursor.row_factory = None
        try:
            return cursor.execute(sql, params).fetchall()
        finally:
            cursor.close()

    def _maybe_undecodable_sql(self) -> str:
        # Cheap before exact: a JSON column passes when it is text starting with its bracket (a range
        # test, which a blob or a number fails too), valid JSON and free of \u escapes (a lone
        # surrogate needs one); anything else, e.g. leading blanks, is decoded in Python to be sure.
        def json_of(column: str, open_: str, after: str) -> str:
            return (f"({column} >= '{open_}' AND {column} < '{after}' AND json_valid({column}) "
                    f"AND instr({column}, '\\u') = 0)")
        evidence = json_of("evidence", "[", "\\")  # a backslash: the character after '['
        return (f"NOT (typeof(occurred_us) = 'integer' AND occurred_us BETWEEN {FIRST_US} AND {LAST_US} AND "
                f"{json_of('data', '{', '|')} AND "
                f"(learner IS NULL OR learner = '' OR learner = 'null' OR {json_of('learner', '{', '|')}) AND "
                f"(evidence IS NULL OR evidence = '' OR evidence = 'null' OR {evidence}))")

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> list[int]:
        conn = self.conn
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        done = []
        for migration in migrations("sqlite"):
            if migration.version in applied:
                continue
            # One transaction per script, taken with the write lock; the version is recorded first,
            # so a process that applied it meanwhile makes this one fail before any DDL.
            script = (f"BEGIN IMMEDIATE;\nINSERT INTO schema_migrations VALUES ({migration.version:d}, {time.time()!r});\n"
                      f"{migration.sql}\n;\nCOMMIT;")
            try:
                conn.executescript(script)
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)).fetchone():
                    continue  # another process applied it
                raise
            done.append(migration.version)
        return done

    def schema_version(self) -> int:
        try:
            row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:
            return 0
        return row[0] or 0

    # ------------------------------------------------------------------ ingest
    def ingest(self, rows, route, *, source_cursor=None, rejects=(), learners=None, withhold=None) -> IngestResult:
        conn = self.conn
        with self._tx():
            ids, new, fresh = split_batch(rows, self._existing_ids(rows))
            outbox_rows, withheld = 0, {}
            fresh, withheld = withhold_rows(ids, new, fresh, self._link_and_gate(fresh, learners, withhold))
            if fresh:
                cur = conn.execute("SELECT coalesce(max(seq), 0) FROM events")
                first_seq = cur.fetchone()[0] + 1
                conn.executemany(
                    f"INSERT INTO events (seq, {EVENT_COLUMNS}, learner_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (first_seq + i, r.id, r.type, r.occurred_us, r.received_at, r.source,
                         r.source_id, r.learner, r.learner_key, r.action, r.data, r.evidence, r.supersedes,
                         r.learner_id)
                        for i, r in enumerate(fresh)
                    ],
                )
                self._index_funding(fresh)
                self._index_consents(fresh)
                if route is not None:
                    targets = route(fresh, self._funders_for, self._consent_decisions)
                    now = time.time()
                    outbox = [
                        (first_seq + i, sink, route_name, now, now)
                        for i, pairs in enumerate(targets)
                        for sink, route_name in pairs
                    ]
                    if outbox:
                        conn.executemany(
                            "INSERT INTO outbox (event_seq, sink, route, created_at, next_attempt_at) VALUES (?,?,?,?,?)",
                            outbox,
                        )
                    outbox_rows = len(outbox)
            if source_cursor is not None:
                self._save_cursor(*source_cursor)
            if rejects:
                now = time.time()
                conn.executemany(
                    "INSERT INTO rejects (source, stage, source_id, error, payload, created_at) VALUES (?,?,?,?,?,?)",
                    [(r.source, r.stage, r.source_id, r.error, r.payload, now) for r in rejects],
                )
        return IngestResult(ids, new, outbox_rows, len(rejects), withheld)

    def _store_resolution(self, resolution) -> None:
        conn = self.conn
        now = time.time()
        if resolution.new_learners:
            conn.executemany("INSERT INTO learners (id, name, email, created_at) VALUES (?,?,?,?)",
                             [(i, n, e, now) for i, n, e in resolution.new_learners])
        if resolution.new_keys:
            conn.executemany("INSERT OR IGNORE INTO learner_keys (key, learner_id, origin, created_at) VALUES (?,?,?,?)",
                             [(k, l, o, now) for k, l, o in resolution.new_keys])
        if resolution.conflicts:
            conn.executemany(
                "INSERT INTO learner_conflicts (event_id, keys, learners, reason, created_at) VALUES (?,?,?,?,?)",
                [(c.event_id, json.dumps(c.keys), json.dumps(c.learners), c.reason, now) for c in resolution.conflicts],
            )

    def _existing_ids(self, rows: list[EventRow]) -> dict[tuple[str, str], str]:
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row.source, []).append(row.source_id)
        found: dict[tuple[str, str], str] = {}
        for source, keys in by_source.items():
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for source_id, event_id in self.conn.execute(
                    f"SELECT source_id, id FROM events WHERE source = ? AND source_id IN ({marks})",
                    [source, *chunk],
                ):
                    found[(source, source_id)] = event_id
        return found

    def _index_funding(self, rows: list[EventRow]) -> None:
        funding = []
        for row in rows:
            if row.type == "funding.approved" and row.learner_key and row.action:
                funding.append((row.learner_key, row.action, json.loads(row.data)["funder"], row.id))
        if funding:
            self.conn.executemany("INSERT OR IGNORE INTO funding VALUES (?,?,?,?)", funding)

    def _funders_for(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
        out: dict[tuple[str, str], set[str]] = {}
        pairs = list(set(pairs))
        for start in range(0, len(pairs), 300):
            chunk = pairs[start : start + 300]
            where = " OR ".join(["(learner_key = ? AND action = ?)"] * len(chunk))
            params = [v for pair in chunk for v in pair]
            for key, action, funder in self.conn.execute(
                f"SELECT learner_key, action, funder FROM funding WHERE {where}", params
            ):
                out.setdefault((key, action), set()).add(funder)
        return out

    # ------------------------------------------------------------------ delivery
    def claim(self, sink, *, limit, now, owner, lease_seconds) -> list[Claimed]:
        conn = self.conn
        with self._tx():
            # Two index-ordered scans (outbox_claim: sink, state, id) instead of one OR that made
            # SQLite sort every due row to return the first ones: delivery slowed down as the
            # backlog grew. The '+' keeps SQLite off outbox_due for the pending scan.
            select = ("SELECT o.id AS oid, o.route, o.attempts, o.created_at AS ocreated, e.* FROM outbox o "
                      "JOIN events e ON e.seq = o.event_seq WHERE o.sink = ? AND ")
            rows = conn.execute(select + "o.state = 'pending' AND +o.next_attempt_at <= ? ORDER BY o.id LIMIT ?",
                                (sink, now, limit)).fetchall()
            rows += conn.execute(select + "o.state = 'inflight' AND o.lease_until < ? ORDER BY o.id LIMIT ?",
                                 (sink, now, limit)).fetchall()
            rows = sorted(rows, key=lambda r: r["oid"])[:limit]
            if not rows:
                return []
            ids = [r["oid"] for r in rows]
            conn.execute(
                f"UPDATE outbox SET state = 'inflight', lease_owner = ?, lease_until = ? "
                f"WHERE id IN ({','.join('?' * len(ids))})",
                [owner, now + lease_seconds, *ids],
            )
        return [Claimed(r["oid"], sink, r["route"], r["attempts"], r["ocreated"], event_dict(r)) for r in rows]

    # ------------------------------------------------------------------ journeys (projections)
    def load_journeys(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        out = {}
        for start in range(0, len(keys), 300):
            chunk = keys[start : start + 300]
            where = " OR ".join(["(learner_id = ? AND action = ?)"] * len(chunk))
            for learner, action, state in self.conn.execute(
                f"SELECT learner_id, action, state FROM journeys WHERE {where}", [v for k in chunk for v in k]
            ):
                out[(learner, action)] = json.loads(state)
        return out

    def save_journeys(self, states: dict[tuple[str, str], dict[str, Any]], last_seq: int, name: str = "journeys") -> None:
        with self._tx():
            self.conn.executemany(
                "INSERT INTO journeys (learner_id, action, state, updated_seq) VALUES (?,?,?,?) "
                "ON CONFLICT(learner_id, action) DO UPDATE SET state = excluded.state, updated_seq = excluded.updated_seq",
                [(k[0], k[1], json.dumps(v, ensure_ascii=False), last_seq) for k, v in states.items()],
            )
            self.conn.executemany(  # figures computed from the former state are no longer its own
                "DELETE FROM journey_figures WHERE learner_id = ? AND action = ?", list(states))
            self.conn.executemany(  # nor is its risk-list row
                "DELETE FROM journey_flags WHERE learner_id = ? AND action = ?", list(states))
            self.conn.execute(
                "INSERT INTO projections (name, last_seq) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last_seq = max(projections.last_seq, excluded.last_seq)",
                (name, last_seq),
            )

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[None]:
        self.conn.execute("BEGIN")  # deferred: the WAL snapshot is taken at the first read
        try:
            yield
        finally:
            self.conn.execute("COMMIT")


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False
