"""Funder exports: a new version of an export for a period.

Exit codes: 0 a version was written (or, with --dry-run, would be), or nothing is new since the
latest version; 1 required fields are missing, nothing written; 2 usage or configuration error;
3 the period is empty (no enrolment of the export in it), nothing written.
"""

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

EXIT = {"written": 0, "unchanged": 0, "incomplete": 1, "empty": 3}


@click.command()
@CONFIG_OPTION
@click.argument("export_name")
@click.option("--period", help="YYYY-MM, YYYY or YYYY-MM-DD..YYYY-MM-DD.")
@click.option("--year", type=int, help="A calendar year (same as --period YYYY).")
@click.option("--funder", help="Only enrolments funded by this funder.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write the versions under this folder.")
@click.option("--allow-incomplete", is_flag=True, help="Write the files even when required fields are missing.")
@click.option("--force", is_flag=True, help="Write a new version even when nothing is new since the latest one, "
              "or when the period is empty (header-only files).")
@click.option("--dry-run", is_flag=True, help="Say what would be written (files, sizes, version); write nothing, "
              "record nothing, push nothing.")
@JSON_OPTION
def export(config_path: str, export_name: str, period: str | None, year: int | None, funder: str | None,
           out_dir: str | None, allow_incomplete: bool, force: bool, dry_run: bool, as_json: bool) -> None:
    """Produce a new version of EXPORT_NAME (configured under `exports:`) for a period.

    Nothing is written when the files would be those of the latest version, nor when the period
    holds no enrolment of the export (exit 3); --force writes them anyway."""
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
                                    out_dir=Path(out_dir) if out_dir else None, progress=advance,
                                    force=force, dry_run=dry_run)

    try:
        outcome = run_hub(hub, work, start=True)
    except HubError as exc:
        fail(f"{exc}", 2)
    if as_json:
        print_json(outcome.as_dict())
    else:
        _print(outcome, f"{export_name} {chosen.label}")
    sys.exit(EXIT[outcome.status])


def _print(outcome, title: str) -> None:
    if outcome.dry_run:
        title = f"dry run: {title}"
    if outcome.status == "incomplete":
        click.echo(f"{title}: nothing written, {len(outcome.missing)} required field(s) missing "
                   "(fix them, or use --allow-incomplete):", err=True)
        for m in outcome.missing:
            click.echo(f"  {m.learner}: {m.field}: {m.message}", err=True)
        return
    if outcome.status == "empty":
        click.echo(f"{title}: empty period, no enrolment of this export in it: nothing written "
                   "(--force writes its header-only files)")
    elif outcome.status == "unchanged":
        click.echo(f"{title}: nothing new since version {outcome.version} ({outcome.folder}): nothing written "
                   "(--force writes a new version)")
    elif outcome.dry_run:
        click.echo(f"{title}: would write version {outcome.version} (nothing written, nothing recorded)")
    else:
        click.echo(f"{title}: version {outcome.version} in {outcome.folder}")
    if outcome.status == "written":
        for name in outcome.files:
            size = outcome.sizes.get(name)
            click.echo(f"  {name}" + (f"  {size} bytes" if size is not None and outcome.dry_run else ""))
    for note in outcome.notes:
        click.echo(f"  note: {note}")
    for m in outcome.missing:
        click.echo(f"  incomplete: {m.learner}: {m.field}: {m.message}")
