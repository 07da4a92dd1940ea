"""A person's rights over what the hub holds about them (docs/retention.md)."""

from __future__ import annotations

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub
from hub.learners import reference_key

MAX_REASON = 300  # the ledger records keep at most 500 characters of reason, with who handled it


@click.group()
def learner() -> None:
    """A person's rights: erasure and objection."""


@learner.command("erase")
@CONFIG_OPTION
@click.argument("learner_ref", metavar="LEARNER")
@click.option("--reason", required=True, help="The request (kept in the ledger; no personal data).")
@click.option("--actor", default=None, help="Who handles the request (default: the system user).")
@JSON_OPTION
def learner_erase(config_path: str, learner_ref: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Erase a learner (hub id or key) on their request, or their objection.

    Before the legal retention ends the request is refused, with the rule and the date, and the
    refusal is recorded in the ledger (exit 1); funnel traces are erased at once all the same. After
    it, the person is pseudonymised everywhere and `parcours verify` still passes (exit 0)."""
    from hub.privacy.job import erase_learner

    if not 1 <= len(reason) <= MAX_REASON:
        fail(f"--reason must have 1 to {MAX_REASON} characters (it is kept in the ledger)", 2)
    hub = open_hub(config_path)

    async def work():
        key = reference_key(learner_ref)
        learner_id = learner_ref if key is None else await hub.store.call(hub.store.learner_by_key, key)
        if learner_id is None or await hub.store.call(hub.store.learner, learner_id) is None:
            return None
        return await erase_learner(hub, learner_id, reason=reason, actor=actor)

    outcome = run_hub(hub, work)
    if outcome is None:
        fail(f"no learner {learner_ref!r} (give a hub learner id or a key such as email:…; see `parcours learners show`)", 2)
    result = {"learner": outcome.learner_id, "erased": outcome.erased, "already": outcome.already,
              "records": outcome.records,
              **({"refused": {"rule": outcome.refused_rule, "until": outcome.until.isoformat(),
                              "event": outcome.refusal_event}} if not outcome.erased else {})}
    if as_json:
        print_json(result)
    elif outcome.already:
        click.echo(f"learner {outcome.learner_id} was erased already")
    elif outcome.erased:
        events = sum(r["events"] for r in outcome.records)
        click.echo(f"learner {outcome.learner_id} erased: {events} event(s) pseudonymised, recorded as "
                   f"{', '.join(r['record'] for r in outcome.records) or 'registry only'}; `parcours verify` still passes")
    else:
        funnel = sum(r["events"] for r in outcome.records)
        click.echo(f"refused: learner {outcome.learner_id} is kept until {outcome.until.isoformat()}: {outcome.refused_rule} "
                   f"(refusal recorded as event {outcome.refusal_event})", err=True)
        if funnel:
            click.echo(f"funnel traces erased at once: {funnel} event(s)", err=True)
    if not outcome.erased:
        raise SystemExit(1)
