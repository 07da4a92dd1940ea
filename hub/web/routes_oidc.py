"""Sign-in of staff through the organisation's OpenID Connect provider (hub.web.oidc): the
redirect to the provider, and its redirect back. The account must exist already (created with the
CLI or declared in the configuration): the verified e-mail address the provider vouches for picks
it; it must be enabled and of a role of ``allowed_roles``. The provider's own multi-factor
authentication stands in for the TOTP code, unless ``require_totp_after_oidc``. Both routes answer
404 while ``hub.web.oidc`` is not enabled.
"""

from __future__ import annotations

from aiohttp import web

from hub.web.context import context
from hub.web.guard import local_path, public
from hub.web.oidc import COOKIE, FLOW_SECONDS, OidcClient, OidcError
from hub.web.routes_auth import locked_message, login_page, pending_to_session, remote_of
from hub.web.sessions import set_cookie

#: the sign-in page's message for each reason a sign-in through the provider is refused
MESSAGES = {"bad_state": "oidc.failed.state", "provider_error": "oidc.failed.provider", "bad_token": "oidc.failed.token",
            "email_not_verified": "oidc.failed.unverified", "unknown_email": "oidc.failed.unknown",
            "role_not_allowed": "oidc.failed.role", "disabled": "oidc.failed.disabled"}


def _client(request: web.Request) -> OidcClient:
    client = context(request).oidc
    if client is None:
        raise web.HTTPNotFound(text="sign-in through OpenID Connect is not enabled (hub.web.oidc)",
                               content_type="text/plain")
    return client


@public
async def start(request: web.Request) -> web.Response:
    client = _client(request)
    target = local_path(request.query.get("next"))
    try:
        url, flow = await client.start(target)
    except OidcError as exc:
        context(request).hub.log.warning("OpenID Connect provider unavailable", error=exc.detail)
        return login_page(request, status=502, next=target, error="oidc.failed.provider")
    response = web.HTTPSeeOther(url)
    set_cookie(response, request, COOKIE, flow, max_age=FLOW_SECONDS)
    raise response


@public
async def callback(request: web.Request) -> web.Response:
    client = _client(request)
    ctx = context(request)
    flow = client.flow_of(request.cookies.get(COOKIE))
    try:
        email, _claims = await client.finish(dict(request.query), flow)
    except OidcError as exc:
        await ctx.accounts.oidc_refused(None, exc.reason, exc.detail, remote_of(request))
        return _refused(request, 401, MESSAGES[exc.reason])
    settings = client.settings
    step = await ctx.accounts.check_oidc(email, remote_of(request), allowed_roles=tuple(settings.allowed_roles),
                                        require_code=settings.require_totp_after_oidc)
    if not step.ok:
        if step.reason == "locked":
            return _refused(request, 429, **locked_message(request, step.locked_until))
        return _refused(request, 403, MESSAGES[step.reason])
    response = await pending_to_session(request, step.account, step.needs_code, flow.next)
    response.del_cookie(COOKIE, path="/app/")
    raise response


def _refused(request: web.Request, status: int, error: str, minutes: int = 0) -> web.Response:
    response = login_page(request, status=status, error=error, minutes=minutes)
    response.del_cookie(COOKIE, path="/app/")
    return response


ROUTES = [
    web.get("/login/oidc", start),
    web.get("/login/oidc/callback", callback),
]
