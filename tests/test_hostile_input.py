"""Bad input gets a clear 4xx and stores nothing, on SQLite and PostgreSQL alike.

Each case was a 5xx (or, worse, an accepted event that broke every later job): timestamps that
fall outside years 1-9999 once in UTC, a ``source`` that is not a string, data nested hundreds of
levels deep, a NUL character (stored by SQLite, refused by PostgreSQL), a bearer token that is not
ASCII.
"""

from __future__ import annotations

import aiohttp
import pytest

from hub.runtime.server import build_app
from tests.conftest import TOKEN, event

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = """
connectors:
  lrs: {kind: xapi, push_token: "${file:secrets/hook}"}
"""


@pytest.fixture
async def served(make_hub, each_store_url, aiohttp_server_factory):
    hub = await make_hub(CONFIG, store_url=each_store_url)
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield hub, client


async def post(client, body, headers=AUTH):
    async with client.post("/api/events", json=body, headers=headers) as r:
        return r.status, await r.json()


async def count(hub) -> int:
    return await hub.store.call(hub.store.count_events)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
async def test_a_timestamp_outside_the_storable_range_is_refused(served, when):
    hub, client = served
    status, answer = await post(client, [event(1, occurred_at=when)])
    assert status == 400, answer
    (problem,) = answer["problems"]
    assert problem["field"] == "occurred_at" and "UTC" in problem["error"]
    status, answer = await post(client, [event(2, data={"percent": "50", "details": {}},
                                               occurred_at="2026-10-05T10:00:00+02:00")])
    assert status == 202
    assert await count(hub) == 1


async def test_a_timestamp_inside_data_outside_the_range_is_refused(served):
    hub, client = served
    bad = event(1, "lms.session", data={"start": "9999-12-31T23:59:59-23:59", "end": "9999-12-31T23:59:59-23:59"})
    status, answer = await post(client, [bad])
    assert status == 400 and answer["problems"][0]["field"].startswith("data.")
    assert await count(hub) == 0


@pytest.mark.parametrize("source", [["a", "b"], {"name": "x"}, 42])
async def test_a_source_that_is_not_a_string_is_refused(served, source):
    hub, client = served
    status, answer = await post(client, [event(1, source=source)])
    assert status == 400, answer
    assert "source" in str(answer)
    assert await count(hub) == 0


@pytest.mark.parametrize("depth", [100, 500, 1023])
async def test_deeply_nested_data_is_refused(served, depth):
    hub, client = served
    nested = b'{"x":' * depth + b"{}" + b"}" * depth  # written out: JSON encoders refuse such depths
    async with client.post("/api/events", data=b'[{"type": "lms.progress", "occurred_at": "2026-10-05T10:00:00+02:00", '
                                                b'"source_id": "deep", "data": {"percent": "5", "details": '
                                                + nested + b"}}]",
                           headers={**AUTH, "Content-Type": "application/json"}) as r:
        assert r.status == 400, await r.text()
        answer = await r.json()
    assert "nested" in str(answer) or "depth limit" in str(answer)  # ours, or the JSON parser's own limit
    assert await count(hub) == 0


@pytest.mark.parametrize("where", ["source_id", "action", "learner", "data"])
async def test_a_nul_character_is_refused_on_every_store(served, where):
    hub, client = served
    item = event(1, learner={"ref": "u1"}, action="ACT-1")
    if where == "learner":
        item["learner"] = {"ref": "u\x001"}
    elif where == "data":
        item["data"] = {"percent": "5", "details": {"note": "a\x00b"}}
    else:
        item[where] = "x\x00y"
    status, answer = await post(client, [item])
    assert status == 400, answer
    assert "NUL" in str(answer)
    assert await count(hub) == 0


async def test_a_non_ascii_bearer_token_is_a_401(served):
    hub, client = served
    async with client.post("/api/events", json=[event(1)],
                           headers={"Authorization": "Bearer tokén-ça".encode().decode("latin-1")}) as r:
        assert r.status == 401
    assert await count(hub) == 0


async def test_xapi_push_with_an_unstorable_timestamp_is_dead_lettered(served):
    """Not a 5xx, not an event: the statement is a dead letter (one bad statement of a forwarded batch
    must not lose the others, see docs/connectors/xapi.md#push)."""
    hub, client = served
    statement = {
        "id": "7b2f5d4e-1111-4f5a-9c3b-2a1e0f9d8c7b",
        "actor": {"mbox": "mailto:lea@example.fr"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "https://lms.example.fr/activity/1", "objectType": "Activity"},
        "timestamp": "9999-12-31T23:59:59-23:59",
    }
    async with client.post("/webhooks/lrs/statements", json=[statement],
                           headers={"Authorization": "Bearer hook-secret-value-42",
                                    "X-Experience-API-Version": "1.0.3"}) as r:
        assert r.status == 200, await r.text()
        (letter,) = (await r.json())["dead_lettered"]
    assert letter["index"] == 0 and "outside the years 1-9999" in letter["error"]
    assert await count(hub) == 0
    (dead,) = await hub.store.call(hub.store.dead_letters, source="lrs")
    assert dead.stage == "map" and dead.payload["timestamp"] == "9999-12-31T23:59:59-23:59"


async def test_a_pull_page_with_an_invalid_record_and_a_nul_one_keeps_the_rest(served):
    """Per record, as a pull does: the schema refuses one record, the NUL check another; both
    become dead letters (the NUL written out) and the page commits with its cursor."""
    hub, _ = served
    page = [event(1, "lms.nope"), event(2), event(3, source_id="nul\x00id"), event(4)]
    result = await hub.append(page, source="inbox", cursor=("inbox", {"page": 1}), per_record=True)
    assert (result.appended, result.rejects) == (2, 2)
    letters = await hub.store.call(hub.store.dead_letters, source="inbox")
    assert sorted(letter.payload["source_id"] for letter in letters) == ["evt-1", "nul\x00id"]  # kept as sent
    assert any("NUL" in letter.error for letter in letters)
    assert (await hub.store.call(hub.store.source_state, "inbox")).cursor == {"page": 1}

