"""Dropout alerts and their follow-up."""

from __future__ import annotations

import datetime as dt

import click

from hub.cli.common import (
    CONFIG_OPTION,
    JSON_OPTION,
    fail,
    open_hub,
    print_json,
    run_hub,
)
from hub.ingest.audit import whoami
from hub.journeys.alerts import alerts_of
from hub.journeys import follow_up
from hub.store.base import UnreadableEvent


@click.group()
def alerts() -> None:
    """Dropout-prevention alerts (Qualiopi indicator 12) and their follow-up."""


@alerts.command("list")
@CONFIG_OPTION
@click.option("--open", "only_open", is_flag=True, help="Only alerts without follow-up.")
@click.option("--action", help="Only this training action.")
@JSON_OPTION
def alerts_list(config_path: str, only_open: bool, action: str | None, as_json: bool) -> None:
    """List the alerts raised, with their follow-up."""
    hub = open_hub(config_path)

    async def work():
        await hub.project()
        states = await hub.store.call(hub.store.journeys, action=action)
        return [(s, alerts_of(s["alerts"])) for s in states]

    rows = [(s, a) for s, alerts_ in run_hub(hub, work) for a in alerts_ if not (only_open and a["followed_up"])]
    if as_json:
        print_json([{"learner": s["learner_id"], "learner_name": s["learner"]["name"], "action": s["action"], **a}
                     for s, a in rows])
        return
    if not rows:
        click.echo("no alert" + (" without follow-up" if only_open else ""))
        return
    for s, a in rows:
        state = f"followed up: {a['followed_up']['action_taken']}" if a["followed_up"] else "OPEN"
        click.echo(f"{a['event']}  {a['at'][:16]}  [{a['rule']}] {a['message']}  — {state}")


@alerts.command("follow-up")
@CONFIG_OPTION
@click.argument("alert_id")
@click.option("--note", required=True, help="What was done (call, e-mail, meeting…).")
@click.option("--by", "by", help="Who did it (default: the current user).")
def alerts_follow_up(config_path: str, alert_id: str, note: str, by: str | None) -> None:
    """Record the follow-up of ALERT_ID (an alert.raised event id) in the ledger."""
    record_follow_up(config_path, alert_id, "alert.raised", note, by,
                     not_found=f"{alert_id} is not an alert (see `parcours alerts list`)")


def record_follow_up(config_path: str, event_id: str, event_type: str, note: str, by: str | None, *,
                     not_found: str) -> None:
    """Append the ``alert.followed_up`` of ``event_id`` (an event of ``event_type``: an alert or a
    risk flag; hub.journeys.follow_up), by ``by`` or the current user; ``not_found`` when it is no
    such event (exit 2)."""
    hub = open_hub(config_path)

    async def work():
        found = await follow_up.followed_event(hub, event_id, event_type)
        if found is None:
            return None
        return await follow_up.record_follow_up(hub, found, note, by or whoami(), dt.datetime.now(dt.timezone.utc))

    try:
        done = run_hub(hub, work)
    except UnreadableEvent as exc:
        fail(str(exc), 1)
    if done is None:
        fail(not_found, 2)
    click.echo(f"follow-up recorded as event {done}")
