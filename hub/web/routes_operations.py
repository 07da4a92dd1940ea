"""The operations pages of the managers and the admin: the funder exports with their versions
(and their files to download), the dead letters with their replay, and the connectors' health.

Who sees what (docs/web-app.md, "The operations pages"):

* exports: an admin every export; a manager an export whose learners are all in its actions —
  one restricted (``actions``) to actions of its scope, or, without that restriction (it holds
  every action's learners), only a manager whose scope is every action (``*``). Out of scope: 404.
  A download is recorded in the ledger (``admin.action``, command ``export download``);
* dead letters: admin only — a dead delivery or a rejected record can hold any learner's data,
  whatever the action; a replay does what ``parcours dlq replay --id`` does and is recorded as an
  ``admin.action`` by the signed-in account;
* connectors' health: managers and admin, read-only (no learner data: names, counts, redacted
  errors); the page refreshes its figures every few seconds (htmx polling of the same route); the
  connectors' own checks are shared by the pages refreshing at once (hub.web.context).
"""

from __future__ import annotations

import datetime as dt
import time

from aiohttp import web

from hub.delivery.dlq import replay_now
from hub.errors import HubError
from hub.delivery.connector_health import connectors_health
from hub.web.charted import backlog_chart
from hub.web.context import context, render
from hub.web.exported import configured_exports, serve_export_file
from hub.web.guard import PRINCIPAL, requires
from hub.web.roles import Principal

MANAGERS = ("manager", "admin")
LETTERS_SHOWN = 500  # dead letters listed at most (the count says when there are more)
REFRESH_SECONDS = 5  # the connectors page's refresh (the checks it shows: hub.web.context.CHECKS_TTL_SECONDS)


def sees_export(principal: Principal, cfg) -> bool:
    """Whether every learner export ``cfg`` can hold is in the principal's scope (see the module)."""
    if principal.role == "admin":
        return True
    if cfg.actions:
        return all(principal.sees_action(a) for a in cfg.actions)
    return "*" in principal.scopes.actions


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f"no such {what}", content_type="text/plain")


def _when(request: web.Request):
    """Epoch seconds as the organisation's local date and time (``—`` for none)."""
    zone = context(request).hub.config.timezone

    def when(epoch: float | None) -> str:
        return "—" if epoch is None else dt.datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M:%S")

    return when


@requires(*MANAGERS)
async def exports(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    found = configured_exports(context(request).hub.config, lambda cfg: sees_export(principal, cfg))
    return render(request, "manager_exports.html", exports=found)


@requires(*MANAGERS)
async def export_download(request: web.Request) -> web.StreamResponse:
    principal = request[PRINCIPAL]
    return await serve_export_file(context(request).hub, principal.email, request.match_info,
                                   lambda cfg: sees_export(principal, cfg))


@requires("admin")
async def dead_letters(request: web.Request) -> web.Response:
    hub = context(request).hub
    letters = await hub.store.call(hub.store.dead_letters, limit=LETTERS_SHOWN + 1)
    counts = await hub.store.call(hub.store.dead_letter_counts)
    return render(request, "dead_letters.html", letters=letters[:LETTERS_SHOWN], more=len(letters) > LETTERS_SHOWN,
                  total=sum(counts.values()), when=_when(request))


async def _letter(request: web.Request):
    hub = context(request).hub
    letter = await hub.store.call(hub.store.dead_letter, request.match_info["id"])
    if letter is None:
        raise _not_found("dead letter")
    return letter


@requires("admin")
async def dead_letter(request: web.Request) -> web.Response:
    return render(request, "dead_letter.html", letter=await _letter(request), when=_when(request))


@requires("admin")
async def replay(request: web.Request) -> web.Response:
    letter = await _letter(request)
    hub = context(request).hub
    try:
        summary = await replay_now(hub, sink=letter.sink, ids=[letter.id], actor=request[PRINCIPAL].email)
    except HubError as exc:  # a sink no longer configured, the store refusing…: said, nothing half-done
        hub.log.error("dead letter replay failed", letter=letter.id, error=str(exc))
        return render(request, "dead_letter.html", status=409, letter=letter, when=_when(request), failed=str(exc))
    return render(request, "dead_letter_replayed.html", letter=letter, summary=summary)


@requires(*MANAGERS)
async def connectors(request: web.Request) -> web.Response:
    ctx = context(request)
    found = await connectors_health(ctx.hub, await ctx.connector_checks())
    fragment = bool(request.headers.get("HX-Request"))
    return render(request, "connectors_panel.html" if fragment else "connectors.html", connectors=found, backlog_chart=backlog_chart,
                  now=time.time(), when=_when(request), refresh=REFRESH_SECONDS)


ROUTES = [
    web.get("/manager/exports", exports),
    web.get("/manager/exports/{export}/{period}/{version}/{file}", export_download),
    web.get("/manager/dead-letters", dead_letters),
    web.get("/manager/dead-letters/{id}", dead_letter),
    web.post("/manager/dead-letters/{id}/replay", replay),
    web.get("/manager/connectors", connectors),
]
