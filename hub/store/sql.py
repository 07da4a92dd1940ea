"""What the SQLite and PostgreSQL stores share: every method whose SQL is the same in both.

A :class:`SqlStore` writes its SQL with ``?`` placeholders and reaches the database only through
a few dialect hooks (executing, transactions, lists of values, text order); ``SQLiteStore`` and
``PostgresStore`` implement them and keep only what really differs: the schema and migrations,
ingest, claiming deliveries, bulk journey writes and snapshots.
"""

from __future__ import annotations

import abc
import json
from typing import Any, ContextManager, Iterable, Iterator, Sequence

from hub.learners import key_kind
from hub.store.base import (
    event_dict,
    paged_events,
    DeadLetter,
    EventRow,
    RejectRow,
    SinkState,
    SourceState,
    Store,
)
from hub.ulid import new_ulid


class SqlStore(Store):
    """The shared methods of the SQL stores, written once over the dialect hooks below."""

    #: Appended to a text column in ORDER BY so that it sorts byte by byte in either database.
    binary_order: str = ""
    #: Most values one ``_in`` list may hold in a look-up that can grow with a batch (None: any).
    in_chunk: int | None = None

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
    def _in(self, column: str, values: Sequence[Any], sql_type: str = "text") -> tuple[str, list[Any]]:
        """The condition "``column`` is one of ``values``" and its parameters."""

    @abc.abstractmethod
    def _store_resolution(self, resolution: Any) -> None:
        """Insert what the learner resolver created: learners, keys, conflicts (ingest path)."""

    def _rows_in(self, sql: str, column: str, values: Sequence[Any]) -> Iterator[Any]:
        """Rows of ``sql`` whose ``{}`` is "``column`` is one of ``values``", in chunks if need be."""
        size = self.in_chunk or max(len(values), 1)
        for start in range(0, len(values), size):
            condition, params = self._in(column, values[start : start + size])
            yield from self._execute(sql.format(condition), params)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ reading the ledger
    def get_event(self, event_id: str) -> dict[str, Any] | None:
        row = self._execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return event_dict(row) if row else None

    def iter_events(self, *, after_seq: int = 0, batch: int = 1000, types=None, limit=None) -> Iterator[dict[str, Any]]:
        type_filter, type_params = self._in("type", list(types)) if types else ("", [])
        sql = f"SELECT * FROM events WHERE seq > ?{' AND ' + type_filter if types else ''} ORDER BY seq LIMIT ?"
        return paged_events(lambda last, size: self._execute(sql, [last, *type_params, size]).fetchall(),
                            after_seq=after_seq, batch=batch, limit=limit)

    def count_events(self) -> int:
        return self._execute("SELECT count(*) AS n FROM events").fetchone()["n"]

    def max_seq(self) -> int:
        return self._execute("SELECT coalesce(max(seq), 0) AS m FROM events").fetchone()["m"]

    # ------------------------------------------------------------------ sealed blocks
    _BLOCK_COLUMNS = 'idx AS "index", first_seq, last_seq, count, root, prev_hash, sealed_at, hash, anchor'

    def last_block(self) -> dict[str, Any] | None:
        row = self._execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks ORDER BY idx DESC LIMIT 1").fetchone()
        return dict(row) if row else None

    def add_block(self, block: dict[str, Any], leaves: bytes) -> None:
        with self._write():
            self._execute(
                "INSERT INTO blocks (idx, first_seq, last_seq, count, root, prev_hash, sealed_at, hash, leaves) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (block["index"], block["first_seq"], block["last_seq"], block["count"], block["root"],
                 block["prev_hash"], block["sealed_at"], block["hash"], leaves),
            )

    def iter_blocks(self) -> Iterator[dict[str, Any]]:
        for row in self._execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks ORDER BY idx").fetchall():
            yield dict(row)

    def block_for_seq(self, seq: int) -> dict[str, Any] | None:
        row = self._execute(
            f"SELECT {self._BLOCK_COLUMNS} FROM blocks WHERE last_seq >= ? ORDER BY last_seq LIMIT 1", (seq,)
        ).fetchone()
        return dict(row) if row and row["first_seq"] <= seq else None

    def block_leaves(self, index: int) -> bytes | None:
        row = self._execute("SELECT leaves FROM blocks WHERE idx = ?", (index,)).fetchone()
        return bytes(row["leaves"]) if row and row["leaves"] is not None else None

    def set_block_anchor(self, index: int, anchor: str) -> bool:
        with self._write():
            cur = self._execute("UPDATE blocks SET anchor = ? WHERE idx = ? AND anchor IS NULL", (anchor, index))
        return cur.rowcount == 1

    # ------------------------------------------------------------------ journeys (projections)
    def projection_cursor(self, name: str = "journeys") -> int:
        row = self._execute("SELECT last_seq FROM projections WHERE name = ?", (name,)).fetchone()
        return row["last_seq"] if row else 0

    def journeys(self, *, action: str | None = None, learner_id: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if action:
            where.append("action = ?")
            params.append(action)
        if learner_id:
            where.append("learner_id = ?")
            params.append(self.canonical_learner(learner_id))
        sql = ("SELECT state FROM journeys" + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY action{self.binary_order}, learner_id{self.binary_order}")
        return [json.loads(r["state"]) for r in self._execute(sql, params)]

    def journeys_page(self, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        where = "WHERE (learner_id, action) > (?, ?) " if after else ""
        rows = self._execute(f"SELECT state FROM journeys {where}ORDER BY learner_id, action LIMIT ?",
                             [*(after or ()), limit])
        return [json.loads(r["state"]) for r in rows]

    def reset_journeys(self, learner_ids: list[str] | None = None, name: str = "journeys") -> None:
        """Forget projected journeys (all, or those of ``learner_ids``) before re-projecting them."""
        with self._transaction():
            if learner_ids is None:
                self._execute("DELETE FROM journeys")
                self._execute("DELETE FROM projections WHERE name = ?", (name,))
            elif learner_ids:
                condition, params = self._in("learner_id", learner_ids)
                self._execute(f"DELETE FROM journeys WHERE {condition}", params)

    def events_of_learners(self, learner_ids: list[str], *, until_seq: int) -> list[dict[str, Any]]:
        if not learner_ids:
            return []
        condition, params = self._in("learner_id", learner_ids)
        return [event_dict(r) for r in self._execute(
            f"SELECT * FROM events WHERE {condition} AND seq <= ? ORDER BY seq", [*params, until_seq])]

    def event_learner_ids(self) -> list[str]:
        return [r["learner_id"] for r in self._execute(
            f"SELECT DISTINCT learner_id{self.binary_order} AS learner_id FROM events WHERE learner_id IS NOT NULL "
            "ORDER BY 1")]

    # ------------------------------------------------------------------ sources and sinks
    def source_state(self, name: str) -> SourceState:
        row = self._execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        return self._source(row) if row else SourceState(name)

    def all_source_states(self) -> list[SourceState]:
        return [self._source(r) for r in self._execute("SELECT * FROM sources ORDER BY name")]

    @staticmethod
    def _source(row: Any) -> SourceState:
        return SourceState(
            row["name"],
            json.loads(row["cursor"]) if row["cursor"] is not None else None,
            row["last_pull_at"],
            row["last_success_at"],
            row["last_error"],
            bool(row["healthy"]),
        )

    def _save_cursor(self, name: str, cursor: Any) -> None:
        """Store source ``name``'s cursor (JSON): part of the ingest transaction that read up to it."""
        self._execute("INSERT INTO sources (name, cursor) VALUES (?, ?) "
                      "ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor", (name, json.dumps(cursor)))

    def record_pull(self, name: str, *, ok: bool, error: str | None, at: float) -> None:
        with self._write():
            self._execute(
                "INSERT INTO sources (name, last_pull_at, last_success_at, last_error, healthy) VALUES (?,?,?,?,?) "
                "ON CONFLICT (name) DO UPDATE SET last_pull_at = excluded.last_pull_at, "
                "last_success_at = coalesce(excluded.last_success_at, sources.last_success_at), "
                "last_error = excluded.last_error, healthy = excluded.healthy",
                (name, at, at if ok else None, error, ok),
            )

    def sink_state(self, name: str) -> SinkState:
        row = self._execute("SELECT * FROM sinks WHERE name = ?", (name,)).fetchone()
        if row is None:
            return SinkState(name)
        return SinkState(name, row["consecutive_failures"], row["paused_until"], row["last_error"])

    def save_sink_state(self, state: SinkState) -> None:
        with self._write():
            self._execute(
                "INSERT INTO sinks (name, consecutive_failures, paused_until, last_error) VALUES (?,?,?,?) "
                "ON CONFLICT (name) DO UPDATE SET consecutive_failures = excluded.consecutive_failures, "
                "paused_until = excluded.paused_until, last_error = excluded.last_error",
                (state.name, state.consecutive_failures, state.paused_until, state.last_error),
            )

    # ------------------------------------------------------------------ delivery outcomes
    def _update_outbox(self, assignments: str, params: list[Any], outbox_ids: list[int], where: str = "") -> None:
        """``UPDATE outbox SET assignments`` on the rows ``outbox_ids`` (and ``where``), in one write."""
        if not outbox_ids:
            return
        condition, id_params = self._in("id", outbox_ids, "bigint")
        with self._write():
            self._execute(f"UPDATE outbox SET {assignments} WHERE {where}{condition}", [*params, *id_params])

    def mark_delivered(self, outbox_ids: list[int], *, at: float) -> None:
        self._update_outbox(
            "state = 'delivered', delivered_at = ?, last_attempt_at = ?, attempts = attempts + 1, "
            "lease_owner = NULL, lease_until = NULL, last_error = NULL",
            [at, at], outbox_ids,
        )

    def mark_failed(self, outbox_ids, *, error, at, retry_at, stage="deliver") -> None:
        state = "pending" if retry_at is not None else "dead"
        self._update_outbox(
            "state = ?, attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = coalesce(?, next_attempt_at), "
            "last_error = ?, lease_owner = NULL, lease_until = NULL",
            [state, at, retry_at, f"{stage}: {error}"], outbox_ids,
        )

    def release(self, outbox_ids: list[int]) -> None:
        self._update_outbox("state = 'pending', lease_owner = NULL, lease_until = NULL", [], outbox_ids,
                            where="state = 'inflight' AND ")

    def lease_owners(self) -> list[str]:
        return [r["lease_owner"] for r in self._execute(
            "SELECT DISTINCT lease_owner FROM outbox WHERE state = 'inflight' AND lease_owner IS NOT NULL")]

    def release_owner(self, owner: str) -> int:
        with self._write():
            return self._execute(
                "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL "
                "WHERE state = 'inflight' AND lease_owner = ?", (owner,)).rowcount

    def next_due(self, sink: str) -> float | None:
        return self._execute(
            "SELECT min(next_attempt_at) AS due FROM outbox WHERE sink = ? AND state = 'pending'", (sink,)
        ).fetchone()["due"]

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        return {
            (r["sink"], r["state"]): r["n"]
            for r in self._execute("SELECT sink, state, count(*) AS n FROM outbox GROUP BY sink, state")
        }

    # ------------------------------------------------------------------ dead letters and rejects
    def dead_letters(self, *, sink=None, source=None, limit=100) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        if source is None:
            where, params = self._where("o.state = 'dead'", "o.sink", sink)
            for r in self._execute(
                f"SELECT o.*, e.id AS eid, e.source AS esource FROM outbox o JOIN events e ON e.seq = o.event_seq "
                f"WHERE {where} ORDER BY o.id LIMIT ?",
                [*params, limit],
            ):
                out.append(DeadLetter(f"o:{r['id']}", "deliver", r["esource"], r["sink"], r["eid"],
                                      r["last_error"], r["attempts"], r["created_at"], r["last_attempt_at"]))
        if sink is None and len(out) < limit:  # ``limit`` bounds the whole list, not each half
            where, params = self._where("replayed_at IS NULL", "source", source)
            for r in self._execute(
                f"SELECT * FROM rejects WHERE {where} ORDER BY id LIMIT ?", [*params, limit - len(out)]
            ):
                out.append(DeadLetter(f"r:{r['id']}", r["stage"], r["source"], None, None, r["error"], 0,
                                      r["created_at"], r["created_at"], json.loads(r["payload"])))
        return out

    def _where(self, where: str, column: str, value: Any, ids: list[int] | None = None) -> tuple[str, list[Any]]:
        """``where``, narrowed to ``column = value`` when ``value`` is given and to the rows ``ids``
        when they are given; with its parameters."""
        params: list[Any] = []
        if value:
            where += f" AND {column} = ?"
            params.append(value)
        if ids is not None:
            condition, id_params = self._in("id", ids, "bigint")
            where += f" AND {condition}"
            params.extend(id_params)
        return where, params

    def dead_letter_counts(self) -> dict[str, int]:
        counts = {"map": 0, "validate": 0, "deliver": 0}
        for r in self._execute("SELECT stage, count(*) AS n FROM rejects WHERE replayed_at IS NULL GROUP BY stage"):
            counts[r["stage"]] = r["n"]
        counts["deliver"] = self._execute("SELECT count(*) AS n FROM outbox WHERE state = 'dead'").fetchone()["n"]
        return counts

    def requeue_dead(self, *, sink=None, outbox_ids=None, at) -> int:
        if outbox_ids is not None and not outbox_ids:
            return 0
        where, params = self._where("state = 'dead'", "sink", sink, outbox_ids)
        with self._write():
            return self._execute(
                f"UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, created_at = ? WHERE {where}",
                [at, at, *params],
            ).rowcount

    def take_rejects(self, *, source=None, reject_ids=None) -> list[tuple[int, RejectRow]]:
        if reject_ids is not None and not reject_ids:
            return []
        where, params = self._where("replayed_at IS NULL", "source", source, reject_ids)
        return [
            (r["id"], RejectRow(r["source"], r["stage"], r["error"], r["payload"], r["source_id"]))
            for r in self._execute(f"SELECT * FROM rejects WHERE {where} ORDER BY id", params)
        ]

    def mark_rejects_replayed(self, reject_ids, *, at, error=None) -> None:
        if not reject_ids:
            return
        condition, params = self._in("id", reject_ids, "bigint")
        with self._write():
            if error is None:
                self._execute(f"UPDATE rejects SET replayed_at = ?, replay_error = NULL WHERE {condition}", [at, *params])
            else:
                self._execute(f"UPDATE rejects SET replay_error = ? WHERE {condition}", [error, *params])

    # ------------------------------------------------------------------ learner registry
    def _resolve_learners(self, rows: list[EventRow], resolver) -> None:
        """Link ``rows`` to learners (creating learners, keys and conflicts): part of ingest."""
        resolution = resolver.resolve(
            [(r.id, r.source, r.learner_ref if r.learner_ref is not None else (json.loads(r.learner) if r.learner else None))
             for r in rows],
            self._key_owners, self._learner_kinds, self._separations,
        )
        self._store_resolution(resolution)
        for row, learner_id in zip(rows, resolution.learner_ids):
            row.learner_id = learner_id
            if learner_id is not None:
                row.learner_key = learner_id

    def _key_owners(self, keys: list[str]) -> dict[str, str]:
        return {r["key"]: r["learner_id"]
                for r in self._rows_in("SELECT key, learner_id FROM learner_keys WHERE {}", "key", keys)}

    def _learner_kinds(self, learner_ids: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for r in self._rows_in("SELECT key, learner_id FROM learner_keys WHERE {}", "learner_id", learner_ids):
            kind = key_kind(r["key"])
            if kind != "email":
                out.setdefault(r["learner_id"], {})[kind] = r["key"]
        return out

    def _separations(self, learner_ids: list[str]) -> set[frozenset[str]]:
        """Pairs not to report (again): kept apart by an admin, or already in an open conflict."""
        pairs = {frozenset((r["a"], r["b"]))
                 for r in self._rows_in("SELECT a, b FROM learner_separations WHERE {}", "a", learner_ids)}
        wanted = set(learner_ids)
        for r in self._execute("SELECT learners FROM learner_conflicts WHERE resolved_at IS NULL"):
            ids = json.loads(r["learners"])
            if wanted & set(ids):
                pairs.update(frozenset((a, b)) for a in ids for b in ids if a != b)
        return pairs

    def learner_conflicts(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        where = "WHERE resolved_at IS NULL" if open_only else ""
        return [
            {"id": r["id"], "event_id": r["event_id"], "keys": json.loads(r["keys"]), "learners": json.loads(r["learners"]),
             "reason": r["reason"], "created_at": r["created_at"], "resolved_at": r["resolved_at"],
             "resolution": r["resolution"]}
            for r in self._execute(f"SELECT * FROM learner_conflicts {where} ORDER BY id")
        ]

    def learner(self, learner_id: str) -> dict[str, Any] | None:
        learner_id = self.canonical_learner(learner_id)
        row = self._execute("SELECT * FROM learners WHERE id = ?", (learner_id,)).fetchone()
        if row is None:
            return None
        keys = [r["key"] for r in self._execute(
            f"SELECT key FROM learner_keys WHERE learner_id = ? ORDER BY key{self.binary_order}", (learner_id,))]
        return {"id": learner_id, "name": row["name"], "email": row["email"], "keys": keys,
                "merged": self.learner_aliases(learner_id)}

    def learner_aliases(self, learner_id: str) -> list[str]:
        return [r["alias"] for r in self._execute(
            f"SELECT alias FROM learner_aliases WHERE learner_id = ? ORDER BY alias{self.binary_order}", (learner_id,))]

    def learner_by_key(self, key: str) -> str | None:
        row = self._execute("SELECT learner_id FROM learner_keys WHERE key = ?", (key,)).fetchone()
        return row["learner_id"] if row else None

    def canonical_learner(self, learner_id: str) -> str:
        row = self._execute("SELECT learner_id FROM learner_aliases WHERE alias = ?", (learner_id,)).fetchone()
        return row["learner_id"] if row else learner_id

    def resolve_learner_conflict(self, conflict_id: int, *, merge_into: str | None, at: float) -> dict[str, Any]:
        with self._registry_transaction():
            row = self._execute("SELECT * FROM learner_conflicts WHERE id = ?", (conflict_id,)).fetchone()
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
                self._executemany("INSERT INTO learner_separations (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                  [(a, b) for a in learners for b in learners if a != b])
                resolution = "kept apart"
            self._execute("UPDATE learner_conflicts SET resolved_at = ?, resolution = ? WHERE id = ?",
                          (at, resolution, conflict_id))
        return {"id": conflict_id, "learners": learners, "resolution": resolution}

    def _merge_learner(self, other: str, target: str) -> None:
        self._execute("UPDATE learner_keys SET learner_id = ? WHERE learner_id = ?", (target, other))
        self._execute("UPDATE learner_aliases SET learner_id = ? WHERE learner_id = ?", (target, other))
        self._execute("INSERT INTO learner_aliases (alias, learner_id) VALUES (?, ?) "
                      "ON CONFLICT (alias) DO UPDATE SET learner_id = excluded.learner_id", (other, target))
        # Move the funding rows the target does not have already (the others stay behind).
        self._execute(
            "UPDATE funding SET learner_key = ? WHERE learner_key = ? AND NOT EXISTS (SELECT 1 FROM funding g "
            "WHERE g.learner_key = ? AND g.action = funding.action AND g.funder = funding.funder)",
            (target, other, target),
        )

    def apply_learner_mapping(self, groups: dict[str, list[str]], *, at: float) -> list[str]:
        changes: list[str] = []
        with self._registry_transaction():
            for label, keys in groups.items():
                keys = [f"map:{label}", *keys]
                owners = {k: self.canonical_learner(l) for k, l in self._key_owners(keys).items()}
                distinct = list(dict.fromkeys(owners[k] for k in keys if k in owners))
                if distinct:
                    target = distinct[0]
                else:
                    target = new_ulid()
                    self._execute("INSERT INTO learners (id, name, email, created_at) VALUES (?,?,?,?)",
                                  (target, label, None, at))
                for other in distinct[1:]:
                    self._merge_learner(other, target)
                    changes.append(f"{label}: merged {other} into {target}")
                for key in keys:
                    if key not in owners:
                        self._execute("INSERT INTO learner_keys (key, learner_id, origin, created_at) VALUES (?,?,?,?)",
                                      (key, target, "mapping", at))
                        if not key.startswith("map:"):
                            changes.append(f"{label}: linked {key}")
        return changes

    # ------------------------------------------------------------------ job runs and leases
    def claim_job_run(self, key: str, *, owner: str, at: float) -> bool:
        with self._write():
            return self._execute("INSERT INTO job_runs (key, owner, started_at) VALUES (?,?,?) "
                                 "ON CONFLICT (key) DO NOTHING", (key, owner, at)).rowcount == 1

    def release_job_run(self, key: str, *, owner: str) -> None:
        with self._write():
            self._execute("DELETE FROM job_runs WHERE key = ? AND owner = ?", (key, owner))

    def finish_job_run(self, key: str, *, owner: str, at: float) -> None:
        with self._write():
            self._execute("UPDATE job_runs SET finished_at = ? WHERE key = ? AND owner = ?", (at, key, owner))

    def job_run(self, key: str) -> dict[str, Any] | None:
        row = self._execute("SELECT key, owner, started_at, finished_at FROM job_runs WHERE key = ?", (key,)).fetchone()
        return dict(row) if row else None

    def take_over_job_run(self, key: str, *, previous: str, owner: str, at: float) -> bool:
        with self._write():
            return self._execute(
                "UPDATE job_runs SET owner = ?, started_at = ? WHERE key = ? AND owner = ? AND finished_at IS NULL",
                (owner, at, key, previous)).rowcount == 1

    def acquire_lease(self, name, owner, *, ttl, now) -> bool:
        # One upsert whose WHERE lets only the same owner renew, or anyone take an expired lease:
        # atomic on its own, so concurrent daemons get one winner without an explicit lock.
        with self._write():
            return self._execute(
                "INSERT INTO leases AS l (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE l.owner = excluded.owner OR l.expires_at <= ?",
                (name, owner, now + ttl, now)).rowcount == 1

    def lease_holder(self, name, *, now) -> str | None:
        row = self._execute("SELECT owner FROM leases WHERE name = ? AND expires_at > ?", (name, now)).fetchone()
        return row["owner"] if row else None

    def release_lease(self, name, owner) -> None:
        with self._write():
            self._execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))
