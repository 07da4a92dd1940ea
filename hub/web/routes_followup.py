"""The trainer's follow-up page: per training action of the account's scope, the learners drifting
away (hub.web.followup) and the alerts raised on them with every follow-up, and a form on each
alert that records a follow-up in the ledger (``alert.followed_up``, by the signed-in account), as
``parcours alerts follow-up`` does. Trainers, managers (their actions) and admins (every action);
an action or an alert outside the scope answers 404, exactly as one that does not exist."""

from __future__ import annotations

import datetime as dt
import functools
from urllib.parse import quote

from aiohttp import web

from hub.journeys.drift import RECENT_HALF_DAYS
from hub.web.context import context, render
from hub.web.followup import NOTE_MAX, alert_in_scope, followed_action, local_time, record_follow_up
from hub.web.guard import PRINCIPAL, local_path, requires

ROLES = ("trainer", "manager", "admin")
PAGE = "/app/trainer/alerts"


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f"no such {what}", content_type="text/plain")


async def _page(request: web.Request, only: str, status: int = 200, **values) -> web.Response:
    hub = context(request).hub
    principal = request[PRINCIPAL]
    everything = principal.actions_in(list(hub.config.model.actions))
    if only and only not in everything:  # outside the scope, or unknown: the same answer
        raise _not_found("training action")
    now = dt.datetime.now(dt.timezone.utc)
    actions = [await followed_action(hub, principal, a, now) for a in ([only] if only else everything)]
    back = f"{PAGE}?action={quote(only, safe='')}" if only else PAGE
    return render(request, "trainer_alerts.html", status=status, actions=actions, action=only, all_actions=everything,
                  back=back, note_max=NOTE_MAX, recent_half_days=RECENT_HALF_DAYS,
                  when=functools.partial(local_time, tz=hub.config.timezone),
                  **{"error": None, "failed": None, "typed": "", **values})


@requires(*ROLES)
async def alerts_page(request: web.Request) -> web.Response:
    return await _page(request, request.query.get("action", ""))


@requires(*ROLES)
async def follow_up(request: web.Request) -> web.Response:
    hub = context(request).hub
    principal = request[PRINCIPAL]
    alert = await alert_in_scope(hub, principal, request.match_info["alert"])
    if alert is None:
        raise _not_found("alert")
    form = await request.post()
    note = str(form.get("note", "")).strip()
    if not note or len(note) > NOTE_MAX:
        return await _page(request, alert["action"], 400, error="followup.error_note" if not note else "followup.error_long",
                           failed=alert["id"], typed=note[:NOTE_MAX])
    await record_follow_up(hub, principal, alert, note, dt.datetime.now(dt.timezone.utc))
    back = local_path(str(form.get("next", "")), f"{PAGE}?action={quote(alert['action'], safe='')}")
    raise web.HTTPSeeOther(f"{back.split('#')[0]}#alert-{alert['id']}")


ROUTES = [
    web.get("/trainer/alerts", alerts_page),
    web.post("/trainer/alerts/{alert}/follow-up", follow_up),
]
