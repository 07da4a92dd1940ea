"""The embedded store: one SQLite file in WAL mode."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

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

EVENT_COLUMNS = (
    "id, type, occurred_us, received_at, source, source_id, learner, learner_key, "
    "action, data, evidence, supersedes"
)

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            type TEXT NOT NULL,
            occurred_us INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            learner TEXT,
            learner_key TEXT,
            action TEXT,
            data TEXT NOT NULL,
            evidence TEXT,
            supersedes TEXT
        );
        CREATE UNIQUE INDEX events_id ON events(id);
        CREATE UNIQUE INDEX events_source_key ON events(source, source_id);

        CREATE TABLE funding (
            learner_key TEXT NOT NULL,
            action TEXT NOT NULL,
            funder TEXT NOT NULL,
            event_id TEXT NOT NULL,
            PRIMARY KEY (learner_key, action, funder)
        ) WITHOUT ROWID;

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            event_seq INTEGER NOT NULL REFERENCES events(seq),
            sink TEXT NOT NULL,
            route TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            next_attempt_at REAL NOT NULL,
            lease_owner TEXT,
            lease_until REAL,
            last_attempt_at REAL,
            delivered_at REAL,
            last_error TEXT
        );
        CREATE INDEX outbox_due ON outbox(sink, state, next_attempt_at);

        CREATE TABLE rejects (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            stage TEXT NOT NULL,
            source_id TEXT,
            error TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at REAL NOT NULL,
            replayed_at REAL,
            replay_error TEXT
        );
        CREATE INDEX rejects_open ON rejects(source, replayed_at);

        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            cursor TEXT,
            last_pull_at REAL,
            last_success_at REAL,
            last_error TEXT,
            healthy INTEGER NOT NULL DEFAULT 1
        );

        CREATE TABLE sinks (
            name TEXT PRIMARY KEY,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            paused_until REAL,
            last_error TEXT
        );

        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires_at REAL NOT NULL
        );
        """,
    ),
    (
        2,
        """
        ALTER TABLE events ADD COLUMN learner_id TEXT;
        CREATE INDEX events_learner ON events(learner_id, action);

        CREATE TABLE learners (
            id TEXT PRIMARY KEY,
            name TEXT,
            email TEXT,
            created_at REAL NOT NULL
        );
        CREATE TABLE learner_keys (
            key TEXT PRIMARY KEY,
            learner_id TEXT NOT NULL,
            origin TEXT NOT NULL,
            created_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX learner_keys_learner ON learner_keys(learner_id);
        CREATE TABLE learner_aliases (
            alias TEXT PRIMARY KEY,
            learner_id TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE learner_separations (
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
        CREATE TABLE learner_conflicts (
            id INTEGER PRIMARY KEY,
            event_id TEXT,
            keys TEXT NOT NULL,
            learners TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at REAL NOT NULL,
            resolved_at REAL,
            resolution TEXT
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE blocks (
            idx INTEGER PRIMARY KEY,
            first_seq INTEGER NOT NULL,
            last_seq INTEGER NOT NULL,
            count INTEGER NOT NULL,
            root TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            sealed_at TEXT NOT NULL,
            hash TEXT NOT NULL,
            leaves BLOB,
            anchor TEXT
        );
        CREATE UNIQUE INDEX blocks_last_seq ON blocks(last_seq);
        """,
    ),
    (
        4,
        """
        CREATE TABLE journeys (
            learner_id TEXT NOT NULL,
            action TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_seq INTEGER NOT NULL,
            PRIMARY KEY (learner_id, action)
        ) WITHOUT ROWID;
        CREATE INDEX journeys_action ON journeys(action);
        CREATE TABLE projections (
            name TEXT PRIMARY KEY,
            last_seq INTEGER NOT NULL
        );
        """,
    ),
    (
        5,
        """
        CREATE TABLE job_runs (
            key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            started_at REAL NOT NULL
        );
        """,
    ),
    (
        6,
        """
        CREATE INDEX events_type ON events(type, seq);
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
        ALTER TABLE job_runs ADD COLUMN finished_at REAL;  -- a claim without it: the run did not finish
        """,
    ),
]


