"""Funder exports: a new version of an export for a period."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import (
    CONFIG_OPTION,
    JSON_OPTION,
    fail,
    open_hub,
    print_json,
    run_hub,
)
from hub.cli.progress import progress_bar
from hub.errors import HubError
from hub.formats import Period


@click.command()
@CONFIG_OPTION
@click.argument("export_name")
@click.option("--period", help="YYYY-MM, YYYY or YYYY-MM-DD..YYYY-MM-DD.")
@click.option("--year", type=int, help="A calendar year (same as --period YYYY).")
@click.option("--funder", help="Only enrolments funded by this funder.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write the versions under this folder.")
@click.option("--allow-incomplete", is_flag=True, help="Write the files even when required fields are missing.")
@JSON_OPTION
def export(config_path: str, export_name: str, period: str | None, year: int | None, funder: str | None,
           out_dir: str | None, allow_incomplete: bool, as_json: bool) -> None:
    """Produce a new version of EXPORT_NAME (configured under `exports:`) for a period."""
    if bool(period) == bool(year):
        fail("give exactly one of --period or --year", 2)
    try:
        chosen = Period.parse(period or str(year))
    except ValueError as exc:
        fail(f"{exc}", 2)
    hub = open_hub(config_path)

    async def work():
        with progress_bar(f"export {export_name}", unit="journeys", as_json=as_json) as advance:
            return await hub.export(export_name, chosen, funder=funder, allow_incomplete=allow_incomplete,
                                    out_dir=Path(out_dir) if out_dir else None, progress=advance)

    try:
        outcome = run_hub(hub, work, start=True)
    except HubError as exc:
        fail(f"{exc}", 2)
    if as_json:
        print_json(outcome.as_dict())
    elif outcome.written:
        click.echo(f"{export_name} {chosen.label}: version {outcome.version} in {outcome.folder}")
        for name in outcome.files:
            click.echo(f"  {name}")
        for note in outcome.notes:
            click.echo(f"  note: {note}")
        for m in outcome.missing:
            click.echo(f"  incomplete: {m.learner}: {m.field}: {m.message}")
    else:
        click.echo(f"{export_name} {chosen.label}: nothing written, {len(outcome.missing)} required field(s) missing "
                   "(fix them, or use --allow-incomplete):", err=True)
        for m in outcome.missing:
            click.echo(f"  {m.learner}: {m.field}: {m.message}", err=True)
    sys.exit(0 if outcome.written else 1)
