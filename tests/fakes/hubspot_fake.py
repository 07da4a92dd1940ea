"""A fake HubSpot CRM API: a real local aiohttp server speaking the documented v3/v4 endpoints.

Endpoints (request and answer shapes from developers.hubspot.com, CRM API reference):

* ``GET  /crm/v3/objects/contacts?limit=`` — list (used as a cheap health check);
* ``POST /crm/v3/objects/{contacts|deals}/search`` — ``filterGroups`` (``EQ``, ``NEQ``, ``GT``,
  ``GTE``, ``LT``, ``LTE``, ``IN``, ``HAS_PROPERTY``), ``sorts``, ``properties``, ``limit`` (≤ 200),
  ``after``; answers ``{"total", "results", "paging": {"next": {"after", "link"}}}`` and
  refuses to page past 10,000 results, like HubSpot;
* ``POST /crm/v3/objects/{contacts|deals}/batch/read`` — ``inputs: [{id}]``, optional
  ``idProperty`` (e.g. ``email``); HTTP 207 with ``errors`` (``OBJECT_NOT_FOUND``) when some
  inputs do not exist;
* ``POST /crm/v3/objects/contacts/batch/update`` — ``inputs: [{id, properties}]`` (≤ 100, no
  duplicate ids, only existing properties: HTTP 400 ``VALIDATION_ERROR`` otherwise);
* ``POST /crm/v4/associations/deals/contacts/batch/read``.

Every ``/crm`` call needs ``Authorization: Bearer <token>`` (HTTP 401
``INVALID_AUTHENTICATION`` otherwise) and answers the ``X-HubSpot-RateLimit-*`` headers; with
``rate_limit=(max, interval_ms)`` the fake answers HTTP 429 ``RATE_LIMIT`` past ``max`` calls per
interval (without ``Retry-After``, as HubSpot often does). ``fail_next`` / ``fail_all`` inject
statuses. ``sign_webhook`` builds the headers HubSpot puts on a webhook (signature v3).

For demos: ``python -m tests.fakes.hubspot_fake --port 8091 --seed config/demo-data/01-funnel.ndjson``
creates one contact per ``prospect.contact_created`` event of the file and serves
``GET /_fake/contacts`` to show what the hub wrote.
"""

from __future__ import annotations

import asyncio

import argparse
import base64
import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any, AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer

CONTACT_SCHEMA = {
    "email", "firstname", "lastname", "phone", "createdate", "lastmodifieddate", "hs_object_id",
    "hs_analytics_source", "lifecyclestage",
    "parcours_progress", "parcours_status", "parcours_last_activity", "parcours_last_attendance", "parcours_action",
}
DEAL_SCHEMA = {"dealname", "dealstage", "pipeline", "closedate", "createdate", "hs_lastmodifieddate", "hs_object_id",
               "amount", "parcours_action"}
