"""What the France Travail and Région formats share: profiles, the column vocabulary, the
figures of a period, learner identifiers from the ledger, and value formatting.

A *profile* is a YAML file that says what varies between funders of one family: the columns of
each file and their order, their labels, the separator, the encoding, the date and decimal
formats, the file names. It is validated like the rest of the configuration
(:func:`hub.config.load_yaml_model`): a column naming an unknown field is a
:class:`hub.errors.ConfigError` that names the profile file and the line.

Identifiers that are not in the core vocabulary (France Travail identifier, NIR, regional file
number…) are read, for the funding of the export, from ``data.details.ids.<namespace>`` of its
``funding.approved`` event, else from ``learner.ids.<namespace>`` on the learner's events in the
ledger (the latest value wins). Columns name them ``ids.<namespace>``.

The Région plugin imports this module: until the core offers these helpers (see the docs), the
two built-in formats keep one copy of them here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import string
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.config import load_yaml_model
from hub.errors import ConfigError
from hub.formats import MissingField, Period
from hub.journeys.actions import MODALITY_LABELS, NATURE_LABELS
from hub.journeys.compute import Figure, HalfDayResult, JourneyReport

# --------------------------------------------------------------------------- the column vocabulary

#: fields of a row about one enrolment (learner × action) for the period
ENROLMENT_FIELDS: dict[str, str] = {
    "learner.id": "hub learner id",
    "learner.name": "full name as the sources give it",
    "learner.first_name": "first name (prospect.contact_created, else the first word of the name)",
    "learner.last_name": "last name (prospect.contact_created, else the rest of the name)",
    "learner.email": "e-mail address",
    "action.id": "training action id",
    "action.title": "title of the action",
    "action.nature": "nature (L6313-1), in words",
    "action.modality": "modality, in words",
    "action.start": "first day of the action",
    "action.end": "last day of the action",
    "action.planned_hours": "planned hours of the whole action",
    "action.location": "place of the action",
    "action.certification": "RNCP/RS code and title",
    "organisation.name": "raison sociale",
    "organisation.siret": "SIRET",
    "organisation.nda": "numéro de déclaration d'activité",
    "organisation.address": "address",
    "organisation.city": "place of signature",
    "funding.funder": "funder name of the funding used",
    "funding.reference": "reference of the funding (funding.approved data.reference)",
    "funding.hours": "hours funded",
    "funding.amount": "amount funded",
    "funding.approved_on": "date of the funding.approved event",
    "funding.remuneration": "remuneration scheme (details.remuneration, else the export's default_remuneration)",
    "enrolment.status": "journey status (registered … completed, abandoned)",
    "enrolment.registered_on": "registration date (enrolment.registered, else funding.approved)",
    "enrolment.entry_date": "entry date (enrolment.started, else the first attended half-day)",
    "enrolment.exit_date": "exit date (completion or abandonment), when it is not after the period",
    "enrolment.exit_kind": "completed or abandoned, in the profile's exit_labels",
    "enrolment.exit_reason": "reason given with the abandonment",
    "period.label": "the period exported (2026-10)",
    "period.start": "first day of the period",
    "period.end": "last day of the period",
    "hours.planned": "planned hours of the action (same as action.planned_hours)",
    "hours.realised": "realised hours of the whole action so far (journey figure)",
    "hours.scheduled_period": "scheduled hours in the period, up to the exit",
    "hours.present_period": "hours of the half-days attended in the period (signed, or virtual class)",
    "hours.foad_period": "distance-learning hours in the period (connection time per day, capped)",
    "hours.attended_period": "hours.present_period + hours.foad_period",
    "hours.absent_justified_period": "hours of justified absences in the period",
    "hours.absent_unjustified_period": "hours of unjustified absences in the period (unsigned half-days included "
                                       "when missing_counts_as_unjustified)",
    "hours.unsigned_period": "hours of half-days with neither signature nor recorded absence",
    "count.absences_justified": "number of half-days of justified absence in the period",
    "count.absences_unjustified": "number of half-days of unjustified absence in the period",
    "count.half_days_unsigned": "number of half-days with neither signature nor recorded absence",
    "flag.unjustified_absence": "true when the period has an unjustified absence (true_label / false_label)",
}
#: fields of a row about one half-day (detail files, absence declarations)
HALF_DAY_FIELDS: dict[str, str] = {
    "halfday.date": "date of the half-day",
    "halfday.part": "morning or afternoon, in the profile's half_day_labels",
    "halfday.start": "scheduled start (HH:MM)",
    "halfday.end": "scheduled end (HH:MM)",
    "halfday.modality": "modality, in words",
    "halfday.hours": "scheduled hours of the half-day",
    "halfday.status": "status, in the profile's status_labels",
    "halfday.justified": "true for a justified absence",
    "halfday.reason": "reason recorded with the absence",
}
DYNAMIC_FIELDS = {
    "ids.<namespace>": "an identifier: funding.approved details.ids.<namespace>, else learner.ids.<namespace>",
    "funding.details.<key>": "a key of the funding.approved details",
}
_DYNAMIC = re.compile(r"^(ids\.[a-z][a-z0-9_]*|funding\.details\.[A-Za-z0-9_]+)$")

STATUSES = ("signed", "signed_without_trainer", "remote", "absent", "absent_justified", "missing", "foad",
            "after_exit", "upcoming")
DEFAULT_STATUS_LABELS = {
    "signed": "présent", "signed_without_trainer": "présent (émargement formateur manquant)",
    "remote": "présent à distance", "absent": "absence injustifiée", "absent_justified": "absence justifiée",
    "missing": "non émargé", "foad": "formation à distance", "after_exit": "après la sortie", "upcoming": "à venir",
}
PRESENT = {"signed", "signed_without_trainer", "remote"}


def check_field(name: str, *, half_day: bool) -> str:
    if name in ENROLMENT_FIELDS or _DYNAMIC.match(name) or (half_day and name in HALF_DAY_FIELDS):
        return name
    known = sorted(ENROLMENT_FIELDS) + (sorted(HALF_DAY_FIELDS) if half_day else []) + sorted(DYNAMIC_FIELDS)
    extra = "" if half_day or name not in HALF_DAY_FIELDS else " (half-day fields only exist in half-day documents)"
    raise ValueError(f"unknown column {name!r}{extra}; known columns: {', '.join(known)}")


# --------------------------------------------------------------------------- profiles


class Column(BaseModel):
    """One column: a field of the vocabulary (or a constant ``value``) under a label."""

    model_config = ConfigDict(extra="forbid")
    half_day: ClassVar[bool] = False
    label: str = Field(min_length=1, description="Header of the column")
    field: str | None = Field(default=None, description="A field of the vocabulary (see the docs)")
    value: str | None = Field(default=None, description="A constant written in every row instead of a field")
    required: bool = Field(default=False, description="The funder requires it: an empty value is a missing field")
    date_format: str | None = Field(default=None, description="strftime format of this column (else the profile's)")

    @field_validator("field")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return None if value is None else check_field(value, half_day=cls.half_day)

    @model_validator(mode="after")
    def _one_source(self) -> Column:
        if (self.field is None) == (self.value is None):
            raise ValueError("give either 'field' or 'value'")
        return self


class HalfDayColumn(Column):
    half_day: ClassVar[bool] = True


FILE_PLACEHOLDERS = ("period", "siret", "nda", "export")


def check_file_name(value: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"invalid file name template {value!r}: {exc}") from None
    unknown = names - set(FILE_PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder(s) {', '.join(sorted('{' + n + '}' for n in unknown))} in {value!r}; "
                         f"use {', '.join('{' + p + '}' for p in FILE_PLACEHOLDERS)}")
    if "/" in value or "\\" in value or value.startswith("."):
        raise ValueError(f"{value!r}: a file name, without folders")
    return value


class OutputFormat(BaseModel):
    """How values are written: encoding, separators, dates, decimals, labels."""

    model_config = ConfigDict(extra="forbid")
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "iso-8859-1", "iso-8859-15"] = "utf-8"
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    line_terminator: Literal["\n", "\r\n"] = "\r\n"
    quote_all: bool = False
    date_format: str = "%d/%m/%Y"
    decimal_separator: Literal[",", "."] = ","
    decimals: int = Field(default=2, ge=0, le=4, description="Decimals of hours and amounts")
    true_label: str = "OUI"
    false_label: str = "NON"
    half_day_labels: dict[Literal["am", "pm"], str] = Field(default_factory=lambda: {"am": "matin", "pm": "après-midi"})
    status_labels: dict[str, str] = Field(default_factory=dict, description="Labels of half-day statuses")
    exit_labels: dict[Literal["completed", "abandoned"], str] = Field(
        default_factory=lambda: {"completed": "fin de formation", "abandoned": "abandon"})

    @field_validator("status_labels")
    @classmethod
    def _statuses(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown status(es) {', '.join(sorted(unknown))}; statuses: {', '.join(STATUSES)}")
        return {**DEFAULT_STATUS_LABELS, **value}

    def status_label(self, status: str) -> str:
        return {**DEFAULT_STATUS_LABELS, **self.status_labels}.get(status, status)

    # -- values to text
    def text(self, value: Any, date_format: str | None = None) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return self.true_label if value else self.false_label
        if isinstance(value, dt.date):
            return value.strftime(date_format or self.date_format)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, (Decimal, float)):
            quantum = Decimal(1).scaleb(-self.decimals)
            text = str(Decimal(str(value)).quantize(quantum, ROUND_HALF_UP))
            return text.replace(".", self.decimal_separator)
        text = str(value)
        return " ".join(text.split()) if ("\n" in text or "\r" in text) else text

    def csv_text(self, header: list[str] | None, rows: Iterable[list[str]]) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.delimiter, lineterminator=self.line_terminator,
                            quoting=csv.QUOTE_ALL if self.quote_all else csv.QUOTE_MINIMAL)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()

    def write(self, path: Path, text: str) -> str | None:
        """Write ``text`` in the profile's encoding; returns a note when characters had to be replaced."""
        try:
            data = text.encode(self.encoding)
            note = None
        except UnicodeEncodeError:
            data = text.encode(self.encoding, errors="replace")
            bad = sorted({ch for ch in text if not _encodable(ch, self.encoding)})
            note = f"{path.name}: {''.join(bad)!r} cannot be written in {self.encoding}, replaced by '?'"
        path.write_bytes(data)
        return note


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


