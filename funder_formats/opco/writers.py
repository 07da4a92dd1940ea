"""Writing tables as the profile says: CSV (dialect, encoding, formats) and XLSX (typed cells).

Both write row by row to disk, so memory does not grow with the number of lines. The XLSX is
written by XlsxWriter in its constant-memory mode, its cells' XML cached
(:mod:`funder_formats.opco.xlsx_cells`); tests read the files back with openpyxl and, where
installed, LibreOffice.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xlsxwriter

from funder_formats.opco.profile import COLUMNS, ColumnSpec, Formatter, Profile
from funder_formats.opco.xlsx_cells import CachedCellsWorksheet

#: characters XML 1.0 cannot hold (C0 controls but tab, line feed and carriage return): XlsxWriter
#: would write them as ``_x0001_``, which the funder's reader shows as such; they carry nothing
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: XlsxWriter's return codes: a cell it did not write, or wrote cut short
REFUSED_CELL = {-1: "outside the sheet's limits", -2: "longer than 32,767 characters, the most a cell holds"}


def value_of(spec: ColumnSpec, row: dict[str, Any] | None, values: dict[str, Any], profile: Profile) -> Any:
    """The typed value of a column: from the line, else from the learner; labels applied."""
    name = spec.column
    if name == "status":
        return profile.label_status(row["status_code"]) if row is not None else None
    value = row[name] if row is not None and name in row else values.get(name)
    if value is None:
        return None
    if name == "half_day":
        return profile.label_half_day(value)
    if name == "modality":
        return profile.label_modality(value)
    return value


class CsvTable:
    """A CSV file in the profile's dialect."""

    def __init__(self, target: Path | io.StringIO, profile: Profile, specs: list[ColumnSpec], formatter: Formatter):
        self.profile, self.specs, self.formatter = profile, specs, formatter
        options = profile.csv
        if isinstance(target, Path):
            self._fh = target.open("w", encoding=options.encoding, newline="")
        else:
            self._fh = target
        self._writer = options.dialect.writer(self._fh)
        self._kinds = [COLUMNS[s.column].kind for s in specs]
        self._constant = [COLUMNS[s.column].level == "learner" for s in specs]
        self._cached_for: dict[str, Any] | None = None
        self._cached: list[str | None] = []
        self.rows = 0
        if options.header:
            self._writer.writerow([formatter.text("text", s.header) for s in specs])

    def write(self, row: dict[str, Any] | None, values: dict[str, Any]) -> None:
        text, profile = self.formatter.text, self.profile
        if row is None:
            cells = [text(kind, value_of(spec, None, values, profile)) for spec, kind in zip(self.specs, self._kinds)]
        else:
            if self._cached_for is not values:  # learner-level cells: formatted once per learner
                self._cached = [text(kind, value_of(spec, None, values, profile)) if constant else None
                                for spec, kind, constant in zip(self.specs, self._kinds, self._constant)]
                self._cached_for = values
            cells = [cached if constant else text(kind, value_of(spec, row, values, profile))
                     for spec, kind, constant, cached in zip(self.specs, self._kinds, self._constant, self._cached)]
        self._writer.writerow(cells)
        self.rows += 1

    def close(self) -> None:
        if not isinstance(self._fh, io.StringIO):
            self._fh.close()


