"""The web app as an aiohttp sub-application, mounted by hub.runtime.server under ``/app/``.

Its middlewares, outermost first: security headers on every response (hub.web.headers), then
the session and the CSRF check of every unsafe method (hub.web.context). Each route declares who
may reach it (hub.web.guard).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.web import (PREFIX, headers, routes_audit, routes_audit_links, routes_auth, routes_email_link, routes_followup,
                     routes_funder, routes_home, routes_insights, routes_learner, routes_learner_data, routes_live,
                     routes_manager, routes_oidc, routes_operations, routes_trainer, static)
from hub.web.context import CONTEXT, WebContext, session_and_csrf
from hub.web.declared import apply_declared


def build_web_app(hub: Any) -> web.Application:
    """The sub-application of every web page (see hub.runtime.server.build_app)."""
    app = web.Application(middlewares=[headers.security_headers, session_and_csrf])
    app[CONTEXT] = WebContext(hub)
    for module in (routes_auth, routes_email_link, routes_oidc, routes_home, routes_trainer, routes_followup,
                   routes_live, routes_learner, routes_learner_data, routes_funder, routes_manager, routes_insights, routes_operations,
                   routes_audit, routes_audit_links, static):
        app.add_routes(module.ROUTES)

    async def stop_watcher(_app: web.Application) -> None:
        if "watcher" in vars(app[CONTEXT]):
            await app[CONTEXT].watcher.stop()
        if vars(app[CONTEXT]).get("sign_in_links") is not None:
            await app[CONTEXT].sign_in_links.wait()  # the links being sent go out before the store closes

    async def apply_declared_accounts(_app: web.Application) -> None:
        """When the daemon starts: the accounts hub.web.accounts declares (hub.web.declared)."""
        changes = await apply_declared(hub.store, hub.append, hub.config.hub.web.accounts, hub.log)
        if changes:
            hub.log.info("declared accounts applied", changes=changes)

    app.on_startup.append(apply_declared_accounts)
    app.on_cleanup.append(stop_watcher)
    return app


def mount(app: web.Application, hub: Any) -> None:
    """Mount the web app under ``/app/`` on the daemon's application."""
    app.add_subapp(PREFIX, build_web_app(hub))
