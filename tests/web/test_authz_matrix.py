"""The authorisation matrix: every route of the web app, for every role and for no session, answers
the status written here. A route added without its line here fails this test, and so does a route
without a guard (hub.web.guard)."""

from __future__ import annotations

import pytest

from hub.runtime.server import build_app
from hub.web import PREFIX
from hub.web.guard import access_of
from hub.web.roles import ROLES

ANONYMOUS = "no session"
WHO = (ANONYMOUS, *ROLES)
STAFF_PAGES = {"trainer", "manager", "admin"}
MANAGERS = {"manager", "admin"}


def everyone(status: int) -> dict[str, int]:
    return {who: status for who in WHO}


def page_for(roles: set[str], *, anonymous: int = 303) -> dict[str, int]:
    return {ANONYMOUS: anonymous, **{r: 200 if r in roles else 403 for r in ROLES}}


#: (method, route) -> (the path requested, {who: expected status}). POSTs send a valid CSRF token.
MATRIX: dict[tuple[str, str], tuple[str, dict[str, int]]] = {
    ("GET", "/app/"): ("/app/", page_for(set(ROLES))),
    ("GET", "/app/login"): ("/app/login", {ANONYMOUS: 200, **{r: 303 for r in ROLES}}),  # signed in: sent on
    ("POST", "/app/login"): ("/app/login", everyone(401)),  # with a wrong password
    ("GET", "/app/login/code"): ("/app/login/code", everyone(303)),  # no password typed: back to sign-in
    ("POST", "/app/login/code"): ("/app/login/code", everyone(303)),
    ("POST", "/app/logout"): ("/app/logout", everyone(303)),
    # the other ways in are off in this site (404): on, tests/web/test_email_link.py and test_oidc.py
    ("POST", "/app/login/link"): ("/app/login/link", everyone(404)),
    ("GET", "/app/login/link/{token}"): ("/app/login/link/" + "A" * 43, everyone(404)),
    ("POST", "/app/login/link/{token}"): ("/app/login/link/" + "A" * 43, everyone(404)),
    ("GET", "/app/login/oidc"): ("/app/login/oidc", everyone(404)),
    ("GET", "/app/login/oidc/callback"): ("/app/login/oidc/callback?state=x&code=y", everyone(404)),
    ("POST", "/app/language"): ("/app/language", everyone(303)),
    ("GET", "/app/trainer/today"): ("/app/trainer/today?date=2026-10-07", page_for(STAFF_PAGES)),
    ("GET", "/app/trainer/today/weeks"): ("/app/trainer/today/weeks?date=2026-10-07", page_for(STAFF_PAGES)),
    ("GET", "/app/trainer/alerts"): ("/app/trainer/alerts", page_for(STAFF_PAGES)),
    # following up an alert that does not exist: 404 for the staff (scope: tests/web/test_trainer_alerts.py)
    ("POST", "/app/trainer/alerts/{alert}/follow-up"): ("/app/trainer/alerts/01NOSUCHALERT/follow-up",
                                                       {**page_for(STAFF_PAGES, anonymous=401),
                                                        **{r: 404 for r in STAFF_PAGES}}),
    ("GET", "/app/learner/journey"): ("/app/learner/journey", page_for({"learner"})),
    # the learner's own data (the account's learner: no identifier in the address), a zip
    ("POST", "/app/learner/data-export"): ("/app/learner/data-export", page_for({"learner"}, anonymous=401)),
    ("GET", "/app/learner/data"): ("/app/learner/data", page_for({"learner"})),
    # the matrix's form sends no choice: 400 for the learner, nothing recorded (tests/web/test_learner_data.py)
    ("POST", "/app/learner/data/consents/{purpose}"): ("/app/learner/data/consents/funnel_tracking",
                                                       {**page_for({"learner"}, anonymous=401), "learner": 400}),
    # a document that does not exist: 404 for the learner, as another learner's (tests/web/test_learner_data.py)
    ("GET", "/app/learner/documents/{document}"): ("/app/learner/documents/01NOSUCHDOCUMENT0000000000",
                                                   {**page_for({"learner"}), "learner": 404}),
    # a badge that is not the learner's (here: none at all) answers 404 like a missing one (tests/web/test_learner_badges.py)
    ("GET", "/app/learner/badges/{id}"): ("/app/learner/badges/01NOSUCHBADGE0000000000000", {**page_for({"learner"}), "learner": 404}),
    ("GET", "/app/funder/enrolments"): ("/app/funder/enrolments", page_for({"funder"})),
    # an enrolment that does not exist: the funder gets 404 (its own open with 200 and every other
    # one with 404: tests/web/test_funder_scope.py); every other role 403 before any lookup
    ("GET", "/app/funder/enrolments/{learner}/{action}"): ("/app/funder/enrolments/01NOSUCHLEARNER/ACT-2026-REACT-01",
                                                          {**page_for({"funder"}), "funder": 404}),
    ("GET", "/app/funder/exports"): ("/app/funder/exports", page_for({"funder"})),
    # a file of an export that does not exist: 404 for the funder (its own: tests/web/test_funder_scope.py)
    ("GET", "/app/funder/exports/{export}/{period}/{version}/{file}"): (
        "/app/funder/exports/opco-atlas/2026-10/v1/nothing.csv", {**page_for({"funder"}), "funder": 404}),
    ("GET", "/app/manager/actions"): ("/app/manager/actions", page_for(MANAGERS)),
    ("GET", "/app/manager/actions/{action}"): ("/app/manager/actions/ACT-2026-REACT-01", page_for(MANAGERS)),
    # unknown ids: 404 for the managers (scope: tests/web/test_manager_scope.py), 403 for the others before any lookup
    ("GET", "/app/manager/enrolments/{learner}/{action}"): ("/app/manager/enrolments/01NOSUCHLEARNER/ACT-2026-REACT-01",
                                                           {**page_for(MANAGERS), "manager": 404, "admin": 404}),
    ("GET", "/app/manager/insights"): ("/app/manager/insights", page_for(MANAGERS)),
    # a table as CSV (an unknown table, an action outside the scope: 404, tests/web/test_manager_insights.py)
    ("GET", "/app/manager/insights/{table}.csv"): ("/app/manager/insights/modules.csv", page_for(MANAGERS)),
    ("GET", "/app/manager/events/{id}"): ("/app/manager/events/01NOSUCHEVENT", {**page_for(MANAGERS), "manager": 404, "admin": 404}),
    # the auditor's link: the token is the credential (no session needed, a session grants nothing);
    # an unknown token answers 404 to everyone (its own scope: tests/web/test_audit_link.py)
    ("GET", "/app/audit/{token}"): ("/app/audit/" + "A" * 43, everyone(404)),
    ("GET", "/app/audit/{token}/learners/{learner}"): ("/app/audit/" + "A" * 43 + "/learners/01NOSUCHLEARNER", everyone(404)),
    ("GET", "/app/audit/{token}/pack"): ("/app/audit/" + "A" * 43 + "/pack", everyone(404)),
    # the admin's and manager's page of audit links: the POST sends no field (400, the form again);
    # revoking a link that does not exist: 404
    ("GET", "/app/audit-links"): ("/app/audit-links", page_for({"admin", "manager"})),
    ("POST", "/app/audit-links"): ("/app/audit-links", {**page_for({"admin", "manager"}, anonymous=401),
                                                        "admin": 400, "manager": 400}),
    ("POST", "/app/audit-links/{link}/revoke"): ("/app/audit-links/01NOSUCHLINK/revoke",
                                                 {**page_for({"admin", "manager"}, anonymous=401),
                                                  "admin": 404, "manager": 404}),
    # the operations pages (hub.web.routes_operations): exports and connectors for the managers, dead
    # letters for the admin alone; a file or a dead letter that does not exist answers 404
    ("GET", "/app/manager/exports"): ("/app/manager/exports", page_for(MANAGERS)),
    ("GET", "/app/manager/exports/{export}/{period}/{version}/{file}"): (
        "/app/manager/exports/opco-atlas/2026-10/v1/nothing.csv", {**page_for(MANAGERS), "manager": 404, "admin": 404}),
    ("GET", "/app/manager/dead-letters"): ("/app/manager/dead-letters", page_for({"admin"})),
    ("GET", "/app/manager/dead-letters/{id}"): ("/app/manager/dead-letters/o:999999", {**page_for({"admin"}), "admin": 404}),
    ("POST", "/app/manager/dead-letters/{id}/replay"): ("/app/manager/dead-letters/o:999999/replay",
                                                        {**page_for({"admin"}, anonymous=401), "admin": 404}),
    ("GET", "/app/manager/connectors"): ("/app/manager/connectors", page_for(MANAGERS)),
    # the event stream a page follows (hub.web.routes_live): with no topic, staff follow the actions of
    # their scope and a learner their own journeys; a funder must name an enrolment it funds (404)
    ("GET", "/app/live"): ("/app/live", {**page_for(STAFF_PAGES | {"learner"}, anonymous=401), "funder": 404}),
    ("GET", "/app/static/{name}"): ("/app/static/app.css", everyone(200)),
}
STREAMS = {("GET", "/app/live")}  # read the status only: the stream goes on


