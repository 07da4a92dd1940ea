"""Distance learning (FOAD asynchrone): the modules of an action, the hours they credit and the
evidence that proves them.

A *module* is a part of an action delivered at a distance. Actions do not declare modules of their
own: an action's module is its FOAD part — its FOAD half-days (from a weekly pattern or explicit),
or, for an action whose modality is ``foad_asynchrone`` and whose schedule has no FOAD half-day,
its ``planned_hours``. Its dates are the action's (until the abandonment).

Hours (see docs/documents.md, "Distance learning"): connection time (``lms.session``) per day,
capped at ``foad_daily_cap``; plus, when ``foad_count_activity_estimates``, the estimated time of
each completed activity; the module's total capped at its scheduled hours.

Proof (Code du travail, art. D6313-3-1; TA Toulouse, 2 November 2023): three kinds of evidence per
module — the work done (activities completed, quiz attempts, assessments), the assistance
(``lms.tutor_interaction``) and the connection times (``lms.session``). Downloads and media
views are traces, not work done. Which of the three a funder requires is
``RealisationRules.foad_proof`` (default: all three).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable

from hub.journeys.actions import HalfDay, RealisationRules, TrainingAction

TWO = Decimal("0.01")
#: the kinds of evidence of a FOAD module, in the order of article D6313-3-1's justification
COMPONENTS = ("work", "assistance", "connection")
#: journey-state lists whose facts are work done
WORK_LISTS = ("activities", "quizzes", "assessments")


def hours(seconds: float | Decimal) -> Decimal:
    return (Decimal(seconds) / Decimal(3600)).quantize(TWO, ROUND_HALF_UP)


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class ConnectionDay:
    """One day's connection time: what the sessions add up to, and what counts (the daily cap)."""

    date: dt.date
    seconds: int
    counted_seconds: int
    events: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "connected_seconds": self.seconds,
                "counted_seconds": self.counted_seconds, "hours": str(hours(self.counted_seconds)),
                "events": self.events}


@dataclass
class ActivityEstimate:
    """A completed activity's estimated time, counted when ``foad_count_activity_estimates``."""

    activity: str
    name: str | None
    minutes: int
    event: str
    date: dt.date | None = None  # the day it was completed (in the hub's time zone): FOAD hours per day

    def as_dict(self) -> dict[str, Any]:
        return {"activity": self.activity, "name": self.name, "minutes": self.minutes,
                "hours": str(hours(self.minutes * 60)), "event": self.event}


@dataclass
class FoadModule:
    """One distance module of an enrolment: its schedule, its hours and its evidence."""

    name: str
    start: dt.date
    end: dt.date
    half_days: list[HalfDay]
    scheduled_hours: Decimal | None  # None: nothing scheduled, so no cap
    daily_cap_seconds: int
    counts_estimates: bool
    days: list[ConnectionDay] = field(default_factory=list)
    estimates: list[ActivityEstimate] = field(default_factory=list)
    evidence: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in COMPONENTS})
    value: Decimal = Decimal(0)
    capped: bool = False

    @property
    def connection_seconds(self) -> int:
        return sum(d.counted_seconds for d in self.days)

    @property
    def estimate_seconds(self) -> int:
        return sum(e.minutes * 60 for e in self.estimates)

    def due(self, today: dt.date, exit_date: dt.date | None) -> bool:
        """Whether its proof is due: a FOAD half-day of it is past (before the exit), or, without
        half-days, it started before ``today`` (and before the exit)."""
        days = [hd.date for hd in self.half_days] or [self.start]
        return any(d < today and (exit_date is None or d <= exit_date) for d in days)

    def missing(self, required: Iterable[str]) -> list[str]:
        return [c for c in COMPONENTS if c in set(required) and not self.evidence[c]]

    def rule(self) -> str:
        text = f"connection time per day, capped at {hours(self.daily_cap_seconds)} h a day"
        if self.counts_estimates:
            text += ", plus the estimated time of completed activities"
        if self.capped:
            text += f", capped at the {self.scheduled_hours} planned FOAD hours"
        return text

    def as_dict(self, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "module": self.name, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "scheduled_hours": None if self.scheduled_hours is None else str(self.scheduled_hours),
            "hours": str(self.value),
            "evidence": {c: len(self.evidence[c]) for c in COMPONENTS},
        }
        if explain:
            out.update(
                rule=self.rule(),
                connection={"daily_cap_hours": str(hours(self.daily_cap_seconds)),
                            "counted_seconds": self.connection_seconds,
                            "hours": str(hours(self.connection_seconds)),
                            "days": [d.as_dict() for d in self.days]},
                activity_estimates={"minutes": self.estimate_seconds // 60, "hours": str(hours(self.estimate_seconds)),
                                    "activities": [e.as_dict() for e in self.estimates]},
                sum={"seconds": self.connection_seconds + self.estimate_seconds,
                     "hours": str(hours(self.connection_seconds + self.estimate_seconds)),
                     "capped_at": str(self.scheduled_hours) if self.capped else None},
                evidence={c: list(self.evidence[c]) for c in COMPONENTS},
            )
        return out