class SQLiteStore(Store):
    """SQLite in WAL mode. ``synchronous=full`` (default) makes every commit durable on power loss."""

    def __init__(self, path: str | Path, *, synchronous: str = "full"):
        super().__init__()
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None

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

    def _tx(self):
        return _Transaction(self.conn)

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> list[int]:
        conn = self.conn
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        done = []
        for version, sql in MIGRATIONS:
            if version in applied:
                continue
            with self._tx():
                # Re-check under the write lock: another process may have applied it meanwhile.
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
            done.append(version)
        return done

    def schema_version(self) -> int:
        try:
            row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:
            return 0
        return row[0] or 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ ingest
    def ingest(self, rows, route, *, source_cursor=None, rejects=(), learners=None) -> IngestResult:
        conn = self.conn
        with self._tx():
            ids, new, fresh = split_batch(rows, self._existing_ids(rows))
            outbox_rows = 0
            if fresh:
                if learners is not None:
                    self._resolve_learners(fresh, learners)
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
                if route is not None:
                    targets = route(fresh, self._funders_for)
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
                name, cursor = source_cursor
                conn.execute(
                    "INSERT INTO sources (name, cursor) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET cursor = excluded.cursor",
                    (name, json.dumps(cursor)),
                )
            if rejects:
                now = time.time()
                conn.executemany(
                    "INSERT INTO rejects (source, stage, source_id, error, payload, created_at) VALUES (?,?,?,?,?,?)",
                    [(r.source, r.stage, r.source_id, r.error, r.payload, now) for r in rejects],
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
        for row, learner_id in zip(rows, resolution.learner_ids):
            row.learner_id = learner_id
            if learner_id is not None:
                row.learner_key = learner_id

    def _in_chunks(self, sql: str, values: list, size: int = 500):
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            yield from self.conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

    def _key_owners(self, keys: list[str]) -> dict[str, str]:
        return {k: l for k, l in self._in_chunks("SELECT key, learner_id FROM learner_keys WHERE key IN ({marks})", keys)}

    def _learner_kinds(self, learner_ids: list[str]) -> dict[str, dict[str, str]]:
        from hub.learners import key_kind

        out: dict[str, dict[str, str]] = {}
        for key, learner in self._in_chunks(
            "SELECT key, learner_id FROM learner_keys WHERE learner_id IN ({marks})", learner_ids
        ):
            kind = key_kind(key)
            if kind != "email":
                out.setdefault(learner, {})[kind] = key
        return out

    def _separations(self, learner_ids: list[str]) -> set[frozenset[str]]:
        """Pairs not to report (again): kept apart by an admin, or already in an open conflict."""
        pairs = {frozenset((a, b)) for a, b in self._in_chunks(
            "SELECT a, b FROM learner_separations WHERE a IN ({marks})", learner_ids)}
        wanted = set(learner_ids)
        for (learners,) in self.conn.execute("SELECT learners FROM learner_conflicts WHERE resolved_at IS NULL"):
            ids = json.loads(learners)
            if wanted & set(ids):
                pairs.update(frozenset((a, b)) for a in ids for b in ids if a != b)
        return pairs

    def learner_conflicts(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        where = "WHERE resolved_at IS NULL" if open_only else ""
        return [
            {"id": r["id"], "event_id": r["event_id"], "keys": json.loads(r["keys"]), "learners": json.loads(r["learners"]),
             "reason": r["reason"], "created_at": r["created_at"], "resolved_at": r["resolved_at"],
             "resolution": r["resolution"]}
            for r in self.conn.execute(f"SELECT * FROM learner_conflicts {where} ORDER BY id")
        ]

    def learner(self, learner_id: str) -> dict[str, Any] | None:
        learner_id = self.canonical_learner(learner_id)
        row = self.conn.execute("SELECT * FROM learners WHERE id = ?", (learner_id,)).fetchone()
        if row is None:
            return None
        keys = [r[0] for r in self.conn.execute("SELECT key FROM learner_keys WHERE learner_id = ? ORDER BY key", (learner_id,))]
        aliases = [r[0] for r in self.conn.execute("SELECT alias FROM learner_aliases WHERE learner_id = ?", (learner_id,))]
        return {"id": learner_id, "name": row["name"], "email": row["email"], "keys": keys, "merged": aliases}

    def learner_by_key(self, key: str) -> str | None:
        row = self.conn.execute("SELECT learner_id FROM learner_keys WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def canonical_learner(self, learner_id: str) -> str:
        row = self.conn.execute("SELECT learner_id FROM learner_aliases WHERE alias = ?", (learner_id,)).fetchone()
        return row[0] if row else learner_id

    def resolve_learner_conflict(self, conflict_id: int, *, merge_into: str | None, at: float) -> dict[str, Any]:
        with self._tx():
            row = self.conn.execute("SELECT * FROM learner_conflicts WHERE id = ?", (conflict_id,)).fetchone()
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
                for a in learners:
                    for b in learners:
                        if a != b:
                            self.conn.execute("INSERT OR IGNORE INTO learner_separations (a, b) VALUES (?, ?)", (a, b))
                resolution = "kept apart"
            self.conn.execute("UPDATE learner_conflicts SET resolved_at = ?, resolution = ? WHERE id = ?",
                              (at, resolution, conflict_id))
        return {"id": conflict_id, "learners": learners, "resolution": resolution}

    def _merge_learner(self, other: str, target: str) -> None:
        conn = self.conn
        conn.execute("UPDATE learner_keys SET learner_id = ? WHERE learner_id = ?", (target, other))
        conn.execute("UPDATE learner_aliases SET learner_id = ? WHERE learner_id = ?", (target, other))
        conn.execute("INSERT OR REPLACE INTO learner_aliases (alias, learner_id) VALUES (?, ?)", (other, target))
        conn.execute("UPDATE OR IGNORE funding SET learner_key = ? WHERE learner_key = ?", (target, other))

    def apply_learner_mapping(self, groups: dict[str, list[str]], *, at: float) -> list[str]:
        from hub.ulid import new_ulid

        changes: list[str] = []
        with self._tx():
            for label, keys in groups.items():
                keys = [f"map:{label}", *keys]
                owners = {k: self.canonical_learner(l) for k, l in self._key_owners(keys).items()}
                distinct = list(dict.fromkeys(owners[k] for k in keys if k in owners))
                if distinct:
                    target = distinct[0]
                else:
                    target = new_ulid()
                    self.conn.execute("INSERT INTO learners (id, name, email, created_at) VALUES (?,?,?,?)",
                                      (target, label, None, at))
                for other in distinct[1:]:
                    self._merge_learner(other, target)
                    changes.append(f"{label}: merged {other} into {target}")
                for key in keys:
                    if key not in owners:
                        self.conn.execute("INSERT INTO learner_keys (key, learner_id, origin, created_at) VALUES (?,?,?,?)",
                                          (key, target, "mapping", at))
                        if not key.startswith("map:"):
                            changes.append(f"{label}: linked {key}")
        return changes

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

    # ------------------------------------------------------------------ reading
    def get_event(self, event_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return _event_dict(row) if row else None

    def iter_events(self, *, after_seq: int = 0, batch: int = 1000, types=None, limit=None) -> Iterator[dict[str, Any]]:
        type_filter = f" AND type IN ({','.join('?' * len(types))})" if types else ""
        params = list(types or [])
        sql = f"SELECT * FROM events WHERE seq > ?{type_filter} ORDER BY seq LIMIT ?"
        return paged_events(lambda last, size: self.conn.execute(sql, [last, *params, size]).fetchall(),
                            after_seq=after_seq, batch=batch, limit=limit)

    def count_events(self) -> int:
        return self.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    # ------------------------------------------------------------------ sealed blocks
    _BLOCK_COLUMNS = "idx AS \"index\", first_seq, last_seq, count, root, prev_hash, sealed_at, hash, anchor"

    def last_block(self) -> dict[str, Any] | None:
        row = self.conn.execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks ORDER BY idx DESC LIMIT 1").fetchone()
        return dict(row) if row else None

    def add_block(self, block: dict[str, Any], leaves: bytes) -> None:
        with self._tx():
            self.conn.execute(
                "INSERT INTO blocks (idx, first_seq, last_seq, count, root, prev_hash, sealed_at, hash, leaves) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (block["index"], block["first_seq"], block["last_seq"], block["count"], block["root"],
                 block["prev_hash"], block["sealed_at"], block["hash"], leaves),
            )

    def iter_blocks(self) -> Iterator[dict[str, Any]]:
        for row in self.conn.execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks ORDER BY idx").fetchall():
            yield dict(row)

    def block_for_seq(self, seq: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {self._BLOCK_COLUMNS} FROM blocks WHERE last_seq >= ? ORDER BY last_seq LIMIT 1", (seq,)
        ).fetchone()
        return dict(row) if row and row["first_seq"] <= seq else None

    def block_leaves(self, index: int) -> bytes | None:
        row = self.conn.execute("SELECT leaves FROM blocks WHERE idx = ?", (index,)).fetchone()
        return row[0] if row else None

    def set_block_anchor(self, index: int, anchor: str) -> bool:
        with self._tx():
            cur = self.conn.execute("UPDATE blocks SET anchor = ? WHERE idx = ? AND anchor IS NULL", (anchor, index))
        return cur.rowcount == 1

    # ------------------------------------------------------------------ journeys (projections)
    def projection_cursor(self, name: str = "journeys") -> int:
        row = self.conn.execute("SELECT last_seq FROM projections WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

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
            self.conn.execute(
                "INSERT INTO projections (name, last_seq) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last_seq = max(projections.last_seq, excluded.last_seq)",
                (name, last_seq),
            )

    def journeys(self, *, action: str | None = None, learner_id: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if action:
            where.append("action = ?")
            params.append(action)
        if learner_id:
            where.append("learner_id = ?")
            params.append(self.canonical_learner(learner_id))
        sql = "SELECT state FROM journeys" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY action, learner_id"
        return [json.loads(r[0]) for r in self.conn.execute(sql, params)]

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[None]:
        self.conn.execute("BEGIN")  # deferred: the WAL snapshot is taken at the first read
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def journeys_page(self, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        where = "WHERE (learner_id, action) > (?, ?) " if after else ""
        rows = self.conn.execute(f"SELECT state FROM journeys {where}ORDER BY learner_id, action LIMIT ?",
                                 [*(after or ()), limit])
        return [json.loads(r[0]) for r in rows]

    def reset_journeys(self, learner_ids: list[str] | None = None, name: str = "journeys") -> None:
        """Forget projected journeys (all, or those of ``learner_ids``) before re-projecting them."""
        with self._tx():
            if learner_ids is None:
                self.conn.execute("DELETE FROM journeys")
                self.conn.execute("DELETE FROM projections WHERE name = ?", (name,))
            else:
                self.conn.executemany("DELETE FROM journeys WHERE learner_id = ?", [(i,) for i in learner_ids])

    def events_of_learners(self, learner_ids: list[str], *, until_seq: int) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(learner_ids))
        return [_event_dict(r) for r in self.conn.execute(
            f"SELECT * FROM events WHERE learner_id IN ({marks}) AND seq <= ? ORDER BY seq", [*learner_ids, until_seq])]

    def event_learner_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT learner_id FROM events WHERE learner_id IS NOT NULL ORDER BY learner_id")]

    def max_seq(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def learner_aliases(self, learner_id: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT alias FROM learner_aliases WHERE learner_id = ?", (learner_id,))]

    # ------------------------------------------------------------------ sources
    def source_state(self, name: str) -> SourceState:
        row = self.conn.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        return self._source(row) if row else SourceState(name)

    def all_source_states(self) -> list[SourceState]:
        return [self._source(r) for r in self.conn.execute("SELECT * FROM sources ORDER BY name")]

    @staticmethod
    def _source(row: sqlite3.Row) -> SourceState:
        return SourceState(
            row["name"],
            json.loads(row["cursor"]) if row["cursor"] is not None else None,
            row["last_pull_at"],
            row["last_success_at"],
            row["last_error"],
            bool(row["healthy"]),
        )

    def record_pull(self, name: str, *, ok: bool, error: str | None, at: float) -> None:
        with self._tx():
            self.conn.execute(
                "INSERT INTO sources (name, last_pull_at, last_success_at, last_error, healthy) VALUES (?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET last_pull_at = excluded.last_pull_at, "
                "last_success_at = coalesce(excluded.last_success_at, sources.last_success_at), "
                "last_error = excluded.last_error, healthy = excluded.healthy",
                (name, at, at if ok else None, error, int(ok)),
            )

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
        return [Claimed(r["oid"], sink, r["route"], r["attempts"], r["ocreated"], _event_dict(r)) for r in rows]

    def mark_delivered(self, outbox_ids: list[int], *, at: float) -> None:
        if not outbox_ids:
            return
        with self._tx():
            self.conn.execute(
                f"UPDATE outbox SET state = 'delivered', delivered_at = ?, last_attempt_at = ?, "
                f"attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, last_error = NULL "
                f"WHERE id IN ({','.join('?' * len(outbox_ids))})",
                [at, at, *outbox_ids],
            )

    def mark_failed(self, outbox_ids, *, error, at, retry_at, stage="deliver") -> None:
        if not outbox_ids:
            return
        state = "pending" if retry_at is not None else "dead"
        with self._tx():
            self.conn.execute(
                f"UPDATE outbox SET state = ?, attempts = attempts + 1, last_attempt_at = ?, "
                f"next_attempt_at = coalesce(?, next_attempt_at), last_error = ?, lease_owner = NULL, lease_until = NULL "
                f"WHERE id IN ({','.join('?' * len(outbox_ids))})",
                [state, at, retry_at, f"{stage}: {error}", *outbox_ids],
            )

    def release(self, outbox_ids: list[int]) -> None:
        if not outbox_ids:
            return
        with self._tx():
            self.conn.execute(
                f"UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL "
                f"WHERE state = 'inflight' AND id IN ({','.join('?' * len(outbox_ids))})",
                outbox_ids,
            )

    def lease_owners(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT lease_owner FROM outbox WHERE state = 'inflight' AND lease_owner IS NOT NULL")]

    def release_owner(self, owner: str) -> int:
        with self._tx():
            return self.conn.execute(
                "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL "
                "WHERE state = 'inflight' AND lease_owner = ?", (owner,)).rowcount

    def next_due(self, sink: str) -> float | None:
        row = self.conn.execute(
            "SELECT min(next_attempt_at) FROM outbox WHERE sink = ? AND state = 'pending'", (sink,)
        ).fetchone()
        return row[0]

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        return {
            (sink, state): n
            for sink, state, n in self.conn.execute("SELECT sink, state, count(*) FROM outbox GROUP BY sink, state")
        }

    def sink_state(self, name: str) -> SinkState:
        row = self.conn.execute("SELECT * FROM sinks WHERE name = ?", (name,)).fetchone()
        if row is None:
            return SinkState(name)
        return SinkState(name, row["consecutive_failures"], row["paused_until"], row["last_error"])

    def save_sink_state(self, state: SinkState) -> None:
        with self._tx():
            self.conn.execute(
                "INSERT INTO sinks (name, consecutive_failures, paused_until, last_error) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET consecutive_failures = excluded.consecutive_failures, "
                "paused_until = excluded.paused_until, last_error = excluded.last_error",
                (state.name, state.consecutive_failures, state.paused_until, state.last_error),
            )

    # ------------------------------------------------------------------ dead letters
    def dead_letters(self, *, sink=None, source=None, limit=100) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        if source is None:
            params: list[Any] = []
            where = "o.state = 'dead'"
            if sink:
                where += " AND o.sink = ?"
                params.append(sink)
            for r in self.conn.execute(
                f"SELECT o.*, e.id AS eid, e.source AS esource FROM outbox o JOIN events e ON e.seq = o.event_seq "
                f"WHERE {where} ORDER BY o.id LIMIT ?",
                [*params, limit],
            ):
                out.append(DeadLetter(f"o:{r['id']}", "deliver", r["esource"], r["sink"], r["eid"],
                                      r["last_error"], r["attempts"], r["created_at"], r["last_attempt_at"]))
        if sink is None and len(out) < limit:  # ``limit`` bounds the whole list, not each half
            params = []
            where = "replayed_at IS NULL"
            if source:
                where += " AND source = ?"
                params.append(source)
            for r in self.conn.execute(
                f"SELECT * FROM rejects WHERE {where} ORDER BY id LIMIT ?", [*params, limit - len(out)]
            ):
                out.append(DeadLetter(f"r:{r['id']}", r["stage"], r["source"], None, None, r["error"], 0,
                                      r["created_at"], r["created_at"], json.loads(r["payload"])))
        return out

    def dead_letter_counts(self) -> dict[str, int]:
        counts = {"map": 0, "validate": 0, "deliver": 0}
        for stage, n in self.conn.execute(
            "SELECT stage, count(*) FROM rejects WHERE replayed_at IS NULL GROUP BY stage"
        ):
            counts[stage] = n
        counts["deliver"] = self.conn.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
        return counts

    def requeue_dead(self, *, sink=None, outbox_ids=None, at) -> int:
        where = "state = 'dead'"
        params: list[Any] = []
        if sink:
            where += " AND sink = ?"
            params.append(sink)
        if outbox_ids is not None:
            if not outbox_ids:
                return 0
            where += f" AND id IN ({','.join('?' * len(outbox_ids))})"
            params.extend(outbox_ids)
        with self._tx():
            cur = self.conn.execute(
                f"UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, created_at = ? WHERE {where}",
                [at, at, *params],
            )
            return cur.rowcount

    def take_rejects(self, *, source=None, reject_ids=None) -> list[tuple[int, RejectRow]]:
        where = "replayed_at IS NULL"
        params: list[Any] = []
        if source:
            where += " AND source = ?"
            params.append(source)
        if reject_ids is not None:
            if not reject_ids:
                return []
            where += f" AND id IN ({','.join('?' * len(reject_ids))})"
            params.extend(reject_ids)
        return [
            (r["id"], RejectRow(r["source"], r["stage"], r["error"], r["payload"], r["source_id"]))
            for r in self.conn.execute(f"SELECT * FROM rejects WHERE {where} ORDER BY id", params)
        ]

    def mark_rejects_replayed(self, reject_ids, *, at, error=None) -> None:
        if not reject_ids:
            return
        with self._tx():
            if error is None:
                self.conn.execute(
                    f"UPDATE rejects SET replayed_at = ?, replay_error = NULL WHERE id IN ({','.join('?' * len(reject_ids))})",
                    [at, *reject_ids],
                )
            else:
                self.conn.execute(
                    f"UPDATE rejects SET replay_error = ? WHERE id IN ({','.join('?' * len(reject_ids))})",
                    [error, *reject_ids],
                )

    def claim_job_run(self, key: str, *, owner: str, at: float) -> bool:
        with self._tx():
            return self.conn.execute("INSERT OR IGNORE INTO job_runs (key, owner, started_at) VALUES (?,?,?)",
                                     (key, owner, at)).rowcount == 1

    def release_job_run(self, key: str, *, owner: str) -> None:
        with self._tx():
            self.conn.execute("DELETE FROM job_runs WHERE key = ? AND owner = ?", (key, owner))

    def finish_job_run(self, key: str, *, owner: str, at: float) -> None:
        with self._tx():
            self.conn.execute("UPDATE job_runs SET finished_at = ? WHERE key = ? AND owner = ?", (at, key, owner))

    def job_run(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT key, owner, started_at, finished_at FROM job_runs WHERE key = ?", (key,)).fetchone()
        return dict(row) if row else None

    def take_over_job_run(self, key: str, *, previous: str, owner: str, at: float) -> bool:
        with self._tx():
            return self.conn.execute(
                "UPDATE job_runs SET owner = ?, started_at = ? WHERE key = ? AND owner = ? AND finished_at IS NULL",
                (owner, at, key, previous)).rowcount == 1

    # ------------------------------------------------------------------ leases
    def acquire_lease(self, name, owner, *, ttl, now) -> bool:
        with self._tx():
            row = self.conn.execute("SELECT owner, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row["owner"] != owner and row["expires_at"] > now:
                return False
            self.conn.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
                (name, owner, now + ttl),
            )
            return True

    def lease_holder(self, name, *, now) -> str | None:
        row = self.conn.execute("SELECT owner FROM leases WHERE name = ? AND expires_at > ?", (name, now)).fetchone()
        return row[0] if row else None

    def release_lease(self, name, owner) -> None:
        with self._tx():
            self.conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


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
