"""The insights written for a quality review: one CSV file per table, and the charts as SVG."""

from __future__ import annotations

from pathlib import Path

from hub.insights.tables import write_csv


def write_tables(insights, folder: Path) -> list[Path]:
    """``<table>.csv`` for every table of ``insights`` in ``folder``."""
    return [write_csv(table, folder) for table in insights.tables]
