import pytest

from hub.events import EventValidationError
from tests.conftest import event

SINKS = """
connectors:
  inbox: {kind: file_drop, path: inbox}
  all: {kind: ndjson_out, directory: out/all}
  lms: {kind: ndjson_out, directory: out/lms}
  atlas: {kind: ndjson_out, directory: out/atlas}
routes:
  - {name: everything, from: "*", to: all}
  - {name: lms-only, from: [api], when: {types: ["lms.*"], actions: ["ACT-*"]}, to: [lms, all]}
  - {name: atlas, from: "*", when: {types: ["attendance.*", "lms.*"], funders: [opco-atlas]}, to: atlas}
"""


async def counts(hub):
    return await hub.store.call(hub.store.outbox_counts)


async def test_routes_by_type_action_and_source(make_hub):
    hub = await make_hub(SINKS)
    result = await hub.append(
        [event(1), event(2, action="OTHER-1"), event(3, "enrolment.started", data={})], source=None
    )
    assert result.appended == 3
    c = await counts(hub)
    # all three to "all" (once each, even when two routes name it), only ACT-* lms events to "lms"
    assert c == {("all", "pending"): 3, ("lms", "pending"): 1}


async def test_routes_by_funder_of_the_enrolment(make_hub):
    hub = await make_hub(SINKS)
    funding = event(10, "funding.approved", data={"funder": "opco-atlas", "funder_kind": "opco"})
    # the same learner (by e-mail) in the same action; a second learner has no Atlas funding
    await hub.append([funding], source=None)
    await hub.append([event(10, source_id="p1"), event(11, source_id="p2")], source=None)
    c = await counts(hub)
    assert c[("atlas", "pending")] == 1
    pending = await hub.store.call(hub.store.claim, "atlas", limit=10, now=1e12, owner="t", lease_seconds=5)
    assert [p.event["source_id"] for p in pending] == ["p1"]


async def test_ingest_is_idempotent_and_keeps_input_order(make_hub):
    hub = await make_hub(SINKS)
    first = await hub.append([event(1), event(2)], source=None)
    again = await hub.append([event(2), event(3), event(1), event(3)], source=None)
    assert again.ids[0] == first.ids[1] and again.ids[2] == first.ids[0]
    assert again.new == [False, True, False, False] and again.ids[1] == again.ids[3]
    assert await hub.store.call(hub.store.count_events) == 3


async def test_invalid_event_rejects_the_whole_batch(make_hub):
    hub = await make_hub(SINKS)
    with pytest.raises(EventValidationError):
        await hub.append([event(1), event(2, "lms.unknown")], source=None)
    assert await hub.store.call(hub.store.count_events) == 0
    assert await counts(hub) == {}


async def test_per_record_append_dead_letters_only_bad_records(make_hub):
    hub = await make_hub(SINKS)
    result = await hub.append([event(1), event(2, data={"percent": "250"}), event(3)], source="inbox",
                              cursor=("inbox", {"page": 1}), per_record=True)
    assert result.appended == 2 and result.rejects == 1
    stored = await hub.store.call(lambda: list(hub.store.iter_events()))
    assert [e["source_id"] for e in stored] == ["evt-1", "evt-3"]
    letters = await hub.store.call(hub.store.dead_letters)
    assert [(d.id.split(":")[0], d.stage) for d in letters] == [("r", "validate")]
    assert letters[0].payload["source_id"] == "evt-2"
    state = await hub.store.call(hub.store.source_state, "inbox")
    assert state.cursor == {"page": 1}


async def test_stored_event_round_trip(make_hub):
    hub = await make_hub(SINKS)
    result = await hub.append([event(5, occurred_at="2026-10-05T10:00:00.250+02:00")], source=None)
    stored = await hub.store.call(hub.store.get_event, result.ids[0])
    assert stored["occurred_at"] == "2026-10-05T08:00:00.250000Z"
    assert stored["source"] == "api" and stored["data"] == {"percent": "5"}
    assert stored["learner"] == {"ref": "u5", "email": "u5@example.fr"}
