"""``parcours consent``: a person's consent choices, given or withdrawn from the command line
(a paper form, a request by e-mail), each recorded in the ledger (channel ``cli``)."""

from __future__ import annotations

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub
from hub.consents.record import choices_of, record_consent
from hub.errors import HubError
from hub.ingest.audit import whoami
from hub.learners import reference_key


@click.group()
def consent() -> None:
    """A learner's consents (hub.consents.purposes): list, give, withdraw."""


async def _learner(hub, learner: str) -> str:
    key = reference_key(learner)
    learner_id = learner if key is None else await hub.store.call(hub.store.learner_by_key, key)
    if not learner_id or await hub.store.call(hub.store.learner, learner_id) is None:
        raise HubError(f"no learner {learner!r} (give a hub learner id or a key such as email:…)")
    return await hub.store.call(hub.store.canonical_learner, learner_id)


@consent.command("list")
@CONFIG_OPTION
@click.argument("learner")
@JSON_OPTION
def consent_list(config_path: str, learner: str, as_json: bool) -> None:
    """The purposes the organisation configured, with LEARNER's decision and what is in force."""
    hub = open_hub(config_path)

    async def work():
        learner_id = await _learner(hub, learner)
        return learner_id, await choices_of(hub.store, hub.config.hub.consents, learner_id)

    try:
        learner_id, choices = run_hub(hub, work)
    except HubError as exc:
        fail(str(exc), 1)
    rows = [{"purpose": c.purpose, "status": c.status, "in_force": c.in_force, "current_version": c.settings.version,
             "default": c.settings.default, "allowed": c.settings.allowed,
             "version": c.decision.version if c.decision else None,
             "scope": c.decision.scope if c.decision else None,
             "channel": c.decision.channel if c.decision else None,
             "at": c.decided_at.isoformat() if c.decided_at else None,
             "event": c.decision.event_id if c.decision else None} for c in choices]
    if as_json:
        print_json({"learner": learner_id, "consents": rows})
        return
    click.echo(f"learner {learner_id}")
    for r in rows:
        decided = f"{r['status']} v{r['version']} on {r['at'][:19]} ({r['channel']})" if r["at"] else r["status"]
        click.echo(f"  {r['purpose']:<20} {'in force' if r['in_force'] else 'not in force':<13} {decided}"
                   f"{'  scope: ' + r['scope'] if r['scope'] else ''}  [current v{r['current_version']}, "
                   f"default {r['default']}{'' if r['allowed'] else ', not allowed'}]")


def _change(give: bool):
    @CONFIG_OPTION
    @click.argument("learner")
    @click.option("--purpose", required=True, help="The purpose's id (hub.consents.purposes).")
    @click.option("--version", help="The version of the text the person answered (default: the current one).")
    @click.option("--scope", help="Whom it concerns, for a purpose that names a recipient (the employer's SIRET or name).")
    @JSON_OPTION
    def command(config_path: str, learner: str, purpose: str, version: str | None, scope: str | None,
                as_json: bool) -> None:
        hub = open_hub(config_path)

        async def work():
            learner_id = await _learner(hub, learner)
            event_id = await record_consent(hub.append, hub.config.hub.consents, learner_id, purpose, give=give,
                                            channel="cli", version=version, scope=scope, by=whoami())
            return learner_id, event_id

        try:
            learner_id, event_id = run_hub(hub, work)
        except HubError as exc:
            fail(str(exc), 1)
        if as_json:
            print_json({"learner": learner_id, "purpose": purpose, "given": give, "event": event_id})
        else:
            click.echo(f"consent {'given' if give else 'withdrawn'}: {learner_id} {purpose} (event {event_id})")

    return command


consent.command("give", help="Record that LEARNER gave consent to --purpose (consent.given, channel cli).")(_change(True))
consent.command("withdraw", help="Record that LEARNER withdrew consent to --purpose (consent.withdrawn, channel cli): "
                                 "what it covers stops from now on.")(_change(False))
