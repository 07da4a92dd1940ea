"""Funder formats: exports computed from the ledger, versioned, recorded, scheduled.

A funder-format plugin provides a :class:`FunderFormat` class (``kind``, a ``Config`` model and
``export``). Admins configure instances under ``exports:`` in YAML. The hub prepares an
:class:`ExportRequest` (the period, the journeys of the enrolments concerned, a way to stream
the ledger), the format writes its files into a fresh folder and answers an :class:`ExportResult`.
This module is that contract alone; versions, manifests and the ledger record are the
exporter's (:mod:`hub.runtime.exporting`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.connector import Schedule
from hub.journeys.stream import JourneyStream

#: the file that describes an export version, written beside its files (hashes, ledger range, notes)
MANIFEST = "manifest.json"

@dataclass(frozen=True)
class Period:
    """A reporting period: a month (``2026-10``), a year (``2026``) or any date range."""

    start: dt.date
    end: dt.date  # inclusive
    label: str

    @classmethod
    def parse(cls, text: str) -> "Period":
        text = text.strip()
        if re.fullmatch(r"\d{4}-\d{2}", text):
            year, month = (int(x) for x in text.split("-"))
            if not 1 <= month <= 12:
                raise ValueError(f"invalid month in {text!r}")
            return cls(dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]), text)
        if re.fullmatch(r"\d{4}", text):
            year = int(text)
            return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), text)
        match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text)
        if match:
            start, end = (dt.date.fromisoformat(g) for g in match.groups())
            if end < start:
                raise ValueError(f"{text!r}: the end is before the start")
            return cls(start, end, text)
        raise ValueError(f"invalid period {text!r}: use YYYY-MM, YYYY or YYYY-MM-DD..YYYY-MM-DD")

    @classmethod
    def previous(cls, kind: str, today: dt.date) -> "Period":
        """The period that ended before ``today``: last month or last year."""
        if kind == "year":
            return cls.parse(str(today.year - 1))
        first = today.replace(day=1) - dt.timedelta(days=1)
        return cls.parse(f"{first.year}-{first.month:02d}")

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        return start <= self.end and end >= self.start


class FunderFormatConfig(BaseModel):
    """Fields every export accepts; a format's ``Config`` subclasses this."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="Funder format, as listed in docs/formats/ (opco, france_travail, region, cpf, bpf, "
                                  "or a plugin's)")
    enabled: bool = Field(default=True, description="false: not scheduled, its proof rules left out of `parcours proofs check`; "
                                                         "`parcours export` still runs it by hand")
    funders: list[str] | None = Field(default=None, description="Only enrolments funded by these funders (names)")
    actions: list[str] | None = Field(default=None, description="Only these training actions")
    schedule: Schedule | None = Field(
        default=None, description="When the hub produces the export of the period that just ended (cron)")
    period: str | None = Field(
        default=None, description="The period the schedule (and `parcours run --once`) exports, YYYY-MM or YYYY, "
                                  "instead of the one that just ended: a one-off catch-up, or the demo's period")
    output_dir: str | None = Field(default=None, description="Where versions are written (default <data_dir>/exports/<name>)")

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # `period: 2026` unquoted in YAML
        if isinstance(value, str):
            Period.parse(value)  # ValueError names the expected forms
        return value


@dataclass
class MissingField:
    """A field the funder requires that the ledger or the configuration does not give."""

    learner: str
    field: str
    message: str


@dataclass
class ExportRequest:
    name: str
    period: Period
    #: the journeys concerned, computed chunk by chunk as they are read (hub.journeys.stream):
    #: iterate once if you can; ``journeys.fetch(keys)`` computes given ones again, in order
    journeys: JourneyStream
    out_dir: Path
    hub_config: Any
    events: Callable[..., Iterator[dict[str, Any]]]  # events(types=[...]) streams the ledger
    allow_incomplete: bool = False
    funder: str | None = None
    #: ``parcours export --dry-run``: write the files as usual (they are then thrown away), but
    #: change nothing outside ``out_dir`` (no push to a funder's API)
    dry_run: bool = False


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    missing: list[MissingField] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: events the format wants appended with the export (e.g. compliance.deadline_due)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: how many records (enrolments, declarations) the files hold; 0 makes the period empty, and
    #: the hub then keeps nothing unless forced. None: the enrolments the hub handed over count
    records: int | None = None


class FunderFormat:
    """Base of funder-format plugins. Subclasses set ``kind``, ``Config``, ``period`` and a docstring."""

    kind: ClassVar[str]
    Config: ClassVar[type[FunderFormatConfig]] = FunderFormatConfig
    #: the natural period of the export: "month" or "year" (scheduled runs export the previous one)
    period: ClassVar[str] = "month"
    #: version of the file layout, written in the manifest
    format_version: ClassVar[str] = "1"

    def __init__(self, name: str, config: FunderFormatConfig):
        self.name = name
        self.config = config

    def proof_rules(self) -> list:
        """Funder-specific proof rules (hub.journeys.proofs.ProofRule) this format checks before it pays."""
        return []

    def export(self, request: ExportRequest) -> ExportResult:
        """Write the files of ``request.period`` into ``request.out_dir``; list what is missing.

        Runs on a worker thread: it may read files and compute, never touch the event loop.
        When required fields are missing and ``request.allow_incomplete`` is false, return them
        in ``missing`` and write nothing.
        """
        raise NotImplementedError
