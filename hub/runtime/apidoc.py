"""The daemon's API description: ``GET /openapi.json`` and ``GET /api/docs``.

The OpenAPI document is ``openapi.yaml`` beside this module, shipped in the package (package
data) so that an installed wheel serves the document of its own version; ``/api/docs`` renders it
as one static HTML page (a Jinja2 template, no script, nothing loaded from elsewhere).
"""

from __future__ import annotations

import copy
import functools
import html
import re
from importlib import resources
from typing import Any

import orjson
import yaml
from aiohttp import web
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

import hub

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the installed version (``info.version`` is the package's)."""
    text = resources.files("hub.runtime").joinpath("openapi.yaml").read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    spec["info"]["version"] = hub.__version__
    return spec


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation of ``spec``, in the document's order."""
    return [(method, path, op) for path, item in spec["paths"].items()
            for method, op in item.items() if method in HTTP_METHODS]


def _inline(text: str | None) -> Markup:
    """`code` and **bold** of one line of the document, escaped."""
    escaped = html.escape(text or "")
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return Markup(re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped))


def _prose(text: str | None) -> Markup:
    """The Markdown subset the document uses: paragraphs, bullet lists, `code` and **bold**."""
    out = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        if not block.strip():
            continue
        escaped = str(_inline(block))
        items = re.split(r"(?m)^\s*[*-] ", escaped)
        if len(items) > 1 and not items[0].strip():
            out.append("<ul>" + "".join(f"<li>{i.strip()}</li>" for i in items[1:]) + "</ul>")
        else:
            out.append(f"<p>{escaped}</p>")
    return Markup("".join(out))


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100).strip()


def _ref_name(value: Any) -> str | None:
    ref = value.get("$ref") if isinstance(value, dict) else None
    return ref.rsplit("/", 1)[-1] if ref else None


def _resolve(spec: dict[str, Any], value: Any) -> Any:
    """A ``$ref`` to ``#/components/…`` replaced by what it points at (one level)."""
    ref = value.get("$ref") if isinstance(value, dict) else None
    if not ref or not ref.startswith("#/"):
        return value
    target: Any = spec
    for part in ref[2:].split("/"):
        target = target[part]
    return target


@functools.cache
def _template():
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(prose=_prose, inline=_inline, yaml=_yaml, ref_name=_ref_name)
    source = resources.files("hub.runtime").joinpath("api_docs.html").read_text(encoding="utf-8")
    return env.from_string(source)


def render_page(spec: dict[str, Any]) -> str:
    spec = copy.deepcopy(spec)
    ops = []
    for method, path, op in operations(spec):
        op["responses"] = {code: _resolve(spec, r) for code, r in op.get("responses", {}).items()}
        op["parameters"] = [_resolve(spec, p) for p in op.get("parameters", [])]
        ops.append({"method": method, "path": path, "anchor": op.get("operationId") or f"{method}-{path}", **op})
    return _template().render(spec=spec, operations=ops, schemas=spec.get("components", {}).get("schemas", {}))


async def get_openapi(request: web.Request) -> web.Response:
    return web.Response(body=_json_body(), content_type="application/json")


async def get_api_docs(request: web.Request) -> web.Response:
    return web.Response(text=_page(), content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)


@functools.cache
def _json_body() -> bytes:
    return orjson.dumps(openapi_document())


@functools.cache
def _page() -> str:
    return render_page(openapi_document())


def add_routes(app: web.Application) -> None:
    app.add_routes([web.get("/openapi.json", get_openapi), web.get("/api/docs", get_api_docs)])
