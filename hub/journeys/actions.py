"""Training actions (actions de formation) and their schedule, from configuration.

An action has dates, a nature (the four of article L6313-1, the checkboxes of the certificat de
réalisation), a modality and a schedule of half-days (morning / afternoon, with hours and a
modality each), given as a weekly pattern or explicitly. A weekly pattern skips the public
holidays of the action's calendar (:mod:`hub.journeys.calendar`); an explicit half-day on a
public holiday is kept, and flagged until ``holiday_confirmed``. Realised hours are computed
against this schedule (see :mod:`hub.journeys.compute`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from decimal import Decimal
from functools import cached_property
from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from hub.durations import Duration
from hub.journeys.calendar import METROPOLE, calendar_name, holiday

Nature = Literal["formation", "bilan_competences", "vae", "apprentissage"]
Modality = Literal["presentiel", "distanciel_synchrone", "foad_asynchrone"]
HalfDayName = Literal["am", "pm"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

NATURE_LABELS = {
    "formation": "action de formation",
    "bilan_competences": "bilan de compétences",
    "vae": "action de validation des acquis de l'expérience",
    "apprentissage": "action de formation par apprentissage",
}
MODALITY_LABELS = {
    "presentiel": "présentiel",
    "distanciel_synchrone": "distanciel synchrone",
    "foad_asynchrone": "FOAD asynchrone",
}


def _time(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"invalid time {value!r}: use HH:MM") from None


class Slot(BaseModel):
    """Hours and modality of a half-day in a weekly pattern."""

    model_config = ConfigDict(extra="forbid")
    start: str = Field(description="Start time, HH:MM")
    end: str = Field(description="End time, HH:MM (after start)")
    modality: Modality = Field(default="presentiel", description="How this half-day is delivered")

    @model_validator(mode="after")
    def _ordered(self) -> "Slot":
        if _time(self.end) <= _time(self.start):
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class HalfDay(BaseModel):
    """One scheduled half-day of an action."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    date: dt.date = Field(description="Day of the half-day")
    half_day: HalfDayName = Field(description="`am` (morning) or `pm` (afternoon); replaces the pattern's on that day")
    start: str = Field(description="Start time, HH:MM")
    end: str = Field(description="End time, HH:MM (after start)")
    modality: Modality = Field(default="presentiel", description="How this half-day is delivered")
    module: str | None = Field(default=None, description="Module taught, shown on OPCO attendance statements")
    holiday_confirmed: bool = Field(
        default=False, description="The session does take place on this public holiday: its signatures count "
        "(otherwise a half-day on a public holiday is flagged and credits no hours)")

    @property
    def key(self) -> str:
        return f"{self.date.isoformat()}/{self.half_day}"

    @property
    def hours(self) -> Decimal:
        start, end = _time(self.start), _time(self.end)
        minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
        return Decimal(minutes) / Decimal(60)

    def starts_at(self, tz: dt.tzinfo) -> dt.datetime:
        return dt.datetime.combine(self.date, _time(self.start), tzinfo=tz)

    def ends_at(self, tz: dt.tzinfo) -> dt.datetime:
        return dt.datetime.combine(self.date, _time(self.end), tzinfo=tz)


class WeeklyPattern(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], description="Days of the week with training")
    am: Slot | None = Field(default=None, description="The morning half-day's hours and modality; unset: no morning")
    pm: Slot | None = Field(default=None, description="The afternoon half-day's hours and modality; unset: no afternoon")


FoadEvidence = Literal["work", "assistance", "connection"]
FOAD_EVIDENCE: tuple[FoadEvidence, ...] = ("work", "assistance", "connection")


class FunderFoadProof(BaseModel):
    """A funder whose FOAD proof rule differs from the default, with where it says so."""

    model_config = ConfigDict(extra="forbid")
    requires: list[FoadEvidence] = Field(description="The kinds of evidence this funder requires per FOAD module")
    source: str = Field(min_length=1, description="Where the funder states this rule (URL or reference of its "
                        "conditions): required, and shown with the gaps it decides")


class FoadProofRules(BaseModel):
    """Which evidence proves a FOAD module (Code du travail D6313-3-1; see docs/documents.md)."""

    model_config = ConfigDict(extra="forbid")
    requires: list[FoadEvidence] = Field(
        default_factory=lambda: list(FOAD_EVIDENCE),
        description="Evidence required per FOAD module: `work` (activities completed, quizzes, assessments), "
                    "`assistance` (tutor interactions), `connection` (connection times)")
    funders: dict[str, FunderFoadProof] = Field(
        default_factory=dict, description="Funder-name globs whose rule differs (e.g. `opco-*`); an enrolment "
        "must satisfy the rule of each of its funders (funders not listed: `requires`)")

    def required_for(self, funders: Iterable[str]) -> tuple[list[str], list[str]]:
        """The evidence an enrolment with these funders must show (the union of each funder's rule),
        and the sources of the funder rules that apply."""
        needed: set[str] = set()
        sources: list[str] = []
        funders = list(funders)
        for funder in funders or [None]:
            override = next((o for glob, o in self.funders.items()
                             if funder is not None and fnmatch.fnmatchcase(funder, glob)), None)
            if override is None:
                needed.update(self.requires)
            else:
                needed.update(override.requires)
                if override.source not in sources:
                    sources.append(override.source)
        return [c for c in FOAD_EVIDENCE if c in needed], sources


