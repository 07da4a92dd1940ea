"""The learner's own journey: per enrolment, realised against planned hours, the half-days signed,
the activities done, and what is still needed (the proof gaps that concern the learner), read
from the computed journeys of the account's own learner id only: no identifier in the address,
nothing to guess. With their badges (hub.badges), each downloadable as its signed Open Badges 3.0
credential: a badge id that is not the learner's answers 404, like one that does not exist. And the
learner's own data, downloaded (« Télécharger mes données »: the zip of
:func:`hub.rights.export.export_learner`, recorded in the ledger as ``privacy.data_exported``)."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hub.badges.issue import file_name, signed_credential
from hub.badges.records import learner_badges, load_award
from hub.documents.keys import KeyRingError
from hub.documents.services import services_of
from hub.journeys.proofs import check
from hub.rights.export import ExportError, export_learner
from hub.rights.learners import UnknownLearner
from hub.web.context import context, render
from hub.web.guard import PRINCIPAL, requires
from hub.web.today import SIGNED

#: the proof gaps a learner can act on (the others are the organisation's paperwork)
LEARNER_GAPS = ("half_day_unsigned", "half_day_no_trainer_signature", "foad_no_connection_trace",
                "foad_no_activity_trace")


@dataclass
class Enrolment:
    report: object
    title: str
    signed: int
    due: int  # scheduled half-days to date that expect a signature
    activities_done: list[str]
    needed: list[object] = field(default_factory=list)  # Gap, the learner's
    paperwork: int = 0  # gaps the organisation closes


@requires("learner")
async def journey(request: web.Request) -> web.Response:
    ctx = context(request)
    principal = request[PRINCIPAL]
    today = dt.datetime.now(ctx.hub.config.timezone).date()
    reports = await ctx.hub.journey_reports(learner_id=principal.scopes.learner, today=today)
    gaps = {(g.learner_id, g.action): g.gaps for g in check(reports, ctx.hub.proof_rules(), today=today)}
    enrolments = []
    for report in reports:
        expected = [r for r in report.half_days
                    if r.half_day.date < today and r.half_day.modality != "foad_asynchrone" and r.status != "after_exit"]
        found = [gap for _rule, gap in gaps.get((report.learner_id, report.action_id), [])]
        enrolments.append(Enrolment(
            report, report.action.title if report.action else report.action_id,
            signed=sum(1 for r in expected if r.status in SIGNED or r.status == "signed_without_trainer"),
            due=len(expected),
            activities_done=[a.get("name") or a["activity"] for a in report.foad_activities
                             if a.get("state") in ("complete", "pass")],
            needed=[g for g in found if g.code in LEARNER_GAPS],
            paperwork=sum(1 for g in found if g.code not in LEARNER_GAPS)))
    states = await ctx.hub.store.call(ctx.hub.store.journeys, learner_id=principal.scopes.learner)
    return render(request, "learner.html", enrolments=enrolments, today=today, badges=learner_badges(states))


CHUNK = 1 << 20  # bytes sent at a time while downloading the export


@requires("learner")
async def data_export(request: web.Request) -> web.StreamResponse:
    """The signed-in learner's own data (the account's learner id, never one from the request):
    built to a temporary file, recorded in the ledger, then sent a chunk at a time."""
    hub = context(request).hub
    principal = request[PRINCIPAL]
    folder = hub.config.data_dir / "learner-exports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="export-", dir=folder, ignore_cleanup_errors=True) as scratch:
        out = Path(scratch) / "export.zip"
        try:
            result = await export_learner(services_of(hub), principal.scopes.learner or "", out, by=principal.account_id,
                                          channel="web")
        except UnknownLearner:  # an account whose learner the hub has no record of yet: nothing to export
            raise web.HTTPNotFound() from None
        except ExportError as exc:
            hub.log.error("learner data export not built", account=principal.account_id, error=str(exc))
            raise web.HTTPInternalServerError() from None
        name = f"mes-donnees-{dt.datetime.now(hub.config.timezone).date().isoformat()}.zip"
        response = web.StreamResponse(headers={"Content-Type": "application/zip",
                                               "Content-Disposition": f'attachment; filename="{name}"',
                                               "Content-Length": str(result.bytes), "Cache-Control": "no-store"})
        await response.prepare(request)
        with out.open("rb") as source:
            while chunk := source.read(CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response


@requires("learner")
async def badge(request: web.Request) -> web.Response:
    """The learner's badge ``id`` as its signed credential (VC-JWT), to keep or share."""
    ctx = context(request)
    record = await load_award(services_of(ctx.hub), request.match_info["id"].upper())
    if record is None or record.learner_id != request[PRINCIPAL].scopes.learner or record.revoked:
        raise web.HTTPNotFound(text="no such badge", content_type="text/plain")
    try:
        token = signed_credential(ctx.hub.config, record)
    except KeyRingError:
        raise web.HTTPServiceUnavailable(text="the organisation has no signing key yet", content_type="text/plain")
    return web.Response(text=token + "\n", content_type="application/vc+jwt",
                        headers={"Content-Disposition": f'attachment; filename="{file_name(record)}"'})


ROUTES = [web.get("/learner/journey", journey), web.post("/learner/data-export", data_export),
          web.get("/learner/badges/{id}", badge)]