DEFAULT_SEARCH_PROPERTIES = {
    "contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
    "deals": ["amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"],
}
MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_ms(value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(parsed.replace(tzinfo=parsed.tzinfo or dt.timezone.utc).timestamp() * 1000)


def sign_webhook(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    """The headers HubSpot sends with a webhook: signature v3 and its timestamp (milliseconds)."""
    stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    source = method.encode() + uri.encode() + body + stamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp,
            "Content-Type": "application/json"}


class FakeHubSpot:
    def __init__(self, *, token: str = "test-hubspot-token", rate_limit: tuple[int, int] | None = None):
        self.token = token
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"contacts": {}, "deals": {}}
        self.associations: dict[str, list[str]] = {}  # deal id -> contact ids
        self.requests: list[tuple[str, str, Any]] = []
        self.fail_all: int | None = None
        self.fail_next: list[int] = []
        self.retry_after: str | None = "1"
        self.rate_limit = rate_limit
        self._window: tuple[float, int] = (0.0, 0)
        self._next_id = 501
        self.url = ""

    # ------------------------------------------------------------------ data
    def add(self, kind: str, properties: dict[str, Any], *, id: str | None = None, modified_ms: int | None = None,
            created_ms: int | None = None) -> str:
        object_id = id or str(self._next_id)
        self._next_id += 1
        now = int(time.time() * 1000)
        created = created_ms if created_ms is not None else now
        modified = modified_ms if modified_ms is not None else created
        props = {k: (None if v is None else str(v)) for k, v in properties.items()}
        props.setdefault("createdate", iso(created))
        props[MODIFIED[kind]] = iso(modified)
        props["hs_object_id"] = object_id
        self.objects[kind][object_id] = {"id": object_id, "properties": props, "createdAt": iso(created),
                                         "updatedAt": iso(modified), "archived": False}
        return object_id

    def add_contact(self, email: str, first: str = "", last: str = "", **kw: Any) -> str:
        props = {"email": email, "firstname": first or None, "lastname": last or None}
        props.update(kw.pop("properties", {}))
        return self.add("contacts", props, **kw)

    def add_deal(self, name: str, stage: str, contacts: list[str], **kw: Any) -> str:
        props = {"dealname": name, "dealstage": stage, "pipeline": "default"}
        props.update(kw.pop("properties", {}))
        deal_id = self.add("deals", props, **kw)
        self.associations[deal_id] = list(contacts)
        return deal_id

    def contact(self, email: str) -> dict[str, Any] | None:
        for record in self.objects["contacts"].values():
            if (record["properties"].get("email") or "").lower() == email.lower():
                return record
        return None

    def seed_from_ndjson(self, path: Path) -> int:
        """One contact per ``prospect.contact_created`` event (the demo data set)."""
        count = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            if item.get("type") != "prospect.contact_created":
                continue
            data = item.get("data") or {}
            email = data.get("email") or (item.get("learner") or {}).get("email")
            if email and not self.contact(email):
                self.add_contact(email, data.get("first_name", ""), data.get("last_name", ""),
                                 created_ms=to_ms(item.get("occurred_at")))
                count += 1
        return count

    # ------------------------------------------------------------------ server
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/crm/v3/objects/{kind}", self.list_objects)
        app.router.add_post("/crm/v3/objects/{kind}/search", self.search)
        app.router.add_post("/crm/v3/objects/{kind}/batch/read", self.batch_read)
        app.router.add_post("/crm/v3/objects/{kind}/batch/update", self.batch_update)
        app.router.add_post("/crm/v4/associations/deals/contacts/batch/read", self.associations_read)
        app.router.add_get("/_fake/contacts", self.dump_contacts)
        return app

    def _rate_headers(self) -> dict[str, str]:
        if not self.rate_limit:
            return {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189",
                    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
        maximum, interval = self.rate_limit
        return {"X-HubSpot-RateLimit-Max": str(maximum),
                "X-HubSpot-RateLimit-Remaining": str(max(0, maximum - self._window[1])),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval)}

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        body = await request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        self.requests.append((request.method, request.path, parsed))
        if request.path.startswith("/_fake/"):
            return await handler(request)
        status = self.fail_next.pop(0) if self.fail_next else self.fail_all
        if status is not None:
            headers = {"Retry-After": self.retry_after} if status == 429 and self.retry_after else {}
            return web.json_response({"status": "error", "message": "injected failure", "category": "INJECTED"},
                                     status=status, headers=headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                {"status": "error", "category": "INVALID_AUTHENTICATION",
                 "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication"},
                status=401)
        if self.rate_limit:
            maximum, interval = self.rate_limit
            started, count = self._window
            now = time.monotonic()
            if now - started > interval / 1000:
                started, count = now, 0
            count += 1
            self._window = (started, count)
            if count > maximum:
                return web.json_response({"status": "error", "message": "You have reached your secondly limit.",
                                          "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                                         status=429, headers=self._rate_headers())
        response = await handler(request)
        response.headers.update(self._rate_headers())
        return response

    @staticmethod
    def _bad(message: str, category: str = "VALIDATION_ERROR", status: int = 400) -> web.Response:
        return web.json_response({"status": "error", "message": message, "category": category,
                                  "correlationId": "00000000-0000-0000-0000-000000000000"}, status=status)

    def _kind(self, request: web.Request) -> str | None:
        kind = request.match_info["kind"]
        return kind if kind in self.objects else None

    def _view(self, record: dict[str, Any], properties: list[str] | None, kind: str) -> dict[str, Any]:
        names = properties if properties else DEFAULT_SEARCH_PROPERTIES[kind]
        props = {name: record["properties"].get(name) for name in names}
        props["hs_object_id"] = record["id"]
        return {**{k: v for k, v in record.items() if k != "properties"}, "properties": props}

    async def list_objects(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        if kind is None:
            return self._bad("unknown object type", "OBJECT_NOT_FOUND", 404)
        limit = int(request.query.get("limit", "10"))
        records = sorted(self.objects[kind].values(), key=lambda r: int(r["id"]))[:limit]
        return web.json_response({"results": [self._view(r, None, kind) for r in records]})

    @staticmethod
    def _matches(record: dict[str, Any], flt: dict[str, Any]) -> bool:
        value = record["properties"].get(flt.get("propertyName"))
        op = flt.get("operator", "EQ")
        if op == "HAS_PROPERTY":
            return value not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return value in (None, "")
        if op == "IN":
            return value in [str(v) for v in flt.get("values") or []]
        target = flt.get("value")
        left, right = to_ms(value), to_ms(target)
        if left is None or right is None:
            left, right = value, None if target is None else str(target)
        if op == "EQ":
            return left == right
        if op == "NEQ":
            return left != right
        if left is None or right is None:
            return False
        return {"GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}.get(op, False)

    async def search(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        if kind is None:
            return self._bad("unknown object type", "OBJECT_NOT_FOUND", 404)
        body = await request.json()
        limit = int(body.get("limit", 10))
        if limit > 200:
            return self._bad("limit must be at most 200")
        after = int(body.get("after") or 0)
        if after >= 10_000:
            return self._bad("Cannot page past 10000 results for a search query.")
        groups = body.get("filterGroups") or []
        records = [r for r in self.objects[kind].values()
                   if not groups or any(all(self._matches(r, f) for f in g.get("filters", [])) for g in groups)]
        for sort in reversed(body.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]):
            name = sort["propertyName"] if isinstance(sort, dict) else str(sort).lstrip("-")
            descending = (sort.get("direction") == "DESCENDING") if isinstance(sort, dict) else str(sort).startswith("-")
            records.sort(key=lambda r: (to_ms(r["properties"].get(name)) or 0, int(r["id"])), reverse=descending)
        page = records[after:after + limit]
        answer: dict[str, Any] = {"total": len(records),
                                  "results": [self._view(r, body.get("properties"), kind) for r in page]}
        if after + limit < len(records):
            answer["paging"] = {"next": {"after": str(after + limit),
                                         "link": f"{self.url}/crm/v3/objects/{kind}/search?after={after + limit}"}}
        return web.json_response(answer)

    async def batch_read(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        if kind is None:
            return self._bad("unknown object type", "OBJECT_NOT_FOUND", 404)
        body = await request.json()
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return self._bad("Batch size exceeds limit of 100")
        id_property = body.get("idProperty")
        results, missing = [], []
        for item in inputs:
            key = str(item.get("id"))
            if id_property:
                found = next((r for r in self.objects[kind].values()
                              if (r["properties"].get(id_property) or "").lower() == key.lower()), None)
            else:
                found = self.objects[kind].get(key)
            if found is None:
                missing.append(key)
            else:
                results.append(self._view(found, body.get("properties"), kind))
        now = iso(int(time.time() * 1000))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                                 "message": f"Could not get some {kind[:-1].upper()} objects, they may be deleted or "
                                            "not exist. Check that ids are valid.",
                                 "context": {"ids": missing}}]
            return web.json_response(answer, status=207)
        return web.json_response(answer)

    async def batch_update(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        if kind is None:
            return self._bad("unknown object type", "OBJECT_NOT_FOUND", 404)
        body = await request.json()
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return self._bad("Batch size exceeds limit of 100")
        ids = [str(i.get("id")) for i in inputs]
        if len(set(ids)) != len(ids):
            return self._bad("Duplicate IDs found in batch input")
        schema = CONTACT_SCHEMA if kind == "contacts" else DEAL_SCHEMA
        for item in inputs:
            unknown = [name for name in (item.get("properties") or {}) if name not in schema]
            if unknown:
                return self._bad(f'Property values were not valid: [{{"isValid":false,"message":"Property '
                                 f'\\"{unknown[0]}\\" does not exist","error":"PROPERTY_DOESNT_EXIST",'
                                 f'"name":"{unknown[0]}"}}]')
        results, missing = [], []
        now = int(time.time() * 1000)
        for item in inputs:
            record = self.objects[kind].get(str(item.get("id")))
            if record is None:
                missing.append(str(item.get("id")))
                continue
            for name, value in (item.get("properties") or {}).items():
                record["properties"][name] = None if value is None else str(value)
            record["properties"][MODIFIED[kind]] = iso(now)
            record["updatedAt"] = iso(now)
            results.append(self._view(record, list(item.get("properties") or {}), kind))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Object not found",
                                 "context": {"ids": missing}}]
            return web.json_response(answer, status=207)
        return web.json_response(answer)

    async def associations_read(self, request: web.Request) -> web.Response:
        body = await request.json()
        results = []
        for item in body.get("inputs") or []:
            deal_id = str(item.get("id"))
            if deal_id in self.objects["deals"]:
                results.append({"from": {"id": deal_id}, "to": [
                    {"toObjectId": int(c), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3,
                                                                 "label": None}]}
                    for c in self.associations.get(deal_id, [])]})
        return web.json_response({"status": "COMPLETE", "results": results})

    async def dump_contacts(self, request: web.Request) -> web.Response:
        return web.json_response(sorted(copy.deepcopy(list(self.objects["contacts"].values())),
                                        key=lambda r: int(r["id"])))

    # ------------------------------------------------------------------ helpers for tests
    def calls(self, path_suffix: str) -> list[Any]:
        return [body for _m, path, body in self.requests if path.endswith(path_suffix)]


