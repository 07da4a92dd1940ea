"""How an enrolment is drifting away: the figures shown beside its dropout alerts.

The alerts decide who is drifting (hub.journeys.alerts: the rules ``parcours run`` evaluates,
and the alerts raised and not followed up yet); these figures, read from the computed journey,
show the trend behind them (Qualiopi indicator 12, see docs/web-app.md):

* the attendance rate to date (hub.journeys.compute: realised hours / scheduled hours to date);
* the attendance of the last :data:`RECENT_HALF_DAYS` half-days held that expect a signature
  (présentiel, distanciel synchrone), with the same rule: the hours they credit / their
  scheduled hours. Dropping when below the rate to date;
* the last trace of the learner (LMS activity or a signed half-day, as the inactivity alert
  reads it) and the whole days since.

And, for a whole training action, its attendance rate week by week (:func:`weekly_attendance`):
the same rule over the half-days of each week held so far that expect a signature, all its
enrolments together. FOAD asynchrone is left out of both: its hours are counted per module and
per day of connection (hub.journeys.foad), not per half-day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from hub.journeys.alerts import Alert, AlertsConfig, evaluate, last_activity
from hub.journeys.compute import HalfDayResult, JourneyReport

RECENT_HALF_DAYS = 6  # three days of a full-time action
#: half-days that are not held yet, or expect no signature (FOAD asynchrone is counted per module),
#: or do not count (after the learner left; on a public holiday the schedule does not confirm)
NOT_DUE = frozenset({"upcoming", "foad", "after_exit", "public_holiday"})


@dataclass(frozen=True)
class Drift:
    rate: Decimal | None  # attendance rate to date, percent
    recent: list[HalfDayResult]  # the last half-days held that expect a signature, oldest first
    last_activity: dt.datetime | None
    days_inactive: int | None  # whole days since last_activity (None: no trace at all)
    firing: list[Alert]  # what the alert rules raise on this enrolment now

    @property
    def recent_rate(self) -> Decimal | None:
        due = sum((r.half_day.hours for r in self.recent), Decimal(0))
        if not due:
            return None
        return (sum((r.hours for r in self.recent), Decimal(0)) / due * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def dropping(self) -> bool:
        recent = self.recent_rate
        return recent is not None and self.rate is not None and recent < self.rate


def drift(report: JourneyReport, cfg: AlertsConfig, now: dt.datetime, tz: dt.tzinfo) -> Drift:
    """The drift figures of one computed journey at ``now``."""
    held = sorted((r for r in report.half_days if r.half_day.modality != "foad_asynchrone"
                   and r.status not in NOT_DUE and r.half_day.starts_at(tz) <= now),
                  key=lambda r: (r.half_day.date, r.half_day.half_day))
    last = last_activity(report, tz)
    return Drift(report.attendance_rate.value, held[-RECENT_HALF_DAYS:], last,
                 (now - last).days if last is not None else None, evaluate(report, cfg, now, tz))


@dataclass(frozen=True)
class Week:
    monday: dt.date
    credited: Decimal  # hours the half-days held credit, all enrolments together
    due: Decimal  # their scheduled hours

    @property
    def rate(self) -> Decimal | None:
        return (self.credited / self.due * 100).quantize(Decimal("0.1"), ROUND_HALF_UP) if self.due else None


def weekly_attendance(reports: list[JourneyReport], now: dt.datetime, tz: dt.tzinfo) -> list[Week]:
    """The attendance of an action's enrolments (``reports``), week by week, from the first week
    with a half-day held that expects a signature to the last one (weeks without any: no rate)."""
    credited: dict[dt.date, Decimal] = {}
    due: dict[dt.date, Decimal] = {}
    for report in reports:
        for r in report.half_days:
            if r.half_day.modality == "foad_asynchrone" or r.status in NOT_DUE or r.half_day.starts_at(tz) > now:
                continue
            monday = r.half_day.date - dt.timedelta(days=r.half_day.date.weekday())
            credited[monday] = credited.get(monday, Decimal(0)) + r.hours
            due[monday] = due.get(monday, Decimal(0)) + r.half_day.hours
    if not due:
        return []
    weeks, monday = [], min(due)
    while monday <= max(due):
        weeks.append(Week(monday, credited.get(monday, Decimal(0)), due.get(monday, Decimal(0))))
        monday += dt.timedelta(days=7)
    return weeks
