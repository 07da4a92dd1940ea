"""The CPF *taux de réalisation*, as the Caisse des Dépôts' rules say — computed here once, for the
EDOF declarations of the ``cpf`` export and for the CPF products of the BPF (the CDC pays the price
times the declared rate), from the settings of the ``cpf`` export (:class:`RateConfig`).

Source: Conditions particulières des organismes de formation (CP-OF), article 5.1, as
explained by the Caisse des Dépôts on its help page "Comment calculer le taux de réalisation"
(of.moncompteformation.gouv.fr/espace-public/aide/comment-calculer-le-taux-de-realisation):

* the rate measures the learner's progress through the pedagogical path: (duration done ÷
  total duration) × 100 — e.g. 30 h done of 50 h = 60 %;
* in person (présentiel), as a percentage of the chosen unit of work: the hour, the day or
  the half-day;
* at a distance or mixed, from the pedagogical or assessment milestones (*jalons*) of the
  path that the learner completed, which the organisation must be able to trace;
* the rate is an integer: when the computation has decimals and the digit after the decimal
  point is 5 or more, round up, otherwise down (half-up rounding to the unit);
* a learner who followed the whole training is at 100 % ("réalisation totale"): no rate and
  no exit reason are asked for then.

How the hub applies them (see docs/formats/cpf.md and docs/formats/bpf.md):

* ``hours``: realised hours of the journey (signed half-days, virtual-class presence — see
  :mod:`hub.journeys.compute`) over the action's planned hours;
* ``half_days``: half-days that count over scheduled half-days;
* ``days``: days whose every scheduled half-day counts over scheduled days;
* ``milestones``: Σ weight × credit of the configured milestones over Σ weight, where a
  milestone is an LMS activity (completed, or a quiz attempted, on or before the exit), an
  assessment (graded on or before the exit) or the attendance block (credit = counted
  in-person/synchronous hours ÷ their scheduled hours).

The computation is exact (fractions) before the single rounding.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Basis = Literal["hours", "half_days", "days", "milestones"]
HUNDRED = Fraction(100)
CENT = Decimal("0.01")


class Milestone(BaseModel):
    """A *jalon* of a distance or mixed path: exactly one of ``activity``, ``assessment``, ``attendance``."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, description="Short id shown in the details file")
    label: str | None = Field(default=None, description="What the milestone is")
    activity: str | None = Field(
        default=None, description="LMS activity id (lms.activity_completed / lms.quiz_attempted data.activity)")
    assessment: str | None = Field(default=None, description="assessment.graded data.assessment")
    attendance: bool = Field(
        default=False, description="The in-person and synchronous half-days, credited pro rata of the hours that count")
    require_pass: bool = Field(
        default=False, description="Count an activity only when completed with state complete/pass or a passed quiz")
    weight: Decimal = Field(default=Decimal(1), gt=0, description="Relative weight (e.g. its hours in the programme)")

    @model_validator(mode="after")
    def _one_kind(self) -> "Milestone":
        kinds = [self.activity is not None, self.assessment is not None, self.attendance]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of 'activity', 'assessment' or 'attendance: true'")
        return self


@dataclass
class Rate:
    value: int
    exact: Fraction
    basis: Basis
    done: Fraction
    total: Fraction
    rule: str
    events: list[str] = field(default_factory=list)
    milestones: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.value >= 100


def round_rate(done: Fraction | Decimal | int, total: Fraction | Decimal | int) -> tuple[int, Fraction]:
    """(integer rate, exact rate) of ``done`` over ``total``, rounded half-up, capped at 100."""
    total = Fraction(total)
    if total <= 0:
        raise ValueError("the total duration must be positive")
    exact = min(Fraction(done) * HUNDRED / total, HUNDRED)
    return math.floor(exact + Fraction(1, 2)), exact


def is_distance_or_mixed(action) -> bool:
    """True when the CDC wants milestones: the action is not wholly in person."""
    if action.modality != "presentiel":
        return True
    return any(hd.modality != "presentiel" for hd in action.schedule())


def _dec(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, ROUND_HALF_UP)


def hours_rate(report) -> Rate:
    total = Fraction(report.action.total_planned_hours())
    done = Fraction(report.realised_hours)
    value, exact = round_rate(done, total)
    return Rate(value, exact, "hours", done, total,
                f"realised hours {_dec(done)} / planned hours {_dec(total)} × 100, rounded half-up",
                list(report.realised["total"].events))


def half_days_rate(report) -> Rate:
    rows = report.half_days
    done = sum(1 for r in rows if r.hours > 0)
    value, exact = round_rate(done, len(rows))
    return Rate(value, exact, "half_days", Fraction(done), Fraction(len(rows)),
                f"half-days that count {done} / scheduled half-days {len(rows)} × 100, rounded half-up",
                [e for r in rows if r.hours > 0 for e in r.events])


def days_rate(report) -> Rate:
    days: dict[dt.date, list] = {}
    for r in report.half_days:
        days.setdefault(r.half_day.date, []).append(r)
    done = sum(1 for rows in days.values() if all(r.hours > 0 for r in rows))
    value, exact = round_rate(done, len(days))
    return Rate(value, exact, "days", Fraction(done), Fraction(len(days)),
                f"days whose every half-day counts {done} / scheduled days {len(days)} × 100, rounded half-up",
                [e for rows in days.values() if all(r.hours > 0 for r in rows) for r in rows for e in r.events])


