"""The daemon's HTTP surface (aiohttp).

Public: ``POST /webhooks/{connector}``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``, and the
API description ``GET /openapi.json`` / ``GET /api/docs`` (hub.runtime.apidoc, from openapi.yaml beside this).
Admin (bearer token from ``hub.http.admin_token``): ``POST /api/events`` and ``/api/…`` (``POST /api/audit-packs``:
hub.runtime.audit_api).
The web app (hub.web, its own sessions and guard) under ``/app/``.
A 2xx on an ingest means the events are committed; anything else means nothing was stored.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDict

from hub.connector import WebhookRequest, WebhookSource
from hub.badges.http import add_routes as add_badge_routes
from hub.documents.http import add_routes as add_document_routes
from hub.errors import ConnectorError, HubError, WebhookRejected
from hub.events import EventValidationError
from hub.ingest.ingestor import reject_rows
from hub.redaction import redact_all
from hub.runtime.apidoc import add_routes as add_apidoc_routes
from hub.runtime.audit_api import add_routes as add_audit_routes
from hub.store.base import UnreadableEvent
from hub.store.outage import describe, store_unavailable
from hub.web.app import mount as mount_web_app

if TYPE_CHECKING:
    from hub.runtime.app import Hub

HUB_KEY = web.AppKey("hub", object)
RETRY_AFTER_SECONDS = 5  # told to clients while the database does not answer
READY_STORE_TIMEOUT = 3.0  # /readyz: a store that does not answer within this is unavailable
MAX_DLQ_LIMIT = 10_000  # GET /api/dlq?limit=
MAX_SOURCE_LENGTH = 100  # POST /api/events?source=, as an event's own `source` field
EVENT_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}", re.IGNORECASE)  # a ULID
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-seq")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return _json({"error": message, **extra}, status)


@web.middleware
async def _observe(request: web.Request, handler):
    hub: Hub = request.app[HUB_KEY]
    started = time.perf_counter()
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = 500
    try:
        timeout = hub.config.hub.http.request_timeout.total_seconds()
        async with asyncio.timeout(timeout):
            response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except TimeoutError:
        status = 503
        return _error(503, "request timed out; nothing was acknowledged, retry later")
    except Exception as exc:
        if not store_unavailable(exc):
            raise  # a bug: aiohttp answers 500 and logs its traceback
        status = 503  # the database is down or restarting: the client retries, nothing was half-written
        hub.log.warning("store unavailable, request refused", method=request.method, route=route, error=describe(exc))
        response = _error(503, "the database is not answering; nothing was stored, retry later")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    finally:
        hub.metrics.requests.labels(request.method, route, str(status)).observe(time.perf_counter() - started)


class _MalformedRequestsAtInfo(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad header, a bad request line: anyone on the
    network can send one) as an error with a traceback. Such a request was answered 400 and
    reached no handler: one info line says so."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 400) < 500:
            # the first line only: the next ones echo the offending bytes, which may hold a credential
            reason = str(exc.message).strip().splitlines()[0].rstrip(":") if exc.message else type(exc).__name__
            record.msg, record.args = "malformed request from %s answered %s: %s", (*record.args[:1], exc.code, reason)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


_MALFORMED = _MalformedRequestsAtInfo()


def _with_nul(**values: str | None) -> web.Response | None:
    """A 400 when a filter holds a NUL character: PostgreSQL cannot compare text with one (a 500)
    where SQLite would find nothing; both stores answer alike."""
    for name, value in values.items():
        if value is not None and "\x00" in value:
            return _error(400, f"{name} contains a NUL character (\\u0000)")
    return None


def _require_admin(hub: "Hub", request: web.Request) -> web.Response | None:
    token = hub.config.hub.http.admin_token
    if token is None:
        return _error(503, "the admin API is disabled: set hub.http.admin_token")
    header = request.headers.get("Authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else ""
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        return web.json_response({"error": "missing or invalid bearer token"}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="parcours"'})
    return None


def admin_only(handler: Callable[[web.Request, "Hub"], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An admin API handler: answers 401/503 without a valid bearer token, else gets the hub."""
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.Response:
        hub: Hub = request.app[HUB_KEY]
        return _require_admin(hub, request) or await handler(request, hub)

    return guarded


def parse_event_body(body: bytes, content_type: str) -> tuple[list[Any], str]:
    """Items of a JSON (array or object) or NDJSON body. Raises ValueError listing bad lines."""
    text = body.strip()
    if not text:
        raise ValueError("empty body")
    if content_type in NDJSON_TYPES or (content_type != "application/json" and not text.startswith((b"[", b"{"))):
        items, problems = [], []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                problems.append({"line": number, "error": f"invalid JSON: {exc}"})
        if problems:
            raise _BadLines(problems)
        return items, "line"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if content_type != "application/json" and b"\n" in text:
            return parse_event_body(body, NDJSON_TYPES[0])
        raise ValueError(f"invalid JSON: {exc}") from None
    return (data if isinstance(data, list) else [data]), "index"


class _BadLines(ValueError):
    def __init__(self, problems: list[dict[str, Any]]):
        super().__init__(f"{len(problems)} invalid line(s)")
        self.problems = problems


