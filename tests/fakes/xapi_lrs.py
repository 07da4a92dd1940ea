"""A fake xAPI LRS: a real local aiohttp server speaking the xAPI 1.0.3 Statement resource.

Implemented from xAPI-Communication.md (adlnet/xAPI-Spec), part 2.1.3 "GET Statements":

* ``GET /xAPI/statements`` with ``since`` (statements *stored* after it, exclusive), ``until``,
  ``limit`` (0 or missing = the server's maximum), ``ascending`` (default false: newest first);
  the answer is a StatementResult ``{"statements": [...], "more": "<relative IRL>"}``, ``more``
  being "" on the last page, and carries ``X-Experience-API-Consistent-Through``;
* ``more`` links are relative (path and query, no scheme or host), as the specification says,
  and point to ``/xAPI/statements/more/<token>``;
* every request needs ``X-Experience-API-Version: 1.0.x`` (400 otherwise) and HTTP Basic
  credentials (401 with ``WWW-Authenticate`` otherwise);
* ``POST /xAPI/statements`` stores one statement or an array (ids assigned when missing,
  ``stored`` set by the LRS) and answers the array of ids.

Test hooks: ``failures`` (statuses answered to the next requests, with ``Retry-After`` for
429/503 when given), ``always`` (a status answered to every request), ``password`` (change it
to simulate revoked credentials), ``expire_more`` (answer 404 to that many ``more`` requests; -1: all),
``more_base`` (make ``more`` links absolute, on that origin), ``ralph_quirks`` (behave like Ralph
5.1's file backend: ``since`` filters on ``timestamp``, pages come in insertion order and an
ascending page is reversed), ``GET /portal/statements`` (an HTML login page, as an SSO proxy in
front of an LRS would answer) and ``requests`` (what was received).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import orjson
from aiohttp import web

UTC = dt.timezone.utc


def _parse(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Failure:
    status: int
    retry_after: str | None = None


@dataclass
class FakeLrs:
    username: str = "hub-client"
    password: str = "lrs-secret-0123"
    max_limit: int = 100
    statements: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    always: int | None = None
    always_retry_after: str | None = "120"
    expire_more: int = 0
    more_base: str = ""
    ralph_quirks: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    clock: dt.datetime = dt.datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    _tokens: dict[str, tuple[dict[str, str], int]] = field(default_factory=dict)
    port: int | None = None

    # ------------------------------------------------------------------ data
    def add(self, statements: list[dict[str, Any]], *, stored: str | None = None, step_ms: int = 10) -> list[str]:
        """Store statements as the LRS would; ``stored`` gives them all that time (else a clock)."""
        ids = []
        for statement in statements:
            item = copy.deepcopy(statement)
            item.setdefault("id", str(uuid.uuid4()))
            if stored is not None:
                item["stored"] = stored
            else:
                self.clock += dt.timedelta(milliseconds=step_ms)
                item["stored"] = _iso(self.clock)
            item.setdefault("timestamp", item["stored"])
            item.setdefault("authority", {"objectType": "Agent", "name": "fake LRS", "mbox": "mailto:lrs@example.org"})
            item.setdefault("version", "1.0.0")
            self.statements.append(item)
            ids.append(item["id"])
        return ids

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI/"

    # ------------------------------------------------------------------ HTTP
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/xAPI/statements", self.get_statements)
        app.router.add_get("/xAPI/statements/more/{token}", self.get_more)
        app.router.add_post("/xAPI/statements", self.post_statements)
        app.router.add_get("/xAPI/about", self.about)
        app.router.add_get("/portal/statements", self.portal)
        return app

    async def portal(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><body><form>Log in</form></body></html>", content_type="text/html")

    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                              "headers": dict(request.headers)})
        failure = self.failures.pop(0) if self.failures else (Failure(self.always) if self.always else None)
        if failure is not None:
            headers = {}
            retry_after = failure.retry_after if self.always is None else self.always_retry_after
            if retry_after is not None and failure.status in (429, 503):
                headers["Retry-After"] = retry_after
            return web.json_response({"error": "configured failure"}, status=failure.status, headers=headers)
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "unauthorised"}, status=401, headers={"WWW-Authenticate": 'Basic realm="LRS"'})
        version = request.headers.get("X-Experience-API-Version", "")
        if not version.startswith("1.0"):
            return web.json_response({"error": "X-Experience-API-Version header missing or unsupported"}, status=400)
        return None

    async def about(self, request: web.Request) -> web.Response:
        return web.json_response({"version": ["1.0.3"]})

    async def post_statements(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        body = orjson.loads(await request.read())
        items = body if isinstance(body, list) else [body]
        return web.json_response(self.add(items), headers={"X-Experience-API-Version": "1.0.3"})

    async def get_statements(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        return self._page(dict(request.query), 0)

    async def get_more(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        token = self._tokens.get(request.match_info["token"])
        if token is None or self.expire_more:
            self.expire_more -= 1 if self.expire_more > 0 else 0
            return web.json_response({"error": "unknown or expired more link"}, status=404)
        return self._page(*token)

    def _page(self, query: dict[str, str], offset: int) -> web.Response:
        try:
            since = _parse(query["since"]) if "since" in query else None
            until = _parse(query["until"]) if "until" in query else None
            limit = int(query.get("limit") or 0)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        limit = self.max_limit if limit <= 0 else min(limit, self.max_limit)
        ascending = query.get("ascending", "false").lower() == "true"
        field_name = "timestamp" if self.ralph_quirks else "stored"
        matched = [s for s in self.statements if (since is None or _parse(s[field_name]) > since)
                   and (until is None or _parse(s[field_name]) <= until)]
        if not self.ralph_quirks:
            matched.sort(key=lambda s: _parse(s["stored"]), reverse=not ascending)
        page = matched[offset:offset + limit]
        if self.ralph_quirks and ascending:
            page.reverse()
        more = ""
        if offset + limit < len(matched):
            token = uuid.uuid4().hex
            self._tokens[token] = (query, offset + limit)
            more = f"{self.more_base}/xAPI/statements/more/{token}"
        headers = {"X-Experience-API-Version": "1.0.3", "X-Experience-API-Consistent-Through": _iso(dt.datetime.now(UTC))}
        return web.Response(body=orjson.dumps({"statements": page, "more": more}), content_type="application/json",
                            headers=headers)

    # ------------------------------------------------------------------ running
    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["FakeLrs"]:
        runner = web.AppRunner(self.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        try:
            yield self
        finally:
            await runner.cleanup()
