"""The home page of every signed-in account: who is signed in, with which role and scopes, and
the pages that role opens today."""

from __future__ import annotations

from aiohttp import web

from hub.web.context import render
from hub.web.guard import PRINCIPAL, requires
from hub.web.roles import ROLES

#: the pages built so far, per role: (route, message key of its title)
PAGES = {
    "admin": [("/app/trainer/today", "nav.today"), ("/app/trainer/alerts", "nav.followup"), ("/app/manager/actions", "nav.manager"),
              ("/app/audit-links", "nav.audit_links"), ("/app/manager/exports", "nav.exports_all"),
              ("/app/manager/connectors", "nav.connectors"), ("/app/manager/dead-letters", "nav.dead_letters")],
    "manager": [("/app/trainer/today", "nav.today"), ("/app/trainer/alerts", "nav.followup"), ("/app/manager/actions", "nav.manager"),
                ("/app/audit-links", "nav.audit_links"), ("/app/manager/exports", "nav.exports_all"),
                ("/app/manager/connectors", "nav.connectors")],
    "trainer": [("/app/trainer/today", "nav.today"), ("/app/trainer/alerts", "nav.followup")],
    "learner": [("/app/learner/journey", "nav.journey"), ("/app/learner/data", "nav.my_data")],
    "funder": [("/app/funder/enrolments", "nav.funded"), ("/app/funder/exports", "nav.exports")],
    "auditor": [],
}


@requires(*ROLES)
async def home(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    return render(request, "home.html", pages=PAGES[principal.role])


ROUTES = [web.get("/", home)]
