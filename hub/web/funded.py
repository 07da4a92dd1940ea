"""What a funder account may read: the enrolments it funds (its ``funders`` scope against the
journey's current funding decisions, as ``parcours proofs check --funder`` and the exports
select them), the documents issued for each, and the versions of the exports configured for it
alone (hub.web.exported). Read from the journeys projection, never
from a scan of the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.journeys.stream import compute_states
from hub.web.exported import FunderExport, configured_exports

PAGE = 500  # journey states read per store call while listing


def funds(funders: tuple[str, ...], report_funders) -> bool:
    """Whether one of ``funders`` funds the enrolment (its current, not superseded, decisions)."""
    return any(f in report_funders for f in funders)


@dataclass
class FundedEnrolment:
    report: Any  # JourneyReport
    documents: list[dict[str, Any]]  # the current document.issued facts, oldest first

    @property
    def title(self) -> str:
        return self.report.action.title if self.report.action else self.report.action_id


def issued_documents(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The documents issued for one enrolment and still current: not superseded by a later issue,
    nor revoked (``document.revoked`` names the document it revokes)."""
    superseded = set(state.get("superseded", []))
    facts = state.get("documents", [])
    revoked = {f.get("document") for f in facts if f.get("type") == "document.revoked"}
    return [f for f in facts if f.get("type") == "document.issued" and f["event"] not in superseded
            and f.get("document") not in revoked]


@dataclass
class FundedPage:
    enrolments: list[FundedEnrolment]
    next_after: tuple[str, str] | None  # the (learner id, action) the next page starts after; None: the last page


async def funded_enrolments(hub, funders: tuple[str, ...], today, *, limit: int,
                            after: tuple[str, str] | None = None) -> FundedPage:
    """The first ``limit`` enrolments one of ``funders`` funds after the key ``after`` (learner id,
    action), in key order: the projection is read a chunk at a time until the page is full, and
    only the page's journeys are computed."""
    await hub.project()
    found: list[FundedEnrolment] = []
    key = after
    chunk_size = min(PAGE, 2 * (limit + 1))  # a funder's enrolments come in runs: read little more than a page
    while len(found) <= limit and (states := await hub.store.call(hub.store.journeys_page, key, chunk_size)):
        key = (states[-1]["learner_id"], states[-1]["action"])
        kept = [s for s in states if funds(funders, s.get("funders") or {})]  # before computing
        while kept and len(found) <= limit:  # one more than the page: whether a next page exists
            chunk, kept = kept[:limit + 1 - len(found)], kept[limit + 1 - len(found):]
            for state, report in zip(chunk, compute_states(chunk, hub.config, today)):
                if funds(funders, report.funders):  # the report leaves superseded decisions out
                    found.append(FundedEnrolment(report, issued_documents(state)))
    if len(found) > limit:
        last = found[limit - 1].report
        return FundedPage(found[:limit], (last.learner_id, last.action_id))
    return FundedPage(found, None)


async def funded_enrolment(hub, funders: tuple[str, ...], learner_id: str, action: str, today) -> FundedEnrolment | None:
    """One enrolment, when one of ``funders`` funds it; None otherwise (unknown or someone else's)."""
    if not learner_id or not action:
        return None
    await hub.project()
    states = await hub.store.call(lambda: hub.store.journeys(action=action, learner_id=learner_id))
    states = [s for s in states if s["learner_id"] == learner_id and s["action"] == action]
    if len(states) != 1:
        return None
    report = compute_states(states, hub.config, today)[0]
    return FundedEnrolment(report, issued_documents(states[0])) if funds(funders, report.funders) else None


def export_for(funders: tuple[str, ...], cfg) -> bool:
    """Whether an export is configured for these funders alone (``funders`` set, every one in
    scope: an export shared with another funder holds its learners)."""
    return bool(cfg.funders) and set(cfg.funders) <= set(funders)


def exports_for(config, funders: tuple[str, ...]) -> list[FunderExport]:
    """The exports configured for these funders alone, with the versions their manifests list."""
    return configured_exports(config, lambda cfg: export_for(funders, cfg))