@dataclass(frozen=True)
class _Cached:
    mtime: float
    value: Any


_PROFILE_CACHE: dict[tuple[str, type], _Cached] = {}


def profile_path(value: str, builtin_dir: Path, base_dir: Path | None = None) -> Path:
    """A built-in profile name (``hauts-de-france``) or a path to a YAML file."""
    if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
        path = builtin_dir / f"{value}.yaml"
        if not path.exists():
            known = sorted(p.stem for p in builtin_dir.glob("*.yaml"))
            raise ConfigError(f"unknown built-in profile {value!r} (built-in: {', '.join(known)}; or give a path "
                              "to a YAML file)")
        return path
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir or Path.cwd()) / path


def load_profile(path: Path, model: type[BaseModel]) -> Any:
    """Load and validate a profile (cached until the file changes); ConfigError names file:line."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read profile: {exc.strerror}") from None
    key = (str(path), model)
    cached = _PROFILE_CACHE.get(key)
    if cached is None or cached.mtime != mtime:
        profile = load_yaml_model(path, model, env={})
        if hasattr(profile, "bind"):
            profile.bind(path)
        cached = _PROFILE_CACHE[key] = _Cached(mtime, profile)
    return cached.value


def validate_profile_option(value: str, builtin_dir: Path, model: type[BaseModel]) -> str:
    """For a format Config's ``profile`` field: load it now, so that a bad profile is a config error."""
    try:
        load_profile(profile_path(value, builtin_dir), model)
    except ConfigError as exc:
        raise ValueError("; ".join(exc.problems)) from None
    return value


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
    day, registrations. Superseded events are ignored (corrections win)."""
    facts = LedgerFacts()
    per_day: dict[tuple[str, str], dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    types = set(identity_types) | ({"lms.session"} if sessions else set()) | (
        set(REGISTRATION_TYPES) if registrations else set())
    superseded: set[str] = set()
    kept: list[dict[str, Any]] = []
    for event in events(types=sorted(types)):
        if event.get("supersedes"):
            superseded.add(event["supersedes"])
        if not event.get("learner_id"):
            continue
        if event["type"] in ("lms.session", *REGISTRATION_TYPES):
            kept.append(event)
            if event["type"] not in identity_types:
                continue
        person = facts.people.setdefault(event["learner_id"], Person())
        learner = event.get("learner") or {}
        for namespace, value in (learner.get("ids") or {}).items():
            if value:
                person.ids[namespace] = str(value)
        if event["type"] == "prospect.contact_created":
            data = event.get("data") or {}
            person.first_name = data.get("first_name") or person.first_name
            person.last_name = data.get("last_name") or person.last_name
    for event in kept:
        if event["id"] in superseded or not event.get("action"):
            continue
        key = (event["learner_id"], event["action"])
        if event["type"] == "lms.session":
            if sessions:
                start = dt.datetime.fromisoformat(event["data"]["start"])
                per_day[key][start.astimezone(tz).date()] += event["data"]["duration_seconds"]
            continue
        if not registrations:
            continue
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
        "funding.hours": _decimal(fact.get("hours")),
        "funding.amount": _decimal(fact.get("amount")),
        "funding.approved_on": local_date(fact.get("at"), tz),
        "funding.remuneration": details.get("remuneration") or default_remuneration,
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


def value_of(values: dict[str, Any], name: str) -> Any:
    if name.startswith("ids."):
        return values.get("_ids", {}).get(name[4:])
    if name.startswith("funding.details."):
        found = values.get("_details", {}).get(name[len("funding.details."):])
        return found if not isinstance(found, (dict, list)) else str(found)
    return values.get(name)


def _decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def cells(columns: list[Column], values: dict[str, Any], fmt: OutputFormat) -> list[str]:
    return [column.value if column.field is None else fmt.text(value_of(values, column.field), column.date_format)
            for column in columns]


def missing_of(columns: list[Column], values: dict[str, Any], fmt: OutputFormat, *, document: str,
               profile: str) -> list[MissingField]:
    """A MissingField for each required column the row leaves empty."""
    out = []
    who = values.get("learner.name") or values.get("learner.id")
    for column in columns:
        if column.required and column.field and fmt.text(value_of(values, column.field)) == "":
            out.append(MissingField(who, column.field, f"{document}: '{column.label}' is required by profile "
                                    f"{profile!r} and is empty ({hint(column.field)})"))
    return out


def hint(name: str) -> str:
    if name.startswith("ids."):
        ns = name[4:]
        return (f"record it as learner.ids.{ns} on one of the learner's events, or as details.ids.{ns} on the "
                "funding.approved event")
    if name.startswith("funding."):
        return "record it on the funding.approved event of this funder"
    if name.startswith("organisation."):
        return "set it under hub.organisation in the configuration"
    if name.startswith("action."):
        return "set it on the training action in the configuration"
    return "the ledger does not give it"


def dedupe(missing: list[MissingField]) -> list[MissingField]:
    seen: set[tuple[str, str]] = set()
    out = []
    for m in missing:
        if (m.learner, m.field) not in seen:
            seen.add((m.learner, m.field))
            out.append(m)
    return out


def file_name(template: str, *, period: Period, organisation: Any, export: str) -> str:
    return template.format(period=period.label.replace("..", "_"), siret=getattr(organisation, "siret", "") or "",
                           nda=getattr(organisation, "nda", "") or "", export=export)


def sort_key(values: dict[str, Any]) -> tuple:
    return (str(values.get("learner.last_name") or "").casefold(), str(values.get("learner.first_name") or "").casefold(),
            str(values.get("learner.id")), str(values.get("action.id")))


def in_period(day: dt.date | None, period: Period) -> bool:
    return day is not None and period.start <= day <= period.end
