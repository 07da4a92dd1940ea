"""Signing in (address and password, then the second factor), signing out, choosing the language.
The other ways in, offered on the same page when configured: hub.web.routes_email_link (learners)
and hub.web.routes_oidc (staff)."""

from __future__ import annotations

import datetime as dt
import math
import time
from urllib.parse import quote

from aiohttp import web

from hub.web import i18n
from hub.web.context import PENDING, context, render
from hub.web.guard import PRINCIPAL, local_path, public
from hub.web.sessions import COOKIE, set_cookie


def remote_of(request: web.Request) -> str | None:
    return request.remote


def locked_message(request: web.Request, until: float | None) -> dict:
    minutes = max(1, math.ceil(((until or time.time()) - time.time()) / 60))
    return {"error": "login.locked", "minutes": minutes}


def login_page(request: web.Request, *, status: int = 200, next: str = "/app/", error: str | None = None,
               email: str = "", minutes: int = 0) -> web.Response:
    """The sign-in page, with the ways in that are configured."""
    ctx = context(request)
    oidc = ctx.settings.oidc
    return render(request, "login.html", status=status, next=next, error=error, email=email, minutes=minutes,
                  email_link=ctx.sign_in_links is not None,
                  oidc_label=oidc.label if oidc is not None and oidc.enabled else None,
                  next_query=quote(next, safe=""))


async def pending_to_session(request: web.Request, account: dict, needs_code: bool, target: str) -> web.HTTPSeeOther:
    """A sign-in step passed: any pending session is revoked and a new one opened (``code`` while
    the TOTP code is still to type, else ``full``); the redirect that carries its cookie, to raise."""
    ctx = context(request)
    if current := request.get(PENDING):
        await ctx.sessions.revoke(current["id"])
    cookie, _ = await ctx.sessions.open(account["id"], "code" if needs_code else "full", remote_of(request))
    response = web.HTTPSeeOther(f"/app/login/code?next={quote(target, safe='')}" if needs_code else target)
    set_cookie(response, request, COOKIE, cookie)
    return response


@public
async def login_form(request: web.Request) -> web.Response:
    if request.get(PRINCIPAL):
        raise web.HTTPSeeOther(local_path(request.query.get("next")))
    return login_page(request, next=local_path(request.query.get("next")))


@public
async def login(request: web.Request) -> web.Response:
    ctx = context(request)
    form = await request.post()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    target = local_path(str(form.get("next", "")))
    step = await ctx.accounts.check_password(email, password, remote_of(request))
    if not step.ok:
        values = locked_message(request, step.locked_until) if step.reason == "locked" else {"error": "login.failed"}
        return login_page(request, status=401 if step.reason != "locked" else 429, next=target, email=email, **values)
    raise await pending_to_session(request, step.account, step.needs_code, target)


@public
async def code_form(request: web.Request) -> web.Response:
    if request.get(PENDING) is None:
        raise web.HTTPSeeOther("/app/login")
    return render(request, "code.html", next=local_path(request.query.get("next")), error=None, minutes=0)


@public
async def code(request: web.Request) -> web.Response:
    ctx = context(request)
    pending = request.get(PENDING)
    if pending is None:
        raise web.HTTPSeeOther("/app/login")
    form = await request.post()
    target = local_path(str(form.get("next", "")))
    step = await ctx.accounts.check_code(pending["account_id"], str(form.get("code", ""))[:64], remote_of(request))
    if not step.ok:
        if step.reason in ("locked", "disabled"):
            await ctx.sessions.revoke(pending["id"])
        values = locked_message(request, step.locked_until) if step.reason == "locked" else {"error": "code.failed"}
        return render(request, "code.html", status=401 if step.reason != "locked" else 429, next=target,
                      **{"minutes": 0, **values})
    # a new session for the signed-in account: the pending one's id is never promoted (fixation)
    await ctx.sessions.revoke(pending["id"])
    cookie, _ = await ctx.sessions.open(pending["account_id"], "full", remote_of(request))
    response = web.HTTPSeeOther(target)
    set_cookie(response, request, COOKIE, cookie)
    raise response


@public
async def logout(request: web.Request) -> web.Response:
    ctx = context(request)
    principal = request.get(PRINCIPAL)
    pending = request.get(PENDING)
    if principal is not None:
        await ctx.sessions.revoke(principal.session_id)
        await ctx.accounts.record_sign_out({"id": principal.account_id, "email": principal.email}, remote_of(request))
    elif pending is not None:
        await ctx.sessions.revoke(pending["id"])
    response = web.HTTPSeeOther("/app/login")
    response.del_cookie(COOKIE, path="/app/")
    raise response


@public
async def choose_language(request: web.Request) -> web.Response:
    form = await request.post()
    language = str(form.get("lang", ""))
    response = web.HTTPSeeOther(local_path(str(form.get("next", ""))))
    if language in i18n.LANGUAGES:
        set_cookie(response, request, i18n.COOKIE, language, max_age=int(dt.timedelta(days=365).total_seconds()))
    raise response


ROUTES = [
    web.get("/login", login_form),
    web.post("/login", login),
    web.get("/login/code", code_form),
    web.post("/login/code", code),
    web.post("/logout", logout),
    web.post("/language", choose_language),
]
