"""What a funder account may read: the enrolments it funds (its ``funders`` scope against the
journey's current funding decisions, as ``parcours proofs check --funder`` and the exports
select them), the documents issued for each, and the versions of the exports configured for it
alone (read from the manifests the exporter writes). Read from the journeys projection, never
from a scan of the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.formats import MANIFEST
from hub.journeys.stream import compute_states

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


@dataclass
class ExportVersion:
    period: str
    version: int
    generated_at: str
    files: list[str]
    missing: list[dict[str, Any]]  # the required fields missing when it was forced (--allow-incomplete)
    current: bool  # the latest version of its period (the others are superseded)


@dataclass
class FunderExport:
    name: str
    kind: str
    outputs: list[str]
    versions: list[ExportVersion] = field(default_factory=list)  # newest period first, newest version first


def exports_for(config, funders: tuple[str, ...]) -> list[FunderExport]:
    """The exports configured for these funders alone (``funders`` set, every one in scope: an
    export shared with another funder holds its learners), with the versions their manifests list."""
    shown = []
    for name, cfg in config.exports.items():
        if not cfg.funders or not set(cfg.funders) <= set(funders):
            continue
        base = config.resolve_path(cfg.output_dir) if cfg.output_dir else config.data_dir / "exports" / name
        shown.append(FunderExport(name, cfg.kind, list(getattr(cfg, "outputs", None) or []), _versions(base)))
    return shown


def _versions(base: Path) -> list[ExportVersion]:
    versions = []
    periods = sorted((p for p in base.iterdir() if p.is_dir()), reverse=True) if base.is_dir() else []
    for period in periods:
        found = []
        for folder in period.glob("v*"):
            if not folder.name[1:].isdigit():
                continue
            try:
                manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a version without its manifest is not an export the hub wrote
            found.append(ExportVersion(period.name, int(folder.name[1:]), manifest.get("generated_at", ""),
                                       [f["name"] for f in manifest.get("files", [])], manifest.get("incomplete", []),
                                       current=False))
        found.sort(key=lambda v: v.version, reverse=True)
        if found:
            found[0].current = True
        versions.extend(found)
    return versions