def _on_or_before(at: str | None, limit: dt.date | None, tz) -> bool:
    if not at:
        return False
    if limit is None:
        return True
    when = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    return when.astimezone(tz).date() <= limit


def milestones_rate(report, milestones: list[Milestone], tz, exit_date: dt.date | None) -> Rate:
    activities = {a["activity"]: a for a in report.foad_activities}
    total = Fraction(0)
    done = Fraction(0)
    events: list[str] = []
    details = []
    for m in milestones:
        weight = Fraction(m.weight)
        total += weight
        credit, at, used = Fraction(0), None, []
        if m.activity is not None:
            a = activities.get(m.activity)
            if a is not None:
                ok_state = a.get("completed_at") and (not m.require_pass or a.get("state") in ("complete", "pass"))
                if ok_state and _on_or_before(a["completed_at"], exit_date, tz):
                    credit, at = Fraction(1), a["completed_at"]
                else:
                    tries = [t for t in a.get("attempts", [])
                             if _on_or_before(t["at"], exit_date, tz) and (not m.require_pass or t.get("passed"))]
                    if tries:
                        credit, at = Fraction(1), tries[0]["at"]
                if credit:
                    used = list(a["events"])
        elif m.assessment is not None:
            graded = [g for g in report.assessments if g.get("assessment") == m.assessment
                      and _on_or_before(g.get("at"), exit_date, tz) and (not m.require_pass or g.get("passed") is not False)]
            if graded:
                credit, at, used = Fraction(1), graded[0]["at"], [g["event"] for g in graded]
        else:
            rows = [r for r in report.half_days if r.half_day.modality in ("presentiel", "distanciel_synchrone")]
            scheduled = sum((Fraction(r.half_day.hours) for r in rows), Fraction(0))
            counted = sum((Fraction(r.hours) for r in rows), Fraction(0))
            credit = counted / scheduled if scheduled else Fraction(0)
            used = [e for r in rows if r.hours > 0 for e in r.events]
        done += weight * credit
        events.extend(used)
        details.append({"id": m.id, "label": m.label, "weight": str(m.weight), "credit": str(_dec(credit)),
                        "done_at": at, "events": used})
    value, exact = round_rate(done, total)
    return Rate(value, exact, "milestones", done, total,
                f"weighted milestones done {_dec(done)} / {_dec(total)} × 100, rounded half-up", events, details)


def compute_rate(report, *, basis: Basis, milestones: list[Milestone] | None, tz, exit_date: dt.date | None) -> Rate:
    if basis == "milestones":
        return milestones_rate(report, milestones or [], tz, exit_date)
    if basis == "half_days":
        return half_days_rate(report)
    if basis == "days":
        return days_rate(report)
    return hours_rate(report)


def absence_hours(rate: Rate, planned: Decimal, realised: Decimal) -> Decimal:
    """Duration not completed (hours): exact for an hour basis, else the planned hours × (100 − rate) %."""
    if rate.complete:
        return Decimal("0.00")
    if rate.basis == "hours":
        return max(planned - realised, Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    return (planned * (100 - rate.value) / 100).quantize(CENT, ROUND_HALF_UP)


# --------------------------------------------------------------------------- settings


class ActionSettings(BaseModel):
    """How the taux de réalisation of one training action is computed."""

    model_config = ConfigDict(extra="forbid")
    rate_basis: Literal["auto", "hours", "half_days", "days", "milestones"] = Field(
        default="auto", description="auto: milestones for distance or mixed actions, else the export's unit")
    milestones: list[Milestone] = Field(default_factory=list, description="The jalons of a distance or mixed path")


@dataclass
class RateProblem:
    """Why a rate cannot be computed: the missing field and what to do."""

    field: str
    message: str


class RateConfig(BaseModel):
    """The keys of an export that declares CPF rates (the ``cpf`` export): the unit of in-person
    actions and, per action, the basis and milestones. The BPF reads the same object."""

    unit: Literal["hours", "half_days", "days"] = Field(
        default="hours", description="Unit of work of in-person actions (heure, demi-journée, journée)")
    action_settings: dict[str, ActionSettings] = Field(
        default_factory=dict, description="Per training action id: rate basis and milestones (jalons)")

    def settings_for(self, action_id: str) -> ActionSettings:
        return self.action_settings.get(action_id) or ActionSettings()

    def basis_for(self, action_id: str, action) -> Basis:
        """The basis of the rate of ``action`` (a TrainingAction): its setting, or milestones when it is
        not wholly in person, else the unit."""
        basis = self.settings_for(action_id).rate_basis
        if basis == "auto":
            return "milestones" if is_distance_or_mixed(action) else self.unit
        return basis

    def rate_of(self, report, tz, exit_date: dt.date | None) -> Rate | RateProblem:
        """The taux de réalisation of ``report``'s enrolment as of ``exit_date``, or why it cannot be
        computed (milestones not configured, no planned hours)."""
        action, action_id = report.action, report.action_id
        basis = self.basis_for(action_id, action)
        settings = self.settings_for(action_id)
        if basis == "milestones" and not settings.milestones:
            return RateProblem("milestones", f"action {action_id} is at a distance or mixed: the CDC computes its "
                               "rate from milestones (jalons); configure "
                               f"exports.<name>.action_settings.{action_id}.milestones")
        if action.total_planned_hours() <= 0:
            return RateProblem("planned_hours", f"action {action_id} has no planned hours")
        return compute_rate(report, basis=basis, milestones=settings.milestones, tz=tz, exit_date=exit_date)
