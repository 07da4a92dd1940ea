"""The insights' charts (SVG, with hub.charts): each one draws figures of one table, which the
page prints next to it and the CSV files hold, so a chart is never the only place a figure is.

* ``modules-<action>``: completion and dropout per module (%, out of 100);
* ``stops-<action>``: the abandoned enrolments that stopped after each activity;
* ``activity_time-<action>``: mean time spent and mean estimate of the activities with an estimate (min);
* ``hours``: planned and realised hours per action (the ``total`` lines);
* ``funnel_actions``: views, registered, started, completed, certified per action;
* ``funnel_channels``: contacts (when counted), registered, started, completed, certified per channel.

Texts are English by default; the web page passes its own (``TEXTS`` keys, hub/web/messages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hub.charts import bar_chart, grouped_bar_chart

TEXTS = {
    "modules": "Completion and dropout by module — {action}",
    "completion": "completion",
    "dropout": "dropout",
    "stops": "Last activity before abandonment — {action}",
    "activity_time": "Time spent vs estimated — {action}",
    "spent": "time spent (mean)",
    "estimated": "estimate (mean)",
    "hours": "Planned vs realised hours per action",
    "planned": "planned",
    "realised": "realised",
    "funnel_actions": "Sales funnel per action",
    "funnel_channels": "Sales funnel per channel",
    "viewed": "program views",
    "contacts": "contacts",
    "registered": "registered",
    "started": "started",
    "completed": "completed",
    "certified": "certified",
}


@dataclass
class Chart:
    name: str  # the file's stem, and what the page anchors it by
    table: str  # the table whose figures it draws
    svg: str


def plain(value: float) -> str:
    """A chart's figure: one decimal at most, no exponent (1234567, 91.7, 100)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _n(value: Any) -> float | None:
    return None if value is None else float(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)


def _by_action(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["action"], []).append(row)
    return grouped


def charts(insights, texts: dict[str, str] | None = None, fmt: Callable[[float], str] = plain,
           label: Callable[[str], str] = lambda value: value) -> list[Chart]:
    """Every chart of ``insights`` (``label`` turns a table's marker, say "(unknown)", into the
    reader's words)."""
    say = {**TEXTS, **(texts or {})}
    out: list[Chart] = []

    def add(name: str, table: str, svg: str) -> None:
        out.append(Chart(name, table, svg))

    for action, rows in _by_action(insights.table("modules").rows).items():
        name = f"modules-{_slug(action)}"
        add(name, "modules", grouped_bar_chart(
            say["modules"].format(action=rows[0]["action_title"]), [label(r["module_name"] or r["module"]) for r in rows],
            [(say["completion"], [_n(r["completion_pct"]) for r in rows]),
             (say["dropout"], [_n(r["dropout_pct"]) for r in rows])],
            chart_id=f"c-{name}", unit=" %", fmt=fmt, maximum=100))
    for action, rows in _by_action(insights.table("stops").rows).items():
        name = f"stops-{_slug(action)}"
        add(name, "stops", bar_chart(
            say["stops"].format(action=rows[0]["action_title"]),
            [(label(r["activity_name"] or r["activity"]), _n(r["stopped_after"])) for r in rows],
            chart_id=f"c-{name}", fmt=fmt))
    for action, rows in _by_action(insights.table("activity_time").rows).items():
        rows = [r for r in rows if r["estimated_minutes_mean"] is not None]
        if rows:
            name = f"activity_time-{_slug(action)}"
            add(name, "activity_time", grouped_bar_chart(
                say["activity_time"].format(action=rows[0]["action_title"]),
                [r["activity_name"] or r["activity"] for r in rows],
                [(say["spent"], [_n(r["spent_minutes_mean"]) for r in rows]),
                 (say["estimated"], [_n(r["estimated_minutes_mean"]) for r in rows])],
                chart_id=f"c-{name}", unit=" min", fmt=fmt))
    totals = [r for r in insights.table("hours").rows if r["modality"] == "total"]
    if totals:
        add("hours", "hours", grouped_bar_chart(
            say["hours"], [r["action_title"] for r in totals],
            [(say["planned"], [_n(r["planned_hours"]) for r in totals]),
             (say["realised"], [_n(r["realised_hours"]) for r in totals])],
            chart_id="c-hours", unit=" h", fmt=fmt))
    stages = ("registered", "started", "completed", "certified")
    rows = insights.table("funnel_actions").rows
    if rows:
        add("funnel_actions", "funnel_actions", grouped_bar_chart(
            say["funnel_actions"], [r["action_title"] for r in rows],
            [(say[s], [_n(r[s]) for r in rows]) for s in ("viewed", *stages)], chart_id="c-funnel_actions", fmt=fmt))
    rows = insights.table("funnel_channels").rows
    if rows:
        counted = ("contacts",) if any(r["contacts"] is not None for r in rows) else ()
        add("funnel_channels", "funnel_channels", grouped_bar_chart(
            say["funnel_channels"], [label(r["channel"]) for r in rows],
            [(say[s], [_n(r[s]) for r in rows]) for s in (*counted, *stages)], chart_id="c-funnel_channels", fmt=fmt))
    return out


def write_svg(chart: Chart, folder: Path) -> Path:
    """``<folder>/<name>.svg``, through a temporary file (no half-written chart)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chart.name}.svg"
    part = path.with_suffix(".svg.part")
    part.write_text(chart.svg + "\n", encoding="utf-8")
    part.replace(path)
    return path
