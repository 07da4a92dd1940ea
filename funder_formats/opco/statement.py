"""The attendance statement: which enrolments, which half-days, which hours.

One *line* per learner, OPCO funding and scheduled half-day of the statement's window:

* ``monthly``: the half-days of the period, from the action's start to the learner's exit;
* ``end_of_action``: every half-day of the enrolments whose training ended in the period (the
  learner's exit date, or the action's end).

Hours come from the learner's journey (:mod:`hub.journeys.compute`): a présentiel or
synchronous half-day carries the hours the journey counted for it; FOAD hours are counted per day
from connection time by the journey's own rule (daily cap, activity estimates, cap at the scheduled
FOAD hours) and shared out over the day's FOAD half-days, so that the lines of all the months of
an action add up to the journey's FOAD figure exactly. Half-days not yet held and half-days after
an abandonment are left out. *Billable* hours are those an OPCO pays (see :func:`billable`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from funder_formats.opco.config import OpcoConfig
from hub.formats import Period
from hub.journeys.compute import JourneyReport, hours
from hub.journeys.dossier import Dossier, dossier_of

ZERO = Decimal(0)
SIGNED = ("signed", "signed_without_trainer")
ABSENT = ("absent", "absent_justified")


@dataclass
class Enrolment:
    """One learner's enrolment as one OPCO funds it, with the learner-level values of the files.

    ``report`` (the whole journey) is held only while the enrolment is being checked or written:
    an export keeps thousands of enrolments, not thousands of journeys (see OpcoFormat.export)."""

    report: JourneyReport | None
    funder: str
    funding: dict[str, Any]
    details: dict[str, Any]
    window: tuple[dt.date, dt.date]
    end: dt.date
    ended: bool
    cofunded: bool
    dossier: Dossier = field(default_factory=Dossier)
    values: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] | None = None
    skipped_upcoming: int = 0
    learner_id: str = field(init=False)
    action_id: str = field(init=False)
    learner_name: str | None = field(init=False)
    action: Any = field(init=False)  # hub.journeys.actions.TrainingAction
    realised_hours: Decimal = field(init=False)

    def __post_init__(self) -> None:
        report = self.report
        self.learner_id, self.action_id, self.learner_name = report.learner_id, report.action_id, report.learner_name
        self.action, self.realised_hours = report.action, report.realised_hours

    @property
    def key(self) -> tuple[str, str]:
        return (self.learner_id, self.action_id)

    @property
    def label(self) -> str:
        return self.learner_name or self.learner_id

    def sort_key(self) -> tuple:
        return (self.action_id, _collate(self.values.get("learner_last_name")),
                _collate(self.values.get("learner_first_name")), self.learner_id, self.funder)


def _collate(text: str | None) -> str:
    """Sort key of a name: accents and case ignored (« Éloïse » with the E's)."""
    plain = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).casefold()


