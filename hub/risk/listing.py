"""The web app's dropout-risk lists: the latest ``risk.flagged`` of each enrolment in progress,
read from the projected journeys (the flags the daemon raised), never computed per request.

Each enrolment's row of the list (:func:`flag_of`: its latest flag with its follow-up, or none) is
stored beside its journey (table ``journey_flags``): a small row per enrolment, so that a list
reads those rows, not the journeys' states (some 20 KB each). Writing a journey deletes its row
(the stores' ``save_journeys``); the list computes the missing rows from their journeys, a chunk at
a time, and stores them (the store's ``refresh_journey_flags``: one transaction no other write of
those journeys enters); the daemon's journeys job refreshes them after each projection
(:func:`refresh_flags`), so that a request rarely pays for it. A row depends on the journey
alone (not on the day nor on the configuration): a stored row is the one :func:`latest_flags`
computes from the journey it was stored beside.
"""

from __future__ import annotations

from typing import Any

from hub.journeys.compute import status_of
from hub.risk.dataset import FINISHED

CHUNK = 100  # journeys read, their rows computed and stored, per store call


def flag_of(state: dict[str, Any]) -> dict[str, Any] | None:
    """The list's row of one enrolment: its latest flag with its follow-up, or None when it was
    never flagged or has ended."""
    from hub.risk.service import flags_of

    flags = flags_of(state)
    if not flags or status_of(state) in FINISHED:
        return None
    latest = max(flags, key=lambda f: f["at"])
    return {"learner_id": state["learner_id"], "learner_name": state["learner"].get("name"),
            "action": state["action"], "score": latest["score"], "reasons": latest["reasons"],
            "at": latest["at"], "event": latest["event"], "model": latest["model"],
            "followed_up": latest["followed_up"]}


def latest_flags(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per enrolment still in progress, its latest flag with its follow-up; highest score first."""
    return ranked([row for state in states if (row := flag_of(state)) is not None])


async def action_flags(hub, action: str) -> list[dict[str, Any]]:
    """The rows of ``action``'s enrolments in progress that are flagged: the stored ones, the
    missing ones computed from their journeys and stored (the projection is assumed caught up)."""
    found = await hub.store.call(hub.store.journey_flags, action)
    rows = [r["flag"] for r in found if r["flag"] is not None]
    stale = [r["learner_id"] for r in found if r["flag"] is None]
    for start in range(0, len(stale), CHUNK):
        computed = await hub.store.call(hub.store.refresh_journey_flags, action, stale[start:start + CHUNK], flag_of)
        rows.extend(row for row in computed.values() if row is not None)
    return rows


async def flagged(hub, actions: list[str]) -> list[dict[str, Any]]:
    """The flags of the enrolments in progress of ``actions`` (the caller's scope), highest score
    first: one read of the small stored rows per action (hub.store ``journey_flags``)."""
    await hub.project()
    rows: list[dict[str, Any]] = []
    for action in actions:
        rows.extend(await action_flags(hub, action))
    return ranked(rows)


async def refresh_flags(hub) -> int:
    """Compute and store the missing rows of every configured action (the daemon's journeys job,
    after projecting); returns how many actions were read."""
    actions = list(hub.config.model.actions)
    for action in actions:
        await action_flags(hub, action)
    return len(actions)


def ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags of several actions in one list: highest score first, then by name (then by learner
    id and action, so that equal scores and names always come in the same order)."""
    return sorted(rows, key=lambda r: (-r["score"], r["learner_name"] or r["learner_id"], r["learner_id"], r["action"]))
