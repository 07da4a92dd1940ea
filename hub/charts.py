"""Small accessible SVG charts: horizontal bars, grouped bars and lines.

One way to draw a chart in the hub, for the web app's pages (inlined) and for the files a quality
review takes away (`.svg`). Each chart is a self-contained ``<svg>`` with ``role="img"``, a
``<title>`` and a ``<desc>`` that says the figures in words, so a screen reader reads what the eye
sees; pages still print the figures in a table next to it. Colours are presentation attributes
(no ``style``: the web app's Content-Security-Policy forbids inline style) from the Okabe–Ito
palette, which stays distinct for colour-blind readers. Text is escaped; numbers are written by the
caller's ``fmt`` (the web app passes its decimal-comma formatter for French).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape, quoteattr

__all__ = ["PALETTE", "Series", "bar_chart", "grouped_bar_chart", "line_chart"]

# Okabe & Ito, "Color Universal Design" (2008): distinguishable under the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

Series = tuple[str, Sequence[float | None]]
Format = Callable[[float], str]

_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_ROW = 22  # height of one bar row, in px
_LABEL_WIDTH = 180
_VALUE_WIDTH = 70


def _default_fmt(value: float) -> str:
    return f"{value:g}"


def _check(values: Sequence[float | None], where: str) -> None:
    for i, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}[{i}]: {value!r} is not a finite number")
        if value < 0:
            raise ValueError(f"{where}[{i}]: {value!r} is negative; these charts draw quantities from 0")


def _scale_max(values: Sequence[float | None], floor: float | None) -> float:
    present = [v for v in values if v is not None]
    top = max(present, default=0.0)
    if floor is not None:
        top = max(top, floor)
    return top if top > 0 else 1.0


_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


def _open(width: int, height: int, title: str, desc: str, chart_id: str) -> list[str]:
    if not _ID.match(chart_id):
        raise ValueError(f"chart_id {chart_id!r}: a letter, then letters, digits, '-' or '_' (it names the SVG's title)")
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-title {chart_id}-desc" {_FONT}>',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _clip(text: str, width_px: int) -> str:
    """A label cut to what fits ``width_px`` at ~7 px a character (the full text stays in ``<desc>``)."""
    room = max(4, width_px // 7)
    return text if len(text) <= room else text[: room - 1] + "…"


def _legend(names: Sequence[str], x: int, y: int) -> list[str]:
    parts, cursor = [], x
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{cursor}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{cursor + 16}" y="{y}">{escape(name)}</text>')
        cursor += 16 + 7 * len(name) + 18
    return parts


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float | None]],
    *,
    chart_id: str,
    unit: str = "",
    fmt: Format = _default_fmt,
    maximum: float | None = None,
    width: int = 640,
    none_label: str = "—",
) -> str:
    """One horizontal bar per ``(label, value)``; ``None`` is drawn as no bar and written ``none_label``.

    ``maximum`` fixes the right end of the scale (100 for a rate), else the largest value.
    """
    values = [value for _, value in bars]
    _check(values, "bars")
    top = _scale_max(values, maximum)
    plot = width - _LABEL_WIDTH - _VALUE_WIDTH
    height = max(_ROW, _ROW * len(bars)) + 8
    said = "; ".join(f"{label}: {none_label if v is None else fmt(v) + unit}" for label, v in bars)
    out = _open(width, height, title, said or none_label, chart_id)
    for i, (label, value) in enumerate(bars):
        y = 4 + i * _ROW
        out.append(f'<text x="{_LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(_clip(label, _LABEL_WIDTH - 10))}</text>')
        if value is not None:
            length = plot * value / top
            out.append(f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{_ROW - 6}" fill="{PALETTE[0]}"/>')
            text_x = _LABEL_WIDTH + length + 4
        else:
            text_x = _LABEL_WIDTH + 4
        shown = none_label if value is None else fmt(value) + unit
        out.append(f'<text x="{text_x:.1f}" y="{y + 15}">{escape(shown)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def grouped_bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    unit: str = "",
    fmt: Format = _default_fmt,
    maximum: float | None = None,
    width: int = 640,
    none_label: str = "—",
) -> str:
    """For each category, one horizontal bar per series (say realised and planned hours per action)."""
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)} categories")
        _check(values, f"series {name!r}")
    top = _scale_max([v for _, values in series for v in values], maximum)
    plot = width - _LABEL_WIDTH - _VALUE_WIDTH
    bar = 14
    group = bar * len(series) + 8
    height = 24 + max(group, group * len(categories)) + 4
    said = "; ".join(
        f"{category}: " + ", ".join(
            f"{name} {none_label if values[i] is None else fmt(values[i]) + unit}" for name, values in series
        )
        for i, category in enumerate(categories)
    )
    out = _open(width, height, title, said or none_label, chart_id)
    out += _legend([name for name, _ in series], _LABEL_WIDTH, 14)
    for i, category in enumerate(categories):
        y0 = 24 + i * group
        out.append(f'<text x="{_LABEL_WIDTH - 6}" y="{y0 + group / 2 + 2:.1f}" text-anchor="end">{escape(_clip(category, _LABEL_WIDTH - 10))}</text>')
        for j, (_, values) in enumerate(series):
            value = values[i]
            y = y0 + j * bar
            length = 0.0 if value is None else plot * value / top
            if value is not None:
                out.append(f'<rect x="{_LABEL_WIDTH}" y="{y + 1}" width="{length:.1f}" height="{bar - 2}" fill="{PALETTE[j % len(PALETTE)]}"/>')
            shown = none_label if value is None else fmt(value) + unit
            out.append(f'<text x="{_LABEL_WIDTH + length + 4:.1f}" y="{y + bar - 3}">{escape(shown)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    unit: str = "",
    fmt: Format = _default_fmt,
    maximum: float | None = None,
    width: int = 640,
    height: int = 220,
    none_label: str = "—",
) -> str:
    """One line per series over ``x_labels`` (weeks, say); a ``None`` breaks the line."""
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x_labels)} points")
        _check(values, f"series {name!r}")
    top = _scale_max([v for _, values in series for v in values], maximum)
    left, right, upper, lower = 56, 16, 28, 40
    plot_w, plot_h = width - left - right, height - upper - lower
    step = plot_w / max(1, len(x_labels) - 1)
    said = "; ".join(
        f"{name}: " + ", ".join(
            f"{x} {none_label if v is None else fmt(v) + unit}" for x, v in zip(x_labels, values)
        )
        for name, values in series
    )
    out = _open(width, height, title, said or none_label, chart_id)
    out += _legend([name for name, _ in series], left, 14)
    base = upper + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#767676"/>')
    out.append(f'<line x1="{left}" y1="{upper}" x2="{left}" y2="{base}" stroke="#767676"/>')
    out.append(f'<text x="{left - 6}" y="{upper + 4}" text-anchor="end">{escape(fmt(top) + unit)}</text>')
    out.append(f'<text x="{left - 6}" y="{base + 4}" text-anchor="end">{escape(fmt(0) + unit)}</text>')
    every = max(1, math.ceil(len(x_labels) / max(1, plot_w // 60)))
    for i, label in enumerate(x_labels):
        if i % every == 0:
            out.append(f'<text x="{left + i * step:.1f}" y="{base + 16}" text-anchor="middle">{escape(_clip(label, 70))}</text>')
    for j, (_, values) in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            x, y = left + i * step, base - plot_h * value / top
            runs[-1].append(f"{x:.1f},{y:.1f}")
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        for run in runs:
            if len(run) > 1:
                out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke={quoteattr(colour)} stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out)