def opco_fundings(report: JourneyReport, config: OpcoConfig, funder: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The funding facts of ``report`` this export covers: the configured ``funders``, else the
    fundings whose kind is one of ``opco_kinds``."""
    out = []
    for name in sorted(report.funders):
        fact = report.funders[name]
        if funder and name != funder:
            continue
        if config.funders:
            if name not in config.funders:
                continue
        elif fact.get("funder_kind") not in config.opco_kinds:
            continue
        out.append((name, fact))
    return out


def opco_dossier(report: JourneyReport, funding: dict[str, Any], config: OpcoConfig) -> Dossier:
    """The dossier of one OPCO funding (:mod:`hub.journeys.dossier`); for events recorded before the
    vocabulary had its fields, the export's ``fields`` name the ``details`` keys that hold them."""
    f = config.fields
    return dossier_of(report, funding, {"employer_siret": f.employer_siret, "employer_name": (f.employer_name, "employer"),
                                        "dossier": f.dossier, "subrogation": f.subrogation})


def merged_details(report: JourneyReport, funding: dict[str, Any]) -> dict[str, Any]:
    """``details`` of the agreement, overridden by those of the funding (the learner's names and
    the API CFA's keys, which are not dossier fields of the vocabulary)."""
    out: dict[str, Any] = {}
    for fact in (report.timeline.get("agreement_signed") or {}, funding):
        details = fact.get("details")
        if isinstance(details, dict):
            out.update({k: v for k, v in details.items() if v not in (None, "")})
    return out


def split_name(name: str | None, details: dict[str, Any], config: OpcoConfig) -> tuple[str | None, str | None]:
    """(first name, last name): from the details when a source gave them, else the name split after
    its first word (« Chloé N'Diaye » → Chloé / N'Diaye)."""
    first, last = details.get(config.fields.learner_first_name), details.get(config.fields.learner_last_name)
    if first or last:
        return (str(first) if first else None), (str(last) if last else None)
    if not name:
        return None, None
    head, _, tail = " ".join(name.split()).partition(" ")
    return head or None, tail or None


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def enrolments(report: JourneyReport, config: OpcoConfig, period: Period, organisation: Any,
               funder: str | None = None) -> list[Enrolment]:
    """The enrolments of ``report`` in this export (one per OPCO funding), or none."""
    action = report.action
    if action is None:
        return []
    fundings = opco_fundings(report, config, funder)
    if not fundings:
        return []
    exit_date = report.exit_date
    end = exit_date or action.end
    if config.statement == "end_of_action":
        if not period.start <= end <= period.end:
            return []
        window = (action.start, end)
    else:
        window = (max(period.start, action.start), min(period.end, end))
        if window[0] > window[1]:
            return []
    ended = end <= window[1]  # the enrolment ends inside the statement: a final statement
    out = []
    for name, fact in fundings:
        details = merged_details(report, fact)
        enr = Enrolment(report, name, fact, details, window, end, ended, cofunded=len(report.funders) > 1,
                        dossier=opco_dossier(report, fact, config))
        enr.values = learner_values(enr, config, organisation)
        out.append(enr)
    return out


def learner_values(enr: Enrolment, config: OpcoConfig, organisation: Any) -> dict[str, Any]:
    report, action, details = enr.report, enr.report.action, enr.details
    profile = config.loaded_profile
    first, last = split_name(report.learner_name, details, config)
    started = report.timeline.get("started") or {}
    abandoned = report.timeline.get("abandoned") or {}
    dossier = enr.dossier
    return {
        "of_name": getattr(organisation, "name", None),
        "of_siret": getattr(organisation, "siret", None),
        "of_nda": getattr(organisation, "nda", None),
        "funder": enr.funder,
        "dossier": _text(dossier.file_number),
        "funding_reference": _text(enr.funding.get("reference")),
        "funding_hours": Decimal(str(enr.funding["hours"])) if enr.funding.get("hours") not in (None, "") else None,
        "funding_amount": Decimal(str(enr.funding["amount"])) if enr.funding.get("amount") not in (None, "") else None,
        "employer_siret": _text(dossier.employer_siret),
        "employer_name": _text(dossier.employer_name),
        "learner_id": report.learner_id,
        "learner_last_name": last,
        "learner_first_name": first,
        "learner_name": report.learner_name,
        "learner_email": report.learner_email,
        "action_id": report.action_id,
        "action_title": action.title,
        "action_nature": profile.label_nature(action.nature),
        "action_start": action.start,
        "action_end": action.end,
        "location": action.location,
        "trainer": action.trainer,
        "entry_date": _date(started.get("date")) or _date(started.get("at")),
        "exit_date": report.exit_date,
        "exit_reason": abandoned.get("reason") if report.status == "abandoned" else None,
        "learner_status": profile.label_learner_status(report.status),
        "window_start": enr.window[0],
        "window_end": enr.window[1],
    }


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value).strip() or None


# --------------------------------------------------------------------------- FOAD per day


