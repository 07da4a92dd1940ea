"""One stored row that cannot be read must not stop the hub (issue 11, defence in depth).

The boundary refuses an out-of-range time; these rows get in behind it (an older version, an edit
in the database): sealing, projection, delivery, ``verify``, proofs and ``GET /api/events/{id}``
isolate them and go on, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import aiohttp
import pytest

from hub.ledger.integrity import check_proof, prove, verify
from hub.runtime.app import Hub
from hub.runtime.server import build_app
from tests.conftest import TOKEN, event

# 9999-12-31T23:59:59-23:59 is 10000-01-01T23:58:59Z: stored as microseconds, it reads back as nothing.
BEYOND_9999_US = 253_402_387_139_000_000


def sql(url: str, statement: str, params: tuple) -> None:
    """Change the database behind the hub's back, with its own driver."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement, params)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement.replace("?", "%s"), params)


@pytest.fixture
async def hub_on(store_factory, workdir, plugins, sink_peer):
    """A hub on each store, with a webhook sink that gets every API event."""
    url = store_factory.url
    (workdir / "hub.yaml").write_text(f"""\
hub:
  data_dir: var
  store: {{url: "{url}"}}
  http: {{admin_token: "${{file:secrets/token}}", port: 0}}
connectors:
  crm: {{kind: webhook_out, url: "{sink_peer.url}", secret: "${{file:secrets/hook}}"}}
routes:
  - {{name: to-crm, from: [api], to: crm}}
""")
    hub = Hub.open(workdir / "hub.yaml", env={}, plugins=plugins)
    await hub.start()
    yield hub, url, sink_peer
    await hub.stop()


async def spoil(hub_on) -> list[str]:
    """Five events, the second with a time beyond 9999 and the fourth with data that is not JSON."""
    hub, url, _ = hub_on
    ids = (await hub.append([event(i) for i in range(5)], source=None)).ids
    sql(url, "UPDATE events SET occurred_us = ? WHERE id = ?", (BEYOND_9999_US, ids[1]))
    sql(url, "UPDATE events SET data = ? WHERE id = ?", ('{"percent": "3', ids[3]))
    return ids


async def test_sealing_goes_on_and_verify_names_each_unreadable_event(hub_on):
    hub, url, _ = hub_on
    ids = await spoil(hub_on)
    blocks = await hub.seal()
    assert [b.count for b in blocks] == [5]
    later = (await hub.append([event(i) for i in range(5, 8)], source=None)).ids
    assert [b.count for b in await hub.seal()] == [3]  # what comes after is sealed too

    report = await hub.store.call(verify, hub.store)
    assert not report.ok and report.problem is None  # not altered: unreadable
    assert report.blocks == 2 and report.events == 8 and report.unreadable == 2
    assert [(f["id"], f["block"]) for f in report.unreadable_events] == [(ids[1], 0), (ids[3], 0)]
    assert "outside years 1-9999" in report.unreadable_events[0]["problem"]
    assert "not valid JSON" in report.unreadable_events[1]["problem"]

    proof = await hub.store.call(prove, hub.store, ids[1])  # sealed as stored, and provably so
    assert check_proof(proof)[0] and proof["event"]["stored"]["occurred_us"] == BEYOND_9999_US
    assert check_proof(await hub.store.call(prove, hub.store, later[0]))[0]

    # sealed as its stored bytes: "repairing" the row afterwards is an alteration, named as such
    sql(url, "UPDATE events SET data = ? WHERE id = ?", ('{"percent": "3"}', ids[3]))
    report = await hub.store.call(verify, hub.store)
    assert report.problem == f"block 0: event {ids[3]} was altered"


