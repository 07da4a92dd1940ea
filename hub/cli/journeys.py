"""Journeys: an enrolment's timeline and figures, the list, a rebuild."""

from __future__ import annotations

import sys
import unicodedata

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
from hub.errors import HubError
from hub.journeys import rebuild
from hub.journeys.actions import MODALITY_LABELS
from hub.journeys.foad import hours
from hub.learners import reference_key
from hub.risk.reasons import sentence
from hub.risk.service import flags_of, risk_of


@click.group()
def journey() -> None:
    """Enrolments as the ledger tells them: status, attendance, realised hours, with their proof."""


KEY_FORMS = ("a hub learner id, email:<address>, src:<connector>:<ref>, "
             "or part of the learner's name (case and accents ignored)")


def _folded(text: str) -> str:
    """Lower case without accents: 'Éloïse' and 'eloise' compare equal."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def _names_matching(store, query: str) -> dict[str, str]:
    """Learner id -> name of the journeys whose learner's name contains ``query`` (store thread)."""
    wanted, found, after = _folded(query), {}, None
    while states := store.journeys_page(after, 500):
        after = (states[-1]["learner_id"], states[-1]["action"])
        for state in states:
            name = (state.get("learner") or {}).get("name")
            if name and wanted in _folded(name):
                found[state["learner_id"]] = name
    return found


async def _resolve_learners(hub, learner: str) -> list[str]:
    """The learner ids LEARNER names: by key (email:…, src:…), by hub id, else by name."""
    key = reference_key(learner)
    if key is not None:
        found = await hub.store.call(hub.store.learner_by_key, key)
        return [found] if found else []
    if await hub.store.call(hub.store.learner, learner) is not None:
        return [learner]
    await hub.project()
    return list(await hub.store.call(_names_matching, hub.store, learner))


@journey.command("show")
@CONFIG_OPTION
@click.argument("learner")
@click.option("--action", help="Training action id (when the learner has several enrolments).")
@click.option("--explain", is_flag=True, help="Say, for every figure, the rule applied and the events it rests on.")
@JSON_OPTION
def journey_show(config_path: str, learner: str, action: str | None, explain: bool, as_json: bool) -> None:
    """Show the enrolment(s) of LEARNER: a hub id, email:…, src:<connector>:<ref>, or part of a name."""
    hub = open_hub(config_path)

    async def work():
        reports, states = [], []
        for learner_id in await _resolve_learners(hub, learner):
            reports.extend(await hub.journey_reports(action=action, learner_id=learner_id))
            states.extend(await hub.store.call(hub.store.journeys, action=action, learner_id=learner_id))
        return reports, states, await risk_of(hub, states)

    try:
        reports, states, scores = run_hub(hub, work)
    except HubError as exc:  # a stored risk model that cannot be read
        fail(str(exc), 2)
    flags = {(s["learner_id"], s["action"]): flags_of(s) for s in states}
    if not reports:
        click.echo(ERROR + f"no enrolment for {learner!r}" + (f" in {action}" if action else "")
                   + f"; name a learner by {KEY_FORMS}", err=True)
        sys.exit(1)
    if as_json:
        print_json([{**r.as_dict(explain=explain), "risk": _risk_dict(scores.get((r.learner_id, r.action_id)),
                                                                       flags.get((r.learner_id, r.action_id), []))}
                    for r in reports])
        return
    for report in reports:
        _print_journey(report, explain)
        key = (report.learner_id, report.action_id)
        _print_risk(scores.get(key), flags.get(key, []))


def _risk_dict(score, flags: list[dict]) -> dict:
    now = None if score is None else {"score": score.score, "model": score.model, "reasons": score.reasons}
    return {"now": now, "flags": [{"event": f["event"], "at": f["at"], "score": f["score"], "model": f["model"],
                                   "reasons": f["reasons"], "followed_up": bool(f["followed_up"])} for f in flags]}


def _print_risk(score, flags: list[dict]) -> None:
    """The dropout risk today (an enrolment in progress) and the flags raised, with their reasons."""
    if score is not None:
        click.echo(f"  dropout risk: {score.score * 100:.1f} % ({'rules' if score.model == 'rules' else 'model ' + score.model})"
                   f" — {sentence(score.reasons) or 'rien de notable'}")
    for f in flags:
        follow = f"followed up: {f['followed_up']['action_taken']}" if f["followed_up"] else "not followed up"
        click.echo(f"  risk flagged {f['at'][:10]} ({f['event']}): {f['score'] * 100:.1f} % — "
                   f"{sentence(f['reasons'])} — {follow}")


