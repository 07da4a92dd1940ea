import asyncio
import datetime as dt
import logging

import aiohttp
import orjson
import pytest

from hub.runtime.server import build_app
from tests.conftest import TOKEN, event, sign

CONFIG = """
connectors:
  signed: {kind: test_signed_hook, secret: "${file:secrets/hook}"}
  out: {kind: ndjson_out, directory: out}
routes:
  - {name: all, from: "*", to: out}
"""
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def store_hub(make_hub, each_store_url):
    """A started hub on SQLite or on a fresh PostgreSQL schema (both stores must answer alike)."""
    return await make_hub(CONFIG, store_url=each_store_url)


@pytest.fixture
async def served(make_hub, aiohttp_server_factory):
    hub = await make_hub(CONFIG)
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield hub, client


async def stored(hub):
    return await hub.store.call(hub.store.count_events)


async def test_post_json_array_returns_ids_after_commit(served):
    hub, client = served
    async with client.post("/api/events", json=[event(1), event(2)], headers=AUTH) as r:
        assert r.status == 202
        body = await r.json()
    assert body["appended"] == 2 and len(body["ids"]) == 2
    assert (await hub.store.call(hub.store.get_event, body["ids"][0]))["source_id"] == "evt-1"
    async with client.post("/api/events", json=event(1), headers=AUTH) as r:  # a single object, again
        assert (await r.json()) == {"ids": body["ids"][:1], "appended": 0, "duplicates": 1, "withheld": 0}


async def test_post_ndjson_with_bad_lines_stores_nothing(served):
    hub, client = served
    lines = [orjson.dumps(event(1)), b"", orjson.dumps(event(2, "lms.nope")), b"{not json", orjson.dumps(event(3))]
    body = b"\n".join(lines)
    headers = {**AUTH, "Content-Type": "application/x-ndjson"}
    async with client.post("/api/events", data=body, headers=headers) as r:
        assert r.status == 400
        answer = await r.json()
    assert answer["problems"] == [{"line": 4, "error": answer["problems"][0]["error"]}]
    assert answer["problems"][0]["error"].startswith("invalid JSON")
    body = b"\n".join(lines[:3] + lines[4:])
    async with client.post("/api/events", data=body, headers=headers) as r:
        assert r.status == 400
        answer = await r.json()
    (problem,) = answer["problems"]
    assert problem["line"] == 3 and problem["field"] == "type" and "lms.nope" in problem["error"]
    assert await stored(hub) == 0
    good = b"\n".join([lines[0], lines[4]]) + b"\n"
    async with client.post("/api/events", data=good, headers=headers) as r:
        assert r.status == 202 and (await r.json())["appended"] == 2


async def test_admin_api_needs_the_token(served):
    hub, client = served
    async with client.post("/api/events", json=[event(1)]) as r:
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    async with client.post("/api/events", json=[event(1)], headers={"Authorization": "Bearer wrong"}) as r:
        assert r.status == 401
    async with client.get("/api/dlq", headers=AUTH) as r:
        assert r.status == 200 and (await r.json()) == {"dead_letters": []}
    assert await stored(hub) == 0


async def test_body_size_limit(served):
    hub, client = served
    hub.config.hub.http.max_body_bytes  # default 10 MiB
    big = b"[" + b" " * (11 * 1024 * 1024) + b"]"
    async with client.post("/api/events", data=big, headers={**AUTH, "Content-Type": "application/json"}) as r:
        assert r.status == 413 and r.content_type == "text/plain"
        assert "Maximum request body size 10485760 exceeded" in await r.text()
    async with client.post("/webhooks/signed", data=big) as r:  # before any signature check
        assert r.status == 413
    assert await stored(hub) == 0


