"""What the alert follow-up pages read and write: for a training action of the account's scope,
its enrolments with their dropout alerts (each with every follow-up) and their drift figures
(hub.journeys.drift), read from the journeys projection (one store call per action); and a
follow-up recorded from a page exactly as ``parcours alerts follow-up`` (or ``parcours risk
follow-up``, for a risk flag) records it (hub.journeys.follow_up), by the signed-in account.

An enrolment is **drifting** when it has an alert raised and not followed up yet, or when the
alert rules (hub.journeys.alerts.evaluate, the daemon's own) raise one on it now: the pages show
no alert of their own making.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from hub.journeys.alerts import alerts_of
from hub.journeys.compute import JourneyReport
from hub.journeys.drift import Drift, drift
from hub.journeys.follow_up import followed_event
from hub.journeys.follow_up import record_follow_up as recorded
from hub.journeys.stream import compute_states
from hub.store.base import UnreadableEvent

NOTE_MAX = 1000  # characters of a follow-up note typed in a page


@dataclass
class Followed:
    report: JourneyReport
    alerts: list[dict[str, Any]]  # raised alerts, newest first, each with its follow_ups
    drift: Drift

    @property
    def open_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if not a["followed_up"]]

    @property
    def drifting(self) -> bool:
        return bool(self.drift.firing or self.open_alerts)


@dataclass
class FollowedAction:
    action_id: str
    title: str
    enrolments: list[Followed] = field(default_factory=list)

    @property
    def drifting(self) -> list[Followed]:
        return [e for e in self.enrolments if e.drifting]

    @property
    def alerts(self) -> list[tuple[Followed, dict[str, Any]]]:
        """Every alert raised on the action's enrolments, the open ones first, newest first."""
        found = [(e, a) for e in self.enrolments for a in e.alerts]
        found.sort(key=lambda pair: pair[1]["at"], reverse=True)
        return sorted(found, key=lambda pair: pair[1]["followed_up"] is not None)


def followed(pairs: Iterable[tuple[JourneyReport, list[dict[str, Any]]]], config, now: dt.datetime) -> list[Followed]:
    """Each computed journey with its raised alerts (hub.journeys.alerts.alerts_of) and its drift
    at ``now``, by learner name."""
    found = [Followed(report, sorted(alerts, key=lambda a: a["at"], reverse=True),
                      drift(report, config.hub.alerts, now, config.timezone)) for report, alerts in pairs]
    return sorted(found, key=lambda e: ((e.report.learner_name or "").casefold(), e.report.learner_id))


def local_time(at: str, tz: dt.tzinfo) -> str:
    """An event's ISO instant as the pages write it, in the hub's time zone: 12/10/2026 11:00."""
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(tz).strftime("%d/%m/%Y %H:%M")


async def followed_action(hub, principal, action_id: str, now: dt.datetime) -> FollowedAction | None:
    """One training action of the principal's scope; None when it is not configured or outside
    the scope (the same answer)."""
    action = hub.config.model.actions.get(action_id)
    if action is None or not principal.sees_action(action_id):
        return None
    await hub.project()
    states = await hub.store.call(lambda: hub.store.journeys(action=action_id))
    reports = compute_states(states, hub.config, now.astimezone(hub.config.timezone).date())
    pairs = zip(reports, (alerts_of(s.get("alerts", [])) for s in states))
    return FollowedAction(action_id, action.title, followed(pairs, hub.config, now))


async def followed_in_scope(hub, principal, event_id: str, event_type: str) -> dict[str, Any] | None:
    """The event ``event_id`` of ``event_type`` (an ``alert.raised``, a ``risk.flagged``:
    hub.journeys.follow_up) when it is about a training action of the principal's scope; None
    otherwise (unknown, unreadable, another event type or outside: the same answer)."""
    try:
        event = await followed_event(hub, event_id, event_type)
    except UnreadableEvent:
        return None
    action = event.get("action") if event else None
    return event if action in hub.config.model.actions and principal.sees_action(action) else None


async def alert_in_scope(hub, principal, alert_id: str) -> dict[str, Any] | None:
    """The ``alert.raised`` event ``alert_id`` when it is about a training action of the
    principal's scope; None otherwise (unknown, another event type or outside: the same answer)."""
    return await followed_in_scope(hub, principal, alert_id, "alert.raised")


async def record_follow_up(hub, principal, event: dict[str, Any], note: str, now: dt.datetime) -> str:
    """Append the ``alert.followed_up`` event of an alert or a risk flag (source ``hub``) by the
    signed-in account; its id."""
    return await recorded(hub, event, note, principal.email, now)
