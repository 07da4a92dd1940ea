"""The outbox's outcomes and the dead letters of the SQL stores (shared by both dialects)."""

from __future__ import annotations

import json
from typing import Any

from hub.store.base import DeadLetter, RejectRow
from hub.store.dialect import SqlDialect


class SqlOutbox(SqlDialect):
    """Recording delivery outcomes; listing, requeueing and replaying what failed."""

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

    def head_due(self, sink: str) -> float | None:
        row = self._execute(  # min(id) reads one entry of outbox_claim (sink, state, id), whatever the backlog
            "SELECT next_attempt_at FROM outbox WHERE id = "
            "(SELECT min(id) FROM outbox WHERE sink = ? AND state = 'pending')", (sink,)
        ).fetchone()
        return None if row is None else row["next_attempt_at"]

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        return {
            (r["sink"], r["state"]): r["n"]
            for r in self._execute("SELECT sink, state, count(*) AS n FROM outbox GROUP BY sink, state")
        }

    def outbox_backlog(self) -> dict[str, tuple[int, float]]:
        return {
            r["sink"]: (r["n"], r["oldest"])
            for r in self._execute("SELECT sink, count(*) AS n, min(created_at) AS oldest FROM outbox "
                                   "WHERE state IN ('pending', 'inflight') GROUP BY sink")
        }

    def outbox_backlog_by_source(self) -> dict[tuple[str | None, str], int]:
        return {
            (r["source"], r["sink"]): r["n"]
            for r in self._execute("SELECT e.source, o.sink, count(*) AS n FROM outbox o JOIN events e ON e.seq = o.event_seq "
                                   "WHERE o.state = 'pending' GROUP BY e.source, o.sink")
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
                out.append(self._dead_delivery(r))
        if sink is None and len(out) < limit:  # ``limit`` bounds the whole list, not each half
            where, params = self._where("replayed_at IS NULL", "source", source)
            for r in self._execute(
                f"SELECT * FROM rejects WHERE {where} ORDER BY id LIMIT ?", [*params, limit - len(out)]
            ):
                out.append(self._reject(r))
        return out

    def dead_letters_about(self, learner_ids: list[str], needles: list[str], *, limit: int) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        if learner_ids:
            condition, params = self._in("e.learner_id", learner_ids)
            for r in self._execute(
                f"SELECT o.*, e.id AS eid, e.source AS esource FROM outbox o JOIN events e ON e.seq = o.event_seq "
                f"WHERE o.state = 'dead' AND {condition} ORDER BY o.id LIMIT ?", [*params, limit],
            ):
                out.append(self._dead_delivery(r))
        patterns = [_like(n) for n in dict.fromkeys(needles) if n]
        if patterns:
            where = " OR ".join("payload LIKE ? ESCAPE '!'" for _ in patterns)
            for r in self._execute(f"SELECT * FROM rejects WHERE replayed_at IS NULL AND ({where}) ORDER BY id LIMIT ?",
                                   [*patterns, limit]):
                out.append(self._reject(r))
        return out

    def dead_letter(self, letter_id: str) -> DeadLetter | None:
        kind, _, number = letter_id.partition(":")
        if kind not in ("o", "r") or not (number.isascii() and number.isdigit() and len(number) <= 18):
            return None
        if kind == "o":
            r = self._execute("SELECT o.*, e.id AS eid, e.source AS esource FROM outbox o JOIN events e ON e.seq = o.event_seq "
                              "WHERE o.state = 'dead' AND o.id = ?", (int(number),)).fetchone()
            return None if r is None else self._dead_delivery(r)
        r = self._execute("SELECT * FROM rejects WHERE replayed_at IS NULL AND id = ?", (int(number),)).fetchone()
        return None if r is None else self._reject(r)

    @staticmethod
    def _dead_delivery(r) -> DeadLetter:
        """A dead outbox row (joined with its event's id and source) as a dead letter."""
        return DeadLetter(f"o:{r['id']}", "deliver", r["esource"], r["sink"], r["eid"], r["last_error"], r["attempts"],
                          r["created_at"], r["last_attempt_at"])

    @staticmethod
    def _reject(r) -> DeadLetter:
        """A rejects row (map or validate stage) as a dead letter."""
        return DeadLetter(f"r:{r['id']}", r["stage"], r["source"], None, None, r["error"], 0, r["created_at"],
                          r["created_at"], _payload(r["payload"]), r["erased_at"])

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
            (r["id"], RejectRow(r["source"], r["stage"], r["error"], r["payload"], r["source_id"], r["erased_at"], r["erased_by"]))
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


def _payload(text: str) -> Any:
    """A reject's stored payload, decoded; the text itself when it is not JSON (kept as received)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere (its own ``%``, ``_`` and ``!`` escaped with ``!``)."""
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
