"""The insights written for a quality review: one CSV file per table, and the charts as SVG."""

from __future__ import annotations

from pathlib import Path

from hub.insights.charts import charts, write_svg
from hub.insights.tables import write_csv


def write_tables(insights, folder: Path) -> list[Path]:
    """``<table>.csv`` for every table of ``insights`` in ``folder``."""
    return [write_csv(table, folder) for table in insights.tables]


def write_charts(insights, folder: Path) -> list[Path]:
    """``<chart>.svg`` for every chart of ``insights`` in ``folder`` (English texts)."""
    return [write_svg(chart, folder) for chart in charts(insights)]
