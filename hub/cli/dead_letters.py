"""Dead letters: failed deliveries and rejected records, listed and replayed."""

from __future__ import annotations

import datetime as dt
import sys

import click

from hub.cli.common import (
    CONFIG_OPTION,
    JSON_OPTION,
    fail,
    open_hub,
    print_json,
    run_hub,
)
from hub.delivery.dlq import replay_now
from hub.errors import HubError


@click.group()
def dlq() -> None:
    """Dead letters: deliveries and source records that need an admin."""


@dlq.command("list")
@CONFIG_OPTION
@click.option("--sink", help="Only deliveries to this sink.")
@click.option("--source", help="Only records rejected from this source.")
@click.option("--limit", type=int, default=100, show_default=True)
@JSON_OPTION
def dlq_list(config_path: str, sink: str | None, source: str | None, limit: int, as_json: bool) -> None:
    """List dead letters with their stage, error and attempts."""
    hub = open_hub(config_path)

    async def work():
        return await hub.store.call(hub.store.dead_letters, sink=sink, source=source, limit=limit)

    letters = run_hub(hub, work)
    if as_json:
        print_json([letter.__dict__ for letter in letters])
        return
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        when = dt.datetime.fromtimestamp(letter.failed_at or letter.created_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        target = f"-> {letter.sink}" if letter.sink else f"from {letter.source}"
        subject = f"event {letter.event_id}" if letter.event_id else ("record (personal data erased)"
                                                                      if letter.erased_at is not None else "record")
        click.echo(f"{letter.id:<8} {letter.stage:<9} {target:<22} {subject} at {when}, "
                   f"{letter.attempts} attempt(s): {letter.error}")


@dlq.command("replay")
@CONFIG_OPTION
@click.option("--sink", help="Replay the dead deliveries of this sink.")
@click.option("--source", help="Replay the rejected records of this source.")
@click.option("--id", "ids", multiple=True, help="Replay these dead letters (o:<n> or r:<n>); repeatable.")
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@click.option("--deliver/--no-deliver", default=True, show_default=True, help="Deliver the requeued events now.")
@JSON_OPTION
def dlq_replay(config_path: str, sink: str | None, source: str | None, ids: tuple[str, ...], replay_all: bool,
               deliver: bool, as_json: bool) -> None:
    """Replay dead letters with the current configuration (sinks) or code (source records)."""
    if not (sink or source or ids or replay_all):
        fail("say what to replay: --sink S, --source S, --id ID or --all", 2)
    hub = open_hub(config_path)
    async def work():
        return await replay_now(hub, sink=sink, source=source, ids=list(ids) or None, deliver=deliver)

    try:
        summary = run_hub(hub, work, start=True)
    except HubError as exc:
        fail(f"{exc}", 2)
    if as_json:
        print_json(summary)
    else:
        click.echo(f"requeued {summary['requeued']} delivery(ies), replayed {summary['replayed']} record(s)")
        for err in summary["errors"]:
            click.echo(f"  still failing: {err}")
        for s, stats in summary.get("delivery", {}).items():
            if stats["delivered"] or stats["dead"] or stats["retried"]:
                click.echo(f"  sink {s}: {stats['delivered']} delivered, {stats['retried']} to retry, {stats['dead']} dead")
    failed = summary["errors"] or any(s["dead"] for s in summary.get("delivery", {}).values())
    sys.exit(1 if failed else 0)