def _positions(items: list[Any], body: bytes, unit: str) -> list[int]:
    if unit == "index":
        return list(range(len(items)))
    return [n for n, line in enumerate(body.splitlines(), start=1) if line.strip()]


@admin_only
async def post_events(request: web.Request, hub: "Hub") -> web.Response:
    body = await request.read()
    try:
        items, unit = parse_event_body(body, request.content_type)
    except _BadLines as exc:
        return _error(400, "the batch was rejected, nothing was stored", problems=exc.problems)
    except ValueError as exc:
        return _error(400, f"the batch was rejected, nothing was stored: {exc}")
    source = request.query.get("source")
    if source is not None and not 1 <= len(source) <= MAX_SOURCE_LENGTH:
        return _error(400, f"the batch was rejected, nothing was stored: the source parameter must have "
                           f"1 to {MAX_SOURCE_LENGTH} characters")
    reserved = set(hub.config.connectors) | {"hub"}
    claimed = {source} if source else {i["source"] for i in items if isinstance(i, dict) and isinstance(i.get("source"), str)}
    if claimed & reserved:
        name = sorted(claimed & reserved)[0]
        return _error(400, f"the batch was rejected, nothing was stored: source {name!r} is reserved "
                           "(a configured connector or the hub itself); name your source otherwise")
    try:
        result = await hub.append(items, source=source)
    except EventValidationError as exc:
        positions = _positions(items, body, unit)
        problems = [{unit: positions[i] if i < len(positions) else i, "field": path, "error": msg}
                    for i, path, msg in exc.problems]
        return _error(400, "the batch was rejected, nothing was stored", problems=problems)
    return _json({"ids": result.ids, "appended": result.appended, "duplicates": result.duplicates,
                  "withheld": len(result.withheld)}, 202)


async def post_webhook(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB_KEY]
    name = request.match_info["connector"]
    connector = hub.connectors.get(name)
    if connector is None or not isinstance(connector, WebhookSource):
        return _error(404, f"no webhook connector named {name!r}")
    body = await request.read()
    hook = WebhookRequest(request.method, request.path, CIMultiDict(request.headers), dict(request.query), body,
                          request.remote)
    log = hub.log.bind(connector=name)
    try:
        result = await connector.handle_webhook(hook)
        if result.events and connector.keep_webhook_body:
            await _attach_body(hub, name, request.content_type, body, result.events)
        result_ingest = await hub.append(result.events, source=name, rejects=reject_rows(name, result.rejects))
        await hub.count_skipped(name, result.skipped, result.unmapped)
    except WebhookRejected as exc:
        log.warning("webhook rejected", status=exc.status, reason=str(exc))
        return _error(exc.status, str(exc))
    except EventValidationError as exc:
        log.warning("webhook body invalid", problems=len(exc.problems))
        return _error(400, "the webhook was rejected, nothing was stored",
                      problems=[{"event": i, "field": p, "error": m} for i, p, m in exc.problems])
    except ConnectorError as exc:
        log.error("webhook handling failed", error=str(exc))
        return _error(503 if exc.retryable else 400, str(exc))
    log.info("webhook ingested", appended=result_ingest.appended, duplicates=result_ingest.duplicates)
    log.debug("webhook events", event_ids=result_ingest.ids)
    payload = result.response if result.response is not None else {"ids": result_ingest.ids}
    return _json(payload, 200)


