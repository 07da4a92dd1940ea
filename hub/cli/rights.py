"""``parcours learner``: one person's rights over their data (RGPD): export (access, portability)
and rectification. See docs/personal-data.md."""

from __future__ import annotations

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub
from hub.events import RECTIFIABLE_FIELDS


@click.group()
def learner() -> None:
    """One person's rights over their data: export everything the hub holds, rectify it."""


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
