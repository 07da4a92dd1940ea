"""Sign-in by a link sent by e-mail (learners; hub.web.sign_in_links): asking for it, then following it.

Following the link (GET) only shows a page with a button: a mail scanner that opens every link of
a message does not use it up. The button (POST, with the page's CSRF token) takes the link and
signs in, or asks for the TOTP code of an account that has one. Every route answers 404 while
``hub.web.email_link`` is not enabled.
"""

from __future__ import annotations

from aiohttp import web

from hub.web.context import LANGUAGE, context, render
from hub.web.guard import public
from hub.web.routes_auth import locked_message, login_page, pending_to_session, remote_of
from hub.web.sign_in_links import SignInLinks


def _links(request: web.Request) -> SignInLinks:
    links = context(request).sign_in_links
    if links is None:
        raise web.HTTPNotFound(text="sign-in by e-mail link is not enabled (hub.web.email_link)",
                               content_type="text/plain")
    return links


@public
async def request_link(request: web.Request) -> web.Response:
    """The same answer, at once, whether or not an account has the address (hub.web.sign_in_links)."""
    links = _links(request)
    form = await request.post()
    email = str(form.get("email", ""))[:320]
    step = await context(request).accounts.link_requested(email, remote_of(request))
    if not step.ok:
        return login_page(request, status=429, email=email, **locked_message(request, step.locked_until))
    links.send_later(email, request[LANGUAGE], remote_of(request))
    return render(request, "link.html", state="sent", minutes=links.minutes, token="")


@public
async def confirm_form(request: web.Request) -> web.Response:
    _links(request)
    token = request.match_info["token"]
    if await context(request).sessions.link(token) is None:
        return render(request, "link.html", status=404, state="invalid", minutes=0, token="")
    return render(request, "link.html", state="confirm", minutes=0, token=token)


@public
async def confirm(request: web.Request) -> web.Response:
    _links(request)
    ctx = context(request)
    account_id = await ctx.sessions.take_link(request.match_info["token"])
    step = await ctx.accounts.check_link(account_id, remote_of(request))
    if not step.ok:
        if step.reason == "locked":
            return login_page(request, status=429, **locked_message(request, step.locked_until))
        return render(request, "link.html", status=401, state="invalid", minutes=0, token="")
    raise await pending_to_session(request, step.account, step.needs_code, "/app/")


ROUTES = [
    web.post("/login/link", request_link),
    web.get("/login/link/{token}", confirm_form),
    web.post("/login/link/{token}", confirm),
]
