"""The trainer's "today" page: per training action in the account's scope, the half-days of the
day and of its week, who signed and who has not, updated live (server-sent events, hub.web.routes_live) as
attendance arrives. Trainers, managers (their actions) and admins (every action) open it; no other role."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from hub.risk.listing import flagged
from hub.web.charted import week_chart
from hub.web.context import context, render
from hub.web.figured import actions_attendance
from hub.web.guard import PRINCIPAL, requires
from hub.web.today import action_week, week_of

ROLES = ("trainer", "manager", "admin")


async def _view(request: web.Request, *, risk: bool) -> dict:
    """The page's weeks, from the enrolments' stored attendance (hub.web.figured: one read for the
    actions shown), and, when ``risk``, the dropout-risk list of those actions (hub.risk.listing)."""
    ctx = context(request)
    config = ctx.hub.config
    principal = request[PRINCIPAL]
    today = dt.datetime.now(config.timezone).date()
    raw = request.query.get("date")
    try:
        day = dt.date.fromisoformat(raw) if raw else today
    except ValueError:
        raise web.HTTPBadRequest(text=f"date: {raw[:40]!r} is not a date (YYYY-MM-DD)", content_type="text/plain")
    actions = principal.actions_in(list(config.model.actions))
    only = request.query.get("action")
    if only:
        if only not in actions:  # outside the scope, or unknown: the same answer
            raise web.HTTPNotFound(text="no such training action", content_type="text/plain")
        actions = [only]
    await ctx.hub.project()
    attendance = await actions_attendance(ctx.hub, actions, today)
    weeks = [action_week(a, config.model.actions[a], attendance[a], day) for a in actions]
    monday, sunday = week_of(day)
    return {"weeks": weeks, "risk": await flagged(ctx.hub, actions) if risk else [], "day": day, "today": today,
            "monday": monday, "sunday": sunday, "action": only or "",
            "previous": (day - dt.timedelta(days=7)).isoformat(), "next_week": (day + dt.timedelta(days=7)).isoformat(),
            "all_actions": principal.actions_in(list(config.model.actions)), "week_chart": week_chart}


@requires(*ROLES)
async def today_page(request: web.Request) -> web.Response:
    return render(request, "today.html", **await _view(request, risk=True), risk_links=False)


@requires(*ROLES)
async def today_fragment(request: web.Request) -> web.Response:
    """The weeks alone (no risk list), which the page fetches again when the event stream says
    attendance arrived."""
    return render(request, "today_weeks.html", **await _view(request, risk=False))


ROUTES = [
    web.get("/trainer/today", today_page),
    web.get("/trainer/today/weeks", today_fragment),
]
