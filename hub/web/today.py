"""The trainer's week: per training action, the scheduled half-days of a week and, for each
learner, whether they signed, read from the computed journeys (hub.journeys), never from the ledger.

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

    def counts(self) -> list[tuple[Column, int, int, int]]:
        """Each half-day of the week that expects a signature, with how many learners signed, lack
        the trainer's co-signature, and have not signed (yet): the week's chart and its table."""
        return [(c, *(sum(1 for row in self.rows if row.cells.get(c.key) in group)
                      for group in (SIGNED, {"signed_without_trainer"}, NOT_SIGNED)))
                for c in self.columns if c.modality != "foad_asynchrone"]


def action_week(action_id: str, action, reports, day: dt.date) -> ActionWeek:
    """The week of ``day`` for one action (``action``: its TrainingAction; ``reports``: its
    computed journeys), and the half-days of ``day`` itself."""
    monday, sunday = week_of(day)
    columns = [Column(hd.date, hd.half_day, hd.start, hd.end, hd.modality)
               for hd in (action.schedule() if action else []) if monday <= hd.date <= sunday]
    keys = {c.key for c in columns}
    rows = []
    for report in sorted(reports, key=lambda r: ((r.learner_name or "").casefold(), r.learner_id)):
        row = Row(report.learner_id, report.learner_name or report.learner_email or report.learner_id, report.status)
        for result in report.half_days:
            key = f"{result.half_day.date.isoformat()}/{result.half_day.half_day}"
            if key in keys:
                row.cells[key] = result.status
        rows.append(row)
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
    return ActionWeek(action_id, title, action.trainer if action else None, columns, rows, summaries)
