"""A sink down for hours: its backlog stays (no dead letters for being unreachable), shows in the
metrics, and drains in outbox order once the sink is back, no faster than its ``rate_limit``;
webhook deliveries carry an idempotency key a receiver de-duplicates on."""

from __future__ import annotations

import socket
import time

import orjson
import pytest
from aiohttp import web
from pydantic import ValidationError

from connectors.webhook_out import IDEMPOTENCY_HEADER, batch_key
from hub.connector import DeliveryOverrides
from tests.conftest import event
from tests.test_dispatch import sink_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gauge(hub, name: str, sink: str) -> float | None:
    return hub.metrics.registry.get_sample_value(name, {"sink": sink})


class Receiver:
    """The sink once it is back: records each request's events and arrival time."""

    def __init__(self):
        self.batches: list[tuple[float, list[str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        events = orjson.loads(await request.read())["events"]
        self.batches.append((time.monotonic(), [e["id"] for e in events]))
        return web.Response(status=200)


async def test_a_sink_down_keeps_its_backlog_then_drains_in_order_at_its_rate(make_hub):
    port = free_port()
    hub = await make_hub(sink_config(f"http://127.0.0.1:{port}/hook",
                                     "    delivery: {max_attempts: 2, rate_limit: 20/s}"))
    ids = (await hub.append([event(i) for i in range(70)], source=None)).ids

    # down: connection refused, many more times than max_attempts, and nothing dead-lettered
    failures = 0
    for _ in range(400):
        stats = await hub.dispatcher.deliver_due("crm")
        assert stats.dead == 0 and stats.delivered == 0
        failures += stats.retried > 0
        if failures == 5:
            break
        time.sleep(0.01)
    assert failures == 5
    assert await hub.store.call(hub.store.dead_letters, sink="crm") == []
    await hub.store.call(hub.metrics.refresh, hub.store, [], hub.config.sinks())
    assert gauge(hub, "parcours_outbox_backlog", "crm") == 70
    assert gauge(hub, "parcours_outbox_oldest_age_seconds", "crm") > 0
    # only the head batch (20 events: one second at 20/s) was ever tried: the rest waits behind it
    counts = await hub.store.call(hub.store.outbox_counts)
    assert counts == {("crm", "pending"): 70}

    # back up on the same port
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        for _ in range(200):
            await hub.dispatcher.deliver_due("crm")
            if sum(len(b) for _, b in receiver.batches) == 70:
                break
            time.sleep(0.02)
    finally:
        await runner.cleanup()
    got = [i for _, batch in receiver.batches for i in batch]
    assert got == ids  # in order, each once
    assert max(len(b) for _, b in receiver.batches) <= 20
    # 70 events at 20/s: the last batch starts no earlier than 50 events / 20 per second after the first
    span = receiver.batches[-1][0] - receiver.batches[0][0]
    assert span >= (70 - 20) / 20 * 0.95
    await hub.store.call(hub.metrics.refresh, hub.store, [], hub.config.sinks())
    assert gauge(hub, "parcours_outbox_backlog", "crm") == 0
    assert gauge(hub, "parcours_outbox_oldest_age_seconds", "crm") == 0


async def test_a_failed_batch_is_not_overtaken_by_later_events(make_hub, sink_peer):
    hub = await make_hub(sink_config(sink_peer.url, "    delivery: {batch_size: 2}"))
    ids = (await hub.append([event(i) for i in range(6)], source=None)).ids
    sink_peer.statuses = [429]
    sink_peer.retry_after = "1"
    first = await hub.dispatcher.deliver_due("crm")
    assert first.retried == 2
    # while the first batch waits for its retry, the later events wait too
    assert (await hub.dispatcher.deliver_due("crm")).batches == 0 and sink_peer.ids == []
    for _ in range(200):
        await hub.dispatcher.deliver_due("crm")
        if len(sink_peer.ids) == 6:
            break
        time.sleep(0.02)
    assert sink_peer.ids == ids


async def test_http_errors_still_dead_letter_after_max_attempts(make_hub, sink_peer):
    hub = await make_hub(sink_config(sink_peer.url, "    delivery: {max_attempts: 2}"))
    sink_peer.statuses = [500] * 10
    await hub.append([event(1)], source=None)
    for _ in range(200):
        await hub.dispatcher.deliver_due("crm")
        if await hub.store.call(hub.store.dead_letters, sink="crm"):
            break
        time.sleep(0.01)
    (letter,) = await hub.store.call(hub.store.dead_letters, sink="crm")
    assert letter.attempts == 2


@pytest.mark.parametrize("bad", ["0/s", "fast", "5/day", "-1/s"])
def test_a_bad_rate_limit_is_refused(bad):
    with pytest.raises(ValidationError, match="rate_limit"):
        DeliveryOverrides(rate_limit=bad)


async def test_a_receiver_de_duplicates_a_retried_batch_on_its_idempotency_key(make_hub, aiohttp_server_factory):
    stored: dict[str, dict] = {}  # what the receiver keeps, by per-event key
    keys: list[str] = []
    answers = [503]  # the first request is processed but its answer is lost (the hub sees 503)

    async def handle(request):
        keys.append(request.headers[IDEMPOTENCY_HEADER])
        for e in orjson.loads(await request.read())["events"]:
            stored.setdefault(e["id"], e)
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = await aiohttp_server_factory(app)
    hub = await make_hub(sink_config(f"http://127.0.0.1:{server.port}/hook"))
    ids = (await hub.append([event(i) for i in range(3)], source=None)).ids
    for _ in range(100):
        await hub.dispatcher.deliver_due("crm")
        if len(keys) == 2:
            break
        time.sleep(0.02)
    assert keys == [batch_key(ids), batch_key(ids)]  # the same key on the retry
    assert keys[0].startswith("sha256:") and batch_key([ids[0]]) == ids[0]
    assert list(stored) == ids  # each event kept once
    assert await hub.store.call(hub.store.outbox_counts) == {("crm", "delivered"): 3}


async def test_narrowing_a_refused_batch_stops_at_a_retry_and_keeps_the_order(make_hub, aiohttp_server_factory):
    got, calls = [], []

    async def handle(request):
        events = orjson.loads(await request.read())["events"]
        calls.append([e["source_id"] for e in events])
        if len(events) > 1:
            return web.Response(status=422)  # refuse the batch: the hub narrows it down one by one
        if events[0]["source_id"] == "evt-1" and sum(c == ["evt-1"] for c in calls) == 1:
            return web.Response(status=503)  # evt-1 fails once, transiently
        got.append(events[0]["source_id"])
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = await aiohttp_server_factory(app)
    hub = await make_hub(sink_config(f"http://127.0.0.1:{server.port}/hook"))
    await hub.append([event(i) for i in range(4)], source=None)
    first = await hub.dispatcher.deliver_due("crm")
    assert first.delivered == 1 and first.retried == 1 and got == ["evt-0"]
    for _ in range(100):
        await hub.dispatcher.deliver_due("crm")
        if len(got) == 4:
            break
        time.sleep(0.02)
    assert got == ["evt-0", "evt-1", "evt-2", "evt-3"]