async def _attach_body(hub: "Hub", name: str, media_type: str, body: bytes, events: list) -> None:
    """Keep the verified webhook body as evidence of every event it carried."""
    ref = await asyncio.to_thread(hub.blobs.put, body, media_type=media_type or "application/octet-stream",
                                  name=f"webhook-{name}")
    evidence = ref.model_dump(exclude_none=True)
    for item in events:
        if isinstance(item, dict):
            item["evidence"] = [*item.get("evidence", []), evidence]


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the hub can do its job; 503 while draining, when the store does not answer, or when
    a background loop (a sink's delivery, the scheduler) is not running."""
    hub: Hub = request.app[HUB_KEY]
    if request.app.get(DRAINING_KEY, {}).get("on"):
        return _error(503, "draining")
    try:
        version, sinks = await asyncio.wait_for(_store_view(hub), timeout=READY_STORE_TIMEOUT)
    except Exception as exc:
        unavailable = {"status": "unavailable", "store": {"ok": False}, "loops": hub.loops.status()}
        if _require_admin(hub, request) is None:
            unavailable["store"]["error"] = describe(exc) if not isinstance(exc, TimeoutError) else \
                f"no answer within {READY_STORE_TIMEOUT:g}s"
        response = _json(unavailable, 503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    connectors = await hub.check_connectors()
    stopped = hub.loops.not_running()
    degraded = any(not c["ok"] for c in connectors.values()) or bool(sinks)
    if _require_admin(hub, request) is not None:  # public: states, never an error text
        connectors = {name: {"ok": c["ok"]} for name, c in connectors.items()}
        sinks = {name: {"paused_for_seconds": s["paused_for_seconds"]} for name, s in sinks.items()}
    return _json({
        "status": "not ready" if stopped else "degraded" if degraded else "ok",
        "store": {"ok": True, "schema_version": version},
        "loops": hub.loops.status(),
        "connectors": connectors,  # redacted by Hub.check_connectors
        "paused_sinks": redact_all(sinks),
    }, 503 if stopped else 200)


async def _store_view(hub: "Hub") -> tuple[int, dict[str, dict[str, Any]]]:
    """The schema version and the paused sinks: what /readyz asks the store."""
    version = await hub.store.call(hub.store.schema_version)
    sinks = {}
    for name in hub.config.sinks():
        state = await hub.store.call(hub.store.sink_state, name)
        if state.paused_until and state.paused_until > time.time():
            sinks[name] = {"paused_for_seconds": round(state.paused_until - time.time()), "last_error": state.last_error}
    return version, sinks


async def metrics(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB_KEY]
    await hub.store.call(hub.metrics.refresh, hub.store, hub.config.pull_sources(), hub.config.sinks())
    return web.Response(body=hub.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


# ---------------------------------------------------------------------- admin API


@admin_only
async def get_event(request: web.Request, hub: "Hub") -> web.Response:
    if not EVENT_ID.fullmatch(request.match_info["id"]):
        return _error(400, "not an event id: expected a ULID (26 characters of Crockford's base32)")
    try:
        event = await hub.store.call(hub.store.get_event, request.match_info["id"])
    except UnreadableEvent as exc:  # stored, but not decodable: say so, and what is wrong
        return _error(422, "stored event cannot be read", id=exc.event["id"], seq=exc.event["seq"],
                      problem=exc.event["unreadable"])
    if event is None:
        return _error(404, "no such event")
    event.pop("seq", None)
    return _json(event)


@admin_only
async def list_dlq(request: web.Request, hub: "Hub") -> web.Response:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_DLQ_LIMIT:
        return _error(400, f"limit must be an integer from 1 to {MAX_DLQ_LIMIT}")
    sink, source = request.query.get("sink"), request.query.get("source")
    if refused := _with_nul(sink=sink, source=source):
        return refused
    letters = await hub.store.call(hub.store.dead_letters, sink=sink, source=source, limit=limit)
    return _json({"dead_letters": [letter.__dict__ for letter in letters]})


@admin_only
async def replay_dlq(request: web.Request, hub: "Hub") -> web.Response:
    usage = 'body must be a JSON object: {"sink": …} or {"source": …} or {"ids": ["o:1", …]} or {"all": true}'
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        return _error(400, usage)
    if not isinstance(body, dict) or not any(body.get(k) for k in ("sink", "source", "ids", "all")):
        return _error(400, usage)
    if any(body.get(k) is not None and not isinstance(body[k], str) for k in ("sink", "source")):
        return _error(400, usage)
    if body.get("ids") is not None and not (isinstance(body["ids"], list) and all(isinstance(i, str) for i in body["ids"])):
        return _error(400, usage)
    if refused := _with_nul(sink=body.get("sink"), source=body.get("source")):
        return refused
    try:
        summary = await hub.dead_letters.replay(sink=body.get("sink"), source=body.get("source"), ids=body.get("ids"),
                               actor="admin API")
    except HubError as exc:
        return _error(400, str(exc))
    return _json(summary)


@admin_only
async def list_connectors(request: web.Request, hub: "Hub") -> web.Response:
    health = await hub.check_connectors()
    return _json({
        name: {"kind": c.config.kind, "capabilities": type(c).capabilities(), **health.get(name, {})}
        for name, c in hub.connectors.items()
    })


@admin_only
async def list_proofs(request: web.Request, hub: "Hub") -> web.Response:
    action, funder = request.query.get("action"), request.query.get("funder")
    if refused := _with_nul(action=action, funder=funder):
        return refused
    found = await hub.proof_gaps(action=action, funder=funder)
    return _json({"enrolments": [f.as_dict() for f in found]})


DRAINING_KEY = web.AppKey("draining", dict)


def build_app(hub: "Hub") -> web.Application:
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED)  # once: a filter is added at most once
    app = web.Application(client_max_size=hub.config.hub.http.max_body_bytes, middlewares=[_observe])
    app[HUB_KEY] = hub
    app[DRAINING_KEY] = {"on": False}
    app.add_routes([
        web.post("/webhooks/{connector}", post_webhook),
        # LRS-style clients post to <endpoint>/statements (and PUT): same handler, path kept in the request
        web.post("/webhooks/{connector}/{rest:.+}", post_webhook),
        web.put("/webhooks/{connector}/{rest:.+}", post_webhook),
        web.post("/api/events", post_events),
        web.get("/api/events/{id}", get_event),
        web.get("/api/dlq", list_dlq),
        web.post("/api/dlq/replay", replay_dlq),
        web.get("/api/connectors", list_connectors),
        web.get("/api/proofs", list_proofs),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
    ])
    add_document_routes(app, hub)
    add_badge_routes(app, hub)
    add_audit_routes(app, admin_only)
    add_apidoc_routes(app)
    mount_web_app(app, hub)  # the web pages under /app/ (hub.web, docs/web-app.md)
    return app
