"""The ingest gate: events whose collection a person's consent does not cover are withheld.

For each new event, the purposes whose ``collects`` match its type (hub.consents.settings) must
all be in force (hub.consents.decisions) for the event's learner, else the event is not appended:
the store drops it inside the ingest transaction, after linking learners, and the ingest result
counts it by reason (``<purpose>:<status>``). A consent event of the same batch counts for the
events after it. An event that names no person (an anonymous page view, which the site records
only with the visitor's own consent) is withheld only when the organisation does not allow the
purpose at all. Consent events themselves are never withheld.
"""

from __future__ import annotations

from typing import Callable, Iterable

from hub.consents.decisions import CONSENT_TYPES, Decision, in_force, status
from hub.consents.settings import ConsentsConfig
from hub.store.base import EventRow

#: the store's look-up: the latest decisions of these learners, by (learner id, purpose)
DecisionsOf = Callable[[Iterable[str]], dict[tuple[str, str], Decision]]


class ConsentGate:
    def __init__(self, config: ConsentsConfig):
        self.config = config
        self._covering: dict[str, tuple[str, ...]] = {}

    def covering(self, event_type: str) -> tuple[str, ...]:
        found = self._covering.get(event_type)
        if found is None:
            found = () if event_type in CONSENT_TYPES else tuple(self.config.covering(event_type))
            self._covering[event_type] = found
        return found

    @property
    def active(self) -> bool:
        """Whether any purpose gates the collection of some event type."""
        return any(p.collects for p in self.config.purposes.values())

    def withhold(self, rows: list[EventRow], decisions_of: DecisionsOf) -> dict[str, str]:
        """The ids of ``rows`` (learners linked) to withhold, each with its reason."""
        if not self.active:
            return {}
        gated = [(row, self.covering(row.type)) for row in rows]
        if not any(purposes for _, purposes in gated):
            return {}
        people = {row.learner_id for row, purposes in gated if purposes and row.learner_id}
        decisions = decisions_of(sorted(people)) if people else {}
        withheld: dict[str, str] = {}
        for row, purposes in gated:
            if row.type in CONSENT_TYPES:
                if row.learner_id in people:
                    decision = Decision.from_event(row.learner_id, row.type, row.data, row.occurred_us, row.id)
                    key = (row.learner_id, decision.purpose)
                    if decision.supersedes(decisions.get(key)):
                        decisions[key] = decision
                continue
            for name in purposes:
                purpose = self.config.purposes[name]
                if row.learner_id is None:
                    if not purpose.allowed:
                        withheld[row.id] = f"{name}:not_allowed"
                        break
                    continue
                decision = decisions.get((row.learner_id, name))
                if not in_force(purpose, decision):
                    withheld[row.id] = f"{name}:{status(purpose, decision)}"
                    break
        return withheld