def modules_of(action: TrainingAction | None, schedule: list[HalfDay], rules: RealisationRules,
               abandoned_on: dt.date | None) -> list[FoadModule]:
    """The FOAD modules of an action (see the module documentation): none when it has no distance part."""
    if action is None:
        return []
    half_days = [hd for hd in schedule if hd.modality == "foad_asynchrone"]
    if half_days:
        scheduled: Decimal | None = sum((hd.hours for hd in half_days), Decimal(0))
    elif action.modality == "foad_asynchrone":
        scheduled = action.planned_hours
    else:
        return []
    end = min(action.end, abandoned_on) if abandoned_on else action.end
    return [FoadModule(f"FOAD part of {action.title}", action.start, end, half_days, scheduled,
                       int(rules.foad_daily_cap.total_seconds()), rules.foad_count_activity_estimates)]


def evaluate(module: FoadModule, facts: Callable[[str], list[dict[str, Any]]], tz: dt.tzinfo) -> FoadModule:
    """Fill ``module`` with its evidence and hours from the enrolment's live facts (``facts(list name)``)."""

    def inside(at: str) -> bool:
        return module.start <= _instant(at).astimezone(tz).date() <= module.end

    per_day: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for s in facts("sessions"):
        if inside(s["start"]):
            per_day[_instant(s["start"]).astimezone(tz).date()].append(s)
    for day in sorted(per_day):
        seconds = sum(int(s["duration_seconds"]) for s in per_day[day])
        module.days.append(ConnectionDay(day, seconds, min(seconds, module.daily_cap_seconds),
                                         [s["event"] for s in per_day[day]]))
        module.evidence["connection"].extend(s["event"] for s in per_day[day])
    for name in WORK_LISTS:
        module.evidence["work"].extend(f["event"] for f in facts(name) if inside(f["at"]))
    module.evidence["assistance"].extend(f["event"] for f in facts("tutor") if inside(f["at"]))
    if module.counts_estimates:
        module.estimates = [ActivityEstimate(a["activity"], a.get("activity_name"), int(a["estimated_minutes"]), a["event"],
                                             _instant(a["at"]).astimezone(tz).date())
                            for a in facts("activities") if a.get("estimated_minutes") and inside(a["at"])]
    value = hours(module.connection_seconds + module.estimate_seconds)
    if module.scheduled_hours is not None and value > module.scheduled_hours:
        value, module.capped = module.scheduled_hours, True
    module.value = value
    return module


def events_of(module: FoadModule) -> list[str]:
    """The events its hours rest on: the sessions, then the estimated activities."""
    return [e for d in module.days for e in d.events] + [a.event for a in module.estimates]