def web_routes(app) -> dict[tuple[str, str], object]:
    return {(r.method, r.resource.canonical): r.handler for r in app.router.routes()
            if r.method != "HEAD" and r.resource.canonical.startswith(PREFIX + "/")}


async def test_every_web_route_has_a_guard_and_a_line_in_the_matrix(site):
    routes = web_routes(build_app(site.hub))
    assert routes, "no web route found"
    unguarded = sorted(k for k, handler in routes.items() if access_of(handler) is None)
    assert not unguarded, f"web routes without @public or @requires (hub.web.guard): {unguarded}"
    missing = sorted(set(routes) - set(MATRIX))
    assert not missing, f"web routes missing from the authorisation matrix of {__file__}: {missing}"
    extra = sorted(set(MATRIX) - set(routes))
    assert not extra, f"the matrix lists routes the web app does not have: {extra}"


@pytest.mark.parametrize("who", WHO)
async def test_each_route_answers_each_role_as_the_matrix_says(site, people, who):
    person = people()
    if who != ANONYMOUS:
        assert (await person.sign_in(who)).status == 303
    wrong = []
    # signing out last: signing in again would need a new TOTP code, and a code works once
    for (method, _route), (path, expected) in sorted(MATRIX.items(), key=lambda item: item[1][0] == "/app/logout"):
        if method == "GET" and (method, _route) in STREAMS:
            async with person.http.get(path, allow_redirects=False, headers={"Accept": "text/event-stream"}) as r:
                status = r.status
        elif method == "GET":
            status = (await person.get(path)).status
        else:
            token_page = "/app/login" if who == ANONYMOUS else "/app/"
            form = {"email": site.emails.get(who, "nobody@demo.example"), "password": "not the password"}
            status = (await person.post(path, form, token_from=token_page)).status
        if status != expected[who]:
            wrong.append(f"{method} {path}: {status}, expected {expected[who]}")
    assert not wrong, f"as {who}:\n" + "\n".join(wrong)
