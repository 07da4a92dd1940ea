"""The ``parcours`` command line.

Exit codes: 0 ok, 1 a failure was found (a pull failed, dead letters appeared), 2 usage or
configuration error. Every command that reads configuration takes ``--config PATH``
(default ``config/hub.yaml``, or ``$PARCOURS_CONFIG``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click

from hub.ingest.audit import record_admin_action, whoami
from hub.config import DEFAULT_CONFIG, json_schema, load_config
from hub.errors import ConfigError, HubError

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), envvar="PARCOURS_CONFIG",
    default=DEFAULT_CONFIG, show_default=True, help="Hub configuration file (env PARCOURS_CONFIG).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _fail_config(exc: Exception) -> None:
    click.echo(f"error: {exc}" if not isinstance(exc, ConfigError) else "\n".join(f"error: {p}" for p in exc.problems), err=True)
    sys.exit(2)


def _open_hub(config_path: str):
    from hub.runtime.app import Hub

    try:
        return Hub.open(config_path)
    except ConfigError as exc:
        _fail_config(exc)


def _plugins():
    from hub.plugins import load_plugins

    try:
        return load_plugins()
    except ConfigError as exc:
        _fail_config(exc)


def _run(hub, work, *, start: bool = False):
    """Run ``await work()`` against an opened hub (started first when ``start``), then stop the hub."""

    async def go():
        if start:
            await hub.start()
        try:
            return await work()
        finally:
            await hub.stop()

    return asyncio.run(go())


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "obj": _open_hub})  # obj: how subcommands open the hub
@click.version_option(package_name="parcours-hub")
def main() -> None:
    """Parcours Hub: collect training evidence, keep it tamper-evident, route it, report it."""


# ---------------------------------------------------------------------------- init / check


@main.command()
@click.option("--path", "target", type=click.Path(dir_okay=False), default=DEFAULT_CONFIG, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(target: str, force: bool) -> None:
    """Write a commented starter configuration."""
    path = Path(target)
    if path.exists() and not force:
        click.echo(f"error: {path} exists (use --force to overwrite)", err=True)
        sys.exit(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(resources.files("hub").joinpath("starter.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    click.echo(f"wrote {path}; next: edit it, then `parcours check --config {path}`")


@main.command()
@CONFIG_OPTION
@JSON_OPTION
def check(config_path: str, as_json: bool) -> None:
    """Validate the configuration and print connectors, routes and schedules."""
    plugins = _plugins()
    try:
        loaded = load_config(config_path, plugins.connector_classes(), format_classes=plugins.funder_format_classes())
    except ConfigError as exc:
        _fail_config(exc)
    def when(schedule) -> str | None:
        if schedule is None:
            return None
        return f"cron {schedule.cron}" if schedule.cron else f"every {schedule.model_dump(mode='json')['every']}"

    connectors = []
    for name, cfg in loaded.connectors.items():
        cls = loaded.connector_class(name)
        connectors.append({"name": name, "kind": cfg.kind, "enabled": cfg.enabled,
                           "capabilities": cls.capabilities(), "schedule": when(cfg.schedule)})
    routes = [{"name": r.name, "from": r.from_, "types": r.when.types, "actions": r.when.actions,
               "funders": r.when.funders, "to": r.to, "enabled": r.enabled} for r in loaded.model.routes]
    exports = [{"name": name, "kind": cfg.kind, "enabled": cfg.enabled, "schedule": when(cfg.schedule),
                "period": cfg.period, "funders": cfg.funders, "actions": cfg.actions}
               for name, cfg in loaded.exports.items()]
    if as_json:
        _print_json({"config": str(loaded.path), "store": loaded.hub.store.url, "timezone": loaded.hub.timezone,
                     "connectors": connectors, "routes": routes, "exports": exports})
        return
    click.echo(f"{loaded.path}: ok ({loaded.hub.name}, store {loaded.hub.store.url}, time zone {loaded.hub.timezone})")
    click.echo("connectors:")
    for c in connectors:
        state = "" if c["enabled"] else " (disabled)"
        sched = f", {c['schedule']}" if c["schedule"] else ""
        click.echo(f"  {c['name']:<20} {c['kind']:<14} {'+'.join(c['capabilities'])}{sched}{state}")
    click.echo("routes:")
    for r in routes:
        cond = ", ".join(r["types"])
        if r["actions"]:
            cond += f"; actions {', '.join(r['actions'])}"
        if r["funders"]:
            cond += f"; funders {', '.join(r['funders'])}"
        click.echo(f"  {r['name']:<20} {', '.join(r['from'])} -> {', '.join(r['to'])} when {cond}"
                   + ("" if r["enabled"] else " (disabled)"))
    if not routes:
        click.echo("  (none)")
    if exports:
        click.echo("exports:")
    for e in exports:
        scope = "; ".join(part for part in (
            f"funders {', '.join(e['funders'])}" if e["funders"] else "",
            f"actions {', '.join(e['actions'])}" if e["actions"] else "") if part)
        timing = (f"{e['schedule']}" + (f", period {e['period']}" if e["period"] else ", the period that just ended")
                  if e["schedule"] else "by hand (parcours export)")
        click.echo(f"  {e['name']:<20} {e['kind']:<14} {timing}" + (f"; {scope}" if scope else "")
                   + ("" if e["enabled"] else " (disabled)"))


@main.command("config-schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def config_schema(output: str | None) -> None:
    """Print the JSON Schema of the configuration (installed connectors included)."""
    plugins = _plugins()
    schema = json_schema(plugins.connector_classes(), plugins.funder_format_classes())
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


# ---------------------------------------------------------------------------- run / sync


def _summary_dict(summary) -> dict[str, Any]:
    return {
        "pulls": [p.__dict__ for p in summary.pulls],
        "delivery": {sink: {k: v for k, v in s.__dict__.items()} for sink, s in summary.delivery.items()},
        "sealed": [{"block": b.index, "events": b.count, "root": b.root} for b in summary.sealed],
        "alerts": summary.alerts,
        "exports": [{"export": e.name, "period": e.period, "error": e.error, "already_produced": e.outcome is None
                     and e.error is None, **({"outcome": e.outcome.as_dict()} if e.outcome else {})}
                    for e in summary.exports],
    }


@main.command()
@CONFIG_OPTION
@click.option("--once", is_flag=True, help="Run every pull and every due delivery once, then exit.")
@click.option("--host", help="Listen address (default hub.http.host).")
@click.option("--port", type=int, help="Listen port (default hub.http.port).")
@JSON_OPTION
def run(config_path: str, once: bool, host: str | None, port: int | None, as_json: bool) -> None:
    """Run the hub: HTTP server, scheduled pulls and deliveries (or one pass with --once)."""
    hub = _open_hub(config_path)
    if once:
        summary = asyncio.run(_run_once(hub))
        if as_json:
            _print_json(_summary_dict(summary))
        else:
            _print_run_summary(hub, summary)
        sys.exit(1 if summary.failed else 0)
    from hub.runtime.daemon import serve

    asyncio.run(serve(hub, host=host, port=port))


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
        return "already produced (`parcours export` makes a new version)"
    if not run.outcome.written:
        shown = "; ".join(f"{m.learner}: {m.field}" for m in run.outcome.missing[:3])
        more = f" and {len(run.outcome.missing) - 3} more" if len(run.outcome.missing) > 3 else ""
        return f"NOT WRITTEN: {len(run.outcome.missing)} required field(s) missing ({shown}{more})"
    return f"v{run.outcome.version}: {len(run.outcome.files)} file(s) in {run.outcome.folder}"


def _totals(store) -> dict[str, Any]:
    return {"events": store.count_events(), "outbox": store.outbox_counts(), "dead_letters": store.dead_letter_counts()}


def _print_run_summary(hub, summary) -> None:
    click.echo(f"{hub.config.hub.name}: one pass over {len(summary.pulls)} source(s) and {len(summary.delivery)} sink(s)")
    for p in summary.pulls:
        if p.ok:
            click.echo(f"  pull {p.source:<18} {p.appended} new, {p.duplicates} already known, "
                       f"{p.rejected} dead-lettered ({p.pages} page(s))")
        else:
            click.echo(f"  pull {p.source:<18} FAILED: {p.error}")
    for sink, s in summary.delivery.items():
        extra = f", {s.retried} to retry, {s.dead} dead-lettered" if (s.retried or s.dead) else ""
        click.echo(f"  sink {sink:<18} {s.delivered} delivered in {s.batches} batch(es){extra}")
    for e in summary.exports:
        click.echo(f"  export {e.name:<16} {e.period:<8} {_export_line(e)}")
    if summary.alerts:
        click.echo(f"  {summary.alerts} new dropout alert(s) (see `parcours alerts list`)")
    for block in summary.sealed:
        click.echo(f"  sealed block {block.index}: {block.count} events, Merkle root {block.root[:16]}…")
    totals = getattr(summary, "totals", None)
    if totals:
        dead = sum(totals["dead_letters"].values())
        click.echo(f"ledger: {totals['events']} events; dead letters waiting: {dead}"
                   + (" (see `parcours dlq list`)" if dead else ""))


@main.command()
@CONFIG_OPTION
@click.argument("connector")
@JSON_OPTION
def sync(config_path: str, connector: str, as_json: bool) -> None:
    """Run one pull of CONNECTOR now (following its pages) and deliver what it routed."""
    hub = _open_hub(config_path)
    if connector not in hub.config.pull_sources():
        click.echo(f"error: {connector!r} is not an enabled pull source (pull sources: "
                   f"{', '.join(hub.config.pull_sources()) or 'none'})", err=True)
        asyncio.run(hub.stop())
        sys.exit(2)

    async def work():
        result = await hub.pull(connector)
        delivered = {s: await hub.dispatcher.deliver_due(s) for s in hub.config.sinks()}
        return result, delivered

    result, delivered = _run(hub, work, start=True)
    if as_json:
        _print_json({"pull": result.__dict__, "delivery": {k: v.__dict__ for k, v in delivered.items()}})
    elif result.ok:
        click.echo(f"{connector}: {result.appended} new, {result.duplicates} already known, "
                   f"{result.rejected} dead-lettered ({result.pages} page(s))")
    else:
        click.echo(f"{connector}: FAILED: {result.error}", err=True)
    sys.exit(0 if result.ok else 1)


# ---------------------------------------------------------------------------- connectors


@main.group()
def connectors() -> None:
    """Installed connector kinds and configured connectors."""


@connectors.command("list")
@CONFIG_OPTION
@JSON_OPTION
def connectors_list(config_path: str, as_json: bool) -> None:
    """List installed connector kinds, their plugins, and (with a config) each connector's health."""
    plugins = _plugins()
    kinds = []
    for kind, cls in plugins.connector_classes().items():
        origin = plugins.connector_origin(kind)
        info = next((i for i in plugins.infos if i.name == origin), None)
        kinds.append({
            "kind": kind, "capabilities": cls.capabilities(), "plugin": origin,
            "distribution": info.distribution if info else None, "version": info.version if info else None,
            "description": (cls.__doc__ or "").strip().split("\n")[0],
        })
    blocked = [i.name for i in plugins.infos if i.status == "blocked"]
    configured = []
    if Path(config_path).exists():
        from hub.runtime.app import Hub

        try:
            hub = Hub.open(config_path, plugins=plugins)
        except ConfigError as exc:
            _fail_config(exc)

        async def health():
            await hub.start()
            try:
                checks = await hub.check_connectors()
                states = {s.name: s for s in await hub.store.call(hub.store.all_source_states)}
                return checks, states
            finally:
                await hub.stop()

        checks, states = asyncio.run(health())
        for name, cfg in hub.config.connectors.items():
            state = states.get(name)
            health_info = checks.get(name, {"ok": None, "message": "disabled"})
            if state is not None and not state.healthy:
                health_info = {"ok": False, "message": state.last_error}
            configured.append({"name": name, "kind": cfg.kind, "enabled": cfg.enabled, **health_info,
                               "last_success_at": state.last_success_at if state else None})
    unhealthy = any(c["enabled"] and c["ok"] is False for c in configured)
    if as_json:
        _print_json({"kinds": kinds, "blocked_plugins": blocked, "configured": configured})
        sys.exit(1 if unhealthy else 0)
    click.echo("installed connector kinds:")
    for k in kinds:
        dist = f"{k['distribution']} {k['version']}" if k["distribution"] else k["plugin"]
        click.echo(f"  {k['kind']:<16} {'+'.join(k['capabilities']):<14} {dist:<28} {k['description']}")
    if blocked:
        click.echo(f"blocked plugins: {', '.join(blocked)}")
    if configured:
        click.echo(f"configured in {config_path}:")
        for c in configured:
            status = "disabled" if not c["enabled"] else ("ok" if c["ok"] else f"UNHEALTHY: {c['message']}")
            click.echo(f"  {c['name']:<20} {c['kind']:<14} {status}")
    if unhealthy:
        sys.exit(1)


