"""``parcours migrate-store``: copy an organisation's store (SQLite) to PostgreSQL, resumably."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import JSON_OPTION, fail, print_json
from hub.errors import ConfigError
from hub.redaction import redact_url


@click.command("migrate-store")
@click.option("--from", "source_url", required=True, metavar="URL",
              help="The store to copy: sqlite:///path/hub.db (stop every daemon first).")
@click.option("--to", "destination_url", required=True, metavar="URL",
              help="An empty database or schema: postgresql://… (or another sqlite:///…).")
@click.option("--batch", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Rows copied per transaction.")
@click.option("--blobs-from", type=click.Path(file_okay=False, path_type=Path),
              help="The blobs folder to copy too (hub.data_dir/blobs).")
@click.option("--blobs-to", type=click.Path(file_okay=False, path_type=Path),
              help="Where the daemons on the new store will read blobs.")
@JSON_OPTION
def migrate_store(source_url: str, destination_url: str, batch: int, blobs_from: Path | None,
                  blobs_to: Path | None, as_json: bool) -> None:
    """Copy every table of a SQLite store into an empty PostgreSQL database, batch by batch.

    Interrupted, the same command resumes after the last batch written; at the end the row count
    of every table is compared with the source's. Run `parcours verify` on the new store next."""
    from hub.store import open_store
    from hub.store.sqlite import SQLiteStore
    from hub.store.transfer import TransferError, copy_blobs, transfer

    if not source_url.startswith("sqlite:///"):
        fail(f"--from must be a SQLite store (sqlite:///path/hub.db), not {redact_url(source_url)}")
    if (blobs_from is None) != (blobs_to is None):
        fail("--blobs-from and --blobs-to go together")
    source_path = Path(source_url[len("sqlite:///"):])
    if not source_path.is_file():
        fail(f"no SQLite store at {source_path}")
    stores = []
    try:
        source = SQLiteStore(source_path)
        stores.append(source)
        source.migrate()
        try:
            destination = open_store(destination_url, base_dir=Path.cwd())
        except ConfigError:
            raise
        except Exception as exc:  # unreachable server, wrong credentials
            fail(f"cannot open the store {redact_url(destination_url)}: {str(exc).strip().splitlines()[0]}")
        stores.append(destination)
        if isinstance(destination, SQLiteStore) and destination.path.resolve() == source_path.resolve():
            fail("--from and --to name the same store")

        def batch_done(table: str, rows: int) -> None:
            if not as_json:
                click.echo(f"  {table}: +{rows}", err=True)

        report = transfer(source, destination, batch=batch, on_batch=batch_done)
        if blobs_from is not None:
            report.blobs_copied, report.blobs_present = copy_blobs(blobs_from, blobs_to)
    except ConfigError as exc:
        fail("; ".join(exc.problems))
    except TransferError as exc:
        fail(str(exc), 1)
    finally:
        for store in stores:
            store.close()
    if as_json:
        print_json({"source": report.source.split("#")[0], "destination": redact_url(destination_url),
                    "resumed": report.resumed,
                    "tables": {t.name: {"rows": t.destination_rows, "copied_now": t.copied_now} for t in report.tables},
                    "blobs": {"copied": report.blobs_copied, "present": report.blobs_present}})
    else:
        click.echo(f"{'resumed and ' if report.resumed else ''}copied {source_path} to {redact_url(destination_url)}: "
                   f"{report.rows} row(s) in {len(report.tables)} table(s), the same counts on both sides")
        for t in report.tables:
            if t.destination_rows:
                click.echo(f"  {t.name}: {t.destination_rows}")
        if blobs_from is not None:
            click.echo(f"blobs: {report.blobs_copied} copied, {report.blobs_present} already there")
    sys.exit(0)
