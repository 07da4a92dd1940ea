"""Realised against planned hours, per training action and modality.

Realised hours are the journeys' own (hub.journeys.compute: présentiel and distanciel synchrone
per signed half-day, décret 2017-382; FOAD per module, Code du travail D6313-3-1 — see
docs/documents.md): this module adds up ``JourneyReport.realised`` and computes nothing of its own.
Planned hours, per enrolment and modality: the scheduled hours of the action's half-days of that
modality (hub.journeys.actions), and for FOAD the module's scheduled hours (the action's
``planned_hours`` for an all-FOAD action without FOAD half-days); the ``total`` line uses the
action's planned hours (``planned_hours`` or the sum of its schedule), as the journeys do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from hub.insights.tables import Column, Table, rate

MODALITIES = ("presentiel", "distanciel_synchrone", "foad_asynchrone")


@dataclass
class _Line:
    enrolments: int = 0
    ended: int = 0
    planned: Decimal = Decimal(0)
    realised: Decimal = Decimal(0)
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class HoursTally:
    def __init__(self) -> None:
        self.lines: dict[tuple[str, str], _Line] = defaultdict(_Line)
        self._planned: dict[str, dict[str, Decimal]] = {}  # action -> modality -> scheduled hours (once per action)

    def _schedule(self, report) -> dict[str, Decimal]:
        found = self._planned.get(report.action_id)
        if found is None:
            found = {m: Decimal(0) for m in MODALITIES}
            if report.action is not None:
                for hd in report.action.schedule():
                    found[hd.modality] += hd.hours
            self._planned[report.action_id] = found
        return found

    def add(self, report) -> None:
        schedule = self._schedule(report)
        foad_planned = sum((m.scheduled_hours for m in report.foad_modules if m.scheduled_hours is not None), Decimal(0))
        ended = report.status in ("completed", "abandoned")
        for modality in MODALITIES:
            planned = foad_planned if modality == "foad_asynchrone" and report.foad_modules else schedule[modality]
            figure = report.realised.get(modality)
            if not planned and figure is None:
                continue
            self._count(report.action_id, modality, planned, figure.value if figure else Decimal(0), ended)
        self._count(report.action_id, "total", report.planned_hours, report.realised_hours, ended)

    def _count(self, action: str, modality: str, planned: Decimal, realised: Decimal, ended: bool) -> None:
        line = self.lines[(action, modality)]
        line.enrolments += 1
        line.ended += ended
        line.planned += planned
        line.realised += realised

    def table(self, titles: dict[str, str], modalities: dict[str, str]) -> Table:
        table = Table("hours", "Realised vs planned hours per action and modality", COLUMNS)
        order = {m: i for i, m in enumerate((*MODALITIES, "total"))}
        for action, modality in sorted(self.lines, key=lambda k: (k[0], order[k[1]])):
            line = self.lines[(action, modality)]
            table.rows.append({"action": action, "action_title": titles.get(action, action),
                               "action_modality": modalities.get(action), "modality": modality,
                               "enrolments": line.enrolments, "ended": line.ended,
                               "planned_hours": line.planned.quantize(Decimal("0.01")),
                               "realised_hours": line.realised.quantize(Decimal("0.01")),
                               "realised_pct": rate(line.realised, line.planned)})
        return table


COLUMNS = [
    Column("action", "The training action's id"),
    Column("action_title", "Its title (configuration)"),
    Column("action_modality", "The action's modality as configured (presentiel, distanciel_synchrone, "
                              "foad_asynchrone, mixte)"),
    Column("modality", "The half-days' modality the line adds up, or total"),
    Column("enrolments", "Enrolments counted"),
    Column("ended", "Of those, completed or abandoned (an enrolment in progress has hours still to come)"),
    Column("planned_hours", "Sum of the enrolments' planned hours of that modality"),
    Column("realised_hours", "Sum of their realised hours (hub.journeys.compute)"),
    Column("realised_pct", "realised_hours per hundred planned_hours"),
]