@contextlib.asynccontextmanager
async def running(fake: FakeHubSpot | None = None) -> AsyncIterator[FakeHubSpot]:
    fake = fake or FakeHubSpot()
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


def main() -> None:  # pragma: no cover - manual and demo use
    parser = argparse.ArgumentParser(description="A fake HubSpot CRM API for demos and tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token", default="demo-hubspot-token", help="the private app token the fake accepts")
    parser.add_argument("--token-file", help="read the accepted token from this file instead")
    parser.add_argument("--print-port", action="store_true", help="print only the bound port on the first line")
    parser.add_argument("--seed", action="append", default=[], metavar="NDJSON",
                        help="create a contact per prospect.contact_created event of this file (repeatable)")
    args = parser.parse_args()
    token = Path(args.token_file).read_text().strip() if args.token_file else args.token
    fake = FakeHubSpot(token=token)
    seeded = [(fake.seed_from_ndjson(Path(path)), path) for path in args.seed]

    async def serve() -> None:
        runner = web.AppRunner(fake.app())
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1]
        fake.url = f"http://{args.host}:{port}"
        if args.print_port:
            print(port, flush=True)
        for count, path in seeded:
            print(f"seeded {count} contacts from {path}", flush=True)
        print(f"fake HubSpot on {fake.url} — see {fake.url}/_fake/contacts", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
