"""The tables of the insights: named columns, each with what it holds, rows of plain values, and
their CSV file (one file per table, the columns documented in docs/insights.md)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Iterator

ONE = Decimal("0.1")
TWO = Decimal("0.01")


@dataclass(frozen=True)
class Column:
    name: str
    doc: str


@dataclass
class Table:
    """One table: ``name`` is its file's stem (``<name>.csv``), ``title`` says what it shows."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title,
                "columns": [{"name": c.name, "doc": c.doc} for c in self.columns],
                "rows": [{k: _plain(row.get(k)) for k in self.column_names} for row in self.rows]}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def rate(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part`` per hundred of ``whole``, to one decimal; None when ``whole`` is zero."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE, ROUND_HALF_UP)


def minutes(seconds: float | int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(ONE, ROUND_HALF_UP)


def csv_rows(table: Table) -> Iterator[list[Any]]:
    """The CSV lines of ``table``: a header of the column names, then each row (an empty cell where
    a figure cannot be computed)."""
    yield table.column_names
    for row in table.rows:
        yield ["" if row.get(c) is None else _plain(row.get(c)) for c in table.column_names]


def csv_text(table: Table) -> str:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(csv_rows(table))
    return out.getvalue()


def write_csv(table: Table, folder: Path) -> Path:
    """Write ``<folder>/<name>.csv`` (UTF-8, comma-separated, a header line of the column names;
    an empty cell where a figure cannot be computed) through a temporary file, so that a failure
    leaves no half-written table. Returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table.name}.csv"
    part = path.with_suffix(".csv.part")
    with open(part, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(csv_rows(table))
    part.replace(path)
    return path
