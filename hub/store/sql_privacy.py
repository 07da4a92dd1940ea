"""Retention and erasure in the SQL stores (hub.privacy): the pseudonymised rows, the erasures'
progress, and the reads the retention job decides from."""

from __future__ import annotations

import json
from typing import Any

from hub.store.base import event_dict
from hub.store.dialect import SqlDialect

FUNNEL_PREFIX = "prospect."
ACCESS_PREFIX = "access."


class SqlPrivacy(SqlDialect):
    """What :class:`hub.store.base.PrivacyStore` asks of a SQL store."""

    def learner_last_events(self) -> list[dict[str, Any]]:
        # One pass over the events (events_learner index): when each learner was last in touch, and
        # last had a funnel trace or a piece of evidence (neither funnel nor access log).
        funnel, access = FUNNEL_PREFIX + "%", ACCESS_PREFIX + "%"
        rows = self._execute(
            "SELECT learner_id, max(occurred_us) AS last_us, "
            "max(CASE WHEN type LIKE ? THEN occurred_us END) AS funnel_us, "
            "max(CASE WHEN type NOT LIKE ? AND type NOT LIKE ? THEN occurred_us END) AS evidence_us "
            "FROM events WHERE learner_id IS NOT NULL GROUP BY learner_id", (funnel, funnel, access))
        return [dict(r) for r in rows]

    def learners_funded_by(self, funders: list[str]) -> set[str]:
        if not funders:
            return set()
        return {r["learner_key"] for r in self._rows_in("SELECT learner_key FROM funding WHERE {}", "funder", funders)}

    def erasable_events(self, learner_ids: list[str], *, until_seq: int) -> list[dict[str, Any]]:
        rows = self._rows_in("SELECT e.* FROM events e LEFT JOIN erased_events x ON x.seq = e.seq "
                             f"WHERE {{}} AND e.seq <= {int(until_seq):d} AND x.seq IS NULL", "e.learner_id", learner_ids)
        return sorted(({**event_dict(r), "learner_key": r["learner_key"]} for r in rows), key=lambda e: e["seq"])

    def erasable_access_events(self, *, before_us: int, until_seq: int, limit: int) -> list[dict[str, Any]]:
        rows = self._execute(
            "SELECT e.* FROM events e LEFT JOIN erased_events x ON x.seq = e.seq "
            "WHERE e.type LIKE ? AND e.occurred_us < ? AND e.seq <= ? AND x.seq IS NULL "
            "ORDER BY e.seq LIMIT ?", (ACCESS_PREFIX + "%", before_us, until_seq, limit)).fetchall()
        return [{**event_dict(r), "learner_key": r["learner_key"]} for r in rows]

    def erased_seqs(self, first_seq: int, last_seq: int) -> dict[int, str]:
        return {r["seq"]: r["record"] for r in self._execute(
            "SELECT seq, record FROM erased_events WHERE seq >= ? AND seq <= ?", (first_seq, last_seq))}

    def unapplied_erasure_records(self) -> list[dict[str, Any]]:
        rows = self._execute(
            "SELECT e.* FROM events e LEFT JOIN erasures r ON r.record = e.id "
            "WHERE e.type = 'privacy.erased' AND e.source = 'hub' AND r.record IS NULL ORDER BY e.seq").fetchall()
        return [event_dict(r) for r in rows]

    def unfinished_erasures(self) -> list[dict[str, Any]]:
        return [{**dict(r), "blobs": json.loads(r["blobs"])} for r in self._execute(
            "SELECT record, learner_id, kind, blobs FROM erasures WHERE finished_at IS NULL ORDER BY applied_at")]

    def erased_persons(self) -> set[str]:
        return {r["learner_id"] for r in self._execute("SELECT learner_id FROM erasures WHERE kind = 'person'")}

    def erasure_totals(self) -> dict[str, Any]:
        by_kind = {r["kind"]: int(r["n"]) for r in self._execute("SELECT kind, count(*) AS n FROM erasures GROUP BY kind")}
        events = self._execute("SELECT count(*) AS n FROM erased_events").fetchone()["n"]
        unfinished = self._execute("SELECT count(*) AS n FROM erasures WHERE finished_at IS NULL").fetchone()["n"]
        rejects = self._execute("SELECT count(*) AS n FROM rejects WHERE erased_at IS NOT NULL").fetchone()["n"]
        return {"records": by_kind, "events": int(events), "dead_letters": int(rejects), "unfinished": int(unfinished)}

    def blob_referenced(self, sha256: str) -> bool:
        """Whether an event row still names blob ``sha256`` (erased rows name none)."""
        return self._execute("SELECT 1 AS x FROM events WHERE evidence LIKE ? LIMIT 1", (f"%{sha256}%",)).fetchone() is not None

    def apply_erasures(self, erasures: list[dict[str, Any]], *, at: float) -> list[str]:
        applied = []
        with self._registry_transaction():
            for erasure in erasures:
                record = erasure["record"]
                if self._execute("SELECT 1 AS x FROM erasures WHERE record = ?", (record,)).fetchone():
                    continue  # applied already (a resumed run)
                rows = erasure["rows"]
                self._executemany("UPDATE events SET learner = ?, data = ?, evidence = ?, learner_key = ? WHERE seq = ?",
                                  [(learner, data, evidence, key, seq) for seq, learner, data, evidence, key in rows])
                self._executemany("INSERT INTO erased_events (seq, record) VALUES (?, ?) ON CONFLICT (seq) DO NOTHING",
                                  [(r[0], record) for r in rows])
                self._executemany("UPDATE rejects SET payload = ?, error = ?, source_id = ?, erased_at = ?, erased_by = ? "
                                  "WHERE id = ?", [(payload, error, source_id, at, record, reject_id)
                                                   for reject_id, payload, error, source_id in erasure.get("dead_letters") or []])
                if erasure.get("person"):
                    self._pseudonymise_person(erasure["person"], at)
                self._execute("INSERT INTO erasures (record, learner_id, kind, applied_at, blobs) VALUES (?,?,?,?,?)",
                              (record, erasure.get("learner_id"), erasure["kind"], at,
                               json.dumps(sorted(set(erasure.get("blobs") or [])))))
                applied.append(record)
        return applied

    def learner_identities(self, learner_ids: list[str]) -> list[dict[str, Any]]:
        out = {r["id"]: {"learner_id": r["id"], "email": r["email"], "name": r["name"], "keys": []}
               for r in self._rows_in("SELECT id, email, name FROM learners WHERE {}", "id", learner_ids)}
        for r in self._rows_in("SELECT key, learner_id FROM learner_keys WHERE {}", "learner_id", learner_ids):
            if r["learner_id"] in out:
                out[r["learner_id"]]["keys"].append(r["key"])
        return list(out.values())

    _REJECT_COLUMNS = "id, source, payload, error, source_id, created_at"

    def reject_page(self, *, after_id: int, limit: int) -> list[dict[str, Any]]:
        return [dict(r) for r in self._execute(f"SELECT {self._REJECT_COLUMNS} FROM rejects WHERE id > ? ORDER BY id LIMIT ?",
                                               (after_id, limit)).fetchall()]

    def rejects_by_id(self, reject_ids: list[int]) -> list[dict[str, Any]]:
        ids = sorted({int(i) for i in reject_ids})
        size, out = self.in_chunk or max(len(ids), 1), []
        for start in range(0, len(ids), size):
            condition, params = self._in("id", ids[start:start + size], "bigint")
            out += [dict(r) for r in self._execute(f"SELECT {self._REJECT_COLUMNS} FROM rejects WHERE {condition}", params)]
        return sorted(out, key=lambda r: r["id"])

    def delete_rejects_before(self, before: float, *, dry_run: bool = False) -> int:
        if dry_run:
            return int(self._execute("SELECT count(*) AS n FROM rejects WHERE created_at < ?", (before,)).fetchone()["n"])
        with self._write():
            return self._execute("DELETE FROM rejects WHERE created_at < ?", (before,)).rowcount

    def _pseudonymise_person(self, ids: list[str], at: float) -> None:
        """The learner registry, funding index, conflicts, journeys (with the figures, attendance and
        risk-list rows stored beside them, which name the person) and web account of the learners
        ``ids`` (one person with the learners merged into it), inside :meth:`apply_erasures`'s
        transaction."""
        keys = [r["key"] for r in self._rows_in("SELECT key FROM learner_keys WHERE {}", "learner_id", ids)]
        for column, table in (("id", "learners"), ("learner_id", "learner_keys"), ("learner_id", "journeys"),
                              ("learner_id", "journey_figures"), ("learner_id", "journey_flags")):
            condition, params = self._in(column, ids)
            if table == "learners":
                self._execute(f"UPDATE learners SET name = NULL, email = NULL WHERE {condition}", params)
            else:
                self._execute(f"DELETE FROM {table} WHERE {condition}", params)
        if keys:
            condition, params = self._in("learner_key", keys)
            self._execute(f"DELETE FROM funding WHERE {condition}", params)
        for row in self._execute("SELECT id, keys, learners FROM learner_conflicts").fetchall():
            if set(json.loads(row["learners"])) & set(ids):
                self._execute("UPDATE learner_conflicts SET keys = '[]' WHERE id = ?", (row["id"],))
        for row in self._execute("SELECT id, scopes FROM accounts WHERE role = 'learner'").fetchall():
            if (json.loads(row["scopes"]) or {}).get("learner") in ids:
                self._execute(
                    "UPDATE accounts SET email = ?, name = NULL, password_hash = NULL, totp_secret = NULL, "
                    "recovery_codes = '[]', disabled_at = coalesce(disabled_at, ?), updated_at = ? WHERE id = ?",
                    (f"erased-{row['id']}@invalid", at, at, row["id"]))
                self._execute("UPDATE web_sessions SET revoked_at = ?, remote = NULL WHERE account_id = ? "
                              "AND revoked_at IS NULL", (at, row["id"]))

    def finish_erasures(self, records: list[str], *, at: float) -> None:
        with self._transaction():
            self._executemany("UPDATE erasures SET finished_at = ?, blobs = '[]' WHERE record = ?",
                              [(at, record) for record in records])