_SCHEDULED_FOAD: dict[int, tuple[Any, Decimal]] = {}


def scheduled_foad_hours(action: Any) -> Decimal:
    """Scheduled FOAD hours of an action (cached: the schedule is rebuilt from the pattern each time)."""
    hit = _SCHEDULED_FOAD.get(id(action))
    if hit is None or hit[0] is not action:
        hit = _SCHEDULED_FOAD[id(action)] = (action, sum(
            (hd.hours for hd in action.schedule() if hd.modality == "foad_asynchrone"), ZERO))
        if len(_SCHEDULED_FOAD) > 1000:
            _SCHEDULED_FOAD.clear()
            _SCHEDULED_FOAD[id(action)] = hit
    return hit[1]


def foad_by_day(report: JourneyReport, rules: Any) -> dict[dt.date, tuple[Decimal, list[str]]]:
    """Realised FOAD hours per day, with their events, from the journey's FOAD modules (the sessions
    and activity estimates it counted, by day). Per day: connection time capped at the daily cap,
    plus activity estimates when the rules count them; then, cumulated in date order and capped at
    the scheduled FOAD hours, the day's share is the difference of rounded cumulative hours — so
    the days add up to the journey's FOAD figure to the cent."""
    figure = report.realised.get("foad_asynchrone")
    if figure is None or not figure.events:
        return {}
    cap = rules.foad_daily_cap.total_seconds()
    connection: dict[dt.date, float] = defaultdict(float)
    extra: dict[dt.date, float] = defaultdict(float)
    ids: dict[dt.date, list[str]] = defaultdict(list)
    for module in report.foad_modules:  # the order of the figure's events: sessions by day, then estimates
        for day in module.days:
            connection[day.date] += float(day.seconds)
            ids[day.date].extend(day.events)
        for estimate in module.estimates:
            extra[estimate.date] += float(estimate.minutes * 60)
            ids[estimate.date].append(estimate.event)
    scheduled = scheduled_foad_hours(report.action) if report.action else ZERO
    out: dict[dt.date, tuple[Decimal, list[str]]] = {}
    cumulated, previous = 0.0, ZERO
    for day in sorted(set(connection) | set(extra)):
        cumulated += min(connection[day], cap) + extra[day]
        total = hours(cumulated)
        if scheduled and total > scheduled:
            total = scheduled
        out[day] = (total - previous, ids[day])
        previous = total
    return out


# --------------------------------------------------------------------------- lines


def billable(status: str, realised: Decimal, config: OpcoConfig) -> Decimal:
    """Hours an OPCO pays for a line: a half-day signed by the learner and co-signed by the trainer
    (a learner's signature alone only with ``require_trainer_cosignature: false``), a virtual-class
    presence, FOAD connection time (unless ``bill_foad: false``); never an absence, justified or
    not (L6354-1: undelivered training is not paid)."""
    if status == "signed" or status == "remote":
        return realised
    if status == "signed_without_trainer":
        return ZERO if config.require_trainer_cosignature else realised
    if status in ("foad", "foad_unscheduled"):
        return realised if config.bill_foad else ZERO
    return ZERO


