"""What the insights cover: the training actions (all, or a list: a manager's scope, ``--action``)
and a period (``--from``/``--to``), which selects enrolments by the day they entered the funnel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scope:
    actions: tuple[str, ...] | None = None  # None: every action
    start: dt.date | None = None  # inclusive
    end: dt.date | None = None  # inclusive

    def __post_init__(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    def holds_action(self, action: str | None) -> bool:
        return self.actions is None or action in self.actions

    def holds_day(self, day: dt.date | None) -> bool:
        """Whether ``day`` is in the period (any day when there is no period; no day is in a period)."""
        if self.start is None and self.end is None:
            return True
        if day is None:
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def describe(self) -> dict[str, Any]:
        return {"actions": list(self.actions) if self.actions is not None else "all",
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None}


def local_day(at: str | None, tz: dt.tzinfo) -> dt.date | None:
    """The day of an event's timestamp in the organisation's timezone."""
    if not at:
        return None
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(tz).date()


def entry_day(state: dict[str, Any], report, tz: dt.tzinfo) -> dt.date | None:
    """The day an enrolment entered the funnel: its registration, else its start, else the first
    day of its action (the period of ``--from``/``--to`` selects enrolments by this day)."""
    timeline = report.timeline
    if "registered" in timeline:
        return local_day(timeline["registered"]["at"], tz)
    if "started" in timeline:
        started = timeline["started"]
        return dt.date.fromisoformat(started["date"]) if started.get("date") else local_day(started["at"], tz)
    return report.action.start if report.action is not None else None
