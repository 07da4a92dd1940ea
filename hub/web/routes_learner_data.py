"""The learner's « Mes données » page: what is shared with whom, the consent choices with their
toggles (each change a consent.given / consent.withdrawn event, channel web), and the documents
issued to them, each download an access.document_downloaded event. Only the account's own learner
id is read: another learner's document answers 404, exactly as one that does not exist."""

from __future__ import annotations

import asyncio
import datetime as dt

from aiohttp import web

from hub.consents.record import record_consent
from hub.documents import DOCUMENT_TYPES
from hub.documents.payload import is_ulid
from hub.errors import HubError
from hub.ulid import new_ulid
from hub.web.context import context, render
from hub.web.guard import PRINCIPAL, requires
from hub.web.my_data import my_data, own_document

CHOICES = {"give": True, "withdraw": False}


async def _learner_id(request: web.Request) -> str:
    hub = context(request).hub
    return await hub.store.call(hub.store.canonical_learner, request[PRINCIPAL].scopes.learner)


@requires("learner")
async def data_page(request: web.Request) -> web.Response:
    hub = context(request).hub
    today = dt.datetime.now(hub.config.timezone).date()
    found = await my_data(hub, await _learner_id(request), today)
    done = request.query.get("done")
    return render(request, "learner_data.html", data=found, document_types=DOCUMENT_TYPES,
                  done=done if done in CHOICES else None, timezone=hub.config.timezone)


@requires("learner")
async def change_consent(request: web.Request) -> web.Response:
    hub = context(request).hub
    purpose = request.match_info["purpose"]
    settings = hub.config.hub.consents.purposes.get(purpose)
    if settings is None or not settings.allowed:
        raise web.HTTPNotFound(text="no such consent choice", content_type="text/plain")
    form = await request.post()
    choice = form.get("choice")
    if choice not in CHOICES:
        raise web.HTTPBadRequest(text="choice: expected give or withdraw", content_type="text/plain")
    learner_id = await _learner_id(request)
    scope = None
    if settings.recipient == "employer":
        found = await my_data(hub, learner_id, dt.datetime.now(hub.config.timezone).date())
        scope = ", ".join(e.scope for e in found.employers) or None
    principal = request[PRINCIPAL]
    try:
        await record_consent(hub.append, hub.config.hub.consents, learner_id, purpose, give=CHOICES[choice],
                             channel="web", scope=scope, by=principal.email)
    except HubError as exc:
        raise web.HTTPBadRequest(text=str(exc), content_type="text/plain") from None
    raise web.HTTPSeeOther(f"/app/learner/data?done={choice}#consent-{purpose}")


@requires("learner")
async def download(request: web.Request) -> web.Response:
    hub = context(request).hub
    document_id = request.match_info["document"].upper()
    learner_id = await _learner_id(request)
    fact = await own_document(hub, learner_id, document_id) if is_ulid(document_id) else None
    if fact is None:
        raise web.HTTPNotFound(text="no such document", content_type="text/plain")
    try:
        pdf = await asyncio.to_thread(hub.blobs.get, fact["sha256"])
    except (OSError, ValueError):
        hub.log.error("a learner's document is missing from the blob store", document=document_id)
        raise web.HTTPNotFound(text="this document's file is not available: ask the organisation",
                               content_type="text/plain") from None
    principal = request[PRINCIPAL]
    await hub.append([{
        "type": "access.document_downloaded", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "source_id": new_ulid(), "learner": {"ref": learner_id},
        "data": {"document": document_id, "document_type": fact["document_type"], "account": principal.account_id,
                 "remote": (request.remote or "")[:100] or None},
    }], source="hub")
    name = f"{fact['document_type']}-{document_id}.pdf"
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})


ROUTES = [
    web.get("/learner/data", data_page),
    web.post("/learner/data/consents/{purpose}", change_consent),
    web.get("/learner/documents/{document}", download),
]
