"""Retention of personal data: what is past its legal duration is erased (docs/retention.md)."""

from __future__ import annotations

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, open_hub, print_json, run_hub


@click.group()
def retention() -> None:
    """Retention of personal data: run the retention job, see what it would do."""


@retention.command("run")
@CONFIG_OPTION
@click.option("--dry-run", is_flag=True, help="Say what is past retention, change nothing.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Judge retention as of this day (default: today, UTC).")
@JSON_OPTION
def retention_run(config_path: str, dry_run: bool, today, as_json: bool) -> None:
    """Erase the personal data past its retention (what the daemon runs every hub.retention.run_every).
    A run that was stopped is resumed first."""
    from hub.privacy.job import run_retention

    hub = open_hub(config_path)
    report = run_hub(hub, lambda: run_retention(hub, today=today.date() if today else None, dry_run=dry_run))
    if as_json:
        print_json(report)
        return
    click.echo(f"as of {report['today']}: {report['persons_due']} person(s) past retention, "
               f"{report['funnels_due']} with funnel traces past retention, access logs before {report['access_logs_before']}; "
               f"{report['persons_kept']} kept, {report['persons_erased_before']} erased before")
    verb = "would be" if dry_run else "were"
    click.echo(f"dead letters: {report['dead_letters_expired']} stored before {report['dead_letters_before']} {verb} deleted; "
               f"{report['dead_letters_due']} naming the persons past retention {verb} scrubbed")
    if dry_run:
        click.echo("dry run: nothing changed")
        return
    erased = report["erased"]
    click.echo(f"erased: {erased['person']} person(s), {erased['funnel']} funnel trace set(s), {erased['access']} access-log "
               f"batch(es); {report['events_erased']} event(s) pseudonymised, {report['dead_letters_erased']} dead "
               f"letter(s) scrubbed"
               + (f"; resumed {report['resumed']} stopped erasure(s)" if report["resumed"] else ""))


@retention.command("status")
@CONFIG_OPTION
@JSON_OPTION
def retention_status(config_path: str, as_json: bool) -> None:
    """The retention durations in force, what was erased, and when the next persons fall due."""
    from hub.privacy.job import plan_retention, retention_of

    hub = open_hub(config_path)

    async def work():
        store = hub.store
        totals = await store.call(store.erasure_totals)
        plan = await plan_retention(hub)
        expiring = await store.call(store.delete_rejects_before, plan.dead_letters_cutoff, dry_run=True)
        erased = await store.call(store.erased_persons)
        upcoming = sorted(p.until for p in (await retention_of(hub)).values()
                          if p.learner_id not in erased and p.until > plan.today)
        return totals, plan, upcoming, expiring

    totals, plan, upcoming, expiring = run_hub(hub, work)
    config = hub.config.hub.retention
    status = {
        "durations": {"evidence_years": config.evidence_years, "eu_cofunded_years": config.eu_cofunded_years,
                      "eu_cofunded_funders": config.eu_cofunded_funders, "funnel_years": config.funnel_years,
                      "access_log_months": config.access_log_months, "dead_letter_months": config.dead_letter_months},
        "job": {"enabled": config.enabled, "run_every": str(config.run_every)},
        "erased": totals, **plan.summary(),
        "next_due": upcoming[0].isoformat() if upcoming else None, "dead_letters_expired": expiring,
    }
    if as_json:
        print_json(status)
        return
    click.echo(f"evidence kept {config.evidence_years} years after the year of the last piece "
               f"({config.eu_cofunded_years} when EU co-funded); funnel traces {config.funnel_years} years after "
               f"the last contact; access logs {config.access_log_months} months; dead letters "
               f"{config.dead_letter_months} months")
    click.echo(f"erased so far: {totals['records'].get('person', 0)} person(s), {totals['events']} event(s), "
               f"{totals['dead_letters']} dead letter(s)"
               + (f"; {totals['unfinished']} erasure(s) to finish (next run)" if totals["unfinished"] else ""))
    click.echo(f"as of {plan.today}: {len(plan.persons)} person(s) past retention, {plan.kept} kept; next due "
               f"{status['next_due'] or '-'}; {expiring} dead letter(s) stored before {plan.dead_letters_before} "
               "to delete at the next run")
