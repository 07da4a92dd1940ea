"""A database outage is a pause, not a stop: loops survive store errors, requests answer 503 with
Retry-After, /readyz says what is not running. The end-to-end PostgreSQL outage is in
tests/test_outage_postgres.py."""

from __future__ import annotations

import asyncio
import sqlite3

import aiohttp
import orjson
import pytest

from hub.connector import Schedule
from hub.runtime.scheduler import HubScheduler, Job
from hub.runtime.server import build_app
from tests.conftest import TOKEN, event, sign, wait_for
from tests.test_dispatch import sink_config

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def outage() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database is locked")


def fail_once(store, *names: str) -> list[str]:
    """Make each store method in ``names`` raise an outage error on its first call; returns the calls that failed."""
    failed: list[str] = []
    for name in names:
        real = getattr(store, name)

        def flaky(*args, _real=real, _name=name, **kwargs):
            if _name not in failed:
                failed.append(_name)
                raise outage()
            return _real(*args, **kwargs)

        setattr(store, name, flaky)
    return failed


@pytest.mark.parametrize("method", ["claim", "mark_delivered", "sink_state", "head_due"])
async def test_a_store_error_pauses_the_delivery_loop_and_it_resumes(make_hub, sink_peer, method):
    hub = await make_hub(sink_config(sink_peer.url))
    failed = fail_once(hub.store, method)
    loop = asyncio.create_task(hub.dispatcher.sink_loop("crm"))
    ids = (await hub.append([event(i) for i in range(5)], source=None)).ids
    try:
        assert await wait_for(lambda: failed == [method] and sorted(sink_peer.ids) == sorted(ids), timeout=10)
        for _ in range(3):  # the batch the error interrupted is recorded, not left in flight
            more = (await hub.append([event(100 + _)], source=None)).ids
            ids += more
        assert await wait_for(lambda: set(sink_peer.ids) == set(ids), timeout=10)

        async def settled():
            return await hub.store.call(hub.store.outbox_counts) == {("crm", "delivered"): len(ids)}

        for _ in range(200):
            if await settled():
                break
            await asyncio.sleep(0.02)
        assert await settled()
        assert not loop.done()
    finally:
        hub.dispatcher.stop()
        await asyncio.wait_for(loop, timeout=5)
    if method == "mark_delivered":  # the sink had the batch: it is recorded, not sent again
        assert len(sink_peer.ids) == len(ids)


async def test_a_dead_loop_is_restarted_and_readyz_says_so_meanwhile(make_hub, aiohttp_server_factory):
    hub = await make_hub("")
    hub.loops.initial = hub.loops.maximum = 0.5
    runs = []

    async def dies_once():
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom")
        await hub.dispatcher._stopping.wait()  # ends when the hub stops

    hub.loops.start("dispatch:crm", dies_once)
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        assert await wait_for(lambda: runs == [1])
        async with client.get("/readyz") as r:
            body = await r.json()
            assert r.status == 503 and body["status"] == "not ready" and body["loops"] == {"dispatch:crm": False}
        assert await wait_for(lambda: len(runs) == 2, timeout=5)
        async with client.get("/readyz") as r:
            body = await r.json()
            assert r.status == 200 and body["status"] == "ok" and body["loops"] == {"dispatch:crm": True}
    assert hub.loops.states["dispatch:crm"].restarts == 1


async def test_store_errors_on_requests_answer_503_with_retry_after(make_hub, aiohttp_server_factory, capfd):
    hub = await make_hub("""
        connectors:
          signed: {kind: test_signed_hook, secret: "${file:secrets/hook}"}
        """)
    server = await aiohttp_server_factory(build_app(hub))
    fail_once(hub.store, "ingest", "get_event", "schema_version", "dead_letters")
    hook = orjson.dumps([event(7)])
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        async with client.post("/api/events", json=[event(1)], headers=AUTH) as r:
            assert r.status == 503 and r.headers["Retry-After"] == "5" and r.content_type == "application/json"
            assert "nothing was stored" in (await r.json())["error"]
        fail_once(hub.store, "ingest")  # again, for the webhook
        async with client.post("/webhooks/signed", data=hook, headers={"X-Sig": sign("hook-secret-value-42", hook)}) as r:
            assert r.status == 503 and r.headers["Retry-After"] == "5"
        async with client.get("/api/events/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=AUTH) as r:  # a well-formed id
            assert r.status == 503 and r.headers["Retry-After"]
        async with client.get("/api/dlq", headers=AUTH) as r:
            assert r.status == 503 and r.headers["Retry-After"]
        async with client.get("/readyz") as r:
            assert r.status == 503 and (await r.json())["store"] == {"ok": False}
        async with client.post("/api/events", json=[event(1)], headers=AUTH) as r:  # the store is back
            assert r.status == 202
        async with client.get("/readyz") as r:
            assert r.status == 200
    assert await hub.store.call(hub.store.count_events) == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert err.count("store unavailable, request refused") == 4


async def test_scheduler_survives_lease_errors_and_stops_cleanly(make_hub):
    hub = await make_hub("")
    scheduler = HubScheduler([], hub.store, timezone=hub.config.timezone, log=hub.log)
    failed = fail_once(hub.store, "lease_holder")
    await scheduler.start()  # the first renewal fails: logged, not raised
    assert failed == ["lease_holder"] and not scheduler.is_leader and scheduler.running
    await scheduler._renew()
    assert scheduler.is_leader
    fail_once(hub.store, "release_lease")
    await scheduler.stop()  # the store is down while stopping: the lease expires by itself
    assert not scheduler.running


async def test_a_job_failing_on_the_store_logs_one_line_and_stays_scheduled(make_hub, capfd):
    hub = await make_hub("")
    runs = []

    async def seal_like():
        runs.append(1)
        if len(runs) == 1:
            raise outage()

    scheduler = HubScheduler([Job("seal", Schedule(every="1h"), seal_like)], hub.store,
                             timezone=hub.config.timezone, log=hub.log)
    await scheduler.start()
    try:
        assert await wait_for(lambda: runs == [1])
        await scheduler._guarded(scheduler.jobs[0])  # its next run: it works again
        assert runs == [1, 1] and scheduler.scheduler.get_job("seal") is not None
    finally:
        await scheduler.stop()
    err = capfd.readouterr().err
    assert "job failed: store unavailable" in err and "Traceback" not in err


async def test_a_pull_cut_by_the_store_is_retried_whole_by_the_next_run(make_hub, workdir, capfd):
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "a.ndjson").write_text("\n".join(orjson.dumps(event(i)).decode() for i in range(3)) + "\n")
    hub = await make_hub("""
        connectors:
          inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1s}}
        """)
    fail_once(hub.store, "ingest")
    with pytest.raises(sqlite3.OperationalError):  # the job fails in one warning line (see the scheduler)
        await hub.pull("inbox")
    assert await hub.store.call(hub.store.count_events) == 0
    summary = await hub.pull("inbox")
    assert summary.ok and summary.appended == 3
    assert "Traceback" not in capfd.readouterr().err
