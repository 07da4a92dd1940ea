"""Security headers on every response of the web app, errors included.

The Content-Security-Policy allows scripts, styles and connections from the hub itself only: no
inline script or style, no eval (htmx is configured so, see templates/base.html), no framing.
Pages are private (``Cache-Control: no-store``); the vendored static files may be cached.
"""

from __future__ import annotations

from aiohttp import web

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_CACHE = "public, max-age=3600"


def apply(response: web.StreamResponse, *, static: bool = False) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Cache-Control"] = STATIC_CACHE if static and response.status == 200 else "no-store"


@web.middleware
async def security_headers(request: web.Request, handler):
    static = request.path.startswith("/app/static/")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        apply(exc, static=False)
        raise
    if not response.prepared:  # a stream (server-sent events) sets them before it starts
        apply(response, static=static)
    return response