class XlsxBook:
    """An XLSX workbook written as a stream by XlsxWriter in its constant-memory mode: each row
    goes to the sheet's temporary file as soon as the next one starts, so memory does not grow
    with the number of rows (rows are written in order, sheet by sheet; sheets may interleave).
    Dates are dates (the profile's date format), hours, amounts and percentages numbers, the rest
    inline strings. The same content gives the same bytes: XlsxWriter fixes the zip entries'
    dates and ``created`` (the export's own date) replaces the clock in docProps/core.xml."""

    def __init__(self, path: Path, profile: Profile, created: dt.datetime):
        self.path, self.profile, self.created = path, profile, created
        self.sheets: list[XlsxSheet] = []
        # XlsxWriter's temporary files live beside the export (not in /tmp, often a small tmpfs)
        self._tmp = tempfile.TemporaryDirectory(prefix="opco-xlsx-", dir=path.parent)
        self.workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": self._tmp.name})
        self.workbook.set_properties({"title": profile.title, "author": "Parcours Hub", "created": created})
        add = self.workbook.add_format
        self.header = add({"bold": True})
        self.date = add({"num_format": profile.excel_date_format()})
        self.hours = add({"num_format": profile.excel_hours_format()})
        self.percent = add({"num_format": "0.0"})

    def sheet(self, title: str, specs: list[ColumnSpec]) -> XlsxSheet:
        sheet = XlsxSheet(self, title, specs)
        self.sheets.append(sheet)
        return sheet

    def close(self) -> None:
        try:
            self.workbook.close()
        finally:
            self._tmp.cleanup()


class XlsxSheet:
    """One sheet: a bold, frozen header row, then one row per ``write``."""

    def __init__(self, book: XlsxBook, title: str, specs: list[ColumnSpec]):
        self.book, self.title, self.specs = book, title, specs
        profile = book.profile
        self._ws = ws = book.workbook.add_worksheet(title, worksheet_class=CachedCellsWorksheet)
        self._kinds = [COLUMNS[s.column].kind for s in specs]
        self._constant = [COLUMNS[s.column].level == "learner" for s in specs]
        self._cached_for: dict[str, Any] | None = None
        self._cached: list[tuple | None] = []
        self._formatter = Formatter(profile)
        self._yes, self._no = profile.labels.yes_text, profile.labels.no_text
        for i, spec in enumerate(specs):
            ws.set_column(i, i, max(10, min(40, len(spec.header) + 2)))
            ws.write_string(0, i, spec.header, book.header)
        ws.freeze_panes(1, 0)
        self._row = 0
        self.rows = 0

    def _cell(self, kind: str, value: Any) -> tuple | None:
        """How to write one value: (worksheet method, value, format), or None for an empty cell."""
        if value is None or value == "":
            return None
        book = self.book
        if kind == "date":
            return self._ws.write_datetime, value, book.date
        if kind in ("hours", "amount", "percent"):
            return self._ws.write_number, float(value), book.percent if kind == "percent" else book.hours
        if kind == "time":
            value = self._formatter.time(value)
        elif kind == "bool":
            value = self._yes if value else self._no
        return self._ws.write_string, CONTROL_CHARACTERS.sub("", str(value)), None

    def write(self, row: dict[str, Any] | None, values: dict[str, Any]) -> None:
        self._row += 1
        n, profile = self._row, self.book.profile
        if row is not None and self._cached_for is not values:  # learner-level cells: once per learner
            self._cached = [self._cell(kind, value_of(spec, None, values, profile)) if constant else None
                            for spec, kind, constant in zip(self.specs, self._kinds, self._constant)]
            self._cached_for = values
        for i, (spec, kind) in enumerate(zip(self.specs, self._kinds)):
            if row is not None and self._constant[i]:
                cell = self._cached[i]
            else:
                cell = self._cell(kind, value_of(spec, row, values, profile))
            if cell is not None:
                method, value, style = cell
                refused = method(n, i, value, style)
                if refused:  # never a cut-short cell in a file a funder pays on
                    raise ValueError(f"{self.book.path.name}, sheet {self.title!r}, row {n + 1}, column "
                                     f"{spec.header!r}: {REFUSED_CELL.get(refused, f'not written (code {refused})')}")
        self.rows += 1


def csv_bytes(profile: Profile, specs: list[ColumnSpec], lines: Iterable[tuple[dict | None, dict]]) -> bytes:
    """A small CSV (one learner's lines, for the subrogation bundle) in the profile's dialect."""
    formatter = Formatter(profile)
    buffer = io.StringIO(newline="")
    table = CsvTable(buffer, profile, specs, formatter)
    for row, values in lines:
        table.write(row, values)
    text = buffer.getvalue()
    encoding = profile.csv.encoding
    return text.encode(encoding)
