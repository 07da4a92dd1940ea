"""Signing in (address and password, then the second factor), signing out, choosing the language."""

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


def _remote(request: web.Request) -> str | None:
    return request.remote


def _locked_message(request: web.Request, until: float | None) -> dict:
    minutes = max(1, math.ceil(((until or time.time()) - time.time()) / 60))
    return {"error": "login.locked", "minutes": minutes}


@public
async def login_form(request: web.Request) -> web.Response:
    if request.get(PRINCIPAL):
        raise web.HTTPSeeOther(local_path(request.query.get("next")))
    return render(request, "login.html", next=local_path(request.query.get("next")), error=None, email="")


@public
async def login(request: web.Request) -> web.Response:
    ctx = context(request)
    form = await request.post()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    target = local_path(str(form.get("next", "")))
    step = await ctx.accounts.check_password(email, password, _remote(request))
    if not step.ok:
        values = _locked_message(request, step.locked_until) if step.reason == "locked" else {"error": "login.failed"}
        return render(request, "login.html", status=401 if step.reason != "locked" else 429, next=target,
                      email=email, **{"minutes": 0, **values})
    if current := request.get(PENDING):
        await ctx.sessions.revoke(current["id"])
    cookie, _ = await ctx.sessions.open(step.account["id"], "code" if step.needs_code else "full", _remote(request))
    response = web.HTTPSeeOther(f"/app/login/code?next={quote(target, safe='')}" if step.needs_code else target)
    set_cookie(response, request, COOKIE, cookie)
    raise response


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
    step = await ctx.accounts.check_code(pending["account_id"], str(form.get("code", ""))[:64], _remote(request))
    if not step.ok:
        if step.reason in ("locked", "disabled"):
            await ctx.sessions.revoke(pending["id"])
        values = _locked_message(request, step.locked_until) if step.reason == "locked" else {"error": "code.failed"}
        return render(request, "code.html", status=401 if step.reason != "locked" else 429, next=target,
                      **{"minutes": 0, **values})
    # a new session for the signed-in account: the pending one's id is never promoted (fixation)
    await ctx.sessions.revoke(pending["id"])
    cookie, _ = await ctx.sessions.open(pending["account_id"], "full", _remote(request))
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
        await ctx.accounts.record_sign_out({"id": principal.account_id, "email": principal.email}, _remote(request))
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
