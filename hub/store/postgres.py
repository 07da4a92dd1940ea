"""The scale-out store: PostgreSQL through psycopg 3.

Same semantics as the SQLite store (``hub/store/sqlite.py`` is the reference); what differs is
how several daemons share one database safely:

- Migrations run in one transaction under a transaction-level advisory lock, so daemons that
  start together apply each version once.
- ``ingest`` appends under a transaction-level advisory lock (the *append lock*, one per
  schema). Dedupe on (source, source_id) is then a plain look-up that sees every committed row,
  and ``seq`` values become visible in increasing order: a reader that streams the ledger with
  ``iter_events(after_seq=…)`` never sees seq N+1 committed before seq N and skips N forever.
  ``INSERT … ON CONFLICT (source, source_id) DO NOTHING`` stays as a second guard. Every step
  is one statement over whole arrays (``unnest``), whatever the batch size. The learner
  registry is resolved under the same lock (ingest, conflict resolution, mapping), so two
  daemons never create two learners for one key.
- ``claim`` picks rows with ``FOR UPDATE SKIP LOCKED`` and leases them in the same statement,
  so concurrent claimers get disjoint rows without waiting on each other.

JSON columns are ``text``: what was stored is read back byte for byte (``jsonb`` would reorder
keys, drop duplicates and refuse ``\\u0000``), exactly as in SQLite.

The methods both SQL stores share live in :mod:`hub.store.sql` and its parts (written with ``?``
placeholders, turned into ``%s`` here); this module keeps the schema and what PostgreSQL does its
own way: ingest, claims, bulk journey writes and snapshots.

One connection in autocommit mode: single-statement reads and writes are atomic on their own
(and a read never leaves the connection idle in a transaction); multi-statement work runs in
explicit ``conn.transaction()`` blocks. A broken connection is replaced on the next call.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from typing import Any, Iterable, Iterator, Sequence

import psycopg
from psycopg.rows import dict_row, tuple_row

from hub.store.base import event_dict, split_batch, withhold_rows, Claimed, EventRow, IngestResult
from hub.store.migrations import migrations
from hub.store.sql import SqlStore
from hub.store.sql_sealed_rows import FIRST_US, LAST_US

# Advisory lock classes (two-int form; the second int is a hash of the schema name, so hubs
# in different schemas of one database do not wait on each other).
LOCK_MIGRATE = 0x50480001
LOCK_APPEND = 0x50480002
_SCHEMA_KEY = "hashtext(coalesce(current_schema(), ''))"

EVENT_COLUMNS = (
    "id", "type", "occurred_us", "received_at", "source", "source_id", "learner", "learner_key",
    "action", "data", "evidence", "supersedes", "learner_id",
)
_EVENT_TYPES = ("text", "text", "bigint", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text")

class PostgresStore(SqlStore):
    """PostgreSQL store; ``url`` is any libpq connection string (``postgresql://…``)."""

    def __init__(self, url: str, *, connect_timeout: int = 10):
        super().__init__()
        self.url = url
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None

    @property
    def reader_url(self) -> str | None:
        return self.url

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=self._connect_timeout
            )
        return self._conn

    # ------------------------------------------------------------------ dialect hooks
    binary_order = ' COLLATE "C"'  # the database's collation may order text otherwise
    share_lock = " FOR SHARE"  # another daemon's write of those rows waits for the transaction's end

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(_psycopg_sql(sql), params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_psycopg_sql(sql), rows)

    def _transaction(self):
        return self.conn.transaction()

    def _write(self):
        return contextlib.nullcontext()  # autocommit: one statement is atomic on its own

    @contextlib.contextmanager
    def _registry_transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            self._lock_append()
            yield

    def _json_text(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    def _in(self, column: str, values: Sequence[Any], sql_type: str = "text") -> tuple[str, list[Any]]:
        return f"{column} = ANY(?::{sql_type}[])", [list(values)]

    def _leaf_bytes_sql(self, columns: tuple[str, ...]) -> str:
        def netstring(column: str) -> str:
            utf8 = f"convert_to({column}::text, 'UTF8')"
            return (f"CASE WHEN {column} IS NULL THEN '\\x2d'::bytea "
                    f"ELSE convert_to(length({utf8})::text || ':', 'UTF8') || {utf8} END")
        return "'\\x00'::bytea || " + " || ".join(netstring(c) for c in columns)

    def _plain_rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        with self.conn.cursor(row_factory=tuple_row) as cursor:
            return cursor.execute(_psycopg_sql(sql), params).fetchall()

    def _maybe_undecodable_sql(self) -> str:
        if self.conn.info.server_version < 160000:
            return "TRUE"  # no JSON test in SQL before PostgreSQL 16 (IS JSON): every row is decoded
        ws = "E' \\t\\n\\r'"

        def json_of(column: str, kind: str, null_ok: bool) -> str:
            null = f" OR btrim({column}, {ws}) = 'null'" if null_ok else ""
            return f"(({column} IS JSON {kind}{null}) AND strpos(lower({column}), '\\ud') = 0)"
        return (f"NOT (occurred_us BETWEEN {FIRST_US} AND {LAST_US} AND {json_of('data', 'OBJECT', False)} AND "
                f"(learner IS NULL OR learner = '' OR {json_of('learner', 'OBJECT', True)}) AND "
                f"(evidence IS NULL OR evidence = '' OR {json_of('evidence', 'ARRAY', True)}))")

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> list[int]:
        conn = self.conn
        done: list[int] = []
        with conn.transaction():
            conn.execute(f"SELECT pg_advisory_xact_lock(%s, {_SCHEMA_KEY})", (LOCK_MIGRATE,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version integer PRIMARY KEY, applied_at double precision NOT NULL)"
            )
            applied = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations("postgresql"):
                if migration.version in applied:
                    continue
                conn.execute(migration.sql)  # no parameters: psycopg sends the script as one simple query
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (migration.version, time.time()))
                done.append(migration.version)
        return done

    def schema_version(self) -> int:
        conn = self.conn
        if conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()["t"] is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").fetchone()["v"]


    # ------------------------------------------------------------------ ingest
    def ingest(self, rows, route, *, source_cursor=None, rejects=(), learners=None, withhold=None) -> IngestResult:
        conn = self.conn
        ids: list[str | None] = []
        new: list[bool] = []
        outbox_rows, withheld = 0, {}
        with conn.transaction():
            if rows:
                self._lock_append()
                existing = self._existing_ids({(r.source, r.source_id) for r in rows})
                ids, new, fresh = split_batch(rows, existing)
                seqs: dict[str, int] = {}
                fresh, withheld = withhold_rows(ids, new, fresh, self._link_and_gate(fresh, learners, withhold))
                kept_out = {rows[index].id for index in withheld}
                while fresh:
                    try:
                        with conn.transaction():  # a savepoint: undone if a key was taken meanwhile
                            seqs = self._insert_events(fresh)
                            if len(seqs) < len(fresh):
                                raise _KeysTaken([r for r in fresh if r.id not in seqs])
                        break
                    except _KeysTaken as taken:
                        # Only a writer that bypasses the append lock gets here: its rows won.
                        existing.update(self._existing_ids({(r.source, r.source_id) for r in taken.rows}))
                        ids, new, fresh = split_batch(rows, existing)
                        fresh = [r for r in fresh if r.id not in kept_out]
                        for index, event_id in enumerate(ids):
                            if event_id in kept_out:
                                ids[index], new[index] = None, False
                if fresh:
                    self._index_funding(fresh)
                    self._index_consents(fresh)
                    if route is not None:
                        targets = route(fresh, self._funders_for, self._consent_decisions)
                        outbox = [
                            (seqs[r.id], sink, route_name)
                            for r, pairs in zip(fresh, targets)
                            for sink, route_name in pairs
                        ]
                        if outbox:
                            now = time.time()
                            seq_col, sink_col, route_col = (list(c) for c in zip(*outbox))
                            conn.execute(
                                "INSERT INTO outbox (event_seq, sink, route, created_at, next_attempt_at) "
                                "SELECT s, k, r, %s, %s FROM unnest(%s::bigint[], %s::text[], %s::text[]) "
                                "WITH ORDINALITY AS t(s, k, r, ord) ORDER BY ord",
                                (now, now, seq_col, sink_col, route_col),
                            )
                        outbox_rows = len(outbox)
            if source_cursor is not None:
                self._save_cursor(*source_cursor)
            if rejects:
                self._insert_rows("rejects", ("source", "stage", "source_id", "error", "payload"),
                                  [(r.source, r.stage, r.source_id, r.error, r.payload) for r in rejects],
                                  created_at=time.time())
        return IngestResult(ids, new, outbox_rows, len(rejects), withheld)

    def _store_resolution(self, resolution) -> None:
        now = time.time()
        if resolution.new_learners:
            self._insert_rows("learners", ("id", "name", "email"), resolution.new_learners, created_at=now)
        if resolution.new_keys:
            self._insert_rows("learner_keys", ("key", "learner_id", "origin"), resolution.new_keys, created_at=now,
                              on_conflict="ON CONFLICT DO NOTHING")
        if resolution.conflicts:
            self._insert_rows(
                "learner_conflicts", ("event_id", "keys", "learners", "reason"),
                [(c.event_id, json.dumps(c.keys), json.dumps(c.learners), c.reason) for c in resolution.conflicts],
                created_at=now,
            )

    def _insert_rows(self, table: str, columns: tuple[str, ...], rows: list[tuple], *, created_at: float,
                     on_conflict: str = "") -> None:
        """Insert ``rows`` (text values of ``columns``) stamped ``created_at``, in input order, in one statement."""
        names = ", ".join(columns)
        arrays = ", ".join(["%s::text[]"] * len(columns))
        self.conn.execute(
            f"INSERT INTO {table} ({names}, created_at) SELECT {names}, %s FROM unnest({arrays}) "
            f"WITH ORDINALITY AS t({names}, ord) ORDER BY ord {on_conflict}",
            (created_at, *(list(column) for column in zip(*rows))),
        )

    def _lock_append(self) -> None:
        """Serialise appends (and learner-registry changes) of this schema until the transaction ends."""
        self.conn.execute(f"SELECT pg_advisory_xact_lock(%s, {_SCHEMA_KEY})", (LOCK_APPEND,))

    def _insert_events(self, fresh: list[EventRow]) -> dict[str, int]:
        """Insert ``fresh`` with the next seqs in input order; return {event id: seq} of the rows stored.

        Seqs are ``max(seq) + 1 …`` under the append lock rather than a sequence, whose values a
        rolled-back transaction would burn: the ledger's blocks cover contiguous seq ranges.
        """
        columns = ", ".join(EVENT_COLUMNS)
        arrays = ", ".join(f"%s::{t}[]" for t in _EVENT_TYPES)
        params = [[getattr(r, c) for r in fresh] for c in EVENT_COLUMNS]
        cur = self.conn.execute(
            f"INSERT INTO events (seq, {columns}) "
            f"SELECT (SELECT coalesce(max(seq), 0) FROM events) + ord, {columns} FROM unnest({arrays}) "
            f"WITH ORDINALITY AS t({columns}, ord) "
            f"ON CONFLICT (source, source_id) DO NOTHING RETURNING id, seq",
            params,
        )
        return {r["id"]: r["seq"] for r in cur}

    def _existing_ids(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        if not keys:
            return {}
        sources, source_ids = (list(c) for c in zip(*keys))
        cur = self.conn.execute(
            "SELECT e.source, e.source_id, e.id FROM events e "
            "JOIN unnest(%s::text[], %s::text[]) AS k(source, source_id) "
            "ON e.source = k.source AND e.source_id = k.source_id",
            (sources, source_ids),
        )
        return {(r["source"], r["source_id"]): r["id"] for r in cur}

    def _index_funding(self, rows: list[EventRow]) -> None:
        funding = sorted(
            {
                (row.learner_key, row.action, json.loads(row.data)["funder"]): row.id
                for row in reversed(rows)  # the first event of a key wins, as with INSERT OR IGNORE
                if row.type == "funding.approved" and row.learner_key and row.action
            }.items()
        )
        if funding:
            self.conn.execute(
                "INSERT INTO funding (learner_key, action, funder, event_id) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
                "ON CONFLICT DO NOTHING",
                (
                    [k[0] for k, _ in funding],
                    [k[1] for k, _ in funding],
                    [k[2] for k, _ in funding],
                    [event_id for _, event_id in funding],
                ),
            )

    def _funders_for(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
        pairs = list(set(pairs))
        out: dict[tuple[str, str], set[str]] = {}
        if not pairs:
            return out
        cur = self.conn.execute(
            "SELECT f.learner_key, f.action, f.funder FROM funding f "
            "JOIN unnest(%s::text[], %s::text[]) AS p(learner_key, action) "
            "ON f.learner_key = p.learner_key AND f.action = p.action",
            ([p[0] for p in pairs], [p[1] for p in pairs]),
        )
        for r in cur:
            out.setdefault((r["learner_key"], r["action"]), set()).add(r["funder"])
        return out

    # ------------------------------------------------------------------ delivery
    def claim(self, sink, *, limit, now, owner, lease_seconds) -> list[Claimed]:
        with self.conn.transaction():
            # Walk the index in order and stop at ``limit``, whatever the statistics say: stale ones (a
            # drain changes the table faster than autovacuum analyses it) made the planner read every
            # waiting row through a bitmap and sort them, once per claim (quadratic drain again).
            self.conn.execute("SET LOCAL enable_bitmapscan = off")
            self.conn.execute("SET LOCAL enable_seqscan = off")
            rows = self._claim_rows(sink, limit=limit, now=now, owner=owner, lease_seconds=lease_seconds)
        return [Claimed(r["oid"], sink, r["route"], r["attempts"], r["ocreated"], event_dict(r)) for r in rows]

    def _claim_rows(self, sink, *, limit, now, owner, lease_seconds) -> list[dict]:
        return self.conn.execute(
            """
            WITH pending AS (
                -- two walks of outbox_claim (sink, state, id) in id order, each skipping rows another
                -- claimer holds: one OR walked the primary key past every delivered row, so each claim
                -- slowed down as the drain went on (quadratic drain)
                SELECT id FROM outbox WHERE sink = %(sink)s AND state = 'pending' AND next_attempt_at + 0 <= %(now)s
                ORDER BY sink, state, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
            ), expired AS (
                SELECT id FROM outbox WHERE sink = %(sink)s AND state = 'inflight' AND lease_until < %(now)s
                ORDER BY sink, state, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
            ), picked AS (
                SELECT id FROM (SELECT id FROM pending UNION ALL SELECT id FROM expired) c ORDER BY id LIMIT %(limit)s
            ), claimed AS (
                UPDATE outbox o SET state = 'inflight', lease_owner = %(owner)s, lease_until = %(until)s
                FROM picked WHERE o.id = picked.id
                RETURNING o.id AS oid, o.route, o.attempts, o.created_at AS ocreated, o.event_seq
            )
            SELECT c.oid, c.route, c.attempts, c.ocreated, e.*
            FROM claimed c JOIN events e ON e.seq = c.event_seq ORDER BY c.oid
            """,
            {"sink": sink, "now": now, "limit": limit, "owner": owner, "until": now + lease_seconds},
        ).fetchall()

    # ------------------------------------------------------------------ journeys (projections)
    def load_journeys(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        if not keys:
            return {}
        cur = self.conn.execute(
            "SELECT j.learner_id, j.action, j.state FROM journeys j "
            "JOIN unnest(%s::text[], %s::text[]) AS k(learner_id, action) "
            "ON j.learner_id = k.learner_id AND j.action = k.action",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        return {(r["learner_id"], r["action"]): json.loads(r["state"]) for r in cur}

    def save_journeys(self, states: dict[tuple[str, str], dict[str, Any]], last_seq: int, name: str = "journeys") -> None:
        conn = self.conn
        with conn.transaction():
            if states:
                conn.execute(
                    "INSERT INTO journeys (learner_id, action, state, updated_seq) "
                    "SELECT l, a, s, %s FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(l, a, s) "
                    "ON CONFLICT (learner_id, action) DO UPDATE SET state = excluded.state, "
                    "updated_seq = excluded.updated_seq",
                    (
                        last_seq,
                        [k[0] for k in states],
                        [k[1] for k in states],
                        [json.dumps(v, ensure_ascii=False) for v in states.values()],
                    ),
                )
                for table in ("journey_figures", "journey_flags"):  # computed from the former state: no longer its own
                    conn.execute(
                        f"DELETE FROM {table} f USING unnest(%s::text[], %s::text[]) AS k(l, a) "
                        "WHERE f.learner_id = k.l AND f.action = k.a",
                        ([k[0] for k in states], [k[1] for k in states]),
                    )
            conn.execute(
                "INSERT INTO projections (name, last_seq) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET last_seq = greatest(projections.last_seq, excluded.last_seq)",
                (name, last_seq),
            )

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[None]:
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield


@functools.lru_cache(maxsize=512)
def _psycopg_sql(sql: str) -> str:
    """The shared SQL's ``?`` placeholders as psycopg's ``%s``."""
    return sql.replace("?", "%s")


class _KeysTaken(Exception):
    def __init__(self, rows: list[EventRow]):
        self.rows = rows
