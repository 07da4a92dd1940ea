"""Tables about enrolments (France Travail, Région…): the column vocabulary, columns, formats.

A row is about one enrolment (learner × action) for the period, or about one of its half-days;
its columns name fields of the vocabulary below (``learner.last_name``, ``hours.foad_period``,
``halfday.status``…) or constants. Identifiers that are not in the core vocabulary (France
Travail identifier, NIR, regional file number…) are columns ``ids.<namespace>``: read, for the
funding of the export, from ``data.details.ids.<namespace>`` of its ``funding.approved`` event,
else from ``learner.ids.<namespace>`` on the learner's events (the latest value wins). The
values come from :mod:`hub.profiles.enrolments`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.formats import MissingField, Period
from hub.profiles.dialect import ENCODINGS, CsvDialect
from hub.profiles.files import check_file_template

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
    "funding.dossier": "the funder's file number: funding.approved data.dossier, else its reference",
    "funding.employer_name": "the employer: funding.approved data.employer_name, else the agreement's",
    "funding.employer_siret": "the employer's SIRET: funding.approved data.employer_siret, else the agreement's",
    "funding.hours": "hours funded",
    "funding.amount": "amount funded",
    "funding.approved_on": "date of the funding.approved event",
    "funding.remuneration": "remuneration scheme (funding.approved data.remuneration — details.remuneration on older "
                            "events —, else the export's default_remuneration)",
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
            "after_exit", "upcoming", "public_holiday")
DEFAULT_STATUS_LABELS = {
    "signed": "présent", "signed_without_trainer": "présent (émargement formateur manquant)",
    "remote": "présent à distance", "absent": "absence injustifiée", "absent_justified": "absence justifiée",
    "missing": "non émargé", "foad": "formation à distance", "after_exit": "après la sortie", "upcoming": "à venir",
    "public_holiday": "jour férié (non compté)",
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
    """A file name whose placeholders are ``{period}``, ``{siret}``, ``{nda}`` and ``{export}``."""
    return check_file_template(value, FILE_PLACEHOLDERS)


class OutputFormat(BaseModel):
    """How values are written: encoding, separators, dates, decimals, labels."""

    model_config = ConfigDict(extra="forbid")
    encoding: Literal[ENCODINGS] = "utf-8"  # type: ignore[valid-type]
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

    @property
    def dialect(self) -> CsvDialect:
        return CsvDialect(self.delimiter, self.line_terminator, self.quote_all, self.encoding)

    def csv_text(self, header: list[str] | None, rows: Iterable[list[str]]) -> str:
        return self.dialect.text(header, rows)

    def write(self, path: Path, text: str) -> str | None:
        """Write ``text`` in the profile's encoding; returns a note when characters had to be replaced."""
        data, bad = self.dialect.encode(text)
        path.write_bytes(data)
        return f"{path.name}: {''.join(bad)!r} cannot be written in {self.encoding}, replaced by '?'" if bad else None


def value_of(values: dict[str, Any], name: str) -> Any:
    if name.startswith("ids."):
        return values.get("_ids", {}).get(name[4:])
    if name.startswith("funding.details."):
        found = values.get("_details", {}).get(name[len("funding.details."):])
        return found if not isinstance(found, (dict, list)) else str(found)
    return values.get(name)


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


def refuse_incomplete(result: Any, allow_incomplete: bool) -> bool:
    """De-duplicate ``result.missing``; True (with a note) when the export must write nothing."""
    result.missing = dedupe(result.missing)
    if result.missing and not allow_incomplete:
        result.notes.append(f"nothing written: {len(result.missing)} required field(s) missing")
        return True
    return False


def file_name(template: str, *, period: Period, organisation: Any, export: str) -> str:
    return template.format(period=period.label.replace("..", "_"), siret=getattr(organisation, "siret", "") or "",
                           nda=getattr(organisation, "nda", "") or "", export=export)
