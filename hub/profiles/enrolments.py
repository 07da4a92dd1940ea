"""The facts of an enrolment for a period: what the ledger states beyond the journeys (ids,
names, FOAD time, registrations), the attendance figures of the period, and the typed values of
every field of the vocabulary of :mod:`hub.profiles.vocabulary`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub.formats import Period
from hub.journeys.actions import MODALITY_LABELS, NATURE_LABELS
from hub.journeys.compute import Figure, HalfDayResult, JourneyReport
from hub.journeys.dossier import dossier_of
from hub.profiles.vocabulary import PRESENT, OutputFormat

# --------------------------------------------------------------------------- the ledger: identifiers, names, FOAD time

DEFAULT_IDENTITY_TYPES = [
    "prospect.contact_created", "enrolment.registered", "enrolment.terms_accepted", "enrolment.agreement_signed",
    "funding.approved", "enrolment.started", "enrolment.completed", "enrolment.abandoned",
]


@dataclass
class Person:
    ids: dict[str, str] = field(default_factory=dict)
    first_name: str | None = None
    last_name: str | None = None


@dataclass
class Registration:
    """An enrolment as the ledger states it, for enrolments the hub did not select for the period
    (it selects those whose action overlaps the period; a registration precedes the action)."""

    learner_id: str
    action: str
    name: str | None = None
    email: str | None = None
    registered_at: str | None = None
    fundings: dict[str, dict[str, Any]] = field(default_factory=dict)  # funder -> fact (data + at)


@dataclass
class LedgerFacts:
    people: dict[str, Person] = field(default_factory=dict)
    #: (learner id, action) -> local date -> seconds of LMS connection
    sessions: dict[tuple[str, str], dict[dt.date, float]] = field(default_factory=dict)
    #: (learner id, action) -> registration and fundings
    registrations: dict[tuple[str, str], Registration] = field(default_factory=dict)


REGISTRATION_TYPES = ("enrolment.registered", "funding.approved")


def scan_ledger(events: Callable[..., Iterable[dict[str, Any]]], tz: dt.tzinfo, identity_types: list[str],
                sessions: bool = False, registrations: bool = False) -> LedgerFacts:
    """One pass over the ledger for what journeys do not carry: ids, first/last names, FOAD time per
    day, registrations. Superseded events are ignored (corrections win).

    A correction may come after the event it supersedes, so sessions and registrations are applied
    once the pass is over: of a session, only its id, enrolment, day and seconds are kept until then
    (not the event: an organisation's year has hundreds of thousands of sessions)."""
    facts = LedgerFacts()
    per_day: dict[tuple[str, str], dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    types = set(identity_types) | ({"lms.session"} if sessions else set()) | (
        set(REGISTRATION_TYPES) if registrations else set())
    superseded: set[str] = set()
    keys: dict[tuple[str, str], tuple[str, str]] = {}  # one tuple per enrolment, shared by its sessions
    days: dict[dt.date, dt.date] = {}  # one date object per local day
    kept_sessions: list[tuple[str, tuple[str, str], dt.date, int]] = []  # (event id, enrolment, day, seconds)
    kept: list[dict[str, Any]] = []  # registrations and fundings
    for event in events(types=sorted(types)):
        if event.get("supersedes"):
            superseded.add(event["supersedes"])
        if not event.get("learner_id"):
            continue
        kind = event["type"]
        if kind == "lms.session" or kind in REGISTRATION_TYPES:
            if kind != "lms.session":
                if registrations:
                    kept.append(event)
            elif sessions and event.get("action"):
                key = (event["learner_id"], event["action"])
                key = keys.setdefault(key, key)
                day = dt.datetime.fromisoformat(event["data"]["start"]).astimezone(tz).date()
                day = days.setdefault(day, day)
                kept_sessions.append((event["id"], key, day, event["data"]["duration_seconds"]))
            if kind not in identity_types:
                continue
        person = facts.people.setdefault(event["learner_id"], Person())
        learner = event.get("learner") or {}
        for namespace, value in (learner.get("ids") or {}).items():
            if value:
                person.ids[namespace] = str(value)
        if kind == "prospect.contact_created":
            data = event.get("data") or {}
            person.first_name = data.get("first_name") or person.first_name
            person.last_name = data.get("last_name") or person.last_name
    for event_id, key, day, seconds in kept_sessions:
        if event_id not in superseded:
            per_day[key][day] += seconds
    del kept_sessions
    for event in kept:
        if event["id"] in superseded or not event.get("action"):
            continue
        key = (event["learner_id"], event["action"])
        found = facts.registrations.setdefault(key, Registration(*key))
        learner = event.get("learner") or {}
        found.name = found.name or learner.get("name")
        found.email = found.email or learner.get("email")
        if event["type"] == "enrolment.registered":
            found.registered_at = event["occurred_at"]
        else:
            found.fundings[event["data"]["funder"]] = {"at": event["occurred_at"], **event["data"]}
    facts.sessions = {k: dict(v) for k, v in per_day.items()}
    return facts


# --------------------------------------------------------------------------- figures of a period


def local_date(value: str | None, tz: dt.tzinfo) -> dt.date | None:
    if not value:
        return None
    if len(value) == 10:
        return dt.date.fromisoformat(value)
    return dt.datetime.fromisoformat(value).astimezone(tz).date()


@dataclass
class PeriodFigures:
    scheduled: Decimal = Decimal(0)
    present: Decimal = Decimal(0)
    foad: Decimal = Decimal(0)
    absent_justified: Decimal = Decimal(0)
    absent_unjustified: Decimal = Decimal(0)
    unsigned: Decimal = Decimal(0)
    count_justified: int = 0
    count_unjustified: int = 0
    count_unsigned: int = 0
    half_days: list[HalfDayResult] = field(default_factory=list)  # those of the period, up to the exit

    @property
    def active(self) -> bool:
        return bool(self.half_days)


def period_figures(report: JourneyReport, period: Period, foad_seconds: dict[dt.date, float] | None,
                   foad_daily_cap: dt.timedelta, missing_counts_as_unjustified: bool = True) -> PeriodFigures:
    """Attendance of one enrolment over the period, half-day by half-day (nothing after the exit).

    Present: signed half-days (with or without the trainer's co-signature, as the journey counts
    them) and virtual-class presence. FOAD: connection time per day, capped at the daily cap and at
    the day's scheduled FOAD hours. Absences: recorded absences, justified or not; half-days with
    neither signature nor absence are counted apart and, unless disabled, as unjustified.
    """
    figures = PeriodFigures()
    foad_days: dict[dt.date, Decimal] = defaultdict(Decimal)
    for r in report.half_days:
        hd = r.half_day
        if not (period.start <= hd.date <= period.end) or r.status in ("after_exit", "upcoming"):
            continue
        if report.exit_date and hd.date > report.exit_date:
            continue
        figures.half_days.append(r)
        figures.scheduled += hd.hours
        if r.status in PRESENT:
            figures.present += r.hours
        elif r.status == "foad":
            foad_days[hd.date] += hd.hours
        elif r.status == "absent_justified":
            figures.absent_justified += hd.hours
            figures.count_justified += 1
        elif r.status == "absent":
            figures.absent_unjustified += hd.hours
            figures.count_unjustified += 1
        elif r.status == "missing":
            figures.unsigned += hd.hours
            figures.count_unsigned += 1
            if missing_counts_as_unjustified:
                figures.absent_unjustified += hd.hours
                figures.count_unjustified += 1
    cap = Decimal(int(foad_daily_cap.total_seconds())) / Decimal(3600)
    for day, scheduled in foad_days.items():
        seconds = Decimal(str((foad_seconds or {}).get(day, 0.0)))
        figures.foad += min(seconds / Decimal(3600), cap, scheduled)
    figures.foad = figures.foad.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return figures


# --------------------------------------------------------------------------- one row's values


def enrolment_figures(report: JourneyReport, period: Period, facts: LedgerFacts, hub_config: Any,
                      missing_counts_as_unjustified: bool = True) -> PeriodFigures:
    """:func:`period_figures` with the enrolment's FOAD time from ``facts`` and its action's daily cap."""
    return period_figures(report, period, facts.sessions.get((report.learner_id, report.action_id)),
                          hub_config.rules_for(report.action_id).foad_daily_cap, missing_counts_as_unjustified)


def funding_of(report: JourneyReport, names: list[str] | None, kinds: Iterable[str]) -> tuple[str, dict] | None:
    """The funding this export is about: by name when the export lists funders, else by funder kind."""
    kinds = set(kinds)
    for name in sorted(report.funders):
        fact = report.funders[name]
        if (names and name in names) or (not names and fact.get("funder_kind") in kinds):
            return name, fact
    return None


def split_name(name: str | None) -> tuple[str | None, str | None]:
    if not name:
        return None, None
    first, _, last = name.strip().partition(" ")
    return (first, last) if last else (None, first)


def enrolment_values(report: JourneyReport, *, funding: tuple[str, dict] | None, person: Person | None,
                     figures: PeriodFigures | None, period: Period, organisation: Any, tz: dt.tzinfo,
                     default_remuneration: str | None, exit_labels: dict[str, str]) -> dict[str, Any]:
    """Every enrolment field of the vocabulary, typed (dates, Decimals, ints, bools, text)."""
    action = report.action
    person = person or Person()
    split_first, split_last = split_name(report.learner_name)
    funder, fact = funding if funding else (None, {})
    details = fact.get("details") or {}
    dossier = dossier_of(report, fact)  # no funding: the agreement's employer, no file number
    timeline = report.timeline
    registered = timeline.get("registered") or timeline.get("funding_approved") or {}
    started = timeline.get("started") or {}
    entry = local_date(started.get("date") or started.get("at"), tz)
    if entry is None:
        attended = [r.half_day.date for r in report.half_days if r.status in PRESENT]
        entry = min(attended) if attended else None
    exit_date = report.exit_date if report.exit_date and report.exit_date <= period.end else None  # not after it
    exit_kind = report.status if report.status in ("completed", "abandoned") and exit_date else None
    values: dict[str, Any] = {
        "learner.id": report.learner_id,
        "learner.name": report.learner_name,
        "learner.first_name": person.first_name or split_first,
        "learner.last_name": person.last_name or split_last,
        "learner.email": report.learner_email,
        "action.id": report.action_id,
        "action.title": action.title if action else None,
        "action.nature": NATURE_LABELS.get(action.nature) if action else None,
        "action.modality": (MODALITY_LABELS.get(action.modality, action.modality) if action else None),
        "action.start": action.start if action else None,
        "action.end": action.end if action else None,
        "action.planned_hours": report.planned_hours if action else None,
        "action.location": action.location if action else None,
        "action.certification": action.certification if action else None,
        "organisation.name": getattr(organisation, "name", None),
        "organisation.siret": getattr(organisation, "siret", None),
        "organisation.nda": getattr(organisation, "nda", None),
        "organisation.address": getattr(organisation, "address", None),
        "organisation.city": getattr(organisation, "city", None),
        "funding.funder": funder,
        "funding.reference": fact.get("reference"),
        "funding.dossier": dossier.file_number,
        "funding.employer_name": dossier.employer_name,
        "funding.employer_siret": dossier.employer_siret,
        "funding.hours": _decimal(fact.get("hours")),
        "funding.amount": _decimal(fact.get("amount")),
        "funding.approved_on": local_date(fact.get("at"), tz),
        "funding.remuneration": dossier.remuneration or default_remuneration,
        "enrolment.status": report.status,
        "enrolment.registered_on": local_date(registered.get("at"), tz),
        "enrolment.entry_date": entry,
        "enrolment.exit_date": exit_date,
        "enrolment.exit_kind": exit_labels.get(exit_kind) if exit_kind else None,
        "enrolment.exit_reason": (timeline.get("abandoned") or {}).get("reason") if exit_kind == "abandoned" else None,
        "period.label": period.label,
        "period.start": period.start,
        "period.end": period.end,
        "hours.planned": report.planned_hours if action else None,
        "hours.realised": report.realised_hours,
    }
    if figures is not None:
        values.update({
            "hours.scheduled_period": figures.scheduled,
            "hours.present_period": figures.present,
            "hours.foad_period": figures.foad,
            "hours.attended_period": figures.present + figures.foad,
            "hours.absent_justified_period": figures.absent_justified,
            "hours.absent_unjustified_period": figures.absent_unjustified,
            "hours.unsigned_period": figures.unsigned,
            "count.absences_justified": figures.count_justified,
            "count.absences_unjustified": figures.count_unjustified,
            "count.half_days_unsigned": figures.count_unsigned,
            "flag.unjustified_absence": figures.count_unjustified > 0,
        })
    ids = dict(person.ids)
    ids.update({k: str(v) for k, v in (details.get("ids") or {}).items() if v})
    values["_ids"] = ids
    values["_details"] = details
    return values


def registration_report(reg: Registration, action: Any) -> JourneyReport:
    """A journey report of an enrolment the hub did not select, from what the ledger states about it."""
    return JourneyReport(
        learner_id=reg.learner_id, learner_name=reg.name, learner_email=reg.email, action_id=reg.action,
        action=action, status="registered", timeline={"registered": {"at": reg.registered_at}} if reg.registered_at
        else {}, funders=dict(reg.fundings), half_days=[], realised={"total": Figure(None, "not computed")},
        planned_hours=action.total_planned_hours() if action else Decimal(0), attendance_rate=Figure(None, ""),
        progress=None, assessments=[], certifications=[], foad_activities=[], tutor_interactions=[], exit_date=None)


def half_day_values(r: HalfDayResult, fmt: OutputFormat) -> dict[str, Any]:
    hd = r.half_day
    return {
        "halfday.date": hd.date,
        "halfday.part": fmt.half_day_labels.get(hd.half_day, hd.half_day),
        "halfday.start": hd.start,
        "halfday.end": hd.end,
        "halfday.modality": MODALITY_LABELS.get(hd.modality, hd.modality),
        "halfday.hours": hd.hours,
        "halfday.status": fmt.status_label(r.status),
        "halfday.justified": r.status == "absent_justified",
        "halfday.reason": r.proof if r.status in ("absent", "absent_justified") else None,
    }


def _decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def sort_key(values: dict[str, Any]) -> tuple:
    return (str(values.get("learner.last_name") or "").casefold(), str(values.get("learner.first_name") or "").casefold(),
            str(values.get("learner.id")), str(values.get("action.id")))


def in_period(day: dt.date | None, period: Period) -> bool:
    return day is not None and period.start <= day <= period.end
