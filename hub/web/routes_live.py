"""``GET /app/live``: the server-sent event stream an open page listens to, to refresh itself when
the ledger changes where it looks (hub.web.live reads what the appended events concern).

A page names its topic in the address, and the stream checks it once, as the page itself was
checked: staff (trainer, manager, admin) a training action in their scope (``action``, or every
action of the scope when it names none), optionally one learner of it (``learner``); a funder one
enrolment it funds (``learner`` and ``action``); a learner their own journeys (no identifier: the
account's learner). ``kind=attendance`` keeps attendance events only (the trainer's today page).
A topic outside the account's reach answers 404, like one that does not exist.

Each time events of the topic are appended: ``event: changed`` with the training actions
concerned (in the account's scope) as data; the page fetches its own content again, through its
own route and checks. The stream ends before the daemon's request timeout; the browser reconnects
by itself (``retry``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import orjson
from aiohttp import web

from hub.web import headers
from hub.web.context import context
from hub.web.funded import funded_enrolment
from hub.web.guard import PRINCIPAL, requires
from hub.web.live import Changes

STAFF = ("trainer", "manager", "admin")
KEEP_ALIVE = 15.0  # seconds between comments on an idle event stream


@dataclass(frozen=True)
class Topic:
    actions: frozenset[str] | None  # None: any action the principal sees
    learner: str | None  # None: any learner
    attendance_only: bool = False

    def concerns(self, changes: Changes, sees_action) -> list[str]:
        """The actions of ``changes`` this topic covers and the principal sees (``*``: everything)."""
        if changes.everything:
            return ["*"]
        found = set()
        for touch in changes.touches:
            if self.attendance_only and not touch.attendance:
                continue
            if self.learner is not None and touch.learner != self.learner:
                continue
            if touch.action is None:
                if self.learner is not None:  # the person's own events outside any action
                    found.add("")
                continue
            if (self.actions is None or touch.action in self.actions) and sees_action(touch.action):
                found.add(touch.action)
        return sorted(found)


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(text="no such page to follow", content_type="text/plain")


async def _topic(request: web.Request) -> Topic:
    ctx = context(request)
    principal = request[PRINCIPAL]
    action = request.query.get("action") or None
    learner = request.query.get("learner") or None
    attendance_only = request.query.get("kind") == "attendance"
    if principal.role == "learner":
        if learner not in (None, principal.scopes.learner) or not principal.scopes.learner:
            raise _not_found()
        own = await ctx.hub.store.call(ctx.hub.store.canonical_learner, principal.scopes.learner)
        return Topic(None, own, attendance_only)
    if principal.role == "funder":
        if learner is None or action is None:
            raise _not_found()
        today = dt.datetime.now(ctx.hub.config.timezone).date()
        if await funded_enrolment(ctx.hub, principal.scopes.funders, learner, action, today) is None:
            raise _not_found()
        return Topic(frozenset({action}), learner, attendance_only)
    if action is not None and (action not in ctx.hub.config.model.actions or not principal.sees_action(action)):
        raise _not_found()
    if learner is not None and action is None:
        raise _not_found()
    return Topic(None if action is None else frozenset({action}), learner, attendance_only)


@requires(*STAFF, "funder", "learner")
async def live(request: web.Request) -> web.StreamResponse:
    topic = await _topic(request)
    ctx = context(request)
    principal = request[PRINCIPAL]
    sees_action = (lambda _action: True) if principal.role in ("funder", "learner") else principal.sees_action
    lifetime = max(5.0, ctx.hub.config.hub.http.request_timeout.total_seconds() - 5.0)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
    headers.apply(response)
    await response.prepare(request)
    await response.write(b"retry: 1000\n\n")
    queue = ctx.watcher.listen()
    ends = asyncio.get_running_loop().time() + lifetime
    try:
        await _stream(response, queue, topic, sees_action, ends)
    except ConnectionResetError:  # the page was closed: nothing to tell anyone
        pass
    finally:
        ctx.watcher.leave(queue)
    return response


async def _stream(response: web.StreamResponse, queue: asyncio.Queue, topic: Topic, sees_action, ends: float) -> None:
    loop = asyncio.get_running_loop()
    while (left := ends - loop.time()) > 0:
        try:
            changes = await asyncio.wait_for(queue.get(), timeout=min(KEEP_ALIVE, left))
        except TimeoutError:
            await response.write(b": still here\n\n")
            continue
        concerned = topic.concerns(changes, sees_action)
        if concerned:
            await response.write(b"event: changed\ndata: " + orjson.dumps(concerned) + b"\n\n")


ROUTES = [web.get("/live", live)]