async def test_verify_cli_reports_a_finding_not_a_traceback(hub_on, workdir):
    hub, _, _ = hub_on
    ids = await spoil(hub_on)
    await hub.seal()
    (await hub.append([event(9)], source=None))  # one more, not sealed yet
    run = subprocess.run([sys.executable, "-m", "hub.cli", "verify", "--config", "hub.yaml"], cwd=workdir,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and "ledger unaltered: 1 block(s), 5 sealed event(s), 1 not sealed yet" in run.stdout
    assert f"UNREADABLE EVENT: event {ids[1]} (seq 2, block 0): occurred_us is outside years 1-9999" in run.stderr
    assert f"UNREADABLE EVENT: event {ids[3]} (seq 4, block 0): a JSON column is not valid JSON" in run.stderr
    as_json = subprocess.run([sys.executable, "-m", "hub.cli", "verify", "--json", "--config", "hub.yaml"],
                             cwd=workdir, capture_output=True, text=True, timeout=60)
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["ok"] is False and report["unreadable"] == 2


async def test_projection_skips_and_names_the_unreadable_event(hub_on):
    hub, url, _ = hub_on
    ids = await spoil(hub_on)
    assert await hub.project() == 5
    journeys = await hub.store.call(hub.store.journeys)
    named = {u["event"]: u["problem"] for j in journeys for u in j.get("unreadable", [])}
    assert set(named) == {ids[1], ids[3]}
    assert sorted(p["event"] for j in journeys for p in j["progress"]) == sorted([ids[0], ids[2], ids[4]])
    (await hub.append([event(5)], source=None))
    assert await hub.project() == 1  # the cursor went past them


async def test_delivery_dead_letters_the_unreadable_and_delivers_the_rest(hub_on):
    hub, url, peer = hub_on
    ids = await spoil(hub_on)
    stats = await hub.dispatcher.deliver_due("crm")
    assert stats.dead == 2 and stats.delivered == 3
    assert sorted(peer.ids) == sorted([ids[0], ids[2], ids[4]])
    dead = await hub.store.call(hub.store.dead_letters, sink="crm")
    assert {d.event_id: d.stage for d in dead} == {ids[1]: "deliver", ids[3]: "deliver"}
    assert all(d.error.startswith("deliver: stored event cannot be read: ") for d in dead)
    assert await hub.store.call(hub.store.outbox_counts) == {("crm", "delivered"): 3, ("crm", "dead"): 2}


async def test_get_event_answers_422_for_an_unreadable_row(hub_on, aiohttp_server_factory):
    hub, _, _ = hub_on
    ids = await spoil(hub_on)
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}",
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        async with client.get(f"/api/events/{ids[1]}") as response:
            assert response.status == 422 and response.content_type == "application/json"
            body = await response.json()
        assert body["error"] == "stored event cannot be read" and body["id"] == ids[1] and body["seq"] == 2
        assert "outside years 1-9999" in body["problem"]
        async with client.get(f"/api/events/{ids[0]}") as response:
            assert response.status == 200


GOOD = {"seq": 7, "id": "01M8GNXEM6A72ASP136HWB0C4S", "type": "lms.progress", "occurred_us": 0,
        "received_at": "2026-10-05T08:00:00.000000Z", "source": "api", "source_id": "x", "learner": None,
        "learner_key": None, "action": None, "data": "{}", "evidence": None, "supersedes": None, "learner_id": None}


@pytest.mark.parametrize("column, value, problem", [
    ("occurred_us", -62_135_596_800_000_001, "occurred_us is outside years 1-9999"),
    ("occurred_us", "soon", "occurred_us is not an integer ('soon')"),
    ("data", "[1, 2]", "data holds JSON list, not an object"),
    ("data", "null", "data is empty or null, not an object"),
    ("learner", '"u1"', "learner holds JSON str, not an object"),
    ("evidence", "{}", "evidence holds JSON dict, not a list"),
    ("data", '{"a": "\\ud800"}', "data holds an unpaired surrogate escape: not valid Unicode"),
    ("data", b'{"a": 1}', "data is not text (bytes)"),
])
def test_a_row_that_cannot_be_decoded_comes_back_marked_with_its_stored_columns(column, value, problem):
    from hub.ledger.merkle import leaf_hash
    from hub.store.base import event_dict

    event = event_dict({**GOOD, column: value})
    assert problem in event["unreadable"] and event["id"] == GOOD["id"] and event["seq"] == 7
    assert event["data"] == {} and event["stored"]["source_id"] == "x"
    assert len(leaf_hash(event)) == 32  # sealable whatever it holds
    assert "unreadable" not in event_dict(GOOD) and event_dict({**GOOD, "data": '{"a": "\\ud83d\\ude00"}'})["data"] == {"a": "😀"}


async def test_plain_readers_skip_unreadable_rows_and_a_lookup_names_them(store_factory, hub_on):
    from hub.store.base import UnreadableEvent

    hub, _, _ = hub_on
    ids = await spoil(hub_on)
    store = hub.store
    assert [e["id"] for e in await store.call(lambda: list(store.iter_events()))] == [ids[0], ids[2], ids[4]]
    assert [e["id"] for e in await store.call(lambda: list(store.iter_events(limit=2)))] == [ids[0], ids[2]]
    assert len(await store.call(lambda: list(store.iter_events(unreadable=True)))) == 5
    with pytest.raises(UnreadableEvent, match=f"event {ids[3]} \\(seq 4\\) is stored but cannot be read"):
        await store.call(store.get_event, ids[3])
    assert (await store.call(store.get_event, ids[3], unreadable=True))["unreadable"]


async def test_following_up_an_unreadable_alert_is_a_clear_error(hub_on, workdir):
    import asyncio
    import subprocess
    import sys

    ids = await spoil(hub_on)
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "hub.cli", "alerts", "follow-up", ids[1], "--note", "called",
                         "--config", str(workdir / "hub.yaml")], cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 1 and "cannot be read" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


async def test_a_document_whose_ledger_record_is_unreadable_is_not_valid():
    from hub.documents.verify import verify_payload
    from hub.store.base import UnreadableEvent

    async def load(doc_id):
        raise UnreadableEvent({"id": doc_id, "seq": 7, "unreadable": "data is not JSON"})

    verdict = await verify_payload("01ARZ3NDEKTSV4RRFFQ69G5FAV", None, keys={}, load=load)
    assert verdict.status == "altered" and "cannot be read" in verdict.reason