class RealisationRules(BaseModel):
    """How realised hours are counted (see docs: rules and their sources)."""

    model_config = ConfigDict(extra="forbid")
    presentiel_requires_trainer_cosignature: bool = Field(
        default=False, description="Count a signed half-day only when the trainer co-signed it")
    foad_daily_cap: Duration = Field(default=dt.timedelta(hours=7), description="FOAD connection time counted per day at most")
    foad_count_activity_estimates: bool = Field(
        default=False, description="Add the estimated time of each completed activity to FOAD hours")
    foad_proof: FoadProofRules = Field(
        default_factory=FoadProofRules, description="Evidence that proves a FOAD module, and funders whose rule differs")
    synchronous_min_presence: Duration = Field(
        default=dt.timedelta(0), description="Virtual-class presence below this does not count")


class TrainingAction(BaseModel):
    """A training action and its schedule."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, description="Title printed on documents and reports")
    nature: Nature = Field(default="formation", description="Nature of the action (article L6313-1 of the Code du "
                           "travail), the box ticked on the certificat de réalisation")
    modality: Literal["presentiel", "distanciel_synchrone", "foad_asynchrone", "mixte"] = Field(
        default="presentiel", description="How the action is delivered as a whole (`mixte`: its half-days differ); "
        "realised hours follow each half-day's own modality")
    start: dt.date = Field(description="First day of the action")
    end: dt.date = Field(description="Last day of the action (not before `start`)")
    planned_hours: Decimal | None = Field(default=None, ge=0, description="Default: the sum of the schedule")
    trainer: str | None = Field(default=None, description="Trainer's name (OPCO statements, BPF)")
    location: str | None = Field(default=None, description="Place of the action (OPCO statements, France Travail)")
    objectives: list[str] = Field(default_factory=list, description="Pedagogical objectives, one per item "
                                  "(certificat de réalisation, attestation, LHÉO)")
    certification: str | None = Field(default=None, description="RNCP/RS code and title, when certifying")
    pattern: WeeklyPattern | None = Field(default=None, description="Weekly schedule from `start` to `end`: "
                                          "training days and the hours of each half-day")
    half_days: list[HalfDay] = Field(default_factory=list, description="Explicit half-days (added to the pattern)")
    exclude_dates: list[dt.date] = Field(default_factory=list, description="Other days without training (public "
                                         "holidays are skipped by the pattern already)")
    calendar: str | None = Field(
        default=None, description="Public holidays where the action takes place: metropole, alsace_moselle, "
        "guadeloupe, martinique, guyane, reunion, mayotte, saint_barthelemy, saint_martin, or a department "
        "number (57, 67, 68, 971…); default: `hub.calendar`")
    rules: RealisationRules | None = Field(default=None, description="This action's own counting rules instead of "
                                           "`hub.realisation` (keys not given take their defaults)")

    _hub_calendar: str = PrivateAttr(default=METROPOLE)  # the organisation's (hub.calendar), set with the config

    @model_validator(mode="after")
    def _dates(self) -> "TrainingAction":
        if self.end < self.start:
            raise ValueError("end is before start")
        return self

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str | None) -> str | None:
        return calendar_name(value) if value is not None else None

    def use_hub_calendar(self, calendar: str) -> None:
        """The organisation's calendar (``hub.calendar``), for an action without its own."""
        self._hub_calendar = calendar
        self.__dict__.pop("_schedule", None)
        self.__dict__.pop("unconfirmed_holidays", None)

    @property
    def effective_calendar(self) -> str:
        return self.calendar or self._hub_calendar

    def holiday(self, day: dt.date) -> str | None:
        """The public holiday ``day`` is in the action's calendar (its name), or None."""
        return holiday(day, self.effective_calendar)

    def schedule(self) -> list[HalfDay]:
        """Every scheduled half-day, in date order (computed once per action)."""
        return list(self._schedule)

    @cached_property
    def _schedule(self) -> tuple[HalfDay, ...]:
        days: dict[str, HalfDay] = {}
        if self.pattern is not None:
            day = self.start
            while day <= self.end:
                if (WEEKDAYS[day.weekday()] in self.pattern.weekdays and day not in self.exclude_dates
                        and self.holiday(day) is None):
                    for name in ("am", "pm"):
                        slot = getattr(self.pattern, name)
                        if slot is not None:
                            hd = HalfDay(date=day, half_day=name, start=slot.start, end=slot.end, modality=slot.modality)
                            days[hd.key] = hd
                day += dt.timedelta(days=1)
        for hd in self.half_days:
            days[hd.key] = hd
        return tuple(days[k] for k in sorted(days))

    @cached_property
    def unconfirmed_holidays(self) -> dict[str, str]:
        """The scheduled half-days on a public holiday that the schedule does not confirm
        (``holiday_confirmed``): half-day key -> the holiday's name (computed once per action)."""
        return {hd.key: name for hd in self._schedule
                if not hd.holiday_confirmed and (name := self.holiday(hd.date)) is not None}

    def total_planned_hours(self) -> Decimal:
        if self.planned_hours is not None:
            return self.planned_hours
        return sum((hd.hours for hd in self.schedule()), Decimal(0))

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, value: list[str]) -> list[str]:
        return [v.strip() for v in value if v.strip()]
