"""The charts the pages draw (hub.charts), from the figures the pages already read, in the page's
language: templates call them with their ``_`` (translate) and ``num`` (decimal writer). Each
chart is an accessible SVG (a title, and its figures said in words in its description); the page
prints the same figures in a table beside it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup

from hub.charts import bar_chart, grouped_bar_chart, line_chart


def _decimal(num, places: str = "0.1"):
    """A chart's number writer: ``places`` decimals, the page's decimal separator."""
    return lambda value: str(num(Decimal(str(value)).quantize(Decimal(places), ROUND_HALF_UP)))


def _count(value: float) -> str:
    return f"{value:g}"


def week_chart(week, chart_id: str, _, num) -> Markup:
    """The trainer's week (hub.web.today.ActionWeek): per half-day that expects a signature, the
    learners who signed, lack the co-signature, have not signed."""
    counts = week.counts()
    labels = [f"{_('weekday.' + str(c.date.weekday()))} {c.date.strftime('%d/%m')} {_('half.' + c.half_day)}"
              for c, *_counts in counts]
    # in this order, the palette gives signed blue, not signed orange, no co-signature green
    series = [(_("chart.signed"), [n[1] for n in counts]), (_("chart.not_signed"), [n[3] for n in counts]),
              (_("chart.cosignature_missing"), [n[2] for n in counts])]
    return Markup(grouped_bar_chart(_("chart.week_title", action=week.title), labels, series, chart_id=chart_id,
                                    fmt=_count, maximum=max(1, len(week.rows))))


def hours_chart(actions, chart_id: str, _, num) -> Markup:
    """The manager's actions (hub.web.figured.ActionFigures): realised against planned hours."""
    series = [(_("chart.realised"), [float(a.realised_hours) for a in actions]),
              (_("chart.planned"), [float(a.planned_hours) for a in actions])]
    return Markup(grouped_bar_chart(_("chart.hours_title"), [a.title for a in actions], series, chart_id=chart_id,
                                    unit=" h", fmt=_decimal(num)))


def attendance_chart(title: str, weeks, chart_id: str, _, num) -> Markup:
    """An action's attendance rate week by week (hub.journeys.drift.weekly_attendance)."""
    labels = [w.monday.strftime("%d/%m") for w in weeks]  # the weeks' Mondays: short enough to stay whole
    rates = [None if w.rate is None else float(w.rate) for w in weeks]
    return Markup(line_chart(_("chart.attendance_title", action=title), labels, [(_("chart.rate"), rates)],
                             chart_id=chart_id, unit=" %", fmt=_decimal(num), maximum=100))


def backlog_chart(connectors, chart_id: str, _, num) -> Markup:
    """The connectors' health (hub.delivery.connector_health.ConnectorHealth): the rows each enabled
    connector still has to deliver (a sink's pending rows, a source's events pending in sinks)."""
    bars = [(c.name, float(c.backlog)) for c in connectors if c.enabled]
    return Markup(bar_chart(_("ops.backlog_chart"), bars, chart_id=chart_id, fmt=_count)) if bars else Markup("")
