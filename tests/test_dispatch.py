import time

from connectors.webhook_out import verify
from hub.delivery.dispatch import backoff_seconds
from tests.conftest import event


def sink_config(url: str, extra: str = "") -> str:
    return f"""
connectors:
  crm:
    kind: webhook_out
    url: {url}
    secret: ${{file:secrets/hook}}
{extra}
routes:
  - {{name: to-crm, from: [api], to: crm}}
"""


async def test_server_error_then_success_is_delivered_after_retries(make_hub, sink_peer):
    hub = await make_hub(sink_config(sink_peer.url))
    sink_peer.statuses = [500, 503]
    ids = (await hub.append([event(1), event(2)], source=None)).ids
    stats = await hub.dispatcher.deliver_due("crm")
    assert stats.retried == 2 and stats.delivered == 0
    for _ in range(100):
        time.sleep(0.02)
        stats = await hub.dispatcher.deliver_due("crm")
        if sink_peer.received:
            break
    assert sink_peer.ids == ids
    counts = await hub.store.call(hub.store.outbox_counts)
    assert counts == {("crm", "delivered"): 2}
    # the receiver can verify the signature of what it got
    header = sink_peer.headers[0]["Parcours-Signature"]
    assert header.startswith("t=") and ",v1=" in header


async def test_signature_verifies_with_the_shared_secret():
    body = b'{"events": []}'
    from connectors.webhook_out import sign

    header = sign(b"k", body, int(time.time()))
    assert verify(b"k", body, header)
    assert not verify(b"other", body, header)
    assert not verify(b"k", body + b" ", header)
    assert not verify(b"k", body, sign(b"k", body, int(time.time()) - 3600))


async def test_bad_request_dead_letters_then_replay_delivers(make_hub, sink_peer):
    hub = await make_hub(sink_config(sink_peer.url))
    sink_peer.statuses = [400]
    ids = (await hub.append([event(1)], source=None)).ids
    stats = await hub.dispatcher.deliver_due("crm")
    assert stats.dead == 1
    (letter,) = await hub.store.call(hub.store.dead_letters, sink="crm")
    assert letter.stage == "deliver" and letter.event_id == ids[0] and "HTTP 400" in letter.error
    # the sink is fixed (it now answers 200): replay
    summary = await hub.dead_letters.replay(sink="crm", actor="tester")
    assert summary["requeued"] == 1
    stats = await hub.dispatcher.deliver_due("crm")
    assert stats.delivered == 1 and sink_peer.ids == ids
    assert await hub.store.call(hub.store.dead_letters, sink="crm") == []
    # the replay itself is in the ledger
    actions = list(await hub.store.call(lambda: list(hub.store.iter_events(types=["admin.action"]))))
    assert actions and actions[0]["data"]["actor"] == "tester" and actions[0]["data"]["command"] == "dlq replay"


async def test_one_poison_event_does_not_dead_letter_its_batch(make_hub, aiohttp_server_factory):
    import orjson
    from aiohttp import web

    got = []

    async def handle(request):
        events = orjson.loads(await request.read())["events"]
        if any(e["source_id"] == "evt-3" for e in events):
            return web.Response(status=422)
        got.extend(e["source_id"] for e in events)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = await aiohttp_server_factory(app)
    hub = await make_hub(sink_config(f"http://127.0.0.1:{server.port}/hook"))
    await hub.append([event(i) for i in range(6)], source=None)
    stats = await hub.dispatcher.deliver_due("crm")
    assert stats.delivered == 5 and stats.dead == 1
    assert sorted(got) == ["evt-0", "evt-1", "evt-2", "evt-4", "evt-5"]


async def test_max_attempts_then_dead_letter(make_hub, sink_peer):
    hub = await make_hub(sink_config(sink_peer.url, "    delivery: {max_attempts: 3}"))
    sink_peer.statuses = [500] * 10
    await hub.append([event(1)], source=None)
    for _ in range(200):
        await hub.dispatcher.deliver_due("crm")
        if await hub.store.call(hub.store.dead_letters, sink="crm"):
            break
        time.sleep(0.01)
    (letter,) = await hub.store.call(hub.store.dead_letters, sink="crm")
    assert letter.attempts == 3 and "HTTP 500" in letter.error


async def test_rate_limit_honours_retry_after_and_sink_pauses(make_hub, sink_peer):
    extra = "hub:\n  delivery: {pause_after_failures: 1, pause_for: 1s}\n"
    hub = await make_hub(sink_config(sink_peer.url))
    hub.config.hub.delivery.pause_after_failures = 1
    sink_peer.statuses = [429]
    sink_peer.retry_after = "120"
    await hub.append([event(1)], source=None)
    before = time.time()
    stats = await hub.dispatcher.deliver_due("crm")
    assert stats.retried == 1
    due = await hub.store.call(hub.store.next_due, "crm")
    assert due >= before + 119
    state = await hub.store.call(hub.store.sink_state, "crm")
    assert state.paused_until >= before + 119 and "RateLimitedError" in state.last_error
    # paused: nothing is attempted, even once the row is due
    assert (await hub.dispatcher.deliver_due("crm")).batches == 0
    assert extra  # (documented shape of the setting)


def test_backoff_grows_and_is_capped():
    from hub.config import DeliveryConfig

    policy = DeliveryConfig(backoff_initial="1s", backoff_max="60s")
    waits = [max(backoff_seconds(policy, n) for _ in range(50)) for n in (1, 3, 6, 12)]
    assert waits[0] <= 2 and waits[1] <= 8 and waits[2] <= 60 and waits[3] <= 60
    assert waits[2] > waits[0]


async def test_a_replay_goes_on_past_a_record_whose_mapping_crashes(make_hub):
    """One record whose mapping raises (a KeyError in a connector) fails alone, the others are
    appended, and the replay is recorded."""
    from hub.delivery.dlq import DeadLetters
    from hub.store.base import RejectRow

    class Mapper:
        def map_record(self, payload):
            if payload["n"] == 2:
                raise KeyError("title")
            return [event(payload["n"])]

    hub = await make_hub(sink_config("http://127.0.0.1:9/unused"))
    rejects = [RejectRow("lms", "map", "no title yet", f'{{"n": {n}}}', f"r{n}") for n in (1, 2, 3)]
    await hub.append([], source="lms", rejects=rejects, per_record=True)
    letters = DeadLetters(hub.store, {"lms": Mapper()}, hub.append, hub.dispatcher.wake)
    summary = await letters.replay(source="lms", actor="tester")
    assert summary["replayed"] == 2 and len(summary["errors"]) == 1 and "KeyError" in summary["errors"][0]
    actions = await hub.store.call(lambda: list(hub.store.iter_events(types=["admin.action"])))
    assert [a["data"]["command"] for a in actions] == ["dlq replay"]


async def test_a_dead_letter_id_must_be_ascii_digits(make_hub):
    import pytest

    from hub.delivery.dlq import parse_ids
    from hub.errors import HubError

    assert parse_ids(["o:12", "r:3"]) == ([12], [3])
    for wrong in ("o:²", "r:١٢", "x:1", "o:"):
        with pytest.raises(HubError, match="invalid dead-letter id"):
            parse_ids([wrong])

