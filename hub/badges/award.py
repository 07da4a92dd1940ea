"""Awarding badges (``badge.awarded``) and revoking them (``badge.revoked``).

Awarding reads computed journeys a page at a time (memory bounded by the page), asks
:mod:`hub.badges.milestones` which badges each enrolment has earned, and appends one
``badge.awarded`` per milestone reached (source ``hub``; the learner's hub id as reference). The
``source_id`` is ``badge:<badge>:<learner>:<occurrence>``: the ledger keeps the first and ignores
the same award appended again, so running the job twice, or from the CLI and the daemon at once,
never awards a badge twice for the same learner, badge and occurrence — not even after a
revocation.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator

from hub.badges.credential import identity_hash
from hub.badges.milestones import Earned, earned
from hub.badges.records import load_award
from hub.badges.settings import BadgesConfig
from hub.errors import HubError
from hub.ingest.audit import whoami
from hub.journeys.compute import JourneyReport

if TYPE_CHECKING:
    from hub.documents.services import DocumentServices


@dataclass
class AwardRun:
    awarded: list[dict[str, Any]] = field(default_factory=list)  # the new badge.awarded: id, badge, learner, action
    already: int = 0  # milestones whose badge was awarded before

    def as_dict(self) -> dict[str, Any]:
        return {"awarded": self.awarded, "already": self.already}


def award_item(found: Earned, report: JourneyReport) -> dict[str, Any]:
    """The ``badge.awarded`` event input of a milestone reached (a fresh salt for the e-mail's hash)."""
    badge = found.badge
    data: dict[str, Any] = {"badge": badge.id, "name": badge.name, "description": badge.description,
                            "criteria": badge.criteria, "milestone": badge.kind, "occurrence": found.occurrence,
                            "evidence_events": found.events[:1000]}
    if badge.image:
        data["image"] = badge.image
    if report.learner_name:
        data["recipient_name"] = report.learner_name
    if report.learner_email:
        salt = secrets.token_hex(8)
        data["identity_hash"], data["identity_salt"] = identity_hash(report.learner_email, salt), salt
    learner = {"ref": found.learner_id, **({"name": report.learner_name} if report.learner_name else {})}
    return {"type": "badge.awarded", "occurred_at": found.at.isoformat(), "source_id": found.source_id,
            "learner": learner, "action": found.action, "data": data}


def awarded_in(state: dict[str, Any]) -> set[tuple[str, str]]:
    """(badge, occurrence) of every award a projected journey state already holds."""
    return {(f["badge"], f["occurrence"]) for f in state.get("badges", []) if f.get("type") == "badge.awarded"}


async def award_badges(services: "DocumentServices", pages: AsyncIterator[list[JourneyReport]],
                       settings: BadgesConfig | None = None,
                       known: dict[tuple[str, str], set[tuple[str, str]]] | None = None) -> AwardRun:
    """Award the badges earned in the journeys of ``pages`` (lists of reports). ``known``, filled by
    whoever reads the pages' states, maps (learner, action) to the awards the journey already
    holds: those are counted as ``already`` without being appended again (the ledger would
    refuse them anyway); entries are removed as they are used, so it holds one page at most."""
    settings = settings or services.config.hub.badges
    if not settings.enabled:
        raise HubError("badges are not enabled (hub.badges.enabled: true in the configuration)")
    run = AwardRun()

    async def flush(items: list[dict[str, Any]]) -> None:
        if not items:
            return
        result = await services.append(items, source="hub")
        for item, event_id, new in zip(items, result.ids, result.new):
            if new:
                run.awarded.append({"id": event_id, "badge": item["data"]["badge"], "learner": item["learner"]["ref"],
                                    "action": item["action"], "at": item["occurred_at"]})
                services.log.info("badge awarded", event_id=event_id, badge=item["data"]["badge"], action=item["action"])
            else:
                run.already += 1

    tz = services.config.timezone
    known = known if known is not None else {}
    async for reports in pages:
        items = []
        for report in reports:
            held = known.pop((report.learner_id, report.action_id), set())
            for found in earned(report, settings.badges, tz):
                if (found.badge.id, found.occurrence) in held:
                    run.already += 1
                else:
                    items.append(award_item(found, report))
        await flush(items)
    return run


async def revoke_badge(services: "DocumentServices", award_id: str, reason: str, *,
                       actor: str | None = None) -> dict[str, Any]:
    """Append ``badge.revoked`` for the award ``award_id`` (idempotent). HubError for an unknown award."""
    record = await load_award(services, award_id)
    if record is None:
        raise HubError(f"no awarded badge {award_id!r} in the ledger (see `parcours badges list`)")
    if record.revoked:
        return {"badge": award_id, "revoked_at": record.revoked["at"], "already": True}
    event = record.event
    learner = event.get("learner") or {}
    item = {
        "type": "badge.revoked", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "source_id": f"revoke-{award_id}", "action": event.get("action"),
        "learner": {"ref": record.learner_id, **({"name": learner["name"]} if learner.get("name") else {})},
        "data": {"credential": award_id, "status_index": event["seq"], "reason": reason,
                 "details": {"by": actor or whoami()}},
    }
    result = await services.append([item], source="hub")
    return {"badge": award_id, "event": result.ids[0], "revoked_at": item["occurred_at"], "already": False}
