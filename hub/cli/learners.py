"""One learner across systems: conflicts, their resolution, a learner's keys."""

from __future__ import annotations

import time

import click

from hub.cli.common import (
    CONFIG_OPTION,
    JSON_OPTION,
    fail,
    open_hub,
    print_json,
    run_hub,
)
from hub.ingest.audit import record_admin_action
from hub.journeys import reproject_learner
from hub.learners import reference_key


@click.group()
def learners() -> None:
    """One learner across systems: conflicts to resolve, what the hub knows of a learner."""


@learners.command("conflicts")
@CONFIG_OPTION
@click.option("--all", "show_all", is_flag=True, help="Include resolved conflicts.")
@JSON_OPTION
def learners_conflicts(config_path: str, show_all: bool, as_json: bool) -> None:
    """List identifiers that point at different learners (never merged silently)."""
    hub = open_hub(config_path)

    async def work():
        conflicts = await hub.store.call(hub.store.learner_conflicts, open_only=not show_all)
        people = {}
        for c in conflicts:
            for learner_id in c["learners"]:
                if learner_id not in people:
                    people[learner_id] = await hub.store.call(hub.store.learner, learner_id)
        return conflicts, people

    conflicts, people = run_hub(hub, work)
    if as_json:
        print_json([{**c, "learners": [people.get(l) or {"id": l} for l in c["learners"]]} for c in conflicts])
        return
    if not conflicts:
        click.echo("no learner conflicts")
        return
    for c in conflicts:
        state = f" [{c['resolution']}]" if c["resolved_at"] else ""
        click.echo(f"conflict {c['id']}{state}: {c['reason']}")
        for learner_id in c["learners"]:
            p = people.get(learner_id) or {"name": None, "keys": []}
            click.echo(f"  {learner_id}  {p.get('name') or '?'}  keys: {', '.join(p.get('keys', []))}")
    click.echo("resolve with: parcours learners resolve ID --merge-into LEARNER_ID | --keep-apart")


@learners.command("resolve")
@CONFIG_OPTION
@click.argument("conflict_id", type=int)
@click.option("--merge-into", help="Merge the conflict's learners into this learner id.")
@click.option("--keep-apart", is_flag=True, help="They are different people: stop reporting this conflict.")
@click.option("--reason", default="", help="Why (kept in the ledger with the resolution).")
@JSON_OPTION
def learners_resolve(config_path: str, conflict_id: int, merge_into: str | None, keep_apart: bool, reason: str,
                     as_json: bool) -> None:
    """Resolve a conflict; the resolution is recorded in the ledger as an admin.action event."""
    if bool(merge_into) == keep_apart:
        fail("give exactly one of --merge-into LEARNER_ID or --keep-apart", 2)
    hub = open_hub(config_path)
    async def work():
        result = await hub.store.call(hub.store.resolve_learner_conflict, conflict_id, merge_into=merge_into,
                                      at=time.time())
        event_id = await record_admin_action(hub.append, None, "learners resolve", f"conflict {conflict_id}",
                                             {**result, "reason": reason})
        if merge_into:
            await hub.store.call(reproject_learner, hub.store, merge_into)
        return {**result, "event_id": event_id}

    try:
        result = run_hub(hub, work)
    except KeyError:
        fail(f"no open conflict {conflict_id} (see `parcours learners conflicts`)", 2)
    except ValueError as exc:
        fail(f"{exc}", 2)
    if as_json:
        print_json(result)
    else:
        click.echo(f"conflict {conflict_id}: {result['resolution']} (recorded as event {result['event_id']})")


@learners.command("show")
@CONFIG_OPTION
@click.argument("learner")
@JSON_OPTION
def learners_show(config_path: str, learner: str, as_json: bool) -> None:
    """Show a learner by hub id or by key (email:…, src:<connector>:<ref>, id:<namespace>:<value>)."""
    hub = open_hub(config_path)

    async def work():
        key = reference_key(learner)
        learner_id = learner if key is None else await hub.store.call(hub.store.learner_by_key, key)
        return await hub.store.call(hub.store.learner, learner_id) if learner_id else None

    found = run_hub(hub, work)
    if found is None:
        fail(f"no learner {learner!r}", 1)
    if as_json:
        print_json(found)
        return
    click.echo(f"{found['id']}  {found['name'] or ''}")
    for key in found["keys"]:
        click.echo(f"  {key}")
    if found["merged"]:
        click.echo(f"  merged: {', '.join(found['merged'])}")
