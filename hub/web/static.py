"""The web app's static files (hub/web/static/: the vendored htmx and its SSE extension, the
style sheet), served from the package: only the files listed here, with their type."""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

from hub.web.guard import public

FILES = {
    "htmx.min.js": "text/javascript",
    "htmx-sse.min.js": "text/javascript",
    "app.css": "text/css",
}


@functools.cache
def _read(name: str) -> bytes:
    return (resources.files("hub.web") / "static" / name).read_bytes()


@public
async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in FILES:
        raise web.HTTPNotFound(text="no such file", content_type="text/plain")
    return web.Response(body=_read(name), content_type=FILES[name], charset="utf-8")


ROUTES = [web.get("/static/{name}", static_file)]
