"""What the learner's « Mes données » page reads: with whom their data is shared (the funders of
their enrolments and what each receives, their employer and whether their progress goes to it),
their consent choices, and the documents issued to them. Read from the journeys projection, the
configuration and the consents table, for the account's own learner id only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.consents.record import Choice, choices_of
from hub.journeys.dossier import dossier_of
from hub.journeys.stream import compute_states
from hub.web.funded import issued_documents


@dataclass
class FunderShare:
    funder: str
    actions: list[str]  # the titles of the enrolments it funds
    exports: list[Any]  # the export configurations naming it (name, kind, outputs)
    routes: list[Any]  # the routes whose when.funders names it


@dataclass
class EmployerShare:
    name: str | None
    siret: str | None
    actions: list[str]
    shared: bool  # a purpose with recipient: employer is in force
    routes: list[Any]  # the routes that need that consent

    @property
    def scope(self) -> str:
        return self.siret or self.name or ""


@dataclass
class MyData:
    learner_id: str
    funders: list[FunderShare] = field(default_factory=list)
    employers: list[EmployerShare] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)  # the purposes the organisation allows
    documents: list[dict[str, Any]] = field(default_factory=list)  # current documents, with "title" (the action)


def employer_purposes(config) -> list[str]:
    return [name for name, p in config.hub.consents.purposes.items() if p.recipient == "employer"]


async def my_data(hub, learner_id: str, today) -> MyData:
    config = hub.config
    await hub.project()
    states = await hub.store.call(hub.store.journeys, learner_id=learner_id)
    states = [s for s in states if s["learner_id"] == learner_id]
    reports = compute_states(states, config, today)
    choices = await choices_of(hub.store, config.hub.consents, learner_id)
    found = MyData(learner_id, choices=[c for c in choices if c.settings.allowed])
    funders: dict[str, FunderShare] = {}
    employers: dict[tuple[str | None, str | None], EmployerShare] = {}
    to_employer = set(employer_purposes(config))
    shared = any(c.in_force for c in choices if c.purpose in to_employer)
    employer_routes = [r for r in config.model.routes if r.enabled and set(r.when.consent or ()) & to_employer]
    for state, report in zip(states, reports):
        title = report.action.title if report.action else report.action_id
        for funder in sorted(report.funders):
            share = funders.get(funder)
            if share is None:
                share = funders[funder] = FunderShare(
                    funder, [], [(name, cfg) for name, cfg in config.exports.items() if funder in (cfg.funders or [])],
                    [r for r in config.model.routes if r.enabled and funder in (r.when.funders or [])])
            share.actions.append(title)
        dossier = dossier_of(report)
        if dossier.employer_name or dossier.employer_siret:
            key = (dossier.employer_siret, dossier.employer_name)
            employers.setdefault(key, EmployerShare(dossier.employer_name, dossier.employer_siret, [], shared,
                                                    employer_routes)).actions.append(title)
        found.documents.extend({**d, "title": title} for d in issued_documents(state))
    found.funders = [funders[f] for f in sorted(funders)]
    found.employers = list(employers.values())
    return found


async def own_document(hub, learner_id: str, document_id: str) -> dict[str, Any] | None:
    """A document issued to this learner (current, superseded or revoked: it is theirs), or None
    for any other id — another learner's document and an unknown one alike."""
    await hub.project()
    states = await hub.store.call(hub.store.journeys, learner_id=learner_id)
    for state in states:
        if state["learner_id"] != learner_id:
            continue
        for fact in state.get("documents", []):
            if fact.get("type") == "document.issued" and fact.get("document") == document_id:
                return fact
    return None
