"""What an auditor's link opens (hub.audit.links): the journeys of exactly the learners of its
scope, in its training action, with their documents, and the events of one of them a page at a
time. Read from the journeys projection and the ledger's per-learner index, never from a scan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.audit.links import AuditLink
from hub.journeys.stream import compute_states
from hub.web.funded import issued_documents

EVENTS_PAGE = 200  # events shown per page of a learner


@dataclass
class AuditedEnrolment:
    report: Any  # JourneyReport
    documents: list[dict[str, Any]]


async def sample_enrolments(hub, link: AuditLink, today) -> list[AuditedEnrolment]:
    """The enrolment of each learner of the link's scope in its action (in the scope's order)."""
    await hub.project()
    keys = [(learner, link.action) for learner in link.learners]
    found = await hub.store.call(hub.store.load_journeys, keys)
    states = [found[k] for k in keys if k in found]
    return [AuditedEnrolment(report, issued_documents(state))
            for state, report in zip(states, compute_states(states, hub.config, today))]


async def sample_enrolment(hub, link: AuditLink, learner_id: str, today) -> AuditedEnrolment | None:
    """One learner's enrolment when the link covers that learner; None otherwise (the same answer
    for a learner outside the scope and one that does not exist)."""
    if not link.covers(learner_id):
        return None
    await hub.project()
    found = await hub.store.call(hub.store.load_journeys, [(learner_id, link.action)])
    state = found.get((learner_id, link.action))
    if state is None:
        return None
    return AuditedEnrolment(compute_states([state], hub.config, today)[0], issued_documents(state))


async def learner_events(hub, link: AuditLink, learner_id: str, after_seq: int) -> list[dict[str, Any]]:
    """At most EVENTS_PAGE events of a learner of the scope (its aliases too) about the link's
    action or about no action, after ``after_seq``, in ledger order."""
    if not link.covers(learner_id):
        return []
    store = hub.store
    ids = [learner_id, *await store.call(store.learner_aliases, learner_id)]
    return await store.call(store.learner_events_page, ids, action=link.action, after_seq=max(after_seq, 0),
                            limit=EVENTS_PAGE)
