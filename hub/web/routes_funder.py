"""The funder's pages, read-only and strictly the enrolments it funds (hub.web.funded): the list
of its enrolments, one enrolment half-day by half-day with its documents, and its exports, whose
files it downloads (each download recorded in the ledger). An enrolment or an export outside the
account's funders answers 404, exactly as one that does not exist."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from hub.documents import DOCUMENT_TYPES
from hub.web.context import context, render
from hub.web.exported import serve_export_file
from hub.web.funded import export_for, exports_for, funded_enrolment, funded_enrolments
from hub.web.guard import PRINCIPAL, requires

ENROLMENTS_PAGE = 50  # enrolments per page of the list: the journeys computed per request


def _today(request: web.Request) -> dt.date:
    return dt.datetime.now(context(request).hub.config.timezone).date()


@requires("funder")
async def enrolments(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    learner, action = request.query.get("after_learner"), request.query.get("after_action")
    after = (learner, action) if learner and action else None
    found = await funded_enrolments(context(request).hub, principal.scopes.funders, _today(request),
                                    limit=ENROLMENTS_PAGE, after=after)
    return render(request, "funder_enrolments.html", enrolments=found.enrolments, next_after=found.next_after,
                  after=after, page_size=ENROLMENTS_PAGE)


@requires("funder")
async def enrolment(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    found = await funded_enrolment(context(request).hub, principal.scopes.funders, request.match_info["learner"],
                                   request.match_info["action"], _today(request))
    if found is None:  # unknown, or funded by someone else: the same answer
        raise web.HTTPNotFound(text="no such enrolment", content_type="text/plain")
    return render(request, "funder_enrolment.html", e=found, document_types=DOCUMENT_TYPES)


@requires("funder")
async def exports(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    return render(request, "funder_exports.html", exports=exports_for(context(request).hub.config, principal.scopes.funders))


@requires("funder")
async def export_download(request: web.Request) -> web.StreamResponse:
    principal = request[PRINCIPAL]
    return await serve_export_file(context(request).hub, principal.email, request.match_info,
                                   lambda cfg: export_for(principal.scopes.funders, cfg))


ROUTES = [
    web.get("/funder/enrolments", enrolments),
    web.get("/funder/enrolments/{learner}/{action}", enrolment),
    web.get("/funder/exports", exports),
    web.get("/funder/exports/{export}/{period}/{version}/{file}", export_download),
]
