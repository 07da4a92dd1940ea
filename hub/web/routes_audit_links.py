"""The admin's and manager's page of auditors' links (hub.audit.links): the links of the actions in
the account's scope, a form to make one (a random sample of an action, drawn now) whose address is
shown once, and a button to revoke one. The same rules as ``parcours audit-link``; each change an
``admin.action`` event by the signed-in account."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from hub.audit.links import AuditLinkError, create_link, list_links, revoke_link
from hub.audit.selection import Selection, SelectionError
from hub.web.context import context, render
from hub.web.guard import PRINCIPAL, requires

#: the lifetimes the form offers (the command line takes any up to hub.audit.links.MAX_LIFETIME)
LIFETIMES = {"1d": dt.timedelta(days=1), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30),
             "90d": dt.timedelta(days=90)}
MAX_SAMPLE = 1000


def _actions(request: web.Request) -> list[str]:
    return request[PRINCIPAL].actions_in(list(context(request).hub.config.model.actions))


async def _page(request: web.Request, status: int = 200, **values) -> web.Response:
    hub = context(request).hub
    actions = _actions(request)
    links = [link for link in await list_links(hub.store) if link.action in actions]
    links.reverse()  # newest first
    return render(request, "audit_links.html", status=status, links=links, actions=actions,
                  lifetimes=list(LIFETIMES), now=dt.datetime.now(dt.timezone.utc).timestamp(),
                  when=lambda t: dt.datetime.fromtimestamp(t, hub.config.timezone).strftime("%d/%m/%Y %H:%M"),
                  **{"error": None, "made": None, "url": None, "form": {}, **values})


@requires("admin", "manager")
async def links_page(request: web.Request) -> web.Response:
    return await _page(request)


def _base_url(request: web.Request) -> str:
    configured = context(request).hub.config.hub.http.public_url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"


@requires("admin", "manager")
async def create(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(form.get(k, "")).strip() for k in ("action", "sample", "seed", "expires", "label")}
    action, sample, seed = values["action"], values["sample"], values["seed"]
    error = None
    if action not in _actions(request):
        error = "audit_links.error_action"
    elif not sample.isdigit() or not 1 <= int(sample) <= MAX_SAMPLE:
        error = "audit_links.error_sample"
    elif seed and not seed.isdigit():
        error = "audit_links.error_seed"
    elif values["expires"] not in LIFETIMES:
        error = "audit_links.error_expires"
    elif len(values["label"]) > 200:
        error = "audit_links.error_label"
    if error:
        return await _page(request, 400, error=error, form=values)
    principal = request[PRINCIPAL]
    try:
        selection = Selection(action, int(sample), int(seed) if seed else None)
        link, token = await create_link(context(request).hub, selection, LIFETIMES[values["expires"]],
                                        label=values["label"] or None, actor=principal.email)
    except (SelectionError, AuditLinkError):
        return await _page(request, 400, error="audit_links.error_empty", form=values)
    return await _page(request, 201, made=link, url=f"{_base_url(request)}/app/audit/{token}")


@requires("admin", "manager")
async def revoke(request: web.Request) -> web.Response:
    hub = context(request).hub
    link_id = request.match_info["link"]
    row = await hub.store.call(hub.store.audit_link, link_id)
    if row is None or row["action"] not in _actions(request):  # another scope's link: as if it did not exist
        raise web.HTTPNotFound(text="no such audit link", content_type="text/plain")
    try:
        await revoke_link(hub.store, hub.append, link_id, actor=request[PRINCIPAL].email)
    except AuditLinkError:
        pass  # revoked already: the page says so
    raise web.HTTPSeeOther("/app/audit-links")


ROUTES = [
    web.get("/audit-links", links_page),
    web.post("/audit-links", create),
    web.post("/audit-links/{link}/revoke", revoke),
]