def _print_journey(report, explain: bool) -> None:
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
             "after_exit": "after exit", "remote": "remote", "foad": "FOAD",
             "public_holiday": "PUBLIC HOLIDAY (not counted)"}
    click.echo("  half-days:")
    for r in report.half_days:
        line = f"    {r.half_day.date} {r.half_day.half_day} {r.half_day.start}-{r.half_day.end} " \
               f"{MODALITY_LABELS[r.half_day.modality]:<20} {marks.get(r.status, r.status):<26} {r.hours} h"
        click.echo(line)
        if explain and r.events:
            click.echo(f"      {r.rule}: {', '.join(r.events)}")
        elif explain and r.status == "foad":
            click.echo(f"      {r.rule}")
    for entry in report.off_schedule:
        why = f"public holiday ({entry['holiday']})" if entry["holiday"] else "no session scheduled"
        click.echo(f"    {entry['date']} {entry['half_day']} signed on a day off the schedule: {why}, not counted"
                   + (f": {', '.join(entry['events'])}" if explain else ""))
    if report.foad_modules:
        _print_foad_modules(report.foad_modules, explain)
    for a in report.assessments:
        score = f"{a.get('score')}/{a.get('max_score')}" if a.get("score") is not None else ""
        click.echo(f"  assessment: {a.get('assessment') or a.get('activity_name') or a.get('activity')} {score}"
                   + (" passed" if a.get("passed") else " not passed" if a.get("passed") is False else ""))


def _print_foad_modules(modules, explain: bool) -> None:
    """Where the FOAD hours come from: per day the connection time and what the daily cap kept, per
    module the activity estimates, and their sum (the module's hours, capped at the planned ones)."""
    click.echo("  FOAD modules:")
    for m in modules:
        planned = f", {m.scheduled_hours.normalize():f} h planned" if m.scheduled_hours is not None else ""
        click.echo(f"    {m.name}{planned}: {m.value} h")
        evidence = m.as_dict()["evidence"]
        click.echo("      evidence: " + ", ".join(f"{kind} {count}" for kind, count in evidence.items()))
        if not explain:
            continue
        connection, estimates = hours(m.connection_seconds), hours(m.estimate_seconds)
        click.echo(f"      connection time, capped at {hours(m.daily_cap_seconds)} h a day: {connection} h")
        for d in m.days:
            click.echo(f"        {d.date}  {hours(d.seconds)} h connected, {hours(d.counted_seconds)} h counted  "
                       f"[{', '.join(d.events)}]")
        if m.counts_estimates:
            click.echo(f"      activity estimates: {estimates} h")
            for a in m.estimates:
                click.echo(f"        {a.activity}  {a.minutes} min" + (f" ({a.name})" if a.name else "") + f"  [{a.event}]")
        total = hours(m.connection_seconds + m.estimate_seconds)
        line = f"      sum: {connection} h" + (f" + {estimates} h" if m.counts_estimates else "") + f" = {total} h"
        if m.capped:
            line += f", capped at the {m.scheduled_hours.normalize():f} planned hours: {m.value} h"
        click.echo(line)


@journey.command("list")
@CONFIG_OPTION
@click.option("--action", help="Only this training action.")
@JSON_OPTION
def journey_list(config_path: str, action: str | None, as_json: bool) -> None:
    """One line per enrolment: status, realised hours, attendance rate."""
    hub = open_hub(config_path)

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
                cells = (r.action_id, r.learner_name or r.learner_id, r.status,
                         f"{r.realised_hours} / {r.planned_hours} h", "" if rate is None else f"{rate} %")
                rows.append(((r.action_id, r.learner_id), r.as_dict() if as_json else cells))
        return [row for _, row in sorted(rows, key=lambda kv: kv[0])]

    rows = run_hub(hub, work)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no enrolment")
        return
    for line in _columns(("ACTION", "LEARNER", "STATUS", "REALISED / PLANNED", "ATTENDANCE"), rows):
        click.echo(line)


def _columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Aligned text columns as wide as their widest cell (names are never cut)."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)]


@journey.command("rebuild")
@CONFIG_OPTION
def journey_rebuild(config_path: str) -> None:
    """Forget the projected journeys and project the whole ledger again."""
    hub = open_hub(config_path)

    async def work():
        total = await hub.store.call(hub.store.count_events)
        with progress_bar("journey rebuild", unit="events", total=total) as advance:
            return await hub.store.call(rebuild, hub.store, advance)

    click.echo(f"journeys rebuilt from {run_hub(hub, work)} events")
