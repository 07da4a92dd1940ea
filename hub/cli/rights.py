"""``parcours learner``: one person's rights over their data (RGPD): export (access, portability),
rectification (docs/personal-data.md), erasure and objection (docs/retention.md)."""

from __future__ import annotations

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub
from hub.events import RECTIFIABLE_FIELDS
from hub.learners import reference_key

MAX_REASON = 300  # the ledger records keep at most 500 characters of reason, with who handled it


@click.group()
def learner() -> None:
    """One person's rights over their data: export everything the hub holds, rectify it, erase it."""


@learner.command("export")
@CONFIG_OPTION
@click.argument("reference", metavar="LEARNER")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The .zip file to write.")
@click.option("--format", "fmt", type=click.Choice(["json", "pdf", "both"]), default="both", show_default=True,
              help="json: data.json and events.ndjson; pdf: the readable French PDFs; both. Documents and "
                   "evidence files are always in.")
@JSON_OPTION
def learner_export(config_path: str, reference: str, out: str, fmt: str, as_json: bool) -> None:
    """Export everything the hub holds about LEARNER (a hub id or a key: email:…, src:<connector>:<ref>):
    identity and keys, every event, journeys, documents, evidence, consents, web account (no secrets),
    accesses, dead letters. Recorded in the ledger as privacy.data_exported."""
    from hub.documents.services import services_of
    from hub.rights.export import ExportError, export_learner
    from hub.rights.learners import UnknownLearner

    hub = open_hub(config_path)

    async def work():
        return await export_learner(services_of(hub), reference, out, fmt=fmt, channel="cli")

    try:
        result = run_hub(hub, work)
    except UnknownLearner as exc:
        fail(str(exc), 2)
    except ExportError as exc:
        fail(str(exc), 1)
    if as_json:
        print_json(result.as_dict())
        return
    click.echo(f"wrote {result.path}: learner {result.learner}, {result.events} event(s), {result.files} file(s), "
               f"{result.bytes} bytes, sha256 {result.sha256} (recorded as event {result.event_id})")


@learner.command("rectify")
@CONFIG_OPTION
@click.argument("reference", metavar="LEARNER")
@click.option("--field", required=True, type=click.Choice(list(RECTIFIABLE_FIELDS)), help="The field to correct.")
@click.option("--value", required=True, help="The correct value.")
@click.option("--reason", required=True, help="Why (kept in the ledger with the correction).")
@JSON_OPTION
def learner_rectify(config_path: str, reference: str, field: str, value: str, reason: str, as_json: bool) -> None:
    """Correct LEARNER's name or e-mail: a privacy.rectified event per enrolment, the projections corrected,
    the documents that change re-issued (the old ones show as replaced on /verify)."""
    from hub.documents.services import services_of
    from hub.rights.learners import UnknownLearner
    from hub.rights.rectify import RectificationError, rectify_learner

    hub = open_hub(config_path)

    async def work():
        return await rectify_learner(services_of(hub), reference, field, value, reason)

    try:
        result = run_hub(hub, work)
    except (UnknownLearner, RectificationError) as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(result)
        return
    click.echo(f"learner {result['learner']}: {field} rectified (events {', '.join(result['events'])})")
    for doc in result["reissued"]:
        if "refused" in doc:
            click.echo(f"  document {doc['document']} not re-issued: {doc['refused']}")
        else:
            click.echo(f"  document {doc['replaces']} replaced by {doc['id']} ({doc['type']})")


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
        letters = sum(r.get("dead_letters", 0) for r in outcome.records)
        click.echo(f"learner {outcome.learner_id} erased: {events} event(s) pseudonymised, {letters} dead letter(s) "
                   f"scrubbed, recorded as "
                   f"{', '.join(r['record'] for r in outcome.records) or 'registry only'}; `parcours verify` still passes")
    else:
        funnel = sum(r["events"] for r in outcome.records)
        click.echo(f"refused: learner {outcome.learner_id} is kept until {outcome.until.isoformat()}: {outcome.refused_rule} "
                   f"(refusal recorded as event {outcome.refusal_event})", err=True)
        if funnel:
            click.echo(f"funnel traces erased at once: {funnel} event(s)", err=True)
    if not outcome.erased:
        raise SystemExit(1)