def build_rows(enr: Enrolment, config: OpcoConfig, foad: dict[dt.date, tuple[Decimal, list[str]]]) -> list[dict[str, Any]]:
    """The lines of one enrolment, in date order (morning, afternoon, then FOAD outside the schedule)."""
    start, end = enr.window
    rows: list[dict[str, Any]] = []
    foad_days_seen: set[dt.date] = set()
    by_day_foad: dict[dt.date, list] = defaultdict(list)
    for r in enr.report.half_days:
        if r.half_day.modality == "foad_asynchrone" and start <= r.half_day.date <= end:
            by_day_foad[r.half_day.date].append(r)
    shares = _share_foad(by_day_foad, foad)
    for r in enr.report.half_days:
        hd = r.half_day
        if hd.date < start or hd.date > end or r.status == "after_exit":
            continue
        if r.status == "upcoming":
            enr.skipped_upcoming += 1
            continue
        row = {"date": hd.date, "half_day": hd.half_day, "start_time": hd.start, "end_time": hd.end,
               "modality": hd.modality, "module": hd.module, "hours_planned": hd.hours}
        if hd.modality == "foad_asynchrone":
            foad_days_seen.add(hd.date)
            realised, events = shares.get((hd.date, hd.half_day), (ZERO, []))
            if r.status in ABSENT and not realised:
                status = r.status
            else:
                status = "foad" if realised else "foad_no_trace"
            row.update(status_code=status, hours_realised=realised, evidence=events + [e for e in r.events if e not in events],
                       learner_signed=r.status in SIGNED or None, trainer_cosigned=None,
                       proof=r.proof if r.status in SIGNED else None,
                       absence_reason=r.proof if r.status in ABSENT else None)
        else:
            status = r.status if r.status in ("signed", "signed_without_trainer", "remote", "absent",
                                              "absent_justified") else "missing"
            row.update(status_code=status, hours_realised=r.hours, evidence=list(r.events),
                       learner_signed=status in SIGNED,
                       trainer_cosigned=(status == "signed") if status in SIGNED else None,
                       proof=r.proof if status in SIGNED else None,
                       absence_reason=r.proof if status in ABSENT else None)
        row["hours_billable"] = billable(row["status_code"], row["hours_realised"], config)
        rows.append(row)
    for day in sorted(foad):
        if start <= day <= end and day not in foad_days_seen and foad[day][0]:
            realised, events = foad[day]
            rows.append({"date": day, "half_day": None, "start_time": None, "end_time": None,
                         "modality": "foad_asynchrone", "module": None, "hours_planned": ZERO,
                         "status_code": "foad_unscheduled", "hours_realised": realised, "evidence": list(events),
                         "learner_signed": None, "trainer_cosigned": None, "proof": None, "absence_reason": None,
                         "hours_billable": billable("foad_unscheduled", realised, config)})
    order = {"am": 0, "pm": 1, None: 2}
    rows.sort(key=lambda row: (row["date"], order[row["half_day"]]))
    for row in rows:
        row["evidence"] = " ".join(row["evidence"]) or None
    return rows


def _share_foad(by_day: dict[dt.date, list], foad: dict[dt.date, tuple[Decimal, list[str]]]) -> dict:
    """A day's FOAD hours over its FOAD half-days: each up to its scheduled hours, the rest on the last."""
    out = {}
    for day, results in by_day.items():
        left, events = foad.get(day, (ZERO, []))
        results = sorted(results, key=lambda r: r.half_day.half_day)
        for i, r in enumerate(results):
            share = left if i == len(results) - 1 else min(left, r.half_day.hours)
            left -= share
            out[(day, r.half_day.half_day)] = (share, list(events) if i == 0 else [])
    return out


def add_totals(enr: Enrolment) -> None:
    """Learner-level totals of the lines (the summary's hours)."""
    rows = enr.rows or []
    planned = sum((r["hours_planned"] for r in rows), ZERO)
    realised = sum((r["hours_realised"] for r in rows), ZERO)
    enr.values.update(
        hours_planned=planned, hours_realised=realised,
        hours_billable=sum((r["hours_billable"] for r in rows), ZERO),
        hours_absent=sum((r["hours_planned"] for r in rows if r["status_code"] in ("absent", "missing")), ZERO),
        hours_absent_justified=sum((r["hours_planned"] for r in rows if r["status_code"] == "absent_justified"), ZERO),
        hours_foad=sum((r["hours_realised"] for r in rows if r["modality"] == "foad_asynchrone"), ZERO),
        attendance_rate=(realised / planned * 100).quantize(Decimal("0.1"), ROUND_HALF_UP) if planned else None,
    )
