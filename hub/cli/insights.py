"""``parcours insights``: what the journeys teach, for a quality review (docs/insights.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub
from hub.cli.progress import progress_bar
from hub.insights import Insights, hub_insights
from hub.insights.export import write_charts, write_tables
from hub.insights.scope import Scope
from hub.insights.tables import Table


def _day(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: give a date as YYYY-MM-DD")


@click.command()
@CONFIG_OPTION
@click.option("--action", "actions", multiple=True, help="Only this training action (repeat for several).")
@click.option("--from", "start", help="Only enrolments registered on or after this day (YYYY-MM-DD).")
@click.option("--to", "end", help="Only enrolments registered on or before this day (YYYY-MM-DD).")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False), help="Write one CSV file per table in this folder.")
@click.option("--charts", "charts_dir", type=click.Path(file_okay=False), help="Write the charts (SVG) in this folder.")
@JSON_OPTION
def insights(config_path: str, actions: tuple[str, ...], start: str | None, end: str | None, csv_dir: str | None,
             charts_dir: str | None, as_json: bool) -> None:
    """Completion and dropout by module, where learners stop, time spent vs estimated, realised vs
    planned hours, and the sales funnel per channel: for a quality review (Qualiopi indicator 32)."""
    hub = open_hub(config_path)
    unknown = [a for a in actions if a not in hub.config.model.actions]
    if unknown:
        fail(f"--action {', '.join(unknown)}: no such training action in {config_path} "
             f"(configured: {', '.join(hub.config.model.actions) or 'none'})")
    try:
        scope = Scope(tuple(actions) or None, _day("--from", start), _day("--to", end))
    except ValueError as exc:
        fail(f"--from/--to: {exc}")

    async def work() -> Insights:
        with progress_bar("insights", unit="journeys", as_json=as_json) as advance:
            return await hub_insights(hub, scope, progress=advance)

    found = run_hub(hub, work)
    written = []
    if csv_dir:
        written += write_tables(found, Path(csv_dir))
    if charts_dir:
        written += write_charts(found, Path(charts_dir))
    if as_json:
        print_json({**found.as_dict(), "written": [str(p) for p in written]})
        return
    click.echo(f"{found.enrolments} enrolments · actions: {', '.join(actions) or 'all'}"
               f" · period: {start or '…'} to {end or '…'}")
    for table in found.tables:
        click.echo("")
        click.echo(click.style(table.title, bold=True) + f"  ({table.name})")
        click.echo(render(table))
    for path in written:
        click.echo(f"wrote {path}")


def render(table: Table) -> str:
    """The table as aligned text columns (an empty table says so)."""
    if not table.rows:
        return "  (nothing to show)"
    names = [c for c in table.column_names if c != "action_title"]
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in names] for row in table.rows]
    widths = [max(len(n), *(len(r[i]) for r in cells)) for i, n in enumerate(names)]
    lines = ["  " + "  ".join(n.ljust(w) for n, w in zip(names, widths))]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)
