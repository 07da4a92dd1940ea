"""The auditor's pages, opened by an audit link (hub.audit.links): the link's token is the
credential, so the routes are public and each one finds the link by its token first. An unknown
token answers 404, an expired or revoked one 410, with a page that shows nothing of the scope; a
learner outside the link's scope answers 404, exactly like one that does not exist. Every use
(each page, each download) is an ``access.audit_viewed`` event, without the token."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

from aiohttp import web

from hub.audit.build import AuditPackError, build_audit_pack
from hub.audit.links import AuditLink, find_link, record_use
from hub.audit.proofs import LedgerAltered
from hub.audit.selection import Selection, SelectionError
from hub.documents import DOCUMENT_TYPES
from hub.documents.services import services_of
from hub.web.audited import EVENTS_PAGE, learner_events, sample_enrolment, sample_enrolments
from hub.web.context import context, render
from hub.web.guard import public

CHUNK = 1 << 20  # bytes sent at a time while downloading the pack


def _today(request: web.Request) -> dt.date:
    return dt.datetime.now(context(request).hub.config.timezone).date()


_ERRORS = {404: web.HTTPNotFound, 410: web.HTTPGone, 500: web.HTTPInternalServerError}
#: why a link's page is refused (each has its page title and text in the messages)
REFUSALS = ("unknown", "expired", "revoked", "no_learner", "pack_failed")


def _refused(request: web.Request, status: int, reason: str) -> web.HTTPException:
    """A French (or English) page saying why, and nothing of the scope."""
    assert reason in REFUSALS, reason
    page = render(request, "audit_gone.html", status=status, reason=reason)
    refused = _ERRORS[status](text=page.text, content_type="text/html")
    refused.cookies.update(page.cookies)  # the language switch's form token, for a first visit
    return refused


async def _link(request: web.Request) -> AuditLink:
    """The active link of the address's token; 404 (unknown) or 410 (expired, revoked) otherwise."""
    link = await find_link(context(request).hub.store, request.match_info["token"])
    if link is None:
        raise _refused(request, 404, "unknown")
    state = link.state()
    if state != "active":
        raise _refused(request, 410, state)
    return link


@public
async def index(request: web.Request) -> web.Response:
    link = await _link(request)
    hub = context(request).hub
    enrolments = await sample_enrolments(hub, link, _today(request))
    await record_use(hub.append, link, "index", remote=request.remote)
    return render(request, "audit_index.html", link=link, token=request.match_info["token"], enrolments=enrolments,
                  expires=dt.datetime.fromtimestamp(link.expires_at, hub.config.timezone), document_types=DOCUMENT_TYPES)


@public
async def learner(request: web.Request) -> web.Response:
    link = await _link(request)
    hub = context(request).hub
    learner_id = request.match_info["learner"]
    found = await sample_enrolment(hub, link, learner_id, _today(request))
    if found is None:  # outside the scope, or unknown: the same answer
        raise _refused(request, 404, "no_learner")
    after = request.query.get("after", "0")
    events = await learner_events(hub, link, learner_id, int(after) if after.isdigit() else 0)
    await record_use(hub.append, link, "learner", learner=learner_id, remote=request.remote)
    return render(request, "audit_learner.html", link=link, token=request.match_info["token"], e=found,
                  events=events, more=len(events) == EVENTS_PAGE, document_types=DOCUMENT_TYPES)


@public
async def pack(request: web.Request) -> web.StreamResponse:
    """The audit pack of exactly the link's scope: built to a temporary file, then sent a chunk at a time."""
    link = await _link(request)
    hub = context(request).hub
    selection = Selection(link.action, learners=link.learners)
    # cut by hub.http.request_timeout, the builder stops and removes its file (hub.audit.build), then the folder goes
    with tempfile.TemporaryDirectory(prefix="audit-link-", dir=_scratch(hub), ignore_cleanup_errors=True) as folder:
        out = Path(folder) / "pack.zip"
        try:
            await build_audit_pack(services_of(hub), hub.head_file(), selection, out)
        except (SelectionError, AuditPackError, LedgerAltered) as exc:
            hub.log.error("audit pack of an audit link not built", link=link.id, error=str(exc))
            raise _refused(request, 500, "pack_failed") from None
        await record_use(hub.append, link, "pack", remote=request.remote)
        name = f"audit-pack-{re.sub(r'[^A-Za-z0-9._-]', '_', link.action)}-{link.id}.zip"
        response = web.StreamResponse(headers={"Content-Type": "application/zip",
                                               "Content-Disposition": f'attachment; filename="{name}"',
                                               "Content-Length": str(out.stat().st_size)})
        await response.prepare(request)
        with out.open("rb") as source:
            while chunk := source.read(CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response


def _scratch(hub) -> Path:
    folder = hub.config.data_dir / "audit-packs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


ROUTES = [
    web.get("/audit/{token}", index),
    web.get("/audit/{token}/learners/{learner}", learner),
    web.get("/audit/{token}/pack", pack),
]
