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
        assert (await r.json()) == {"ids": body["ids"][:1], "appended": 0, "duplicates": 1}


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
        assert r.status == 413


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
