"""The insights page of managers (/app/manager/insights): what the journeys teach about the
actions of their scope (an admin: every action) — the tables of ``parcours insights``, with the
same scope and period, each downloadable as CSV. An action outside the scope answers 404, as one
that does not exist; a date that cannot be read, 400 with the page saying which."""

from __future__ import annotations

import datetime as dt
import weakref
from collections import OrderedDict
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from hub.insights import TABLE_NAMES, hub_insights
from hub.insights.charts import TEXTS, charts, plain
from hub.insights.funnel import UNKNOWN
from hub.insights.modules import AFTER_LAST, NO_ACTIVITY
from hub.insights.scope import Scope
from hub.insights.tables import csv_text
from hub.web import i18n
from hub.web.context import LANGUAGE, context, render
from hub.web.guard import PRINCIPAL, requires

ROLES = ("manager", "admin")
#: what a table writes for "none" in English (CSV, CLI), and its message on the page
MARKERS = {AFTER_LAST: "insights.after_last", NO_ACTIVITY: "insights.no_activity", UNKNOWN: "insights.unknown_channel"}


class BadFilter(ValueError):
    """A filter of the query string that cannot be read: ``key`` is the message naming it."""

    def __init__(self, key: str, value: str):
        super().__init__(key)
        self.key, self.value = key, value


def _day(request: web.Request, name: str) -> dt.date | None:
    value = request.query.get(name, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"insights.bad_{name}", value) from None


def _scope(request: web.Request) -> Scope:
    """The principal's actions (or the one asked for, when in scope) and the period asked for."""
    hub, principal = context(request).hub, request[PRINCIPAL]
    configured = list(hub.config.model.actions)
    wanted = request.query.get("action", "").strip()
    if wanted:
        if wanted not in configured or not principal.sees_action(wanted):
            raise web.HTTPNotFound(text="no such training action", content_type="text/plain")
        actions: tuple[str, ...] | None = (wanted,)
    else:
        actions = None if principal.role == "admin" else tuple(principal.actions_in(configured))
    start, end = _day(request, "from"), _day(request, "to")
    if start and end and end < start:
        raise BadFilter("insights.bad_period", f"{start} > {end}")
    return Scope(actions, start, end)


def _filters(request: web.Request) -> str:
    """The page's filters as a query string (the CSV links keep them)."""
    kept = {k: request.query[k].strip() for k in ("action", "from", "to") if request.query.get(k, "").strip()}
    return "?" + urlencode(kept) if kept else ""


#: hub -> the last insights computed, by (scope, day, projection cursor, configuration): a CSV link followed from
#: the page, or the page reloaded, reads them again without a new pass while the ledger is unchanged
_COMPUTED: "weakref.WeakKeyDictionary[Any, OrderedDict]" = weakref.WeakKeyDictionary()
KEPT = 8


async def _insights(request: web.Request, scope: Scope):
    hub = context(request).hub
    await hub.project()
    key = (scope, dt.datetime.now(hub.config.timezone).date(), await hub.store.call(hub.store.projection_cursor),
           id(hub.config.model))
    kept = _COMPUTED.setdefault(hub, OrderedDict())
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    found = kept[key] = await hub_insights(hub, scope, key[1])
    while len(kept) > KEPT:
        kept.popitem(last=False)
    return found


@requires(*ROLES)
async def page(request: web.Request) -> web.Response:
    hub, principal = context(request).hub, request[PRINCIPAL]
    choices = principal.actions_in(list(hub.config.model.actions))
    titles = {a: hub.config.model.actions[a].title for a in choices}
    try:
        scope = _scope(request)
    except BadFilter as bad:
        return render(request, "manager_insights.html", status=400, found=None, error=bad.key, bad=bad.value,
                      choices=choices, titles=titles, query=request.query, markers=MARKERS, filters="", charts={})
    found = await _insights(request, scope)
    return render(request, "manager_insights.html", found=found, error=None, bad=None, choices=choices, titles=titles,
                  query=request.query, markers=MARKERS, filters=_filters(request), charts=_charts(request, found))


def _charts(request: web.Request, found) -> dict[str, list]:
    """The charts of each table, in the page's language (figures written as it writes them)."""
    language = request.get(LANGUAGE) or i18n.language_of(request)
    say = i18n.translator(language)
    texts = {key: say(f"insights.chart.{key}") for key in TEXTS}
    drawn: dict[str, list] = {}
    for chart in charts(found, texts, fmt=lambda v: str(i18n.number(Decimal(plain(v)), language)),
                        label=lambda value: say(MARKERS[value]) if value in MARKERS else value):
        drawn.setdefault(chart.table, []).append(chart)
    return drawn


@requires(*ROLES)
async def table_csv(request: web.Request) -> web.Response:
    name = request.match_info["table"]
    if name not in TABLE_NAMES:
        raise web.HTTPNotFound(text="no such table", content_type="text/plain")
    try:
        scope = _scope(request)
    except BadFilter as bad:
        raise web.HTTPBadRequest(text=f"{bad.key.removeprefix('insights.bad_')}: {bad.value!r} cannot be read "
                                      "(dates as YYYY-MM-DD, from not after to)", content_type="text/plain") from None
    found = await _insights(request, scope)
    return web.Response(text=csv_text(found.table(name)), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


ROUTES = [
    web.get("/manager/insights", page),
    web.get("/manager/insights/{table}.csv", table_csv),
]
