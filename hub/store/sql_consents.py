"""The latest consent decisions in the SQL stores (see ConsentStore): one row per person and purpose,
replaced by a decision that occurred at the same time or later."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from hub.consents.decisions import CONSENT_TYPES, Decision
from hub.store.base import EventRow
from hub.store.dialect import SqlDialect

_COLUMNS = "learner_id, purpose, state, version, scope, channel, occurred_us, event_id"


class SqlConsents(SqlDialect):
    def _index_consents(self, rows: list[EventRow]) -> None:
        """Part of ingest: the consent events of ``rows`` (learners linked) update the decisions."""
        found = [Decision.from_event(r.learner_id, r.type, r.data, r.occurred_us, r.id)
                 for r in rows if r.type in CONSENT_TYPES and r.learner_id]
        if found:
            self._executemany(
                f"INSERT INTO consents ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT (learner_id, purpose) DO UPDATE SET state = excluded.state, version = excluded.version, "
                "scope = excluded.scope, channel = excluded.channel, occurred_us = excluded.occurred_us, "
                "event_id = excluded.event_id WHERE excluded.occurred_us >= consents.occurred_us",
                [(d.learner_id, d.purpose, d.state, d.version, d.scope, d.channel, d.occurred_us, d.event_id)
                 for d in found])

    def _consent_decisions(self, learner_ids: Iterable[str]) -> dict[tuple[str, str], Decision]:
        """The latest decision of each of ``learner_ids`` by purpose, counting the decisions recorded
        under the ids merged into them (learner_aliases)."""
        wanted = sorted(set(learner_ids))
        owner = {i: i for i in wanted}
        for r in self._rows_in("SELECT alias, learner_id FROM learner_aliases WHERE {}", "learner_id", wanted):
            owner[r["alias"]] = r["learner_id"]
        found: dict[tuple[str, str], Decision] = {}
        for r in self._rows_in(f"SELECT {_COLUMNS} FROM consents WHERE {{}}", "learner_id", sorted(owner)):
            decision = Decision.from_row(r)
            key = (owner[decision.learner_id], decision.purpose)
            if decision.supersedes(found.get(key)):
                found[key] = decision
        return found

    def consent_decisions(self, learner_id: str) -> list[Decision]:
        return sorted((d for (_, _), d in self._consent_decisions([learner_id]).items()),
                      key=lambda d: (d.purpose, d.occurred_us))

    def withdrawn_consents(self, purpose: str) -> list[Decision]:
        """Each person whose latest decision for ``purpose`` is a withdrawal, under their current id:
        a decision recorded under an id since merged into another counts for that other."""
        canonical = {r["alias"]: r["learner_id"] for r in self._execute("SELECT alias, learner_id FROM learner_aliases")}
        latest: dict[str, Decision] = {}
        for r in self._execute(f"SELECT {_COLUMNS} FROM consents WHERE purpose = ?", (purpose,)):
            decision = Decision.from_row(r)
            person = canonical.get(decision.learner_id, decision.learner_id)
            if decision.supersedes(latest.get(person)):
                latest[person] = decision
        withdrawn = [replace(d, learner_id=person) for person, d in latest.items() if d.state == "withdrawn"]
        return sorted(withdrawn, key=lambda d: (d.occurred_us, d.learner_id))


