"""The cached-cells worksheet writes the workbook XlsxWriter writes, byte for byte."""

from __future__ import annotations

import datetime as dt

import pytest
import xlsxwriter

import funder_formats.opco.xlsx_cells as xlsx_cells
from funder_formats.opco.xlsx_cells import CachedCellsWorksheet

STRINGS = ["Présent", "Absence justifiée", "  espaces  ", "a & b < c > d", "_x0001_ littéral", "contrôle\x01ici",
           "Chloé N'Diaye", "guillemets \"doubles\"", "\ufffe", "ligne\nsuivante", "Présent"]
NUMBERS = [3.5, 0.0, -0.0, 7.0, 0.1 + 0.2, 1e-12, 123456789.125, 3.5, float("nan"), 2, 0]
DATES = [dt.datetime(2026, 10, 5), dt.datetime(2026, 10, 6), dt.datetime(2026, 10, 5)]


def _workbook(path, worksheet_class) -> bytes:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "nan_inf_to_errors": True})
    book.set_properties({"title": "t", "created": dt.datetime(2026, 10, 31)})
    bold, hours, date = book.add_format({"bold": True}), book.add_format({"num_format": "0.00"}), \
        book.add_format({"num_format": "dd/mm/yyyy"})
    for name in ("Lignes", "Synthèse"):
        ws = book.add_worksheet(name, worksheet_class=worksheet_class)
        ws.set_column(0, 0, 20)
        ws.set_row(3, None, bold)  # a row with its own format: its unformatted cells take it
        ws.write_string(0, 0, "Entête", bold)
        for row in range(1, 60):
            for col in range(0, 7):
                k = row * 7 + col
                if col in (0, 3):
                    ws.write_string(row, col, STRINGS[k % len(STRINGS)], bold if k % 3 == 0 else None)
                elif col in (1, 4):
                    ws.write_number(row, col, NUMBERS[k % len(NUMBERS)], hours if k % 2 else None)
                elif col == 2:
                    ws.write_datetime(row, col, DATES[k % len(DATES)], date)
                elif col == 5 and k % 4:
                    ws.write_boolean(row, col, bool(k % 2))  # not cached: written by the library
                elif col == 6:
                    ws.write_formula(row, col, "=1+1", None, 2)
    book.close()
    return path.read_bytes()


@pytest.mark.parametrize("cache_size", [3, 20_000])
def test_same_bytes_as_the_library(tmp_path, monkeypatch, cache_size):
    monkeypatch.setattr(xlsx_cells, "CACHE_SIZE", cache_size)  # 3: emptied again and again
    plain = _workbook(tmp_path / "plain.xlsx", None)
    cached = _workbook(tmp_path / "cached.xlsx", CachedCellsWorksheet)
    assert cached == plain


def test_the_cache_is_used_and_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_cells, "CACHE_SIZE", 5)
    seen = []
    original = CachedCellsWorksheet._rendered

    def rendered(self, *args):
        seen.append(args[2])
        assert len(self._cell_xml) <= 5
        return original(self, *args)

    monkeypatch.setattr(CachedCellsWorksheet, "_rendered", rendered)
    book = xlsxwriter.Workbook(str(tmp_path / "t.xlsx"), {"constant_memory": True})
    ws = book.add_worksheet("A", worksheet_class=CachedCellsWorksheet)
    for row in range(100):
        ws.write_string(row, 0, "même texte")
    book.close()
    assert len(seen) == 1  # rendered by the library once, then from the cache
