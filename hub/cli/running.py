"""Running the hub: the daemon, one pass (`run --once`), one pull (`sync`)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from hub.cli.common import (
    CONFIG_OPTION,
    ERROR,
    JSON_OPTION,
    fail,
    open_hub,
    print_json,
    run_hub,
)
from hub.cli.progress import progress_bar


def _summary_dict(summary) -> dict[str, Any]:
    return {
        "pulls": [p.__dict__ for p in summary.pulls],
        "delivery": {sink: {k: v for k, v in s.__dict__.items()} for sink, s in summary.delivery.items()},
        "sealed": [{"block": b.index, "events": b.count, "root": b.root} for b in summary.sealed],
        "alerts": summary.alerts,
        "badges": summary.badges,
        "exports": [{"export": e.name, "period": e.period, "error": e.error, "already_produced": e.outcome is None
                     and e.error is None, **({"outcome": e.outcome.as_dict()} if e.outcome else {})}
                    for e in summary.exports],
    }


@click.command()
@CONFIG_OPTION
@click.option("--once", is_flag=True, help="Run every pull and every due delivery once, then exit.")
@click.option("--host", help="Listen address (default hub.http.host).")
@click.option("--port", type=int, help="Listen port (default hub.http.port).")
@JSON_OPTION
def run(config_path: str, once: bool, host: str | None, port: int | None, as_json: bool) -> None:
    """Run the hub: HTTP server, scheduled pulls and deliveries (or one pass with --once)."""
    hub = open_hub(config_path)
    if once:
        summary = asyncio.run(_run_once(hub))
        if as_json:
            print_json(_summary_dict(summary))
        else:
            _print_run_summary(hub, summary)
        sys.exit(1 if summary.failed else 0)
    from hub.runtime.daemon import (  # the HTTP server loads for the daemon only (see open_hub)
        PortInUse,
        serve,
    )

    try:
        asyncio.run(serve(hub, host=host, port=port))
    except PortInUse as exc:
        fail(str(exc), 2)


async def _run_once(hub):
    await hub.start()
    try:
        summary = await hub.run_once()
        summary.totals = await hub.store.call(_totals, hub.store)
        return summary
    finally:
        await hub.stop()


def _export_line(run) -> str:
    if run.error:
        return f"FAILED: {run.error}"
    if run.outcome is None:
        return "already produced (`parcours export` runs it again: a new version if anything changed)"
    if run.outcome.status == "empty":
        return "empty: no enrolment in the period, nothing written"
    if run.outcome.status == "unchanged":
        return f"nothing new since v{run.outcome.version}, nothing written"
    if not run.outcome.written:
        shown = "; ".join(f"{m.learner}: {m.field}" for m in run.outcome.missing[:3])
        more = f" and {len(run.outcome.missing) - 3} more" if len(run.outcome.missing) > 3 else ""
        return f"NOT WRITTEN: {len(run.outcome.missing)} required field(s) missing ({shown}{more})"
    return f"v{run.outcome.version}: {len(run.outcome.files)} file(s) in {run.outcome.folder}"


def _totals(store) -> dict[str, Any]:
    return {"events": store.count_events(), "outbox": store.outbox_counts(), "dead_letters": store.dead_letter_counts()}


def _pull_line(p) -> str:
    """What one pull did, in words (its skipped records by reason, when there are)."""
    skipped = sum(p.skipped.values())
    reasons = f": {', '.join(f'{r} {n}' for r, n in p.skipped.items())}" if skipped else ""
    return (f"{p.appended} new, {p.duplicates} already known, {p.rejected} dead-lettered, "
            f"{skipped} skipped{reasons} ({p.pages} page(s))")


def _unmapped_lines(p, indent: str) -> list[str]:
    """The values the mapping does not know, and the connector's warnings."""
    lines = [f"{indent}warning: {w}" for w in p.warnings]
    if not p.unmapped:
        return lines
    return [*lines, f"{indent}not mapped ({len(p.unmapped)}; map them in the connector's configuration):",
            *(f"{indent}  {value}  ×{n}" for value, n in p.unmapped.items())]


def _print_run_summary(hub, summary) -> None:
    click.echo(f"{hub.config.hub.name}: one pass over {len(summary.pulls)} source(s) and {len(summary.delivery)} sink(s)")
    for p in summary.pulls:
        if p.busy:
            click.echo(f"  pull {p.source:<18} not pulled: {p.busy} is pulling it now")
        elif p.ok:
            click.echo(f"  pull {p.source:<18} {_pull_line(p)}")
            for line in _unmapped_lines(p, " " * 25):
                click.echo(line)
        else:
            click.echo(f"  pull {p.source:<18} FAILED: {p.error}")
    for sink, s in summary.delivery.items():
        extra = f", {s.retried} to retry, {s.dead} dead-lettered" if (s.retried or s.dead) else ""
        click.echo(f"  sink {sink:<18} {s.delivered} delivered in {s.batches} batch(es){extra}")
    for e in summary.exports:
        click.echo(f"  export {e.name:<16} {e.period:<8} {_export_line(e)}")
    if summary.alerts:
        click.echo(f"  {summary.alerts} new dropout alert(s) (see `parcours alerts list`)")
    if summary.badges:
        click.echo(f"  {summary.badges} badge(s) awarded (see `parcours badges list`)")
    for block in summary.sealed:
        click.echo(f"  sealed block {block.index}: {block.count} events, Merkle root {block.root[:16]}…")
    totals = getattr(summary, "totals", None)
    if totals:
        dead = sum(totals["dead_letters"].values())
        click.echo(f"ledger: {totals['events']} events; dead letters waiting: {dead}"
                   + (" (see `parcours dlq list`)" if dead else ""))


@click.command()
@CONFIG_OPTION
@click.argument("connector")
@JSON_OPTION
def sync(config_path: str, connector: str, as_json: bool) -> None:
    """Run one pull of CONNECTOR now (following its pages) and deliver what it routed."""
    hub = open_hub(config_path)
    if connector not in hub.config.pull_sources():
        click.echo(ERROR + f"{connector!r} is not an enabled pull source (pull sources: "
                   f"{', '.join(hub.config.pull_sources()) or 'none'})", err=True)
        asyncio.run(hub.stop())
        sys.exit(2)

    async def work():
        with progress_bar(f"sync {connector}", unit="records", as_json=as_json) as advance:
            result = await hub.pull(connector, progress=advance)
        delivered = {s: await hub.dispatcher.deliver_due(s) for s in hub.config.sinks()}
        return result, delivered

    result, delivered = run_hub(hub, work, start=True)
    if as_json:
        print_json({"pull": result.__dict__, "delivery": {k: v.__dict__ for k, v in delivered.items()}})
    elif result.busy:
        click.echo(f"{connector}: not pulled: {result.busy} is pulling it now")
    elif result.ok:
        click.echo(f"{connector}: {_pull_line(result)}")
        for line in _unmapped_lines(result, "  "):
            click.echo(line)
    else:
        click.echo(f"{connector}: FAILED: {result.error}", err=True)
    sys.exit(0 if result.ok else 1)
