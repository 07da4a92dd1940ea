"""What the SQLite and PostgreSQL stores share: every method whose SQL is the same in both.

Written once with ``?`` placeholders over the hooks of :class:`hub.store.dialect.SqlDialect`, by
concern: the learner registry (:mod:`hub.store.sql_learners`), the outbox and dead letters
(:mod:`hub.store.sql_outbox`), the web app's accounts (:mod:`hub.store.sql_accounts`), the auditors' links
(:mod:`hub.store.sql_audit_links`), the consent decisions (:mod:`hub.store.sql_consents`), retention
and erasure (:mod:`hub.store.sql_privacy`), the rows as a format-3 leaf seals them
(:mod:`hub.store.sql_sealed_rows`), and here
the ledger reads, blocks, journeys, sources and sinks, job runs and leases. ``SQLiteStore`` and ``PostgresStore`` keep only what really differs: the schema
and migrations, ingest, claiming deliveries, bulk journey writes and snapshots.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterator

from hub.connector import add_skips
from hub.store.base import event_dict, paged_events, SinkState, SourceState, UnreadableEvent
from hub.store.sql_accounts import SqlAccounts
from hub.store.sql_audit_links import SqlAuditLinks
from hub.store.sql_consents import SqlConsents
from hub.store.sql_learners import SqlLearnerRegistry
from hub.store.sql_outbox import SqlOutbox
from hub.store.sql_privacy import SqlPrivacy
from hub.store.sql_sealed_rows import SqlSealedRows


class SqlStore(SqlLearnerRegistry, SqlOutbox, SqlAccounts, SqlAuditLinks, SqlConsents, SqlPrivacy, SqlSealedRows):
    """The shared methods of the SQL stores; a dialect subclass completes it."""

    # ------------------------------------------------------------------ reading the ledger
    def get_event(self, event_id: str, *, unreadable: bool = False) -> dict[str, Any] | None:
        row = self._execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        event = event_dict(row) if row else None
        if event is not None and "unreadable" in event and not unreadable:
            raise UnreadableEvent(event)
        return event

    def iter_events(self, *, after_seq: int = 0, batch: int = 1000, types=None, limit=None,
                    unreadable: bool = False) -> Iterator[dict[str, Any]]:
        type_filter, type_params = self._in("type", list(types)) if types else ("", [])
        sql = f"SELECT * FROM events WHERE seq > ?{' AND ' + type_filter if types else ''} ORDER BY seq LIMIT ?"
        return paged_events(lambda last, size: self._execute(sql, [last, *type_params, size]).fetchall(),
                            after_seq=after_seq, batch=batch, limit=limit, unreadable=unreadable)

    def count_events(self) -> int:
        return self._execute("SELECT count(*) AS n FROM events").fetchone()["n"]

    def max_seq(self) -> int:
        return self._execute("SELECT coalesce(max(seq), 0) AS m FROM events").fetchone()["m"]

    def event_touches(self, *, after_seq: int, limit: int) -> list[tuple[str, str | None, str | None]]:
        return [(r["type"], r["action"], r["learner"]) for r in self._execute(
            "SELECT e.type, e.action, coalesce(a.learner_id, e.learner_id) AS learner FROM events e "
            "LEFT JOIN learner_aliases a ON a.alias = e.learner_id WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            (after_seq, limit))]

    # ------------------------------------------------------------------ sealed blocks
    _BLOCK_COLUMNS = 'idx AS "index", first_seq, last_seq, count, root, prev_hash, sealed_at, leaf_format, hash, anchor'

    def last_block(self) -> dict[str, Any] | None:
        row = self._execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks ORDER BY idx DESC LIMIT 1").fetchone()
        return dict(row) if row else None

    def add_block(self, block: dict[str, Any], leaves: bytes) -> None:
        with self._write():
            self._execute(
                "INSERT INTO blocks (idx, first_seq, last_seq, count, root, prev_hash, sealed_at, leaf_format, hash, "
                "leaves) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (block["index"], block["first_seq"], block["last_seq"], block["count"], block["root"],
                 block["prev_hash"], block["sealed_at"], block.get("leaf_format") or 1, block["hash"], leaves),
            )

    def block(self, index: int) -> dict[str, Any] | None:
        row = self._execute(f"SELECT {self._BLOCK_COLUMNS} FROM blocks WHERE idx = ?", (index,)).fetchone()
        return dict(row) if row else None

    def block_totals(self) -> dict[str, int]:
        row = self._execute("SELECT count(*) AS blocks, coalesce(sum(count), 0) AS events, count(anchor) AS anchored "
                            "FROM blocks").fetchone()
        return {k: int(row[k]) for k in ("blocks", "events", "anchored")}

    def event_learner_keys(self, first_seq: int, last_seq: int) -> dict[int, str | None]:
        return {r["seq"]: r["learner_key"] for r in self._execute(
            "SELECT seq, learner_key FROM events WHERE seq >= ? AND seq <= ?", (first_seq, last_seq))}

    def first_event(self) -> dict[str, Any] | None:
        row = self._execute("SELECT seq, id FROM events ORDER BY seq LIMIT 1").fetchone()
        return dict(row) if row else None

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

    def journey_learners(self, action: str) -> list[str]:
        return [r["learner_id"] for r in self._execute(
            f"SELECT learner_id{self.binary_order} AS learner_id FROM journeys WHERE action = ? ORDER BY 1", (action,))]

    def journeys_page(self, after: tuple[str, str] | None, limit: int, *, action: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if after:
            where.append("(learner_id, action) > (?, ?)")
            params.extend(after)
        if action:
            where.append("action = ?")
            params.append(action)
        condition = "WHERE " + " AND ".join(where) + " " if where else ""
        rows = self._execute(f"SELECT state FROM journeys {condition}ORDER BY learner_id, action LIMIT ?",
                             [*params, limit])
        return [json.loads(r["state"]) for r in rows]

    def journey_figures(self, action: str) -> list[dict[str, Any]]:
        """Every enrolment of ``action`` with its stored figures: ``learner_id``, ``basis`` and
        ``figures`` (None both when none are stored, or the journey changed since)."""
        rows = self._execute(
            "SELECT j.learner_id, f.basis, f.figures FROM journeys j LEFT JOIN journey_figures f "
            "ON f.learner_id = j.learner_id AND f.action = j.action WHERE j.action = ? "
            f"ORDER BY j.learner_id{self.binary_order}", (action,))
        return [{"learner_id": r["learner_id"], "basis": r["basis"],
                 "figures": json.loads(r["figures"]) if r["figures"] is not None else None} for r in rows]

    def journey_attendance(self, actions: list[str]) -> list[dict[str, Any]]:
        """Every enrolment of ``actions`` with its stored attendance: ``learner_id``, ``action``,
        ``basis`` and ``attendance`` (None both when none are stored, or the journey changed since)."""
        if not actions:
            return []
        condition, params = self._in("j.action", actions)
        rows = self._execute(
            "SELECT j.learner_id, j.action, f.basis, f.attendance FROM journeys j LEFT JOIN journey_figures f "
            f"ON f.learner_id = j.learner_id AND f.action = j.action WHERE {condition} "
            f"ORDER BY j.action{self.binary_order}, j.learner_id{self.binary_order}", params)
        return [{"learner_id": r["learner_id"], "action": r["action"], "basis": r["basis"],
                 "attendance": json.loads(r["attendance"]) if r["attendance"] is not None else None} for r in rows]

    def save_journey_figures(self, action: str, figures: dict[str, tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        """Store the figures and the attendance (learner id -> (basis, figures, attendance)) of
        enrolments of ``action``, both computed for ``basis``."""
        if not figures:
            return
        with self._transaction():
            self._executemany(
                "INSERT INTO journey_figures (learner_id, action, basis, figures, attendance) VALUES (?,?,?,?,?) "
                "ON CONFLICT (learner_id, action) DO UPDATE SET basis = excluded.basis, figures = excluded.figures, "
                "attendance = excluded.attendance",
                [(learner, action, basis, json.dumps(found, ensure_ascii=False), json.dumps(attendance, ensure_ascii=False))
                 for learner, (basis, found, attendance) in figures.items()])

    def journey_flags(self, action: str) -> list[dict[str, Any]]:
        """The enrolments of ``action`` whose stored risk-list row holds a flag (``flag``: the row),
        and those without a stored row (``flag`` None: none stored, or the journey changed since);
        the enrolments whose stored row says "no flag" are left out."""
        rows = self._execute(
            "SELECT j.learner_id, f.flag FROM journeys j LEFT JOIN journey_flags f "
            "ON f.learner_id = j.learner_id AND f.action = j.action WHERE j.action = ? "
            f"AND (f.flag IS NULL OR f.flag <> 'null') ORDER BY j.learner_id{self.binary_order}", (action,))
        return [{"learner_id": r["learner_id"], "flag": json.loads(r["flag"]) if r["flag"] is not None else None}
                for r in rows]

    def refresh_journey_flags(self, action: str, learners: list[str],
                              row_of: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
        """Read the journeys of ``learners`` in ``action``, store ``row_of(state)`` for each and return
        them, in one transaction during which no other connection writes those journeys (a row is
        never stored after a write that deleted it)."""
        if not learners:
            return {}
        condition, params = self._in("learner_id", learners)
        with self._transaction():
            rows = self._execute(f"SELECT learner_id, state FROM journeys WHERE action = ? AND {condition}"
                                 f"{self.share_lock}", [action, *params]).fetchall()
            found = {r["learner_id"]: row_of(json.loads(r["state"])) for r in rows}
            if found:  # a row each, the JSON null when the enrolment has no flag
                self._executemany(
                    "INSERT INTO journey_flags (learner_id, action, flag) VALUES (?,?,?) "
                    "ON CONFLICT (learner_id, action) DO UPDATE SET flag = excluded.flag",
                    [(learner, action, json.dumps(flag, ensure_ascii=False)) for learner, flag in found.items()])
        return found

    def reset_journeys(self, learner_ids: list[str] | None = None, name: str = "journeys") -> None:
        """Forget projected journeys (all, or those of ``learner_ids``) before re-projecting them."""
        with self._transaction():
            if learner_ids is None:
                self._execute("DELETE FROM journeys")
                self._execute("DELETE FROM journey_figures")
                self._execute("DELETE FROM journey_flags")
                self._execute("DELETE FROM projections WHERE name = ?", (name,))
            elif learner_ids:
                condition, params = self._in("learner_id", learner_ids)
                self._execute(f"DELETE FROM journeys WHERE {condition}", params)
                self._execute(f"DELETE FROM journey_figures WHERE {condition}", params)
                self._execute(f"DELETE FROM journey_flags WHERE {condition}", params)

    def events_of_learners(self, learner_ids: list[str], *, until_seq: int) -> list[dict[str, Any]]:
        if not learner_ids:
            return []
        condition, params = self._in("learner_id", learner_ids)
        return [event_dict(r) for r in self._execute(
            f"SELECT * FROM events WHERE {condition} AND seq <= ? ORDER BY seq", [*params, until_seq])]

    def learner_events_page(self, learner_ids: list[str], *, action: str | None, after_seq: int,
                            limit: int) -> list[dict[str, Any]]:
        if not learner_ids:
            return []
        condition, params = self._in("learner_id", learner_ids)
        if action is not None:
            condition, params = f"{condition} AND (action = ? OR action IS NULL)", [*params, action]
        rows = self._execute(f"SELECT * FROM events WHERE {condition} AND seq > ? ORDER BY seq LIMIT ?",
                             [*params, after_seq, limit]).fetchall()
        return [{**event_dict(r), "learner_key": r["learner_key"]} for r in rows]

    def events_naming(self, types: list[str], key: str, values: list[str], *, after_seq: int = 0,
                      limit: int = 1000) -> list[dict[str, Any]]:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
            raise ValueError(f"not a data field name: {key!r}")
        if not types or not values:
            return []
        by_type, type_params = self._in("type", types)
        by_value, value_params = self._in(self._json_text("data", key), values)
        return [event_dict(r) for r in self._execute(
            f"SELECT * FROM events WHERE {by_type} AND {by_value} AND seq > ? ORDER BY seq LIMIT ?",
            [*type_params, *value_params, after_seq, limit])]

    def action_events(self, action: str, *, types: list[str], until_seq: int) -> list[dict[str, Any]]:
        condition, params = self._in("type", types)
        return [event_dict(r) for r in self._execute(
            f"SELECT * FROM events WHERE learner_id IS NULL AND action = ? AND {condition} AND seq <= ? ORDER BY seq",
            [action, *params, until_seq])]

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
            json.loads(row["skipped"]) if row["skipped"] else None,
        )

    def _save_cursor(self, name: str, cursor: Any) -> None:
        """Store source ``name``'s cursor (JSON): part of the ingest transaction that read up to it."""
        self._execute("INSERT INTO sources (name, cursor) VALUES (?, ?) "
                      "ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor", (name, json.dumps(cursor)))

    def add_skipped(self, name: str, reasons: dict[str, int], unmapped: dict[str, int]) -> None:
        if not reasons and not unmapped:
            return
        with self._transaction():
            self._execute("INSERT INTO sources (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
            self._execute("UPDATE sources SET skipped = skipped WHERE name = ?", (name,))  # locks the row first
            row = self._execute("SELECT skipped FROM sources WHERE name = ?", (name,)).fetchone()
            tally = add_skips(json.loads(row["skipped"]) if row["skipped"] else None, reasons, unmapped)
            self._execute("UPDATE sources SET skipped = ? WHERE name = ?", (json.dumps(tally), name))

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
