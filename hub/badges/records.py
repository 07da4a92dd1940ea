"""Awarded badges as the ledger knows them: an award, its revocation, a learner's badges, and the
revoked status indices the status list publishes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.documents.payload import is_ulid

if TYPE_CHECKING:
    from hub.documents.services import DocumentServices


@dataclass
class AwardRecord:
    event: dict[str, Any]  # the stored badge.awarded event (with its seq)
    learner_id: str
    revoked: dict[str, Any] | None = None  # {"at", "reason", "event"}

    @property
    def id(self) -> str:
        return self.event["id"]


def revocation(facts: list[dict[str, Any]], award_id: str) -> dict[str, Any] | None:
    """The first ``badge.revoked`` of ``award_id`` among a journey's ``badges`` facts."""
    for fact in facts:
        if fact.get("type") == "badge.revoked" and fact.get("credential") == award_id:
            return {"at": fact["at"], "reason": fact.get("reason"), "event": fact["event"]}
    return None


async def load_award(services: "DocumentServices", award_id: str) -> AwardRecord | None:
    """The ``badge.awarded`` event ``award_id`` with its revocation, or None (not a badge award)."""
    if not is_ulid(award_id):
        return None
    store = services.store
    event = await store.call(store.get_event, award_id)
    if event is None or event["type"] != "badge.awarded" or not event.get("learner_id"):
        return None
    learner_id = await store.call(store.canonical_learner, event["learner_id"])
    record = AwardRecord(event, learner_id)
    facts: list[dict[str, Any]] = []
    for state in await services.journeys(action=event["action"], learner_id=learner_id):
        facts.extend(state.get("badges", []))
    record.revoked = revocation(facts, award_id)
    return record


def learner_badges(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The badges awarded in projected journey ``states``, each fact with ``action`` and ``revoked``."""
    out = []
    for state in states:
        facts = state.get("badges", [])
        for fact in facts:
            if fact.get("type") == "badge.awarded":
                out.append({**fact, "action": state["action"], "revoked": revocation(facts, fact["event"])})
    return sorted(out, key=lambda f: f["at"])


def revoked_indices(store) -> list[int]:
    """The status indices of every revoked badge (read in the store's thread: ``store.call``)."""
    return [row["data"]["status_index"] for row in store.iter_events(types=["badge.revoked"])]
