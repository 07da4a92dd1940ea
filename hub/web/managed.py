"""What a manager account reads: the training actions of its scope (an admin: every configured
action), each with its enrolments' figures — completion, realised against planned hours,
attendance rate, proof gaps (the rules ``parcours proofs check`` runs), open alerts, documents
issued and the ones the issuer would refuse now, and why — read from the journeys projection
(one store call per action), never from a scan of the ledger; and one event of the ledger, when
its learner (or, for an event about a whole action, its action) is in scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub.documents import DOCUMENT_TYPES
from hub.documents.eligibility import proof_gaps, refusal
from hub.journeys.alerts import alerts_of
from hub.journeys.proofs import check
from hub.journeys.stream import compute_states
from hub.web.funded import issued_documents

ENDED = {"completed": "completed", "abandoned": "abandoned"}  # any other status is "in progress"


@dataclass
class ManagedEnrolment:
    report: Any  # JourneyReport
    gaps: list[tuple[str, Any]]  # (rule, hub.journeys.proofs.Gap), as `parcours proofs check` lists them
    alerts: list[dict[str, Any]]  # raised alerts, each with its follow-up (None: open)
    documents: list[dict[str, Any]]  # the current document.issued facts
    refused: dict[str, str]  # document type not issued -> why the issuer refuses it now

    @property
    def open_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if not a["followed_up"]]

    @property
    def completion(self) -> str:
        return ENDED.get(self.report.status, "in_progress")


@dataclass
class ManagedAction:
    action_id: str
    title: str
    enrolments: list[ManagedEnrolment] = field(default_factory=list)
    next_after: str | None = None  # paginated: the learner id the next page starts after (None: last page)

    def count(self, completion: str) -> int:
        return sum(1 for e in self.enrolments if e.completion == completion)

    @property
    def realised_hours(self) -> Decimal:
        return sum((e.report.realised_hours for e in self.enrolments), Decimal(0))

    @property
    def planned_hours(self) -> Decimal:
        return sum((e.report.planned_hours for e in self.enrolments), Decimal(0))

    @property
    def attendance_rate(self) -> Decimal | None:
        """The mean of the enrolments' attendance rates (each: realised hours / scheduled hours to
        date, hub.journeys.compute); None when no enrolment has one yet."""
        rates = [e.report.attendance_rate.value for e in self.enrolments if e.report.attendance_rate.value is not None]
        return (sum(rates, Decimal(0)) / len(rates)).quantize(Decimal("0.1"), ROUND_HALF_UP) if rates else None

    @property
    def gaps(self) -> int:
        return sum(len(e.gaps) for e in self.enrolments)

    @property
    def open_alerts(self) -> int:
        return sum(len(e.open_alerts) for e in self.enrolments)

    @property
    def issued(self) -> int:
        return sum(len(e.documents) for e in self.enrolments)

    @property
    def refused(self) -> int:
        return sum(len(e.refused) for e in self.enrolments)


def refusals(report, documents: list[dict[str, Any]], today) -> dict[str, str]:
    """Each document type not currently issued for the enrolment, and why the issuer
    (hub.documents.issue) would refuse it now, as ``parcours documents issue`` says."""
    issued = {d.get("document_type") for d in documents}
    found = {}
    for doc_type in DOCUMENT_TYPES:
        if doc_type in issued:
            continue
        gaps = proof_gaps(report, today) if doc_type == "certificat_realisation" else []
        reason = refusal(report, doc_type, gaps, allow_incomplete=False)
        if reason:
            found[doc_type] = reason
    return found


def enrolments_of(hub, states: list[dict[str, Any]], today) -> list[ManagedEnrolment]:
    reports = compute_states(states, hub.config, today)
    gaps = {(g.learner_id, g.action): g.gaps for g in check(reports, hub.proof_rules(), today=today)}
    found = []
    for state, report in zip(states, reports):
        documents = issued_documents(state)
        found.append(ManagedEnrolment(report, gaps.get((report.learner_id, report.action_id), []),
                                      alerts_of(state.get("alerts", [])), documents, refusals(report, documents, today)))
    return sorted(found, key=lambda e: ((e.report.learner_name or "").casefold(), e.report.learner_id))


async def managed_action(hub, principal, action_id: str, today, *, limit: int | None = None,
                         after: str | None = None) -> ManagedAction | None:
    """One training action of the principal's scope with its enrolments (every one, or with
    ``limit`` the ``limit`` first after the learner id ``after``, in learner id order: one page,
    the only journeys read and computed); None when it is not configured or outside the scope
    (the same answer)."""
    action = hub.config.model.actions.get(action_id)
    if action is None or not principal.sees_action(action_id):
        return None
    await hub.project()
    if limit is None:
        states = await hub.store.call(lambda: hub.store.journeys(action=action_id))
        return ManagedAction(action_id, action.title, enrolments_of(hub, states, today))
    key = (after, action_id) if after else None
    states = await hub.store.call(lambda: hub.store.journeys_page(key, limit + 1, action=action_id))
    following = states[limit - 1]["learner_id"] if len(states) > limit else None
    return ManagedAction(action_id, action.title, enrolments_of(hub, states[:limit], today), following)


async def managed_enrolment(hub, principal, learner_id: str, action_id: str, today) -> ManagedEnrolment | None:
    """One enrolment of an action in scope; None when unknown or outside the scope."""
    if not learner_id or action_id not in hub.config.model.actions or not principal.sees_action(action_id):
        return None
    await hub.project()
    states = await hub.store.call(lambda: hub.store.journeys(action=action_id, learner_id=learner_id))
    states = [s for s in states if s["learner_id"] == learner_id and s["action"] == action_id]
    return enrolments_of(hub, states, today)[0] if len(states) == 1 else None


async def event_in_scope(hub, principal, event_id: str) -> dict[str, Any] | None:
    """The event ``event_id`` when the principal may read it: an admin any; a manager one whose
    learner is enrolled in an action of its scope, or, without a learner, about an action of its
    scope. None otherwise (unknown or outside: the same answer)."""
    event = await hub.store.call(lambda: hub.store.get_event(event_id, unreadable=True)) if event_id else None
    if event is None or principal.role == "admin":
        return event
    learner = event.get("learner_id")
    if not learner:
        return event if event.get("action") and principal.sees_action(event["action"]) else None
    states = await hub.store.call(lambda: hub.store.journeys(learner_id=learner))
    return event if any(s["learner_id"] == learner and principal.sees_action(s["action"]) for s in states) else None