async def test_webhook_signature_checked_and_idempotent(served):
    hub, client = served
    body = orjson.dumps([event(7)])
    async with client.post("/webhooks/signed", data=body, headers={"X-Sig": "0" * 64}) as r:
        assert r.status == 401
    assert await stored(hub) == 0
    sig = sign("hook-secret-value-42", body)
    async with client.post("/webhooks/signed", data=body, headers={"X-Sig": sig}) as r:
        assert r.status == 200
        first = (await r.json())["ids"]
    async with client.post("/webhooks/signed", data=body, headers={"X-Sig": sig}) as r:  # replayed delivery
        assert r.status == 200 and (await r.json())["ids"] == first
    assert await stored(hub) == 1
    event_row = await hub.store.call(hub.store.get_event, first[0])
    assert event_row["source"] == "signed"
    (evidence,) = event_row["evidence"]  # the verified body is kept as evidence
    assert hub.blobs.get(evidence["sha256"]) == body and evidence["size"] == len(body)
    bad = orjson.dumps([event(8, data={"percent": "101"})])
    async with client.post("/webhooks/signed", data=bad, headers={"X-Sig": sign("hook-secret-value-42", bad)}) as r:
        assert r.status == 400 and (await r.json())["problems"][0]["field"] == "data.percent"
    async with client.post("/webhooks/nobody", data=body) as r:
        assert r.status == 404
    assert await stored(hub) == 1


async def test_health_ready_and_metrics(served):
    hub, client = served
    async with client.get("/healthz") as r:
        assert r.status == 200
    async with client.get("/readyz") as r:
        ready = await r.json()
        assert r.status == 200 and ready["store"]["ok"] and ready["connectors"]["out"]["ok"]
    async with client.post("/api/events", json=[event(1), event(2, "attendance.absent", data={"date": "2026-10-05", "half_day": "pm"})], headers=AUTH) as r:
        assert r.status == 202
    async with client.get("/metrics") as r:
        text = await r.text()
    assert 'parcours_events_ingested_total{source="api",type="lms.progress"} 1.0' in text
    assert 'parcours_outbox_rows{sink="out",state="pending"} 2.0' in text
    assert 'parcours_http_request_duration_seconds_count{method="POST",route="/api/events",status="202"}' in text
    assert 'parcours_dead_letters{stage="deliver"} 0.0' in text


# ---------------------------------------------------------------- documented limits and invalid input


@pytest.mark.parametrize(("field", "limit"), [("source_id", 300), ("source", 100), ("action", 200),
                                              ("learner.ref", 200), ("learner.email", 320), ("learner.name", 300)])
async def test_every_documented_field_length_is_enforced(served, field, limit):
    hub, client = served

    def with_length(n: int, i: int) -> dict:
        item = event(i)
        name, _, sub = field.partition(".")
        value = "x" * n if field != "source_id" else f"{i}-".ljust(n, "x")
        if sub:
            item[name] = {**item[name], sub: value}
        else:
            item[name] = value
        return item

    async with client.post("/api/events", json=[with_length(limit, 1)], headers=AUTH) as r:
        assert r.status == 202, await r.text()
    async with client.post("/api/events", json=[with_length(limit + 1, 2)], headers=AUTH) as r:
        assert r.status == 400
        (problem,) = (await r.json())["problems"]
    assert problem["field"] == field and str(limit) in problem["error"]
    assert await stored(hub) == 1


async def test_the_source_parameter_has_the_length_of_a_source(served):
    hub, client = served
    for source in ("", "s" * 101):
        async with client.post("/api/events", params={"source": source}, json=[event(1)], headers=AUTH) as r:
            assert r.status == 400 and "1 to 100 characters" in (await r.json())["error"]
    async with client.post("/api/events", params={"source": "s" * 100}, json=[event(1)], headers=AUTH) as r:
        assert r.status == 202
    assert await stored(hub) == 1


@pytest.mark.parametrize("limit", ["0", "-5", "10001", "99999999999999999999999999", "ten"])
async def test_dead_letter_list_limit_outside_1_to_10000_is_a_400(served, limit):
    hub, client = served
    async with client.get("/api/dlq", params={"limit": limit}, headers=AUTH) as r:
        assert r.status == 400 and (await r.json()) == {"error": "limit must be an integer from 1 to 10000"}
    async with client.get("/api/dlq", params={"limit": "10000"}, headers=AUTH) as r:
        assert r.status == 200


@pytest.mark.parametrize("body", [b"", b"{}", b"[]", b'{"all": false}', b'{"ids": []}', b'{"source": ["a"]}',
                                  b'{"sink": {"x": 1}}', b'{"ids": ["o:\xc2\xb2"]}', b'{"ids": ["o:' + b"9" * 30 + b'"]}',
                                  b'{"ids": ["x:1"]}', b"not json"])
