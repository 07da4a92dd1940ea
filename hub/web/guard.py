"""Who may reach a route: one decorator per route, read by the session middleware (hub.web.app)
and by the authorisation matrix test (tests/web/test_authz_matrix.py), which fails for a route
that has none.

* ``@public``: anyone (the sign-in pages, static files);
* ``@requires("trainer", "manager", "admin")``: a signed-in account (both factors) of one of
  these roles. Without a session a page answers 303 to the sign-in page (an htmx or
  event-stream request, 401); with another role, 403.

Scopes (which actions, funders or learner) are checked by the page itself against the
principal (:class:`hub.web.roles.Principal`), on the data it reads: a page never lists or
opens what is outside them (404, as if it did not exist).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from hub.web.roles import ROLES, Principal

PRINCIPAL = web.RequestKey("principal", Principal)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Access:
    roles: frozenset[str] | None  # None: public

    @property
    def public(self) -> bool:
        return self.roles is None


def access_of(handler) -> Access | None:
    return getattr(handler, "web_access", None)


def public(handler: Handler) -> Handler:
    handler.web_access = Access(None)  # type: ignore[attr-defined]
    return handler


def requires(*roles: str) -> Callable[[Handler], Handler]:
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}" if unknown else "requires() needs a role")

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            principal = request.get(PRINCIPAL)
            if principal is None:
                if request.method != "GET" or request.headers.get("HX-Request") or \
                        "text/event-stream" in request.headers.get("Accept", ""):
                    raise web.HTTPUnauthorized(text="sign in first", content_type="text/plain")
                raise web.HTTPSeeOther(f"/app/login?next={quote(request.path_qs, safe='')}")
            if principal.role not in roles:
                raise web.HTTPForbidden(text="this page is not open to your role", content_type="text/plain")
            return await handler(request)

        guarded.web_access = Access(frozenset(roles))  # type: ignore[attr-defined]
        return guarded

    return wrap


def local_path(target: str | None, default: str = "/app/") -> str:
    """``target`` when it is a path of the web app (an open redirect otherwise), else ``default``."""
    if target and target.startswith("/app/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
