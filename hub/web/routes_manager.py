"""The manager's pages: the training actions of its scope with their figures, one action's
enrolments and proof gaps (with what closes each) and its drifting learners and alerts with their
follow-ups (hub.web.followup; its forms post to the trainer's follow-up route) and its dropout-risk
list (hub.risk.listing) with a form recording the follow-up of each flag, one enrolment's
``--explain`` trail, and the events behind it, read-only. An admin sees every action. Whatever is outside the scope — an
action, an enrolment, an event — answers 404, exactly as one that does not exist."""

from __future__ import annotations

import datetime as dt
import functools
from urllib.parse import parse_qs, quote, urlsplit

from aiohttp import web

from hub.documents import DOCUMENT_TYPES
from hub.journeys.drift import RECENT_HALF_DAYS, weekly_attendance
from hub.journeys.foad import hours
from hub.risk.listing import flagged
from hub.web.charted import attendance_chart, hours_chart
from hub.web.context import context, render
from hub.web.followup import NOTE_MAX, FollowedAction, followed, followed_in_scope, local_time, record_follow_up
from hub.web.guard import PRINCIPAL, local_path, requires
from hub.web.figured import managed_actions
from hub.web.managed import event_in_scope, managed_action, managed_enrolment

ROLES = ("manager", "admin")
ENROLMENTS_PAGE = 50  # enrolments per page of an action: the journeys read and computed per request


def _today(request: web.Request) -> dt.date:
    return dt.datetime.now(context(request).hub.config.timezone).date()


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f"no such {what}", content_type="text/plain")


@requires(*ROLES)
async def actions(request: web.Request) -> web.Response:
    found = await managed_actions(context(request).hub, request[PRINCIPAL], _today(request))
    return render(request, "manager_actions.html", actions=found, hours_chart=hours_chart)


async def _action_page(request: web.Request, action_id: str, after: str | None, status: int = 200,
                       **values) -> web.Response:
    found = await managed_action(context(request).hub, request[PRINCIPAL], action_id, _today(request),
                                 limit=ENROLMENTS_PAGE, after=after)
    if found is None:
        raise _not_found("training action")
    hub = context(request).hub
    now = dt.datetime.now(dt.timezone.utc)
    pairs = [(e.report, e.alerts) for e in found.enrolments]
    follow = FollowedAction(found.action_id, found.title, followed(pairs, hub.config, now))
    weeks = weekly_attendance([e.report for e in found.enrolments], now, hub.config.timezone)
    risk = await flagged(hub, [found.action_id])
    back = request.path if status == 200 else _action_path(action_id)
    return render(request, "manager_action.html", status=status, a=found, document_types=DOCUMENT_TYPES, f=follow,
                  level=3, risk=risk, risk_links=True, risk_forms=True, after=after, page_size=ENROLMENTS_PAGE,
                  weeks=weeks, attendance_chart=attendance_chart,
                  back=back + (f"?after={quote(after, safe='')}" if after else ""), note_max=NOTE_MAX,
                  recent_half_days=RECENT_HALF_DAYS, when=functools.partial(local_time, tz=hub.config.timezone),
                  **{"error": None, "failed": None, "typed": "", **values})


def _action_path(action_id: str) -> str:
    return f"/app/manager/actions/{quote(action_id, safe='')}"


@requires(*ROLES)
async def action(request: web.Request) -> web.Response:
    return await _action_page(request, request.match_info["action"], request.query.get("after") or None)


@requires(*ROLES)
async def risk_follow_up(request: web.Request) -> web.Response:
    """Record the follow-up of a risk flag of an action in scope (``alert.followed_up``, by the
    signed-in account, as ``parcours risk follow-up`` does); back to the action's page, at the flag."""
    hub = context(request).hub
    flag = await followed_in_scope(hub, request[PRINCIPAL], request.match_info["flag"], "risk.flagged")
    if flag is None:
        raise _not_found("risk flag")
    form = await request.post()
    note = str(form.get("note", "")).strip()
    back = local_path(str(form.get("next", "")), _action_path(flag["action"])).split("#")[0]
    if not note or len(note) > NOTE_MAX:
        return await _action_page(request, flag["action"], parse_qs(urlsplit(back).query).get("after", [None])[0], 400,
                                  error="followup.error_note" if not note else "followup.error_long",
                                  failed=flag["id"], typed=note[:NOTE_MAX])
    await record_follow_up(hub, request[PRINCIPAL], flag, note, dt.datetime.now(dt.timezone.utc))
    raise web.HTTPSeeOther(f"{back}#risk-{flag['id']}")


@requires(*ROLES)
async def enrolment(request: web.Request) -> web.Response:
    found = await managed_enrolment(context(request).hub, request[PRINCIPAL], request.match_info["learner"],
                                    request.match_info["action"], _today(request))
    if found is None:
        raise _not_found("enrolment")
    return render(request, "manager_enrolment.html", e=found, r=found.report, hours=hours, document_types=DOCUMENT_TYPES)


@requires(*ROLES)
async def event(request: web.Request) -> web.Response:
    found = await event_in_scope(context(request).hub, request[PRINCIPAL], request.match_info["id"])
    if found is None:
        raise _not_found("event")
    return render(request, "manager_event.html", ev=found)


ROUTES = [
    web.get("/manager/actions", actions),
    web.get("/manager/actions/{action}", action),
    web.get("/manager/enrolments/{learner}/{action}", enrolment),
    web.get("/manager/events/{id}", event),
    web.post("/manager/risk/{flag}/follow-up", risk_follow_up),
]
