"""The trainer's "today" page: per training action in the account's scope, the half-days of the
day and of its week, who signed and who has not, updated live (server-sent events) as attendance
arrives. Trainers, managers (their actions) and admins (every action) open it; no other role."""

from __future__ import annotations

import asyncio
import datetime as dt

import orjson
from aiohttp import web

from hub.risk.listing import flagged
from hub.web import headers
from hub.web.charted import week_chart
from hub.web.context import context, render
from hub.web.figured import actions_attendance
from hub.web.guard import PRINCIPAL, requires
from hub.web.today import action_week, week_of

ROLES = ("trainer", "manager", "admin")
KEEP_ALIVE = 15.0  # seconds between comments on an idle event stream


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


@requires(*ROLES)
async def live(request: web.Request) -> web.StreamResponse:
    """``event: attendance`` (data: the actions concerned, in the account's scope) each time
    attendance events of those actions are appended. The stream ends before the daemon's request
    timeout; the browser reconnects by itself (``retry``)."""
    ctx = context(request)
    principal = request[PRINCIPAL]
    lifetime = max(5.0, ctx.hub.config.hub.http.request_timeout.total_seconds() - 5.0)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
    headers.apply(response)
    await response.prepare(request)
    await response.write(b"retry: 1000\n\n")
    queue = ctx.watcher.listen()
    ends = asyncio.get_running_loop().time() + lifetime
    try:
        await _stream(response, queue, principal, ends)
    except ConnectionResetError:  # the page was closed: nothing to tell anyone
        pass
    finally:
        ctx.watcher.leave(queue)
    return response


async def _stream(response: web.StreamResponse, queue: asyncio.Queue, principal, ends: float) -> None:
    loop = asyncio.get_running_loop()
    while (left := ends - loop.time()) > 0:
        try:
            actions = await asyncio.wait_for(queue.get(), timeout=min(KEEP_ALIVE, left))
        except TimeoutError:
            await response.write(b": still here\n\n")
            continue
        seen = sorted(a for a in actions if a == "*" or principal.sees_action(a))
        if seen:
            await response.write(b"event: attendance\ndata: " + orjson.dumps(seen) + b"\n\n")


ROUTES = [
    web.get("/trainer/today", today_page),
    web.get("/trainer/today/weeks", today_fragment),
    web.get("/trainer/live", live),
]
