"""Recording the follow-up of a dropout alert (``alert.raised``) or of a risk flag
(``risk.flagged``): an ``alert.followed_up`` event appended to the ledger (source ``hub``), about
the same learner and action (hub.journeys.alerts.follow_up_item). One recorder for ``parcours
alerts follow-up``, ``parcours risk follow-up`` and the web app's follow-up forms; each caller says
who did it (the current user, ``--by``, the signed-in account) and checks its own scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.journeys.alerts import follow_up_item

FOLLOWED_TYPES = ("alert.raised", "risk.flagged")  # what a follow-up is recorded against


async def followed_event(hub, event_id: str, event_type: str) -> dict[str, Any] | None:
    """The event ``event_id`` when it is of ``event_type`` (one of :data:`FOLLOWED_TYPES`); None
    when there is no such event or it is of another type. An event row that cannot be read raises
    hub.store.base.UnreadableEvent."""
    if event_type not in FOLLOWED_TYPES:
        raise ValueError(f"no follow-up is recorded against a {event_type} event")
    found = await hub.store.call(hub.store.get_event, event_id) if event_id else None
    return found if found is not None and found["type"] == event_type else None


async def record_follow_up(hub, event: dict[str, Any], note: str, by: str, now: dt.datetime) -> str:
    """Append the ``alert.followed_up`` of ``event`` (as :func:`followed_event` returns it): what
    was done (``note``), by ``by``, at ``now``; returns the new event's id."""
    return (await hub.append([follow_up_item(event, note, by, now)], source="hub")).ids[0]
