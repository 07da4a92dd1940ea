"""What every page shares: the web context built from the hub, rendering a template in the
request's language, and the middleware that reads the session and checks the CSRF token.

The session middleware sets the principal of a full session (hub.web.guard.PRINCIPAL), or the
pending session awaiting the second factor (PENDING), then refuses an unsafe method whose CSRF
token does not match (hub.web.csrf).
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from aiohttp import web

from hub.delivery.connector_health import SharedChecks
from hub.web import PREFIX, csrf, i18n
from hub.web.accounts import Accounts, Limits
from hub.web.guard import PRINCIPAL
from hub.web.live import LedgerWatcher
from hub.web.oidc import OidcClient
from hub.web.roles import Principal, Scopes
from hub.web.sessions import Sessions, load_secret, set_cookie
from hub.web.sign_in_links import SignInLinks

PENDING = web.RequestKey("pending_session", dict)
ANON_CSRF = web.RequestKey("anonymous_csrf", str)
LANGUAGE = web.RequestKey("language", str)
CHECKS_TTL_SECONDS = 4.0  # the connectors' checks are asked again at most this often (the page refreshes every 5 s)


class WebContext:
    """What the pages share, built on first use from the hub (its store, append and configuration)."""

    def __init__(self, hub: Any):
        self.hub = hub

    @functools.cached_property
    def settings(self):
        return self.hub.config.hub.web

    @functools.cached_property
    def secret(self) -> bytes:
        configured = self.settings.session_secret
        return load_secret(configured.get_secret_value() if configured else None, self.hub.config.data_dir)

    @functools.cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.hub.store, self.hub.append, Limits.of(self.settings))

    @functools.cached_property
    def sessions(self) -> Sessions:
        return Sessions(self.hub.store, self.secret, lifetime=self.settings.session_lifetime.total_seconds(),
                        idle=self.settings.session_idle.total_seconds())

    @functools.cached_property
    def sign_in_links(self) -> SignInLinks | None:
        """Sign-in links by e-mail, when hub.web.email_link is enabled."""
        if not self.settings.email_link.enabled:
            return None
        return SignInLinks(self.settings.email_link, self.accounts, self.sessions,
                           organisation=self.hub.config.hub.name, log=self.hub.log.bind(component="web"))

    @functools.cached_property
    def oidc(self) -> OidcClient | None:
        """The organisation's OpenID Connect provider, when hub.web.oidc is enabled."""
        if self.settings.oidc is None or not self.settings.oidc.enabled:
            return None
        return OidcClient(self.settings.oidc, self.hub._http_session, self.secret)

    @functools.cached_property
    def watcher(self) -> LedgerWatcher:
        return LedgerWatcher(self.hub.store, log=self.hub.log)

    @functools.cached_property
    def connector_checks(self) -> SharedChecks:
        """The connectors' health checks, shared by the connectors pages refreshing at once."""
        return SharedChecks(self.hub, ttl=CHECKS_TTL_SECONDS)

    @functools.cached_property
    def templates(self) -> jinja2.Environment:
        env = jinja2.Environment(loader=jinja2.PackageLoader("hub.web", "templates"),
                                 autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        return env


CONTEXT = web.AppKey("web_context", WebContext)


def context(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    """A page in the request's language; every template gets ``_`` (translate), ``lang``, the
    principal (or None), the CSRF token of its forms and the organisation's name."""
    ctx = context(request)
    language = request.get(LANGUAGE) or i18n.language_of(request)
    principal = request.get(PRINCIPAL)
    token = principal.csrf if principal else (request.get(PENDING) or {}).get("csrf") or request.get(ANON_CSRF, "")
    body = ctx.templates.get_template(template).render(
        _=i18n.translator(language), num=functools.partial(i18n.number, language=language), lang=language, principal=principal, csrf_token=token,
        csrf_field=csrf.FIELD, organisation=ctx.hub.config.hub.name, path=request.path_qs, **values)
    response = web.Response(text=body, status=status, content_type="text/html")
    if not principal and not request.get(PENDING) and request.get(ANON_CSRF) \
            and request.cookies.get(csrf.COOKIE) != request[ANON_CSRF]:
        set_cookie(response, request, csrf.COOKIE, request[ANON_CSRF])
    return response


@web.middleware
async def session_and_csrf(request: web.Request, handler):
    if request.path.startswith(f"{PREFIX}/static/"):
        return await handler(request)  # the vendored files: public, no session, read-only
    ctx = context(request)
    request[LANGUAGE] = i18n.language_of(request)
    session = await ctx.sessions.current(request)
    if session is not None:
        account = await ctx.hub.store.call(ctx.hub.store.account, session["account_id"])
        if account is None or account["disabled_at"] is not None:
            await ctx.sessions.revoke(session["id"])
            session = None
        elif session["stage"] == "full":
            request[PRINCIPAL] = Principal(account["id"], account["email"], account["name"], account["role"],
                                           Scopes.of(account["scopes"]), session["id"], session["csrf"])
        else:
            request[PENDING] = {**session, "account": account}
    if session is None:
        cookie = request.cookies.get(csrf.COOKIE)
        request[ANON_CSRF] = cookie if csrf.anonymous_token_ok(ctx.secret, cookie) else csrf.new_anonymous_token(ctx.secret)
    if request.method not in csrf.SAFE_METHODS:
        expected = session["csrf"] if session is not None else request.cookies.get(csrf.COOKIE)
        if session is None and not csrf.anonymous_token_ok(ctx.secret, expected):
            expected = None
        if not csrf.tokens_match(expected, await csrf.sent_token(request)):
            raise web.HTTPForbidden(text="the form's security token is missing or out of date: reload the page",
                                    content_type="text/plain")
    return await handler(request)


