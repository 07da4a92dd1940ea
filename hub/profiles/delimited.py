"""A one-table delimited file (BPF, CPF): columns, dialect, formats, labels, file name.

Funder-format plugins build their profile models from :class:`FileProfile` and
:func:`column_model`.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from hub.profiles.dialect import ENCODINGS, CsvDialect
from hub.profiles.files import check_file_template


def column_model(name: str, fields: tuple[str, ...]) -> type[BaseModel]:
    """A column model whose ``field`` must be one of ``fields``."""

    def known(cls, value: str) -> str:
        if value not in fields:
            raise ValueError(f"unknown column {value!r} (known columns: {', '.join(fields)})")
        return value

    return create_model(
        name,
        __config__=ConfigDict(extra="forbid", frozen=True),
        __validators__={"_known": field_validator("field")(classmethod(known))},
        field=(str, Field(description="The value this column carries")),
        label=(str | None, Field(default=None, description="Header text (default: the field name)")),
        places=(int | None, Field(default=None, ge=0, le=6, description="Decimal places of a number")),
    )


def check_file_name(value: str) -> str:
    """A file name whose placeholders are ``{period}`` and ``{export}``."""
    return check_file_template(value, ("period", "export"))


class FileProfile(BaseModel):
    """Layout of a delimited text file. Subclasses set ``FIELDS`` and ``columns``."""

    model_config = ConfigDict(extra="forbid")
    FIELDS: ClassVar[tuple[str, ...]] = ()

    description: str = ""
    file_name: str = Field(description="Name of the file; {period} and {export} are replaced")
    encoding: Literal[ENCODINGS] = "utf-8"  # type: ignore[valid-type]
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    quoting: Literal["minimal", "all"] = "minimal"
    line_ending: Literal["crlf", "lf"] = "crlf"
    decimal_separator: Literal[",", "."] = ","
    date_format: str = Field(default="%d/%m/%Y", description="strftime pattern, e.g. %d/%m/%Y or %Y-%m-%d")
    yes_label: str = "oui"
    no_label: str = "non"
    empty: str = Field(default="", description="What an absent value is written as")
    labels: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per field, the label written for each coded value")

    @field_validator("file_name")
    @classmethod
    def _file_name(cls, value: str) -> str:
        return check_file_name(value)

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        try:
            dt.date(2026, 10, 5).strftime(value)
        except ValueError as exc:
            raise ValueError(f"invalid date format {value!r}: {exc}") from None
        return value

    @field_validator("labels")
    @classmethod
    def _label_fields(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for name in value:
            if cls.FIELDS and name not in cls.FIELDS:
                raise ValueError(f"labels for unknown field {name!r} (known: {', '.join(cls.FIELDS)})")
        return value

    # ------------------------------------------------------------------ formatting
    def name_for(self, period: str, export: str, template: str | None = None) -> str:
        """The name of a file of this profile (``template``, default ``file_name``) for a period."""
        return (template or self.file_name).replace("{period}", period).replace("{export}", export)

    def cell(self, field: str, value: Any, places: int | None = None) -> str:
        if value is None:
            return self.empty
        if isinstance(value, bool):
            return self.yes_label if value else self.no_label
        if field in self.labels and str(value) in self.labels[field]:
            return self.labels[field][str(value)]
        if isinstance(value, dt.datetime):
            return value.strftime(self.date_format + " %H:%M")
        if isinstance(value, dt.date):
            return value.strftime(self.date_format)
        if isinstance(value, Decimal):
            if places is not None:
                value = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
            text = format(value, "f")
            return text.replace(".", self.decimal_separator)
        return str(value)

    @property
    def dialect(self) -> CsvDialect:
        return CsvDialect(self.delimiter, "\r\n" if self.line_ending == "crlf" else "\n", self.quoting == "all",
                          self.encoding)

    def render(self, rows: list[dict[str, Any]], columns: list | None = None) -> str:
        columns = columns if columns is not None else self.columns  # type: ignore[attr-defined]
        return self.dialect.text([c.label or c.field for c in columns],
                                 ([self.cell(c.field, row.get(c.field), c.places) for c in columns] for row in rows))

    def write(self, path: Path, rows: list[dict[str, Any]], columns: list | None = None) -> list[str]:
        """Write ``rows``; returns notes (characters the encoding cannot hold are replaced)."""
        data, bad = self.dialect.encode(self.render(rows, columns))
        path.write_bytes(data)
        return [f"{path.name}: characters that {self.encoding} cannot hold were replaced by '?'"] if bad else []
