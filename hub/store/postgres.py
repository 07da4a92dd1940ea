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
- ``acquire_lease`` is one upsert whose ``WHERE`` only lets the same owner renew or anyone
  take an expired lease.

JSON columns are ``text``: what was stored is read back byte for byte (``jsonb`` would reorder
keys, drop duplicates and refuse ``\\u0000``), exactly as in SQLite.

One connection in autocommit mode: single-statement reads and writes are atomic on their own
(and a read never leaves the connection idle in a transaction); multi-statement work runs in
explicit ``conn.transaction()`` blocks. A broken connection is replaced on the next call.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Iterable, Iterator

import psycopg
from psycopg.rows import dict_row

from hub.store.base import (
    event_dict as _event_dict,
    paged_events,
    split_batch,
    Claimed,
    DeadLetter,
    EventRow,
    IngestResult,
    RejectRow,
    SinkState,
    SourceState,
    Store,
)

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

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE events (
            seq bigint PRIMARY KEY,  -- max + 1 under the append lock: gap-free, like SQLite
            id text NOT NULL,
            type text NOT NULL,
            occurred_us bigint NOT NULL,
            received_at text NOT NULL,
            source text NOT NULL,
            source_id text NOT NULL,
            learner text,
            learner_key text,
            action text,
            data text NOT NULL,
            evidence text,
            supersedes text
        );
        CREATE UNIQUE INDEX events_id ON events(id);
        CREATE UNIQUE INDEX events_source_key ON events(source, source_id);
        CREATE INDEX events_type_seq ON events(type, seq);

        CREATE TABLE funding (
            learner_key text NOT NULL,
            action text NOT NULL,
            funder text NOT NULL,
            event_id text NOT NULL,
            PRIMARY KEY (learner_key, action, funder)
        );

        CREATE TABLE outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_seq bigint NOT NULL REFERENCES events(seq),
            sink text NOT NULL,
            route text NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            created_at double precision NOT NULL,
            next_attempt_at double precision NOT NULL,
            lease_owner text,
            lease_until double precision,
            last_attempt_at double precision,
            delivered_at double precision,
            last_error text
        );
        CREATE INDEX outbox_due ON outbox(sink, state, next_attempt_at);
        CREATE INDEX outbox_event ON outbox(event_seq);

        CREATE TABLE rejects (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source text NOT NULL,
            stage text NOT NULL,
            source_id text,
            error text NOT NULL,
            payload text NOT NULL,
            created_at double precision NOT NULL,
            replayed_at double precision,
            replay_error text
        );
        CREATE INDEX rejects_open ON rejects(source, replayed_at);

        CREATE TABLE sources (
            name text PRIMARY KEY,
            cursor text,
            last_pull_at double precision,
            last_success_at double precision,
            last_error text,
            healthy boolean NOT NULL DEFAULT true
        );

        CREATE TABLE sinks (
            name text PRIMARY KEY,
            consecutive_failures integer NOT NULL DEFAULT 0,
            paused_until double precision,
            last_error text
        );

        CREATE TABLE leases (
            name text PRIMARY KEY,
            owner text NOT NULL,
            expires_at double precision NOT NULL
        );
        """,
    ),
    (
        2,
        """
        ALTER TABLE events ADD COLUMN learner_id text;
        CREATE INDEX events_learner ON events(learner_id, action);

        CREATE TABLE learners (
            id text PRIMARY KEY,
            name text,
            email text,
            created_at double precision NOT NULL
        );
        CREATE TABLE learner_keys (
            key text PRIMARY KEY,
            learner_id text NOT NULL,
            origin text NOT NULL,
            created_at double precision NOT NULL
        );
        CREATE INDEX learner_keys_learner ON learner_keys(learner_id);
        CREATE TABLE learner_aliases (
            alias text PRIMARY KEY,
            learner_id text NOT NULL
        );
        CREATE TABLE learner_separations (
            a text NOT NULL,
            b text NOT NULL,
            PRIMARY KEY (a, b)
        );
        CREATE TABLE learner_conflicts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id text,
            keys text NOT NULL,
            learners text NOT NULL,
            reason text NOT NULL,
            created_at double precision NOT NULL,
            resolved_at double precision,
            resolution text
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE blocks (
            idx bigint PRIMARY KEY,
            first_seq bigint NOT NULL,
            last_seq bigint NOT NULL,
            count integer NOT NULL,
            root text NOT NULL,
            prev_hash text NOT NULL,
            sealed_at text NOT NULL,
            hash text NOT NULL,
            leaves bytea,
            anchor text
        );
        CREATE UNIQUE INDEX blocks_last_seq ON blocks(last_seq);
        """,
    ),
    (
        4,
        """
        CREATE TABLE journeys (
            learner_id text NOT NULL,
            action text NOT NULL,
            state text NOT NULL,
            updated_seq bigint NOT NULL,
            PRIMARY KEY (learner_id, action)
        );
        CREATE INDEX journeys_action ON journeys(action);
        CREATE TABLE projections (
            name text PRIMARY KEY,
            last_seq bigint NOT NULL
        );
        """,
    ),
    (
        5,
        """
        CREATE TABLE job_runs (
            key text PRIMARY KEY,
            owner text NOT NULL,
            started_at double precision NOT NULL
        );
        """,
    ),
    (
        6,
        """
        SELECT 1;  -- events(type, seq) is indexed since migration 1 (events_type_seq)
        """,
    ),
    (
        7,
        """
        CREATE INDEX outbox_claim ON outbox(sink, state, id);
        """,
    ),
    (
        8,
        """
        ALTER TABLE job_runs ADD COLUMN finished_at double precision;  -- a claim without it: the run did not finish
        """,
    ),
]


class PostgresStore(Store):
    """PostgreSQL store; ``url`` is any libpq connection string (``postgresql://…``)."""

    def __init__(self, url: str, *, connect_timeout: int = 10):
        super().__init__()
        self.url = url
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=self._connect_timeout
            )
        return self._conn

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
            for version, sql in MIGRATIONS:
                if version in applied:
                    continue
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, time.time()))
                done.append(version)
        return done

    def schema_version(self) -> int:
        conn = self.conn
        if conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()["t"] is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").fetchone()["v"]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ ingest
    def ingest(self, rows, route, *, source_cursor=None, rejects=(), learners=None) -> IngestResult:
        conn = self.conn
        ids: list[str] = []
        new: list[bool] = []
        outbox_rows = 0
        with conn.transaction():
            if rows:
                self._lock_append()
                existing = self._existing_ids({(r.source, r.source_id) for r in rows})
                ids, new, fresh = split_batch(rows, existing)
                seqs: dict[str, int] = {}
                if fresh and learners is not None:
                    self._resolve_learners(fresh, learners)
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
                if fresh:
                    self._index_funding(fresh)
                    if route is not None:
                        targets = route(fresh, self._funders_for)
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
                name, cursor = source_cursor
                conn.execute(
                    "INSERT INTO sources (name, cursor) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor",
                    (name, json.dumps(cursor)),
                )
            if rejects:
                conn.execute(
                    "INSERT INTO rejects (source, stage, source_id, error, payload, created_at) "
                    "SELECT so, st, si, er, pa, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) "
                    "WITH ORDINALITY AS t(so, st, si, er, pa, ord) ORDER BY ord",
                    (
                        time.time(),
                        [r.source for r in rejects],
                        [r.stage for r in rejects],
                        [r.source_id for r in rejects],
                        [r.error for r in rejects],
                        [r.payload for r in rejects],
                    ),
                )
        return IngestResult(ids, new, outbox_rows, len(rejects))

    # ------------------------------------------------------------------ learners
    def _resolve_learners(self, rows: list[EventRow], resolver) -> None:
        conn = self.conn
        resolution = resolver.resolve(
            [(r.id, r.source, r.learner_ref if r.learner_ref is not None else (json.loads(r.learner) if r.learner else None))
             for r in rows],
            self._key_owners, self._learner_kinds, self._separations,
        )
        now = time.time()
        if resolution.new_learners:
            conn.execute(
                "INSERT INTO learners (id, name, email, created_at) "
                "SELECT i, n, e, %s FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(i, n, e)",
                (now, *(list(c) for c in zip(*resolution.new_learners))),
            )
        if resolution.new_keys:
            conn.execute(
                "INSERT INTO learner_keys (key, learner_id, origin, created_at) "
                "SELECT k, l, o, %s FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS t(k, l, o, ord) "
                "ORDER BY ord ON CONFLICT DO NOTHING",
                (now, *(list(c) for c in zip(*resolution.new_keys))),
            )
        if resolution.conflicts:
            conn.execute(
                "INSERT INTO learner_conflicts (event_id, keys, learners, reason, created_at) "
                "SELECT ev, k, l, r, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
                "WITH ORDINALITY AS t(ev, k, l, r, ord) ORDER BY ord",
                (
                    now,
                    [c.event_id for c in resolution.conflicts],
                    [json.dumps(c.keys) for c in resolution.conflicts],
                    [json.dumps(c.learners) for c in resolution.conflicts],
                    [c.reason for c in resolution.conflicts],
                ),
            )
        for row, learner_id in zip(rows, resolution.learner_ids):
            row.learner_id = learner_id
            if learner_id is not None:
                row.learner_key = learner_id

    def _key_owners(self, keys: list[str]) -> dict[str, str]:
        if not keys:
            return {}
        return {r["key"]: r["learner_id"] for r in self.conn.execute(
            "SELECT key, learner_id FROM learner_keys WHERE key = ANY(%s::text[])", (list(keys),))}

    def _learner_kinds(self, learner_ids: list[str]) -> dict[str, dict[str, str]]:
        from hub.learners import key_kind

        out: dict[str, dict[str, str]] = {}
        if not learner_ids:
            return out
        for r in self.conn.execute(
            "SELECT key, learner_id FROM learner_keys WHERE learner_id = ANY(%s::text[])", (list(learner_ids),)
        ):
            kind = key_kind(r["key"])
            if kind != "email":
                out.setdefault(r["learner_id"], {})[kind] = r["key"]
        return out

    def _separations(self, learner_ids: list[str]) -> set[frozenset[str]]:
        """Pairs not to report (again): kept apart by an admin, or already in an open conflict."""
        pairs: set[frozenset[str]] = set()
        if learner_ids:
            pairs = {frozenset((r["a"], r["b"])) for r in self.conn.execute(
                "SELECT a, b FROM learner_separations WHERE a = ANY(%s::text[])", (list(learner_ids),))}
        wanted = set(learner_ids)
        for r in self.conn.execute("SELECT learners FROM learner_conflicts WHERE resolved_at IS NULL"):
            ids = json.loads(r["learners"])
            if wanted & set(ids):
                pairs.update(frozenset((a, b)) for a in ids for b in ids if a != b)
        return pairs

    def learner_conflicts(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        where = "WHERE resolved_at IS NULL" if open_only else ""
        return [
            {"id": r["id"], "event_id": r["event_id"], "keys": json.loads(r["keys"]),
             "learners": json.loads(r["learners"]), "reason": r["reason"], "created_at": r["created_at"],
             "resolved_at": r["resolved_at"], "resolution": r["resolution"]}
            for r in self.conn.execute(f"SELECT * FROM learner_conflicts {where} ORDER BY id")
        ]

    def learner(self, learner_id: str) -> dict[str, Any] | None:
        learner_id = self.canonical_learner(learner_id)
        row = self.conn.execute("SELECT * FROM learners WHERE id = %s", (learner_id,)).fetchone()
        if row is None:
            return None
        keys = [r["key"] for r in self.conn.execute(
            "SELECT key FROM learner_keys WHERE learner_id = %s ORDER BY key COLLATE \"C\"", (learner_id,))]
        aliases = [r["alias"] for r in self.conn.execute(
            "SELECT alias FROM learner_aliases WHERE learner_id = %s ORDER BY alias COLLATE \"C\"", (learner_id,))]
        return {"id": learner_id, "name": row["name"], "email": row["email"], "keys": keys, "merged": aliases}

    def learner_by_key(self, key: str) -> str | None:
        row = self.conn.execute("SELECT learner_id FROM learner_keys WHERE key = %s", (key,)).fetchone()
        return row["learner_id"] if row else None

    def canonical_learner(self, learner_id: str) -> str:
        row = self.conn.execute("SELECT learner_id FROM learner_aliases WHERE alias = %s", (learner_id,)).fetchone()
        return row["learner_id"] if row else learner_id

    def resolve_learner_conflict(self, conflict_id: int, *, merge_into: str | None, at: float) -> dict[str, Any]:
        conn = self.conn
        with conn.transaction():
            self._lock_append()
            row = conn.execute("SELECT * FROM learner_conflicts WHERE id = %s", (conflict_id,)).fetchone()
            if row is None or row["resolved_at"] is not None:
                raise KeyError(conflict_id)
            learners = list(dict.fromkeys(self.canonical_learner(l) for l in json.loads(row["learners"])))
            if merge_into is not None:
                target = self.canonical_learner(merge_into)
                if target not in learners:
                    raise ValueError(f"{merge_into} is not one of the conflict's learners ({', '.join(learners)})")
                for other in learners:
                    if other != target:
                        self._merge_learner(other, target)
                resolution = f"merged into {target}"
            else:
                pairs = [(a, b) for a in learners for b in learners if a != b]
                if pairs:
                    conn.execute(
                        "INSERT INTO learner_separations (a, b) SELECT * FROM unnest(%s::text[], %s::text[]) "
                        "ON CONFLICT DO NOTHING",
                        ([a for a, _ in pairs], [b for _, b in pairs]),
                    )
                resolution = "kept apart"
            conn.execute("UPDATE learner_conflicts SET resolved_at = %s, resolution = %s WHERE id = %s",
                         (at, resolution, conflict_id))
        return {"id": conflict_id, "learners": learners, "resolution": resolution}

    def _merge_learner(self, other: str, target: str) -> None:
        conn = self.conn
        conn.execute("UPDATE learner_keys SET learner_id = %s WHERE learner_id = %s", (target, other))
        conn.execute("UPDATE learner_aliases SET learner_id = %s WHERE learner_id = %s", (target, other))
        conn.execute(
            "INSERT INTO learner_aliases (alias, learner_id) VALUES (%s, %s) "
            "ON CONFLICT (alias) DO UPDATE SET learner_id = excluded.learner_id",
            (other, target),
        )
        # SQLite's UPDATE OR IGNORE: move the funding rows the target does not have already.
        conn.execute(
            "UPDATE funding f SET learner_key = %(t)s WHERE f.learner_key = %(o)s AND NOT EXISTS "
            "(SELECT 1 FROM funding g WHERE g.learner_key = %(t)s AND g.action = f.action AND g.funder = f.funder)",
            {"t": target, "o": other},
        )

    def apply_learner_mapping(self, groups: dict[str, list[str]], *, at: float) -> list[str]:
        from hub.ulid import new_ulid

        conn = self.conn
        changes: list[str] = []
        with conn.transaction():
            self._lock_append()
            for label, keys in groups.items():
                keys = [f"map:{label}", *keys]
                owners = {k: self.canonical_learner(l) for k, l in self._key_owners(keys).items()}
                distinct = list(dict.fromkeys(owners[k] for k in keys if k in owners))
                if distinct:
                    target = distinct[0]
                else:
                    target = new_ulid()
                    conn.execute("INSERT INTO learners (id, name, email, created_at) VALUES (%s, %s, %s, %s)",
                                 (target, label, None, at))
                for other in distinct[1:]:
                    self._merge_learner(other, target)
                    changes.append(f"{label}: merged {other} into {target}")
                for key in keys:
                    if key not in owners:
                        conn.execute(
                            "INSERT INTO learner_keys (key, learner_id, origin, created_at) VALUES (%s, %s, %s, %s)",
                            (key, target, "mapping", at),
                        )
                        if not key.startswith("map:"):
                            changes.append(f"{label}: linked {key}")
        return changes

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

    # ------------------------------------------------------------------ reading
    def get_event(self, event_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM events WHERE id = %s", (event_id,)).fetchone()
        return _event_dict(row) if row else None

    def iter_events(self, *, after_seq: int = 0, batch: int = 1000, types=None, limit=None) -> Iterator[dict[str, Any]]:
        type_filter = " AND type = ANY(%s::text[])" if types else ""
        extra: list[Any] = [list(types)] if types else []
        sql = f"SELECT * FROM events WHERE seq > %s{type_filter} ORDER BY seq LIMIT %s"
        return paged_events(lambda last, size: self.conn.execute(sql, [last, *extra, size]).fetchall(),
                            after_seq=after_seq, batch=batch, limit=limit)

    def count_events(self) -> int:
        return self.conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"]

    # ------------------------------------------------------------------ sealed blocks
    _BLOCK_COLUMNS = 'idx AS "index", first_seq, last_seq, count, root, prev_hash, sealed_at, hash, anchor'

    def last_block(self) -> dict[str, Any] | None:
        return self.conn.execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks ORDER BY idx DESC LIMIT 1").fetchone()

    def add_block(self, block: dict[str, Any], leaves: bytes) -> None:
        self.conn.execute(
            "INSERT INTO blocks (idx, first_seq, last_seq, count, root, prev_hash, sealed_at, hash, leaves) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (block["index"], block["first_seq"], block["last_seq"], block["count"], block["root"],
             block["prev_hash"], block["sealed_at"], block["hash"], leaves),
        )

    def iter_blocks(self) -> Iterator[dict[str, Any]]:
        yield from self.conn.execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks ORDER BY idx").fetchall()

    def block_for_seq(self, seq: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {self._BLOCK_COLUMNS} FROM blocks WHERE last_seq >= %s ORDER BY last_seq LIMIT 1", (seq,)
        ).fetchone()
        return row if row and row["first_seq"] <= seq else None

    def block_leaves(self, index: int) -> bytes | None:
        row = self.conn.execute("SELECT leaves FROM blocks WHERE idx = %s", (index,)).fetchone()
        return bytes(row["leaves"]) if row and row["leaves"] is not None else None

    def set_block_anchor(self, index: int, anchor: str) -> bool:
        cur = self.conn.execute("UPDATE blocks SET anchor = %s WHERE idx = %s AND anchor IS NULL", (anchor, index))
        return cur.rowcount == 1

    # ------------------------------------------------------------------ journeys (projections)
    def projection_cursor(self, name: str = "journeys") -> int:
        row = self.conn.execute("SELECT last_seq FROM projections WHERE name = %s", (name,)).fetchone()
        return row["last_seq"] if row else 0

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
            conn.execute(
                "INSERT INTO projections (name, last_seq) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET last_seq = greatest(projections.last_seq, excluded.last_seq)",
                (name, last_seq),
            )

    def journeys(self, *, action: str | None = None, learner_id: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if action:
            where.append("action = %s")
            params.append(action)
        if learner_id:
            where.append("learner_id = %s")
            params.append(self.canonical_learner(learner_id))
        sql = ("SELECT state FROM journeys" + (" WHERE " + " AND ".join(where) if where else "")
               + ' ORDER BY action COLLATE "C", learner_id COLLATE "C"')
        return [json.loads(r["state"]) for r in self.conn.execute(sql, params)]

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[None]:
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def journeys_page(self, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        where = "WHERE (learner_id, action) > (%s, %s) " if after else ""
        rows = self.conn.execute(f"SELECT state FROM journeys {where}ORDER BY learner_id, action LIMIT %s",
                                 [*(after or ()), limit])
        return [json.loads(r["state"]) for r in rows]

    def reset_journeys(self, learner_ids: list[str] | None = None, name: str = "journeys") -> None:
        """Forget projected journeys (all, or those of ``learner_ids``) before re-projecting them."""
        conn = self.conn
        with conn.transaction():
            if learner_ids is None:
                conn.execute("DELETE FROM journeys")
                conn.execute("DELETE FROM projections WHERE name = %s", (name,))
            elif learner_ids:
                conn.execute("DELETE FROM journeys WHERE learner_id = ANY(%s::text[])", (list(learner_ids),))

    def event_learner_ids(self) -> list[str]:
        return [r["learner_id"] for r in self.conn.execute(
            'SELECT DISTINCT learner_id COLLATE "C" AS learner_id FROM events WHERE learner_id IS NOT NULL '
            'ORDER BY 1')]

    def max_seq(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) AS m FROM events").fetchone()["m"]

    def events_of_learners(self, learner_ids: list[str], *, until_seq: int) -> list[dict[str, Any]]:
        if not learner_ids:
            return []
        return [_event_dict(r) for r in self.conn.execute(
            "SELECT * FROM events WHERE learner_id = ANY(%s::text[]) AND seq <= %s ORDER BY seq",
            (list(learner_ids), until_seq))]

    def learner_aliases(self, learner_id: str) -> list[str]:
        return [r["alias"] for r in self.conn.execute(
            'SELECT alias FROM learner_aliases WHERE learner_id = %s ORDER BY alias COLLATE "C"', (learner_id,))]

    # ------------------------------------------------------------------ sources
    def source_state(self, name: str) -> SourceState:
        row = self.conn.execute("SELECT * FROM sources WHERE name = %s", (name,)).fetchone()
        return self._source(row) if row else SourceState(name)

    def all_source_states(self) -> list[SourceState]:
        return [self._source(r) for r in self.conn.execute("SELECT * FROM sources ORDER BY name")]

    @staticmethod
    def _source(row: dict[str, Any]) -> SourceState:
        return SourceState(
            row["name"],
            json.loads(row["cursor"]) if row["cursor"] is not None else None,
            row["last_pull_at"],
            row["last_success_at"],
            row["last_error"],
            bool(row["healthy"]),
        )

    def record_pull(self, name: str, *, ok: bool, error: str | None, at: float) -> None:
        self.conn.execute(
            "INSERT INTO sources (name, last_pull_at, last_success_at, last_error, healthy) VALUES (%s,%s,%s,%s,%s) "
            "ON CONFLICT (name) DO UPDATE SET last_pull_at = excluded.last_pull_at, "
            "last_success_at = coalesce(excluded.last_success_at, sources.last_success_at), "
            "last_error = excluded.last_error, healthy = excluded.healthy",
            (name, at, at if ok else None, error, ok),
        )

    # ------------------------------------------------------------------ delivery
    def claim(self, sink, *, limit, now, owner, lease_seconds) -> list[Claimed]:
        rows = self.conn.execute(
            """
            WITH picked AS (
                SELECT id FROM outbox
                WHERE sink = %(sink)s AND ((state = 'pending' AND next_attempt_at <= %(now)s)
                                        OR (state = 'inflight' AND lease_until < %(now)s))
                ORDER BY id LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
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
        return [Claimed(r["oid"], sink, r["route"], r["attempts"], r["ocreated"], _event_dict(r)) for r in rows]

    def mark_delivered(self, outbox_ids: list[int], *, at: float) -> None:
        if not outbox_ids:
            return
        self.conn.execute(
            "UPDATE outbox SET state = 'delivered', delivered_at = %s, last_attempt_at = %s, "
            "attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, last_error = NULL "
            "WHERE id = ANY(%s::bigint[])",
            (at, at, list(outbox_ids)),
        )

    def mark_failed(self, outbox_ids, *, error, at, retry_at, stage="deliver") -> None:
        if not outbox_ids:
            return
        state = "pending" if retry_at is not None else "dead"
        self.conn.execute(
            "UPDATE outbox SET state = %s, attempts = attempts + 1, last_attempt_at = %s, "
            "next_attempt_at = coalesce(%s, next_attempt_at), last_error = %s, lease_owner = NULL, lease_until = NULL "
            "WHERE id = ANY(%s::bigint[])",
            (state, at, retry_at, f"{stage}: {error}", list(outbox_ids)),
        )

    def release(self, outbox_ids: list[int]) -> None:
        if not outbox_ids:
            return
        self.conn.execute(
            "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL "
            "WHERE state = 'inflight' AND id = ANY(%s::bigint[])",
            (list(outbox_ids),),
        )

    def lease_owners(self) -> list[str]:
        return [r["lease_owner"] for r in self.conn.execute(
            "SELECT DISTINCT lease_owner FROM outbox WHERE state = 'inflight' AND lease_owner IS NOT NULL")]

    def release_owner(self, owner: str) -> int:
        return self.conn.execute(
            "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL "
            "WHERE state = 'inflight' AND lease_owner = %s", (owner,)).rowcount

    def next_due(self, sink: str) -> float | None:
        return self.conn.execute(
            "SELECT min(next_attempt_at) AS due FROM outbox WHERE sink = %s AND state = 'pending'", (sink,)
        ).fetchone()["due"]

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        return {
            (r["sink"], r["state"]): r["n"]
            for r in self.conn.execute("SELECT sink, state, count(*) AS n FROM outbox GROUP BY sink, state")
        }

    def sink_state(self, name: str) -> SinkState:
        row = self.conn.execute("SELECT * FROM sinks WHERE name = %s", (name,)).fetchone()
        if row is None:
            return SinkState(name)
        return SinkState(name, row["consecutive_failures"], row["paused_until"], row["last_error"])

    def save_sink_state(self, state: SinkState) -> None:
        self.conn.execute(
            "INSERT INTO sinks (name, consecutive_failures, paused_until, last_error) VALUES (%s,%s,%s,%s) "
            "ON CONFLICT (name) DO UPDATE SET consecutive_failures = excluded.consecutive_failures, "
            "paused_until = excluded.paused_until, last_error = excluded.last_error",
            (state.name, state.consecutive_failures, state.paused_until, state.last_error),
        )

    # ------------------------------------------------------------------ dead letters
    def dead_letters(self, *, sink=None, source=None, limit=100) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        if source is None:
            where = "o.state = 'dead'"
            params: list[Any] = []
            if sink:
                where += " AND o.sink = %s"
                params.append(sink)
            for r in self.conn.execute(
                f"SELECT o.*, e.id AS eid, e.source AS esource FROM outbox o JOIN events e ON e.seq = o.event_seq "
                f"WHERE {where} ORDER BY o.id LIMIT %s",
                [*params, limit],
            ):
                out.append(DeadLetter(f"o:{r['id']}", "deliver", r["esource"], r["sink"], r["eid"],
                                      r["last_error"], r["attempts"], r["created_at"], r["last_attempt_at"]))
        if sink is None and len(out) < limit:
            where = "replayed_at IS NULL"
            params = []
            if source:
                where += " AND source = %s"
                params.append(source)
            for r in self.conn.execute(
                f"SELECT * FROM rejects WHERE {where} ORDER BY id LIMIT %s", [*params, limit - len(out)]
            ):
                out.append(DeadLetter(f"r:{r['id']}", r["stage"], r["source"], None, None, r["error"], 0,
                                      r["created_at"], r["created_at"], json.loads(r["payload"])))
        return out

    def dead_letter_counts(self) -> dict[str, int]:
        counts = {"map": 0, "validate": 0, "deliver": 0}
        for r in self.conn.execute(
            "SELECT stage, count(*) AS n FROM rejects WHERE replayed_at IS NULL GROUP BY stage"
        ):
            counts[r["stage"]] = r["n"]
        counts["deliver"] = self.conn.execute("SELECT count(*) AS n FROM outbox WHERE state = 'dead'").fetchone()["n"]
        return counts

    def requeue_dead(self, *, sink=None, outbox_ids=None, at) -> int:
        where = "state = 'dead'"
        params: list[Any] = [at, at]
        if sink:
            where += " AND sink = %s"
            params.append(sink)
        if outbox_ids is not None:
            if not outbox_ids:
                return 0
            where += " AND id = ANY(%s::bigint[])"
            params.append(list(outbox_ids))
        cur = self.conn.execute(
            f"UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = %s, created_at = %s WHERE {where}",
            params,
        )
        return cur.rowcount

    def take_rejects(self, *, source=None, reject_ids=None) -> list[tuple[int, RejectRow]]:
        where = "replayed_at IS NULL"
        params: list[Any] = []
        if source:
            where += " AND source = %s"
            params.append(source)
        if reject_ids is not None:
            if not reject_ids:
                return []
            where += " AND id = ANY(%s::bigint[])"
            params.append(list(reject_ids))
        return [
            (r["id"], RejectRow(r["source"], r["stage"], r["error"], r["payload"], r["source_id"]))
            for r in self.conn.execute(f"SELECT * FROM rejects WHERE {where} ORDER BY id", params)
        ]

    def mark_rejects_replayed(self, reject_ids, *, at, error=None) -> None:
        if not reject_ids:
            return
        if error is None:
            self.conn.execute(
                "UPDATE rejects SET replayed_at = %s, replay_error = NULL WHERE id = ANY(%s::bigint[])",
                (at, list(reject_ids)),
            )
        else:
            self.conn.execute(
                "UPDATE rejects SET replay_error = %s WHERE id = ANY(%s::bigint[])", (error, list(reject_ids))
            )

    # ------------------------------------------------------------------ leases
    def claim_job_run(self, key: str, *, owner: str, at: float) -> bool:
        row = self.conn.execute(
            "INSERT INTO job_runs (key, owner, started_at) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING RETURNING key",
            (key, owner, at),
        ).fetchone()
        return row is not None

    def release_job_run(self, key: str, *, owner: str) -> None:
        self.conn.execute("DELETE FROM job_runs WHERE key = %s AND owner = %s", (key, owner))

    def finish_job_run(self, key: str, *, owner: str, at: float) -> None:
        self.conn.execute("UPDATE job_runs SET finished_at = %s WHERE key = %s AND owner = %s", (at, key, owner))

    def job_run(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT key, owner, started_at, finished_at FROM job_runs WHERE key = %s", (key,)).fetchone()
        return dict(row) if row else None

    def take_over_job_run(self, key: str, *, previous: str, owner: str, at: float) -> bool:
        return self.conn.execute(
            "UPDATE job_runs SET owner = %s, started_at = %s WHERE key = %s AND owner = %s AND finished_at IS NULL "
            "RETURNING key", (owner, at, key, previous)).fetchone() is not None

    def acquire_lease(self, name, owner, *, ttl, now) -> bool:
        row = self.conn.execute(
            "INSERT INTO leases AS l (name, owner, expires_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
            "WHERE l.owner = excluded.owner OR l.expires_at <= %s "
            "RETURNING l.owner",
            (name, owner, now + ttl, now),
        ).fetchone()
        return row is not None

    def lease_holder(self, name, *, now) -> str | None:
        row = self.conn.execute(
            "SELECT owner FROM leases WHERE name = %s AND expires_at > %s", (name, now)
        ).fetchone()
        return row["owner"] if row else None

    def release_lease(self, name, owner) -> None:
        self.conn.execute("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))


class _KeysTaken(Exception):
    def __init__(self, rows: list[EventRow]):
        self.rows = rows
