"""The trainer's week: per training action, the scheduled half-days of a week and, for each
learner, whether they signed, read from the computed journeys (hub.journeys), never from the ledger.

What the page needs of one computed journey is its *attendance* (``attendance_of``): the learner's
name and e-mail, the enrolment's status and each scheduled half-day's status. The page does not
compute it per request: it is stored beside the journey with the manager's figures (table
``journey_figures``, hub.web.figured), computed by ``attendance_of`` for the same day and
configuration, and read back a small row per enrolment.

A half-day's status is the journey's (hub.journeys.compute): ``signed`` (and co-signed when the
rules require it), ``signed_without_trainer`` (the learner signed, the trainer's co-signature is
missing: the trainer can close that gap), ``remote`` (virtual-class presence), ``absent`` /
``absent_justified``, ``missing`` (a past half-day without signature or absence), ``upcoming``
(today or later, not signed yet), ``foad`` (asynchronous: counted from connection time, no
signature expected), ``after_exit``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

SIGNED = frozenset({"signed", "remote"})
#: statuses that say the learner has not signed (yet) a half-day that expects a signature
NOT_SIGNED = frozenset({"missing", "upcoming", "absent", "absent_justified"})


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)


@dataclass
class Column:
    date: dt.date
    half_day: str  # am | pm
    start: str
    end: str
    modality: str

    @property
    def key(self) -> str:
        return f"{self.date.isoformat()}/{self.half_day}"


@dataclass
class Row:
    learner_id: str
    name: str
    enrolment: str  # the enrolment's status (started, abandoned…)
    cells: dict[str, str] = field(default_factory=dict)  # column key -> half-day status


@dataclass
class DaySummary:
    """One half-day of the shown day: who signed, who has not (yet)."""

    column: Column
    signed: list[str]
    cosignature_missing: list[str]
    not_signed: list[str]

    @property
    def expects_signature(self) -> bool:
        """FOAD asynchrone is counted from connection time: no one signs it (hub.journeys.compute)."""
        return self.column.modality != "foad_asynchrone"


@dataclass
class ActionWeek:
    action_id: str
    title: str
    trainer: str | None
    columns: list[Column]
    rows: list[Row]
    day: list[DaySummary]
    #: every half-day of the action, whatever its week, where learners signed and the trainer's
    #: co-signature is missing (the gap the trainer closes), newest first: (key, learners' names)
    to_cosign: list[tuple[str, list[str]]] = field(default_factory=list)

    def line(self, row: Row) -> list[str]:
        """The row's status in each column, in order ("none" where the learner has no such half-day)."""
        return [row.cells.get(c.key, "none") for c in self.columns]

    def statuses(self) -> set[str]:
        """Every status the week's table shows."""
        return {"none"} | {s for row in self.rows for s in row.cells.values()}

    def counts(self) -> list[tuple[Column, int, int, int]]:
        """Each half-day of the week that expects a signature, with how many learners signed, lack
        the trainer's co-signature, and have not signed (yet): the week's chart and its table."""
        return [(c, *(sum(1 for row in self.rows if row.cells.get(c.key) in group)
                      for group in (SIGNED, {"signed_without_trainer"}, NOT_SIGNED)))
                for c in self.columns if c.modality != "foad_asynchrone"]


def attendance_of(report) -> dict[str, Any]:
    """What the week shows of one computed journey (hub.journeys.JourneyReport), as stored (JSON):
    the learner's name and e-mail, the enrolment's status and each half-day's status by key
    (``YYYY-MM-DD/am``)."""
    return {"learner_id": report.learner_id, "name": report.learner_name, "email": report.learner_email,
            "status": report.status,
            "half_days": {f"{r.half_day.date.isoformat()}/{r.half_day.half_day}": r.status for r in report.half_days}}


def action_week(action_id: str, action, attendances: list[dict[str, Any]], day: dt.date) -> ActionWeek:
    """The week of ``day`` for one action (``action``: its TrainingAction; ``attendances``: its
    enrolments' ``attendance_of``), and the half-days of ``day`` itself."""
    monday, sunday = week_of(day)
    columns = [Column(hd.date, hd.half_day, hd.start, hd.end, hd.modality)
               for hd in (action.schedule() if action else []) if monday <= hd.date <= sunday]
    keys = [c.key for c in columns]
    rows = []
    for seen in sorted(attendances, key=lambda a: ((a["name"] or "").casefold(), a["learner_id"])):
        statuses = seen["half_days"]
        rows.append(Row(seen["learner_id"], seen["name"] or seen["email"] or seen["learner_id"], seen["status"],
                        {key: statuses[key] for key in keys if key in statuses}))
    summaries = []
    for column in columns:
        if column.date != day:
            continue
        statuses = [(row.name, row.cells.get(column.key)) for row in rows]
        summaries.append(DaySummary(
            column,
            signed=[n for n, s in statuses if s in SIGNED],
            cosignature_missing=[n for n, s in statuses if s == "signed_without_trainer"],
            not_signed=[n for n, s in statuses if s in NOT_SIGNED],
        ))
    title = action.title if action else action_id
    return ActionWeek(action_id, title, action.trainer if action else None, columns, rows, summaries,
                      to_cosign(attendances))


def to_cosign(attendances: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The half-days (``YYYY-MM-DD/am``, newest first) where learners signed without the trainer's
    co-signature, each with those learners' names in order."""
    found: dict[str, list[str]] = {}
    for seen in attendances:
        for key, status in seen["half_days"].items():
            if status == "signed_without_trainer":
                found.setdefault(key, []).append(seen["name"] or seen["email"] or seen["learner_id"])
    return [(key, sorted(found[key], key=str.casefold)) for key in sorted(found, reverse=True)]
