"""An XlsxWriter worksheet that writes the XML of a cell it has already written from a cache.

In constant-memory mode XlsxWriter renders each cell of a row as it leaves the row
(``Worksheet._write_cell``): some 7 µs a cell, most of an OPCO statement's cost, although a
statement repeats the same cells — the learner's columns on each of their lines, the same dates,
hours and statuses on every learner's. Once its reference (``r="G12"``) is set aside, what the
library writes for a string, number or date cell depends only on its column, its value and its
format: this worksheet keeps that text, as the library wrote it the first time, for at most
``CACHE_SIZE`` cells (emptied when full, so memory stays bounded), and writes it again with the
new reference. Everything else — other kinds of cells, cells whose style would come from their
row — goes to the library as usual. The workbook is the same, byte for byte
(tests/formats/opco/test_xlsx_cells.py compares it with the library's own on the same cells).

It is plugged in through XlsxWriter's documented ``add_worksheet(name, worksheet_class=…)``.
"""

from __future__ import annotations

import io
import math

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import CellDatetimeTuple, CellNumberTuple, CellStringTuple, Worksheet

CACHE_SIZE = 20_000
_NUMBERS = (CellNumberTuple, CellDatetimeTuple)
_CACHED = (CellStringTuple, *_NUMBERS)


class CachedCellsWorksheet(Worksheet):
    """A worksheet whose string, number and date cells are written from a bounded cache of their XML."""

    def __init__(self) -> None:
        super().__init__()
        self._cell_xml: dict[tuple, str] = {}
        self._columns: dict[int, str] = {}

    def _write_cell(self, row: int, col: int, cell) -> None:
        kind = cell.__class__
        if kind not in _CACHED or (cell.format is None and row in self.row_info):
            super()._write_cell(row, col, cell)  # not cached: its style may come from its row
            return
        value = cell[0]
        # 0.0 and -0.0 are equal but written "0" and "-0": the sign is part of a number's key
        key = (col, kind, cell.format, value, math.copysign(1.0, value) if kind in _NUMBERS else None)
        letters = self._columns.get(col)
        if letters is None:
            letters = self._columns[col] = xl_col_to_name(col)
        ref = f'<c r="{letters}{row + 1}"'
        tail = self._cell_xml.get(key)
        if tail is not None:
            self.fh.write(ref + tail)
            return
        tail = self._rendered(row, col, cell, ref)
        if tail is not None:
            if len(self._cell_xml) >= CACHE_SIZE:
                self._cell_xml.clear()
            self._cell_xml[key] = tail

    def _rendered(self, row: int, col: int, cell, ref: str) -> str | None:
        """The library's XML of the cell, written to the sheet; what follows its reference, or None
        when it does not start with it (then nothing is cached)."""
        sheet, self.fh = self.fh, io.StringIO()
        try:
            super()._write_cell(row, col, cell)
            text = self.fh.getvalue()
        finally:
            self.fh = sheet
        sheet.write(text)
        return text[len(ref):] if text.startswith(ref) else None