async def test_replay_refuses_what_names_nothing_or_is_invalid(served, body):
    hub, client = served
    async with client.post("/api/dlq/replay", data=body, headers={**AUTH, "Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert "error" in await r.json()


async def test_replay_all_is_explicit(served):
    hub, client = served
    async with client.post("/api/dlq/replay", json={"all": True}, headers=AUTH) as r:
        assert r.status == 200 and (await r.json()) == {"requeued": 0, "replayed": 0, "errors": []}


@pytest.mark.parametrize("event_id", ["0", "I" * 26, "01M8GK3VJP2810XH8N0V7P2SX", "01M8GK3VJP2810XH8N0V7P2SXWW",
                                      "01M8GK3VJP2810XH8N0V7P2SX%00", "01M8GK3VJP2810XH8N0V7P2SXU"])
async def test_a_malformed_event_id_is_a_400_a_wellformed_unknown_one_a_404(served, event_id):
    hub, client = served
    async with client.get(f"/api/events/{event_id}", headers=AUTH) as r:
        assert r.status == 400 and "ULID" in (await r.json())["error"]
    async with client.get("/api/events/01m8gk3vjp2810xh8n0v7p2sxw", headers=AUTH) as r:
        assert r.status == 404 and (await r.json()) == {"error": "no such event"}


async def test_an_unparseable_request_is_one_info_line(served, caplog):
    hub, client = served
    port = client._base_url.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /webhooks/signed HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    assert b" 400 " in await reader.readline()
    writer.close()
    await writer.wait_closed()
    lines = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [(r.levelno, r.exc_info) for r in lines] == [(logging.INFO, None)]
    assert lines[0].getMessage().startswith("malformed request from 127.0.0.1 answered 400: Invalid header value char")
    assert "a\x00b" not in lines[0].getMessage()


async def test_supersedes_and_learner_ids_have_their_documented_lengths(served):
    hub, client = served
    for n in (25, 27):
        async with client.post("/api/events", json=[event(1, supersedes="0" * n)], headers=AUTH) as r:
            assert r.status == 400 and (await r.json())["problems"][0]["field"] == "supersedes"
    for ids in ({"crm": "v" * 201}, {"k" * 61: "v"}, {"Crm": "v"}):
        async with client.post("/api/events", json=[event(1, learner={"ref": "u1", "ids": ids})], headers=AUTH) as r:
            assert r.status == 400 and (await r.json())["problems"][0]["field"].startswith("learner.ids")
    ids = {"k" * 60: "v" * 200}
    async with client.post("/api/events", json=[event(1, learner={"ref": "u1", "ids": ids})], headers=AUTH) as r:
        assert r.status == 202
    assert await stored(hub) == 1


async def test_details_nest_at_most_32_levels(served):
    hub, client = served

    def nested(depth: int) -> dict:
        value: dict = {}
        for _ in range(depth - 1):
            value = {"x": value}
        return value

    async with client.post("/api/events", json=[event(1, data={"percent": "5", "details": nested(33)})], headers=AUTH) as r:
        assert r.status == 400 and "nested more than 32 levels" in str(await r.json())
    async with client.post("/api/events", json=[event(1, data={"percent": "5", "details": nested(32)})], headers=AUTH) as r:
        assert r.status == 202
    assert await stored(hub) == 1


async def test_a_request_past_the_request_timeout_is_a_503(served, monkeypatch):
    hub, client = served
    monkeypatch.setattr(hub.config.hub.http, "request_timeout", dt.timedelta(milliseconds=50))

    async def never():
        await asyncio.Event().wait()

    monkeypatch.setattr(hub, "check_connectors", never)
    async with client.get("/readyz") as r:
        assert r.status == 503
        assert await r.json() == {"error": "request timed out; nothing was acknowledged, retry later"}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/dlq?sink=a%00b", None), ("GET", "/api/dlq?source=a%00b", None),
    ("GET", "/api/proofs?action=a%00b", None), ("GET", "/api/proofs?funder=a%00b", None),
    ("POST", "/api/dlq/replay", {"sink": "a\x00b"}), ("POST", "/api/dlq/replay", {"source": "a\x00b"})])
async def test_a_nul_in_a_filter_is_a_400_on_both_stores(store_hub, aiohttp_server_factory, method, path, body):
    server = await aiohttp_server_factory(build_app(store_hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        async with client.request(method, path, json=body, headers=AUTH) as r:
            assert r.status == 400 and "NUL" in (await r.json())["error"]
