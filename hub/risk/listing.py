"""The web app's dropout-risk lists: the latest ``risk.flagged`` of each enrolment in progress,
read from the projected journeys (the flags the daemon raised), never computed per request."""

from __future__ import annotations

from typing import Any

from hub.journeys.compute import status_of
from hub.risk.dataset import FINISHED


def latest_flags(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per enrolment still in progress, its latest flag with its follow-up; highest score first."""
    from hub.risk.service import flags_of

    rows = []
    for state in states:
        flags = flags_of(state)
        if not flags or status_of(state) in FINISHED:
            continue
        latest = max(flags, key=lambda f: f["at"])
        rows.append({"learner_id": state["learner_id"], "learner_name": state["learner"].get("name"),
                     "action": state["action"], "score": latest["score"], "reasons": latest["reasons"],
                     "at": latest["at"], "event": latest["event"], "model": latest["model"],
                     "followed_up": latest["followed_up"]})
    return sorted(rows, key=lambda r: (-r["score"], r["learner_name"] or r["learner_id"]))


async def flagged(hub, actions: list[str]) -> list[dict[str, Any]]:
    """The flags of the enrolments in progress of ``actions`` (the caller's scope): one store read per action."""
    await hub.project()
    rows: list[dict[str, Any]] = []
    for action in actions:
        states = await hub.store.call(lambda a=action: hub.store.journeys(action=a))
        rows.extend(latest_flags(states))
    return ranked(rows)


def ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags of several actions in one list: highest score first."""
    return sorted(rows, key=lambda r: (-r["score"], r["learner_name"] or r["learner_id"]))
