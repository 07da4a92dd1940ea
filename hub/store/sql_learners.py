"""The learner registry of the SQL stores: learners, their keys, merges and conflicts."""

from __future__ import annotations

import abc
import json
from typing import Any

from hub.learners import key_kind
from hub.store.base import EventRow
from hub.store.dialect import SqlDialect
from hub.ulid import new_ulid


class SqlLearnerRegistry(SqlDialect):
    """Linking events to learners at ingest, and the admin's merges, separations and mappings."""

    @abc.abstractmethod
    def _store_resolution(self, resolution: Any) -> None:
        """Insert what the learner resolver created (learners, keys, conflicts): the dialect's bulk insert."""

    def _resolve_learners(self, rows: list[EventRow], resolver, withhold=None) -> dict[str, str]:
        """Link ``rows`` to learners (creating learners, keys and conflicts): part of ingest.

        With ``withhold`` (the consent gate), the rows it refuses once linked are left out and the
        others linked again without them, so that a withheld event creates no learner, key nor
        conflict; the refused rows' ids with their reasons."""
        resolution = self._resolution(rows, resolver)
        learner_ids = resolution.learner_ids
        refused: dict[str, str] = {}
        if withhold is not None:
            for row, learner_id in zip(rows, learner_ids):
                row.learner_id = learner_id
            refused = withhold(rows, self._consent_decisions)
            if refused:
                kept = [(r, i) for r, i in zip(rows, learner_ids) if r.id not in refused]
                rows, learner_ids = [r for r, _ in kept], [i for _, i in kept]
                if resolution.new_learners or resolution.new_keys or resolution.conflicts:
                    resolution = self._resolution(rows, resolver)  # what the withheld rows brought goes
                    learner_ids = resolution.learner_ids
        self._store_resolution(resolution)
        for row, learner_id in zip(rows, learner_ids):
            row.learner_id = learner_id
            if learner_id is not None:
                row.learner_key = learner_id
        return refused

    def _resolution(self, rows: list[EventRow], resolver):
        return resolver.resolve(
            [(r.id, r.source, r.learner_ref if r.learner_ref is not None else (json.loads(r.learner) if r.learner else None))
             for r in rows],
            self._key_owners, self._learner_kinds, self._separations,
        )

    def _link_and_gate(self, fresh: list[EventRow], learners, withhold) -> dict[str, str]:
        """Part of ingest: link ``fresh`` to learners when a resolver is given, and the ids of the
        rows the consent gate refuses (with their reasons)."""
        if not fresh:
            return {}
        if learners is not None:
            return self._resolve_learners(fresh, learners, withhold)
        return withhold(fresh, self._consent_decisions) if withhold is not None else {}

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

    def rectify_learner(self, learner_id: str, field: str, value: str) -> bool:
        if field not in ("name", "email"):
            raise ValueError(f"cannot rectify {field!r}: only name and email are held in the learner registry")
        with self._registry_transaction():
            cursor = self._execute(f"UPDATE learners SET {field} = ? WHERE id = ?",
                                   (value, self.canonical_learner(learner_id)))
        return cursor.rowcount > 0

    def learner_aliases(self, learner_id: str) -> list[str]:
        return [r["alias"] for r in self._execute(
            f"SELECT alias FROM learner_aliases WHERE learner_id = ? ORDER BY alias{self.binary_order}", (learner_id,))]

    def learner_alias_map(self) -> dict[str, str]:
        return {r["alias"]: r["learner_id"] for r in self._execute("SELECT alias, learner_id FROM learner_aliases")}

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