@main.command("new-connector")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to create the package folder.")
def new_connector(name: str, directory: str) -> None:
    """Scaffold a pip-installable connector package NAME with passing contract tests."""
    from hub.scaffold import scaffold

    try:
        created = scaffold(name, Path(directory))
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"created {created}")
    click.echo(f"next: pip install -e {created} && pytest {created}")


# ---------------------------------------------------------------------------- dead letters


@main.group()
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
    hub = _open_hub(config_path)

    async def work():
        return await hub.store.call(hub.store.dead_letters, sink=sink, source=source, limit=limit)

    letters = _run(hub, work)
    if as_json:
        _print_json([letter.__dict__ for letter in letters])
        return
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        when = dt.datetime.fromtimestamp(letter.failed_at or letter.created_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        target = f"-> {letter.sink}" if letter.sink else f"from {letter.source}"
        subject = f"event {letter.event_id}" if letter.event_id else "record"
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
        click.echo("error: say what to replay: --sink S, --source S, --id ID or --all", err=True)
        sys.exit(2)
    hub = _open_hub(config_path)
    from hub.delivery.dlq import replay

    async def work():
        summary = await replay(hub, sink=sink, source=source, ids=list(ids) or None)
        if deliver:
            sinks = [sink] if sink else hub.config.sinks()
            summary["delivery"] = {s: (await hub.dispatcher.deliver_due(s, ignore_pause=True)).__dict__ for s in sinks}
        return summary

    try:
        summary = _run(hub, work, start=True)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        _print_json(summary)
    else:
        click.echo(f"requeued {summary['requeued']} delivery(ies), replayed {summary['replayed']} record(s)")
        for err in summary["errors"]:
            click.echo(f"  still failing: {err}")
        for s, stats in summary.get("delivery", {}).items():
            if stats["delivered"] or stats["dead"] or stats["retried"]:
                click.echo(f"  sink {s}: {stats['delivered']} delivered, {stats['retried']} to retry, {stats['dead']} dead")
    failed = summary["errors"] or any(s["dead"] for s in summary.get("delivery", {}).values())
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------------------- integrity


@main.command()
@CONFIG_OPTION
@JSON_OPTION
def verify(config_path: str, as_json: bool) -> None:
    """Recompute every sealed block from the ledger and check their time-stamp anchors; name the
    first event or block that does not match."""
    hub = _open_hub(config_path)
    from hub.ledger.anchoring import AnchorError, anchor_checker
    from hub.ledger.integrity import verify as verify_ledger

    ledger = hub.config.hub.ledger
    check = anchor_checker(hub.config.resolve_path(p) for p in ledger.tsa_ca)

    async def work():
        return await hub.store.call(verify_ledger, hub.store, check_anchor=check)

    try:
        report = _run(hub, work)
    except AnchorError as exc:
        click.echo(f"error: cannot check the time-stamp anchors: {exc}", err=True)
        sys.exit(2)
    if as_json:
        _print_json(report.__dict__)
    elif report.ok:
        click.echo(f"ledger intact: {report.blocks} block(s), {report.events} sealed event(s)"
                   + (f", {report.unsealed} not sealed yet" if report.unsealed else ""))
        last = report.last_anchor
        if last:
            click.echo(f"time-stamped: {report.anchored} anchor(s) valid; the newest dates blocks 0–{last['block']} "
                       f"at {last['gen_time']} ({last['tsa']})")
        if report.not_time_stamped and last:
            click.echo(f"note: {report.not_time_stamped} block(s) sealed after the newest anchor are not time-stamped yet")
        elif report.not_time_stamped:
            click.echo("note: no block is time-stamped" + ("" if ledger.tsa_url else " (hub.ledger.tsa_url is not set)"))
    else:
        click.echo(f"LEDGER ALTERED: {report.problem}", err=True)
    sys.exit(0 if report.ok else 1)


@main.command()
@CONFIG_OPTION
@click.argument("event_id", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the proof to this file.")
@click.option("--check", "check_file", type=click.Path(exists=True, dir_okay=False),
              help="Check a proof file instead (needs no configuration and no ledger).")
@click.option("--tsa-ca", "tsa_ca", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="With --check: PEM certificate of a CA to trust for the proof's time-stamp (repeatable; "
                   "default: the system's trust store).")
def prove(config_path: str, event_id: str | None, output: str | None, check_file: str | None,
          tsa_ca: tuple[str, ...]) -> None:
    """Print the inclusion proof of EVENT_ID (its Merkle audit path and time-stamp anchor), or check one with --check."""
    from hub.ledger.anchoring import AnchorError
    from hub.ledger.integrity import check_proof, prove as make_proof

    if check_file:
        try:
            proof = json.loads(Path(check_file).read_text(encoding="utf-8"))
            ok, message = check_proof(proof, tsa_ca=tsa_ca)
        except AnchorError as exc:
            click.echo(f"error: cannot check the proof's time-stamp anchor: {exc}", err=True)
            sys.exit(2)
        except (ValueError, KeyError, TypeError) as exc:
            ok, message = False, f"unreadable proof: {exc}"
        click.echo(("valid: " if ok else "INVALID: ") + message, err=not ok)
        sys.exit(0 if ok else 1)
    if not event_id:
        click.echo("error: give an EVENT_ID, or --check FILE", err=True)
        sys.exit(2)
    hub = _open_hub(config_path)

    async def work():
        return await hub.store.call(make_proof, hub.store, event_id)

    try:
        proof = _run(hub, work)
    except KeyError as exc:
        click.echo(f"error: {exc.args[0]}", err=True)
        sys.exit(1)
    text = json.dumps(proof, indent=2, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


# ---------------------------------------------------------------------------- journeys


@main.group()
def journey() -> None:
    """Enrolments as the ledger tells them: status, attendance, realised hours, with their proof."""


async def _resolve_learner(hub, learner: str) -> str | None:
    from hub.learners import reference_key

    key = reference_key(learner)
    return learner if key is None else await hub.store.call(hub.store.learner_by_key, key)


@journey.command("show")
@CONFIG_OPTION
@click.argument("learner")
@click.option("--action", help="Training action id (when the learner has several enrolments).")
@click.option("--explain", is_flag=True, help="Say, for every figure, the rule applied and the events it rests on.")
@JSON_OPTION
def journey_show(config_path: str, learner: str, action: str | None, explain: bool, as_json: bool) -> None:
    """Show the enrolment(s) of LEARNER (hub id, email:…, or src:<connector>:<ref>)."""
    hub = _open_hub(config_path)

    async def work():
        learner_id = await _resolve_learner(hub, learner)
        if learner_id is None:
            return None
        return await hub.journey_reports(action=action, learner_id=learner_id)

    reports = _run(hub, work)
    if not reports:
        click.echo(f"error: no enrolment for {learner!r}" + (f" in {action}" if action else ""), err=True)
        sys.exit(1)
    if as_json:
        _print_json([r.as_dict(explain=explain) for r in reports])
        return
    for report in reports:
        _print_journey(report, explain)


def _print_journey(report, explain: bool) -> None:
    from hub.journeys.actions import MODALITY_LABELS

    title = report.action.title if report.action else "(action not configured)"
    click.echo(f"{report.learner_name or report.learner_id} — {report.action_id} {title}")
    click.echo(f"  learner {report.learner_id}" + (f" <{report.learner_email}>" if report.learner_email else ""))
    click.echo(f"  status: {report.status}; funders: {', '.join(sorted(report.funders)) or 'none recorded'}")
    steps = ", ".join(f"{step} {fact['at'][:10]}" for step, fact in report.timeline.items())
    click.echo(f"  timeline: {steps or 'nothing yet'}")
    rate = report.attendance_rate.value
    click.echo(f"  realised hours: {report.realised_hours} of {report.planned_hours} planned"
               + (f"; attendance {rate} %" if rate is not None else ""))
    for modality, figure in report.realised.items():
        if modality == "total":
            continue
        click.echo(f"    {MODALITY_LABELS.get(modality, modality)}: {figure.value} h" + (f" — {figure.rule}" if explain else ""))
        if explain and figure.events:
            click.echo(f"      events: {', '.join(figure.events)}")
    if report.progress:
        click.echo(f"  progress: {report.progress.value} %")
    marks = {"signed": "✓", "signed_without_trainer": "✓ (no trainer signature)", "absent": "absent",
             "absent_justified": "absent (justified)", "missing": "MISSING", "upcoming": "upcoming",
             "after_exit": "after exit", "remote": "remote", "foad": "FOAD"}
    click.echo("  half-days:")
    for r in report.half_days:
        line = f"    {r.half_day.date} {r.half_day.half_day} {r.half_day.start}-{r.half_day.end} " \
               f"{MODALITY_LABELS[r.half_day.modality]:<20} {marks.get(r.status, r.status):<26} {r.hours} h"
        click.echo(line)
        if explain and r.events:
            click.echo(f"      {r.rule}: {', '.join(r.events)}")
    for a in report.assessments:
        score = f"{a.get('score')}/{a.get('max_score')}" if a.get("score") is not None else ""
        click.echo(f"  assessment: {a.get('assessment') or a.get('activity_name') or a.get('activity')} {score}"
                   + (" passed" if a.get("passed") else " not passed" if a.get("passed") is False else ""))


@journey.command("list")
@CONFIG_OPTION
@click.option("--action", help="Only this training action.")
@JSON_OPTION
def journey_list(config_path: str, action: str | None, as_json: bool) -> None:
    """One line per enrolment: status, realised hours, attendance rate."""
    hub = _open_hub(config_path)

    async def pages():  # page by page: an organisation's journeys do not fit in memory as reports
        if action:
            yield await hub.journey_reports(action=action)
        else:
            async for page in hub.journey_pages():
                yield page

    async def work():
        rows = []
        async for reports in pages():
            for r in reports:
                rate = r.attendance_rate.value
                line = (f"{r.action_id:<20} {(r.learner_name or r.learner_id)[:40]:<40} {r.status:<17} "
                        f"{r.realised_hours:>7} / {r.planned_hours} h  {'' if rate is None else f'{rate} %'}")
                rows.append(((r.action_id, r.learner_id), r.as_dict() if as_json else line))
        return [row for _, row in sorted(rows, key=lambda kv: kv[0])]

    rows = _run(hub, work)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("no enrolment")
        return
    for line in rows:
        click.echo(line)


@journey.command("rebuild")
@CONFIG_OPTION
def journey_rebuild(config_path: str) -> None:
    """Forget the projected journeys and project the whole ledger again."""
    hub = _open_hub(config_path)
    from hub.journeys import rebuild

    async def work():
        return await hub.store.call(rebuild, hub.store)

    click.echo(f"journeys rebuilt from {_run(hub, work)} events")


# ---------------------------------------------------------------------------- funder exports


@main.command()
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
    from hub.formats import Period

    if bool(period) == bool(year):
        click.echo("error: give exactly one of --period or --year", err=True)
        sys.exit(2)
    try:
        chosen = Period.parse(period or str(year))
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    hub = _open_hub(config_path)

    async def work():
        return await hub.export(export_name, chosen, funder=funder, allow_incomplete=allow_incomplete,
                                out_dir=Path(out_dir) if out_dir else None)

    try:
        outcome = _run(hub, work, start=True)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        _print_json(outcome.as_dict())
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


# ---------------------------------------------------------------------------- alerts


@main.group()
def alerts() -> None:
    """Dropout-prevention alerts (Qualiopi indicator 12) and their follow-up."""


def _alerts_of(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raised alerts of one journey, each with its latest follow-up (or None)."""
    follow = {f["alert"]: f for f in facts if f.get("type") == "alert.followed_up"}
    return [{**f, "followed_up": follow.get(f["event"])} for f in facts if f.get("type") == "alert.raised"]


@alerts.command("list")
@CONFIG_OPTION
@click.option("--open", "only_open", is_flag=True, help="Only alerts without follow-up.")
@click.option("--action", help="Only this training action.")
@JSON_OPTION
def alerts_list(config_path: str, only_open: bool, action: str | None, as_json: bool) -> None:
    """List the alerts raised, with their follow-up."""
    hub = _open_hub(config_path)

    async def work():
        await hub.project()
        states = await hub.store.call(hub.store.journeys, action=action)
        return [(s, _alerts_of(s["alerts"])) for s in states]

    rows = [(s, a) for s, alerts_ in _run(hub, work) for a in alerts_ if not (only_open and a["followed_up"])]
    if as_json:
        _print_json([{"learner": s["learner_id"], "learner_name": s["learner"]["name"], "action": s["action"], **a}
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
    hub = _open_hub(config_path)
    async def work():
        alert = await hub.store.call(hub.store.get_event, alert_id)
        if alert is None or alert["type"] != "alert.raised":
            return None
        item = {"type": "alert.followed_up", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "source_id": f"follow-up:{alert_id}:{dt.datetime.now(dt.timezone.utc).timestamp()}",
                "learner": alert["learner"], "action": alert["action"],
                "data": {"alert": alert_id, "action_taken": note, "by": by or whoami()}}
        return (await hub.append([item], source="hub")).ids[0]

    event_id = _run(hub, work)
    if event_id is None:
        click.echo(f"error: {alert_id} is not an alert (see `parcours alerts list`)", err=True)
        sys.exit(2)
    click.echo(f"follow-up recorded as event {event_id}")


# ---------------------------------------------------------------------------- proofs


@main.group()
def proofs() -> None:
    """Proof completeness: what is missing before invoicing or certifying."""


@proofs.command("check")
@CONFIG_OPTION
@click.option("--action", help="Only this training action.")
@click.option("--funder", help="Only enrolments funded by this funder (and its rules).")
@JSON_OPTION
def proofs_check(config_path: str, action: str | None, funder: str | None, as_json: bool) -> None:
    """List the proof gaps per learner, with what would close each. Exit 1 when there are gaps."""
    hub = _open_hub(config_path)

    async def work():
        return await hub.proof_gaps(action=action, funder=funder)

    found = _run(hub, work)
    if as_json:
        _print_json([f.as_dict() for f in found])
    elif not found:
        click.echo("no proof missing" + (f" in {action}" if action else "") + (f" for {funder}" if funder else ""))
    else:
        total = sum(len(f.gaps) for f in found)
        click.echo(f"{total} gap(s) in {len(found)} enrolment(s):")
        for f in found:
            click.echo(f"{f.learner_name or f.learner_id} — {f.action} ({f.status}; {', '.join(f.funders) or 'no funder'})")
            for rule, gap in f.gaps:
                click.echo(f"  [{gap.code}] {gap.message}")
                click.echo(f"      → {gap.to_close}")
    sys.exit(1 if found else 0)


# ---------------------------------------------------------------------------- learners


@main.group()
def learners() -> None:
    """One learner across systems: conflicts to resolve, what the hub knows of a learner."""


@learners.command("conflicts")
@CONFIG_OPTION
@click.option("--all", "show_all", is_flag=True, help="Include resolved conflicts.")
@JSON_OPTION
def learners_conflicts(config_path: str, show_all: bool, as_json: bool) -> None:
    """List identifiers that point at different learners (never merged silently)."""
    hub = _open_hub(config_path)

    async def work():
        conflicts = await hub.store.call(hub.store.learner_conflicts, open_only=not show_all)
        people = {}
        for c in conflicts:
            for learner_id in c["learners"]:
                if learner_id not in people:
                    people[learner_id] = await hub.store.call(hub.store.learner, learner_id)
        return conflicts, people

    conflicts, people = _run(hub, work)
    if as_json:
        _print_json([{**c, "learners": [people.get(l) or {"id": l} for l in c["learners"]]} for c in conflicts])
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
        click.echo("error: give exactly one of --merge-into LEARNER_ID or --keep-apart", err=True)
        sys.exit(2)
    hub = _open_hub(config_path)
    async def work():
        result = await hub.store.call(hub.store.resolve_learner_conflict, conflict_id, merge_into=merge_into,
                                      at=time.time())
        event_id = await record_admin_action(hub.append, None, "learners resolve", f"conflict {conflict_id}",
                                             {**result, "reason": reason})
        if merge_into:
            from hub.journeys import reproject_learner

            await hub.store.call(reproject_learner, hub.store, merge_into)
        return {**result, "event_id": event_id}

    try:
        result = _run(hub, work)
    except KeyError:
        click.echo(f"error: no open conflict {conflict_id} (see `parcours learners conflicts`)", err=True)
        sys.exit(2)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        _print_json(result)
    else:
        click.echo(f"conflict {conflict_id}: {result['resolution']} (recorded as event {result['event_id']})")


@learners.command("show")
@CONFIG_OPTION
@click.argument("learner")
@JSON_OPTION
def learners_show(config_path: str, learner: str, as_json: bool) -> None:
    """Show a learner by hub id or by key (email:…, src:<connector>:<ref>, id:<namespace>:<value>)."""
    hub = _open_hub(config_path)

    async def work():
        learner_id = learner
        if ":" in learner:
            from hub.learners import normalise_email

            key = f"email:{normalise_email(learner[6:])}" if learner.startswith("email:") else learner
            learner_id = await hub.store.call(hub.store.learner_by_key, key)
        return await hub.store.call(hub.store.learner, learner_id) if learner_id else None

    found = _run(hub, work)
    if found is None:
        click.echo(f"error: no learner {learner!r}", err=True)
        sys.exit(1)
    if as_json:
        _print_json(found)
        return
    click.echo(f"{found['id']}  {found['name'] or ''}")
    for key in found["keys"]:
        click.echo(f"  {key}")
    if found["merged"]:
        click.echo(f"  merged: {', '.join(found['merged'])}")


from hub.documents.cli import documents, keys, verify_document  # noqa: E402  (the commands register on main)

main.add_command(documents)
main.add_command(keys)
main.add_command(verify_document)


if __name__ == "__main__":
    main()
