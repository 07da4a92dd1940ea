"""Reading the CSV export of another tool (an accounting tool's invoice list, say) whose columns
are its own: a mapping names, for each field of the hub's CSV columns, the tool's column, and says
how the tool writes dates, decimals and coded values."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.timefmt import check_timezone

#: the hub's own CSV columns, besides ``data.<field>``
HUB_COLUMNS = ("type", "occurred_at", "source_id", "action", "supersedes", "learner_ref", "learner_email", "learner_name")
_DATA = re.compile(r"^data\.[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _hub_field(name: str) -> str:
    if name in HUB_COLUMNS or _DATA.match(name):
        return name
    raise ValueError(f"unknown hub column {name!r}: use {', '.join(HUB_COLUMNS)} or data.<field>")


class CsvMapping(BaseModel):
    """How to read the CSV files of another tool: which files, which event type, and which of the
    tool's columns holds each field."""

    model_config = ConfigDict(extra="forbid")
    patterns: list[str] = Field(min_length=1, description="File name patterns this mapping reads (e.g. factures-*.csv)")
    type: str = Field(min_length=1, description="Event type of every line (e.g. invoice.issued)")
    columns: dict[str, str] = Field(
        min_length=1, description="Hub column (occurred_at, action, learner_ref, learner_email, learner_name, "
                                  "data.<field>…) -> the tool's column header")
    values: dict[str, str] = Field(default_factory=dict, description="Hub column -> a constant written on every line")
    source_id: str | None = Field(
        default=None, description="The line's id from the tool's columns, e.g. 'facture:{N° facture}:{E-mail}' "
                                  "(default: the hash of the line)")
    date_format: str = Field(default="%Y-%m-%d", description="strptime format of the tool's dates (e.g. %d/%m/%Y)")
    dates: list[str] = Field(default_factory=list, description="Hub columns whose values are dates in date_format; "
                                                               "occurred_at becomes midnight in `timezone`")
    decimals: list[str] = Field(default_factory=list, description="Hub columns whose values are numbers written "
                                                                  "with a decimal comma and spaces between thousands")
    translate: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Hub column -> {the tool's value -> the hub's value}; another value is an error")
    timezone: str = Field(default="Europe/Paris", description="Time zone of the dates that become occurred_at")

    @field_validator("columns", "values", "translate")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _hub_field(name)
        return value

    @field_validator("dates", "decimals")
    @classmethod
    def _known_list(cls, value: list[str]) -> list[str]:
        return [_hub_field(name) for name in value]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _mapped(self) -> "CsvMapping":
        for name in (*self.dates, *self.decimals, *self.translate):
            if name not in self.columns:
                raise ValueError(f"{name} is not in columns")
        if "occurred_at" not in self.columns and "occurred_at" not in self.values:
            raise ValueError("map occurred_at to a column (the date of each line)")
        return self

    def reads(self, file_name: str) -> bool:
        return any(fnmatch.fnmatch(file_name, p) for p in self.patterns)

    def check_header(self, header: list[str]) -> None:
        """Raise ValueError when the file lacks a column the mapping reads."""
        wanted = set(self.columns.values()) | set(_PLACEHOLDER.findall(self.source_id or ""))
        missing = sorted(wanted - {h.strip() for h in header})
        if missing:
            raise ValueError(f"the file has no column {', '.join(repr(m) for m in missing)} (the mapping reads them)")

    def row(self, cells: dict[str, str]) -> dict[str, str]:
        """The line in the hub's CSV columns (``_from_csv`` reads it then). Raises ValueError naming
        the tool's column and the hub's field of a value that does not read."""
        out = {"type": self.type, **self.values}
        for field, column in self.columns.items():
            value = (cells.get(column) or "").strip()
            if value:
                out[field] = self._value(field, column, value)
        if self.source_id:
            out["source_id"] = _PLACEHOLDER.sub(lambda m: (cells.get(m.group(1)) or "").strip(), self.source_id)
        return out

    def _value(self, field: str, column: str, value: str) -> str:
        where = f"column {column!r} ({field})"
        if field in self.translate:
            table = self.translate[field]
            if value not in table:
                raise ValueError(f"{where}: {value!r} is not one of {', '.join(table)}")
            value = table[value]
        if field in self.dates:
            try:
                day = dt.datetime.strptime(value, self.date_format).date()
            except ValueError:
                raise ValueError(f"{where}: {value!r} is not a date in the format {self.date_format}") from None
            if field == "occurred_at":
                return dt.datetime.combine(day, dt.time(0), tzinfo=zoneinfo.ZoneInfo(self.timezone)).isoformat()
            return day.isoformat()
        if field in self.decimals:
            text = re.sub(r"[\s\u00a0\u202f]", "", value).replace(",", ".")
            try:
                return str(Decimal(text))
            except InvalidOperation:
                raise ValueError(f"{where}: {value!r} is not a number") from None
        return value


def mapping_for(mappings: list[CsvMapping], file_name: str) -> CsvMapping | None:
    """The first mapping that reads ``file_name``, if any (else the file is in the hub's columns)."""
    return next((m for m in mappings if m.reads(file_name)), None)
