"""OPCO profiles: what varies between the OPCOs of one family, in YAML.

A profile fixes the columns of the attendance statement and their order, their labels, the CSV
dialect (separator, encoding, line endings, quoting), the date, time and decimal formats, the
labels of statuses and modalities, the file names, and the fields without which a learner's
line cannot be sent (``required``). Built-in profiles live in ``profiles/*.yaml`` next to this
module; an export names one (``profile: atlas``) or gives the path of its own file.

Profiles are validated like the rest of the configuration (:func:`hub.config.load_yaml_model`):
every error names the profile file and the line (``acme.yaml:12: columns[3].column: unknown
column 'nom_famille' (did you mean 'learner_last_name'?)``).
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.journeys.actions import MODALITY_LABELS, NATURE_LABELS
from hub.profiles import (CsvDialect, check_encoding, check_file_template, check_label_keys, check_separator,
                          check_sheet_name, unknown_name)

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


# --------------------------------------------------------------------------- the columns


@dataclass(frozen=True)
class Column:
    """A column the statement can carry. ``level``: ``learner`` (the same on every line of a learner),
    ``half_day`` (one value per half-day) or ``both`` (per half-day in the statement, the learner's
    total in the summary)."""

    level: Literal["learner", "half_day", "both"]
    kind: Literal["text", "date", "time", "hours", "amount", "percent", "bool"]
    label: str
    description: str


COLUMNS: dict[str, Column] = {
    # the training organisation (hub.organisation)
    "of_name": Column("learner", "text", "Organisme de formation", "raison sociale of the training organisation (`hub.organisation.name`)"),
    "of_siret": Column("learner", "text", "SIRET organisme", "SIRET of the training organisation (`hub.organisation.siret`)"),
    "of_nda": Column("learner", "text", "N° de déclaration d'activité", "NDA of the training organisation (`hub.organisation.nda`)"),
    # the OPCO funding (funding.approved) and the employer
    "funder": Column("learner", "text", "Financeur", "funder name of the `funding.approved` event (e.g. `opco-atlas`)"),
    "dossier": Column("learner", "text", "N° de dossier", "the OPCO's file number: `data.dossier` of the funding, else its `reference`"),
    "funding_reference": Column("learner", "text", "Référence de prise en charge", "`reference` of the `funding.approved` event"),
    "funding_hours": Column("learner", "hours", "Heures accordées", "hours the OPCO agreed to fund (`hours` of the funding)"),
    "funding_amount": Column("learner", "amount", "Montant accordé", "amount the OPCO agreed to fund (`amount` of the funding)"),
    "employer_siret": Column("learner", "text", "SIRET employeur", "employer's SIRET (`data.employer_siret` of the funding, else of the agreement)"),
    "employer_name": Column("learner", "text", "Employeur", "employer's name (`data.employer_name` of the funding, else of the agreement)"),
    # the learner
    "learner_id": Column("learner", "text", "Identifiant apprenant", "the hub's learner id"),
    "learner_last_name": Column("learner", "text", "Nom", "last name (`details.learner_last_name`, else the name after its first word)"),
    "learner_first_name": Column("learner", "text", "Prénom", "first name (`details.learner_first_name`, else the first word of the name)"),
    "learner_name": Column("learner", "text", "Stagiaire", "the learner's full name as the sources give it"),
    "learner_email": Column("learner", "text", "Courriel", "the learner's e-mail address"),
    # the training action and the enrolment
    "action_id": Column("learner", "text", "Code action", "training action id"),
    "action_title": Column("learner", "text", "Intitulé de la formation", "training action title"),
    "action_nature": Column("learner", "text", "Nature de l'action", "nature (L6313-1), as `labels.nature` says"),
    "action_start": Column("learner", "date", "Début de la formation", "first day of the training action"),
    "action_end": Column("learner", "date", "Fin de la formation", "last day of the training action"),
    "location": Column("learner", "text", "Lieu", "place of the training action"),
    "trainer": Column("learner", "text", "Formateur", "trainer of the training action"),
    "entry_date": Column("learner", "date", "Date d'entrée", "the learner's entry date (`enrolment.started`)"),
    "exit_date": Column("learner", "date", "Date de sortie", "completion or abandonment date, when recorded"),
    "exit_reason": Column("learner", "text", "Motif de sortie", "reason of an abandonment"),
    "learner_status": Column("learner", "text", "Situation", "where the enrolment stands, as `labels.learner_status` says"),
    "window_start": Column("learner", "date", "Période du", "first day covered by the statement for this learner"),
    "window_end": Column("learner", "date", "Période au", "last day covered by the statement for this learner"),
    # hours: per half-day in the statement, totals in the summary
    "hours_planned": Column("both", "hours", "Heures prévues", "scheduled hours"),
    "hours_realised": Column("both", "hours", "Heures réalisées", "realised hours, as the journey counts them (FOAD: connection time of the day)"),
    "hours_billable": Column("both", "hours", "Heures facturables", "realised hours an OPCO pays: co-signed half-days, virtual class, FOAD"),
    "hours_absent": Column("learner", "hours", "Heures d'absence", "scheduled hours of unjustified absences and unsigned half-days"),
    "hours_absent_justified": Column("learner", "hours", "Heures d'absence justifiée", "scheduled hours of justified absences"),
    "hours_foad": Column("learner", "hours", "Heures FOAD", "realised distance-learning (FOAD) hours"),
    "attendance_rate": Column("learner", "percent", "Assiduité (%)", "realised hours / scheduled hours of the half-days held"),
    # the half-day
    "date": Column("half_day", "date", "Date", "date of the half-day"),
    "half_day": Column("half_day", "text", "Demi-journée", "morning or afternoon, as `labels.half_day` says"),
    "start_time": Column("half_day", "time", "Heure de début", "scheduled start"),
    "end_time": Column("half_day", "time", "Heure de fin", "scheduled end"),
    "modality": Column("half_day", "text", "Modalité", "présentiel, distanciel synchrone or FOAD, as `labels.modality` says"),
    "module": Column("half_day", "text", "Module", "module of the half-day, when the schedule names one"),
    "status": Column("half_day", "text", "Présence", "attendance status, as `labels.status` says"),
    "status_code": Column("half_day", "text", "Code présence", "attendance status code (`signed`, `absent`…)"),
    "learner_signed": Column("half_day", "bool", "Émargement stagiaire", "the learner signed the half-day"),
    "trainer_cosigned": Column("half_day", "bool", "Émargement formateur", "the trainer co-signed it (blank when the learner did not sign)"),
    "proof": Column("half_day", "text", "Mode d'émargement", "how it was signed (e-signature, scan…)"),
    "absence_reason": Column("half_day", "text", "Motif d'absence", "reason given for an absence"),
    "evidence": Column("half_day", "text", "Preuves", "ids of the ledger events behind the line, space-separated"),
}

#: learner-level columns computed from the lines (they cannot be "required")
COMPUTED = {"hours_absent", "hours_absent_justified", "hours_foad", "attendance_rate"}

STATUS_CODES = ("signed", "signed_without_trainer", "remote", "absent", "absent_justified", "missing", "foad",
                "foad_no_trace", "foad_unscheduled")
DEFAULT_STATUS = {
    "signed": "Présent",
    "signed_without_trainer": "Présent, sans émargement du formateur",
    "remote": "Présent à distance (classe virtuelle)",
    "absent": "Absent",
    "absent_justified": "Absence justifiée",
    "missing": "Non émargé",
    "foad": "FOAD (temps de connexion)",
    "foad_no_trace": "FOAD, aucune connexion",
    "foad_unscheduled": "FOAD hors planning (temps de connexion)",
}
DEFAULT_LEARNER_STATUS = {
    "registered": "Inscrit", "terms_accepted": "Inscrit", "agreement_signed": "Convention signée",
    "funding_approved": "Prise en charge accordée", "started": "En formation", "completed": "Formation terminée",
    "abandoned": "Abandon", "unknown": "Inconnue",
}


# --------------------------------------------------------------------------- the profile model


class ColumnSpec(BaseModel):
    """One column: its key in the registry and, optionally, the header text."""

    model_config = ConfigDict(extra="forbid")
    column: str = Field(description="A column key (see the table of columns)")
    label: str | None = Field(default=None, min_length=1, description="Header text (default: the column's French label)")

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        if value not in COLUMNS:
            raise ValueError(unknown_name(value, COLUMNS))
        return value

    @property
    def header(self) -> str:
        return self.label or COLUMNS[self.column].label


def _column_list(value: Any) -> Any:
    if isinstance(value, list):
        return [{"column": v} if isinstance(v, str) else v for v in value]
    return value


class CsvOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    separator: str = Field(default=";", min_length=1, max_length=1, description="Field separator")
    encoding: str = Field(default="utf-8-sig", description="utf-8, utf-8-sig (UTF-8 with a BOM, for Excel), cp1252, iso-8859-15…")
    line_endings: Literal["crlf", "lf"] = "crlf"
    quoting: Literal["minimal", "all"] = Field(default="minimal", description="Quote every field, or only when needed")
    header: bool = Field(default=True, description="First line: the column labels")

    _encoding = field_validator("encoding")(check_encoding)
    _separator = field_validator("separator")(check_separator)

    @property
    def dialect(self) -> CsvDialect:
        return CsvDialect(self.separator, "\r\n" if self.line_endings == "crlf" else "\n", self.quoting == "all",
                       self.encoding)


class XlsxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statement_sheet: str = Field(default="État de présence", min_length=1, max_length=31)
    summary_sheet: str = Field(default="Synthèse", min_length=1, max_length=31)

    _sheet = field_validator("statement_sheet", "summary_sheet")(check_sheet_name)

    @field_validator("statement_sheet", "summary_sheet")
    @classmethod
    def _excel_sheet_name(cls, value: str) -> str:
        # what XlsxWriter refuses at write time, refused when the profile loads
        if value.startswith("'") or value.endswith("'"):
            raise ValueError("a sheet name cannot start or end with an apostrophe")
        if len(value.encode("utf-16-le")) > 62:
            raise ValueError("a sheet name has 31 characters at most (UTF-16 units)")
        return value

    @model_validator(mode="after")
    def _distinct_sheets(self) -> "XlsxOptions":
        if self.statement_sheet.casefold() == self.summary_sheet.casefold():
            raise ValueError(f"statement_sheet and summary_sheet are both {self.statement_sheet!r} (Excel ignores case)")
        return self


FILE_PLACEHOLDERS = {
    "statement": {"export", "profile", "period", "ext"},
    "summary": {"export", "profile", "period", "ext"},
    "bundle_index": {"export", "profile", "period", "ext"},
    "bundle": {"export", "profile", "period", "dossier", "learner"},
    "api_cfa": {"export", "profile", "period", "dossier", "learner", "type"},
}


class FileNames(BaseModel):
    """File-name templates. Placeholders: ``{export}`` (the export's name), ``{profile}``,
    ``{period}`` (``2026-10``), ``{ext}`` (``csv`` / ``xlsx``), and per learner ``{dossier}``,
    ``{learner}`` (an ASCII slug of the name) and, for API CFA, ``{type}``
    (``intermediaire`` / ``final``)."""

    model_config = ConfigDict(extra="forbid")
    statement: str = "etat-presence-{period}.{ext}"
    summary: str = "synthese-{period}.{ext}"
    bundle_index: str = "subrogation-{period}.{ext}"
    bundle: str = "subrogation-{dossier}-{learner}.zip"
    api_cfa: str = "api-cfa-{type}-{dossier}-{learner}.json"

    @model_validator(mode="before")
    @classmethod
    def _templates(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key, value in data.items():
            if key not in FILE_PLACEHOLDERS or not isinstance(value, str):
                continue  # pydantic reports unknown keys and wrong types
            try:
                check_file_template(value, FILE_PLACEHOLDERS[key])
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return data


class Labels(BaseModel):
    """Words printed in the files. Each mapping may give only some keys; the others keep their default."""

    model_config = ConfigDict(extra="forbid")
    status: dict[str, str] = Field(default_factory=dict, description=f"By status code: {', '.join(STATUS_CODES)}")
    half_day: dict[Literal["am", "pm"], str] = Field(default_factory=dict)
    modality: dict[Literal["presentiel", "distanciel_synchrone", "foad_asynchrone"], str] = Field(default_factory=dict)
    nature: dict[Literal["formation", "bilan_competences", "vae", "apprentissage"], str] = Field(default_factory=dict)
    learner_status: dict[str, str] = Field(default_factory=dict)
    yes_text: str = Field(default="Oui", description="A true yes/no column (YAML reads a bare yes: as true: hence _text)")
    no_text: str = "Non"

    @field_validator("status")
    @classmethod
    def _status(cls, value: dict[str, str]) -> dict[str, str]:
        return check_label_keys(value, STATUS_CODES, "status code")

    @field_validator("learner_status")
    @classmethod
    def _learner_status(cls, value: dict[str, str]) -> dict[str, str]:
        return check_label_keys(value, DEFAULT_LEARNER_STATUS, "learner status")


_DATE_TOKENS = re.compile(r"yyyy|yy|mm|dd")
_TIME_TOKENS = re.compile(r"HH|MM")


def _check_tokens(value: str, tokens: re.Pattern, stray: str, what: str, names: str, example: str) -> str:
    """``value`` if it is made of ``tokens`` and separators (nothing matching ``stray`` between them)."""
    if not tokens.search(value) or re.search(stray, tokens.sub("", value)):
        raise ValueError(f"invalid {what} {value!r}: use {names} and separators (e.g. {example})")
    return value


class Profile(BaseModel):
    """An OPCO profile (one YAML file)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short name, used in file names")
    title: str = Field(min_length=1, description="Whom the files are for, e.g. 'OPCO Atlas'")
    description: str | None = None
    date_format: str = Field(default="dd/mm/yyyy", description="Tokens dd, mm, yy, yyyy and separators")
    time_format: str = Field(default="HH:MM", description="Tokens HH, MM and separators")
    decimal_separator: Literal[",", "."] = ","
    decimals: int = Field(default=2, ge=0, le=4, description="Digits after the separator for hours and amounts")
    csv: CsvOptions = Field(default_factory=CsvOptions)
    xlsx: XlsxOptions = Field(default_factory=XlsxOptions)
    files: FileNames = Field(default_factory=FileNames)
    columns: list[ColumnSpec] = Field(min_length=1, description="Columns of the attendance statement, in order")
    summary_columns: list[ColumnSpec] = Field(
        default_factory=list, description="Columns of the per-learner summary (learner-level columns only); empty: no summary")
    required: list[str] = Field(default_factory=list,
                                description="Learner-level columns that must not be empty for a learner to be exported")
    labels: Labels = Field(default_factory=Labels)

    _columns = field_validator("columns", "summary_columns", mode="before")(_column_list)

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        return _check_tokens(value, _DATE_TOKENS, r"[A-Za-z0-9%]", "date format", "dd, mm, yy, yyyy", "dd/mm/yyyy")

    @field_validator("time_format")
    @classmethod
    def _time_format(cls, value: str) -> str:
        return _check_tokens(value, _TIME_TOKENS, r"[HM0-9%]", "time format", "HH, MM", "HH:MM or HHhMM")

    @field_validator("required")
    @classmethod
    def _required(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in COLUMNS:
                raise ValueError(unknown_name(name, COLUMNS))
            if COLUMNS[name].level != "learner" or name in COMPUTED:
                raise ValueError(f"{name!r} cannot be required: only learner-level columns that sources give can be")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        for field_name in ("columns", "summary_columns"):
            seen = set()
            for spec in getattr(self, field_name):
                if spec.column in seen:
                    raise ValueError(f"{field_name}: column {spec.column!r} is listed twice")
                seen.add(spec.column)
        for spec in self.summary_columns:
            if COLUMNS[spec.column].level == "half_day":
                raise ValueError(f"summary_columns: {spec.column!r} is a half-day column; the summary has one line per learner")
        return self

    # ----------------------------------------------------------------- formatting helpers
    def strftime_date(self) -> str:
        return _DATE_TOKENS.sub(lambda m: {"yyyy": "%Y", "yy": "%y", "mm": "%m", "dd": "%d"}[m.group(0)], self.date_format)

    def strftime_time(self) -> str:
        return _TIME_TOKENS.sub(lambda m: {"HH": "%H", "MM": "%M"}[m.group(0)], self.time_format)

    def excel_date_format(self) -> str:
        return self.date_format

    def excel_hours_format(self) -> str:
        return "0" + ("." + "0" * self.decimals if self.decimals else "")

    def label_status(self, code: str) -> str:
        return self.labels.status.get(code, DEFAULT_STATUS[code])

    def label_half_day(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self.labels.half_day.get(value, {"am": "Matin", "pm": "Après-midi"}[value])

    def label_modality(self, value: str) -> str:
        return self.labels.modality.get(value, MODALITY_LABELS.get(value, value))

    def label_nature(self, value: str) -> str:
        return self.labels.nature.get(value, NATURE_LABELS.get(value, value))

    def label_learner_status(self, value: str) -> str:
        return self.labels.learner_status.get(value, DEFAULT_LEARNER_STATUS.get(value, value))


class Formatter:
    """Turns typed values into the profile's text (CSV) — dates, times, hours, booleans."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self._date = profile.strftime_date()
        self._time = profile.strftime_time()
        self._times: dict[Any, str] = {}
        self._quantum = Decimal(1).scaleb(-profile.decimals)
        self._comma = profile.decimal_separator == ","
        encoding = codecs.lookup(profile.csv.encoding).name
        self._check_encoding = None if encoding.startswith("utf") else encoding
        self.transliterated = 0

    def text(self, kind: str, value: Any) -> str:
        if value is None or value == "":
            return ""
        if kind == "date":
            out = value.strftime(self._date)
        elif kind == "time":
            out = self.time(value)
        elif kind in ("hours", "amount"):
            out = self.number(value, self._quantum)
        elif kind == "percent":
            out = self.number(value, Decimal("0.1"))
        elif kind == "bool":
            out = self.profile.labels.yes_text if value else self.profile.labels.no_text
        else:
            out = str(value)
        if self._check_encoding is not None:
            out = self.encodable(out)
        return out

    def time(self, value: str | dt.time) -> str:
        """A scheduled time (``"09:00"``) in the profile's format (memoised: a schedule has few)."""
        out = self._times.get(value)
        if out is None:
            parsed = dt.time.fromisoformat(value) if isinstance(value, str) else value
            out = self._times[value] = parsed.strftime(self._time)
        return out

    def number(self, value: Any, quantum: Decimal) -> str:
        text = format(Decimal(value).quantize(quantum, ROUND_HALF_UP), "f")
        return text.replace(".", ",") if self._comma else text

    def encodable(self, text: str) -> str:
        """``text`` if the profile's encoding can write it, else a transliteration (counted)."""
        try:
            text.encode(self._check_encoding)
            return text
        except UnicodeEncodeError:
            pass
        self.transliterated += 1
        out = []
        for ch in text:
            try:
                ch.encode(self._check_encoding)
                out.append(ch)
            except UnicodeEncodeError:
                plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or _FALLBACK.get(ch, "?")
                out.append(plain)
        return "".join(out)


_FALLBACK = {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss", "\u202f": " ", "·": "."}
