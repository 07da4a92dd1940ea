"""The store contract: the same tests against SQLite and PostgreSQL (see conftest.py).

Tests that need several connections open more stores on the same database through
``store_factory()``; the PostgreSQL-only ones check what only a server can do concurrently
(``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from hub.timefmt import format_us
from hub.store import Claimed, EventRow, RejectRow, SinkState, SourceState
from hub.store.base import DuplicateAccount

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
_counter = iter(range(1, 10**9))


def row(source: str = "moodle", source_id: str | None = None, *, type: str = "lms.session",
        learner: dict | None = None, learner_key: str | None = None, action: str | None = None,
        data: dict | None = None, evidence: list | None = None, event_id: str | None = None) -> EventRow:
    n = next(_counter)
    return EventRow(
        # Deliberately not sortable in creation order: the ledger order must be the input order.
        id=event_id or f"EV{(n * 7919) % 100003:06d}-{n}",
        type=type,
        occurred_us=T0 + n,
        received_at="2026-01-01T00:00:01.000000Z",
        source=source,
        source_id=source_id if source_id is not None else f"s{n}",
        learner=json.dumps(learner) if learner is not None else None,
        learner_key=learner_key,
        action=action,
        data=json.dumps(data if data is not None else {"n": n}),
        evidence=json.dumps(evidence) if evidence is not None else None,
        supersedes=None,
    )


def funding(learner_key: str, action: str, funder: str, **kw) -> EventRow:
    return row("crm", type="funding.approved", learner={"ref": learner_key}, learner_key=learner_key,
               action=action, data={"funder": funder}, **kw)


def to_sink(*sinks: str, route_name: str = "r1"):
    """A route callback sending every row to ``sinks``."""
    def route(rows, funders, consents=None):
        return [[(s, route_name) for s in sinks] for _ in rows]
    return route


def expected_dict(r: EventRow, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": r.id,
        "type": r.type,
        "occurred_at": format_us(r.occurred_us),
        "received_at": r.received_at,
        "source": r.source,
        "source_id": r.source_id,
        "learner": json.loads(r.learner) if r.learner else None,
        "action": r.action,
        "data": json.loads(r.data),
        "evidence": json.loads(r.evidence) if r.evidence else [],
        "supersedes": r.supersedes,
        "learner_id": r.learner_id,
    }


def run_threads(n: int, target) -> list[Any]:
    """Run ``target(i)`` in ``n`` threads started together; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    if errors:
        raise errors[0]
    return results


# ---------------------------------------------------------------------------- lifecycle


def test_migrate_from_empty_then_idempotent(store_factory):
    store = store_factory(migrate=False)
    assert store.schema_version() == 0
    applied = store.migrate()
    assert applied and applied == sorted(applied)
    assert store.schema_version() == applied[-1]
    assert store.migrate() == []
    other = store_factory()  # open_store migrates: nothing left to do
    assert other.schema_version() == applied[-1]
    assert other.migrate() == []


def test_concurrent_migrations_apply_each_version_once(store_factory):
    stores = [store_factory(migrate=False) for _ in range(3)]
    results = run_threads(3, lambda i: stores[i].migrate())
    applied = [v for r in results for v in r]
    assert sorted(applied) == sorted(set(applied))  # no version twice
    assert stores[0].schema_version() == max(applied)
    assert all(s.schema_version() == max(applied) for s in stores)


def test_close_then_reopen(store_factory):
    store = store_factory()
    r = row()
    store.ingest([r], None)
    store.close()
    assert store.get_event(r.id)["id"] == r.id  # reconnects lazily, like SQLite
    store.close()


# ---------------------------------------------------------------------------- ingest


def test_ingest_appends_in_input_order(store):
    rows = [row(learner={"ref": "u1", "email": "a@b.fr"}, evidence=[{"sha256": "ab" * 32}]) for _ in range(30)]
    result = store.ingest(rows, None)
    assert result.ids == [r.id for r in rows]
    assert result.new == [True] * 30
    assert (result.appended, result.duplicates, result.outbox_rows, result.rejects) == (30, 0, 0, 0)
    assert store.count_events() == 30
    events = list(store.iter_events())
    assert [e["id"] for e in events] == [r.id for r in rows]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 30
    for r, e in zip(rows, events):
        assert e == expected_dict(r, e["seq"])


def test_seqs_are_gap_free(store):
    """Blocks of the ledger cover contiguous seq ranges: no seq is burnt by duplicates or rollbacks."""
    store.ingest([row(source_id="a"), row(source_id="a"), row(source_id="b")], to_sink("crm"))

    def broken(rows, funders, consents=None):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store.ingest([row(source_id="c"), row(source_id="d")], broken)
    store.ingest([row(source_id="b"), row(source_id="e")], to_sink("crm"))
    store.ingest([row(source_id="f")], None)
    assert [e["seq"] for e in store.iter_events()] == [1, 2, 3, 4]


def test_ingest_empty_batch(store):
    result = store.ingest([], None)
    assert (result.ids, result.new, result.outbox_rows, result.rejects) == ([], [], 0, 0)
    assert store.count_events() == 0


def test_dedupe_within_a_batch(store):
    a, a_again, b = row(source_id="k1"), row(source_id="k1"), row(source_id="k2")
    other_source = row(source="stripe", source_id="k1")
    result = store.ingest([a, a_again, b, other_source], to_sink("crm"))
    assert result.ids == [a.id, a.id, b.id, other_source.id]
    assert result.new == [True, False, True, True]
    assert result.outbox_rows == 3
    assert store.count_events() == 3
    assert store.get_event(a_again.id) is None


def test_dedupe_across_batches(store):
    first = [row(source_id="k1"), row(source_id="k2")]
    store.ingest(first, to_sink("crm"))
    batch = [row(source_id="k3"), row(source_id="k2"), row(source_id="k4"), row(source_id="k1")]
    result = store.ingest(batch, to_sink("crm"))
    assert result.ids == [batch[0].id, first[1].id, batch[2].id, first[0].id]
    assert result.new == [True, False, True, False]
    assert (result.appended, result.duplicates, result.outbox_rows) == (2, 2, 2)
    assert store.count_events() == 4
    assert store.outbox_counts() == {("crm", "pending"): 4}
    # a pure replay: nothing new, nothing queued
    again = store.ingest([row(source_id=f"k{i}") for i in range(1, 5)], to_sink("crm"))
    assert again.new == [False] * 4 and again.outbox_rows == 0
    assert store.count_events() == 4


def test_route_callback_creates_outbox_rows(store):
    def route(rows, funders, consents=None):
        out = []
        for r in rows:
            if r.type == "lms.session":
                out.append([("crm", "sessions"), ("lrs", "all")])
            else:
                out.append([("lrs", "all")])
        return out

    rows = [row(), row(type="lms.progress"), row()]
    result = store.ingest(rows, route)
    assert result.outbox_rows == 5
    assert store.outbox_counts() == {("crm", "pending"): 2, ("lrs", "pending"): 3}
    assert store.outbox_backlog_by_source() == {("moodle", "crm"): 2, ("moodle", "lrs"): 3}  # by the events' source
    claimed = store.claim("crm", limit=10, now=time.time() + 1, owner="w", lease_seconds=60)
    assert [(c.event["id"], c.route, c.sink) for c in claimed] == [(rows[0].id, "sessions", "crm"),
                                                                   (rows[2].id, "sessions", "crm")]
    lrs = store.claim("lrs", limit=10, now=time.time() + 1, owner="w", lease_seconds=60)
    assert [c.event["id"] for c in lrs] == [r.id for r in rows]
    assert [c.event["seq"] for c in lrs] == [e["seq"] for e in store.iter_events()]


def test_route_sees_funders_from_the_funding_index(store):
    seen: list[dict] = []

    def route(rows, funders, consents=None):
        pairs = {(r.learner_key, r.action) for r in rows if r.learner_key and r.action}
        found = funders(pairs) if pairs else {}
        seen.append(found)
        return [[("opco", "opco")] if "opco-atlas" in found.get((r.learner_key, r.action), set()) else []
                for r in rows]

    # funding recorded in an earlier batch
    store.ingest([funding("email:a@b.fr", "ACT-1", "opco-atlas")], route)
    session = row(learner_key="email:a@b.fr", action="ACT-1")
    unfunded = row(learner_key="email:c@d.fr", action="ACT-1")
    result = store.ingest([session, unfunded], route)
    assert seen[-1] == {("email:a@b.fr", "ACT-1"): {"opco-atlas"}}
    assert result.outbox_rows == 1

    # funding and the funded event in the same batch: the index is written before routing
    batch = [funding("email:c@d.fr", "ACT-2", "region-idf"), funding("email:c@d.fr", "ACT-2", "opco-atlas"),
             row(learner_key="email:c@d.fr", action="ACT-2")]
    result = store.ingest(batch, route)
    assert seen[-1] == {("email:c@d.fr", "ACT-2"): {"region-idf", "opco-atlas"}}
    assert result.outbox_rows == 3  # the funding events and the session: all for a funded (learner, action)

    # the same funder approved twice: indexed once, no error
    store.ingest([funding("email:c@d.fr", "ACT-2", "opco-atlas")], route)
    assert seen[-1] == {("email:c@d.fr", "ACT-2"): {"region-idf", "opco-atlas"}}


def test_failed_route_stores_nothing(store):
    store.ingest([row(source_id="old")], None, source_cursor=("moodle", {"since": 1}))

    def broken(rows, funders, consents=None):
        funders({("email:x", "A")})
        raise RuntimeError("route exploded")

    with pytest.raises(RuntimeError, match="route exploded"):
        store.ingest([row(source_id="new"), funding("email:x", "A", "opco-atlas")], broken,
                     source_cursor=("moodle", {"since": 2}),
                     rejects=[RejectRow("moodle", "map", "bad", '{"x": 1}')])
    assert store.count_events() == 1
    assert store.source_state("moodle").cursor == {"since": 1}
    assert store.outbox_counts() == {}
    assert store.dead_letters() == []
    # the funding row was rolled back too: a later route does not see it
    seen = []
    store.ingest([row(learner_key="email:x", action="A")],
                 lambda rows, funders, consents=None: (seen.append(funders({("email:x", "A")})), [[] for _ in rows])[1])
    assert seen == [{}]
    # and the store is usable afterwards: the same keys go in
    result = store.ingest([row(source_id="new")], None, source_cursor=("moodle", {"since": 2}))
    assert result.new == [True]
    assert store.source_state("moodle").cursor == {"since": 2}


def test_cursor_committed_with_events(store):
    assert store.source_state("moodle") == SourceState("moodle")
    store.ingest([row()], None, source_cursor=("moodle", {"since": "2026-01-01", "page": [1, 2]}))
    assert store.source_state("moodle").cursor == {"since": "2026-01-01", "page": [1, 2]}
    store.ingest([], None, source_cursor=("moodle", "opaque-token"))  # a window with no events
    assert store.source_state("moodle").cursor == "opaque-token"


def test_record_pull_and_source_states(store):
    store.ingest([], None, source_cursor=("moodle", 5))
    store.record_pull("moodle", ok=True, error=None, at=100.0)
    store.record_pull("moodle", ok=False, error="timeout", at=200.0)
    store.record_pull("crm", ok=True, error=None, at=150.0)
    moodle = store.source_state("moodle")
    assert moodle == SourceState("moodle", 5, 200.0, 100.0, "timeout", False)
    assert [s.name for s in store.all_source_states()] == ["crm", "moodle"]
    store.record_pull("moodle", ok=True, error=None, at=300.0)
    assert store.source_state("moodle") == SourceState("moodle", 5, 300.0, 300.0, None, True)


def test_skipped_records_add_up_per_source_with_bounded_unmapped_values(store):
    from hub.connector import MAX_UNMAPPED

    store.add_skipped("lrs", {"opening": 2, "unmapped_verb": 1}, {"http://x/verb/a": 1})
    store.add_skipped("lrs", {"unmapped_verb": 2}, {"http://x/verb/a": 1, "http://x/verb/b": 1})
    store.add_skipped("lrs", {}, {})  # nothing to add
    assert store.source_state("lrs").skipped == {"reasons": {"opening": 2, "unmapped_verb": 3},
                                                 "unmapped": {"http://x/verb/a": 2, "http://x/verb/b": 1}}
    store.add_skipped("lrs", {"unmapped_verb": MAX_UNMAPPED}, {f"http://x/verb/{i:03d}": 1 for i in range(MAX_UNMAPPED)})
    unmapped = store.source_state("lrs").skipped["unmapped"]
    assert len(unmapped) == MAX_UNMAPPED + 1 and unmapped["http://x/verb/a"] == 2 and unmapped["(others)"] == 2  # b and 049: the rarest, then by name
    store.record_pull("lrs", ok=True, error=None, at=1.0)  # the pull's own record keeps the tally
    assert store.source_state("lrs").skipped["reasons"]["unmapped_verb"] == 3 + MAX_UNMAPPED
    assert store.source_state("crm").skipped is None


def test_rejects_are_dead_letters(store):
    rejects = [
        RejectRow("moodle", "map", "no user", json.dumps({"raw": 1}), "m-1"),
        RejectRow("moodle", "validate", "bad date", json.dumps({"raw": 2})),
        RejectRow("stripe", "validate", "bad amount", json.dumps([1, "x"]), "ch_1"),
    ]
    result = store.ingest([row()], None, rejects=rejects)
    assert result.rejects == 3 and result.appended == 1
    letters = store.dead_letters()
    assert [(d.stage, d.source, d.sink, d.event_id, d.error, d.attempts, d.payload) for d in letters] == [
        ("map", "moodle", None, None, "no user", 0, {"raw": 1}),
        ("validate", "moodle", None, None, "bad date", 0, {"raw": 2}),
        ("validate", "stripe", None, None, "bad amount", 0, [1, "x"]),
    ]
    assert all(d.id.startswith("r:") and d.id[2:].isdigit() for d in letters)
    assert all(d.created_at and d.failed_at == d.created_at for d in letters)
    assert store.dead_letter_counts() == {"map": 1, "validate": 2, "deliver": 0}
    assert [d.source for d in store.dead_letters(source="stripe")] == ["stripe"]
    assert store.dead_letters(sink="crm") == []  # a sink filter lists deliveries only

    taken = store.take_rejects(source="moodle")
    assert [r for _, r in taken] == rejects[:2]
    assert [f"r:{i}" for i, _ in taken] == [d.id for d in letters[:2]]
    ids = [i for i, _ in store.take_rejects()]
    assert store.take_rejects(reject_ids=[ids[2]])[0][1] == rejects[2]
    assert store.take_rejects(reject_ids=[]) == []

    store.mark_rejects_replayed([ids[0]], at=10.0, error="still no user")  # failed replay: stays open
    assert store.dead_letter_counts()["map"] == 1
    store.mark_rejects_replayed([ids[0], ids[1]], at=11.0)
    assert store.dead_letter_counts() == {"map": 0, "validate": 1, "deliver": 0}
    assert [i for i, _ in store.take_rejects()] == [ids[2]]
    assert [d.id for d in store.dead_letters()] == [f"r:{ids[2]}"]
    store.mark_rejects_replayed([], at=12.0)
    # one by its id, while it waits: a replayed one, an unknown one or a malformed id is none
    assert store.dead_letter(f"r:{ids[2]}") == store.dead_letters()[0]
    assert [store.dead_letter(i) for i in (f"r:{ids[0]}", "r:999999", "r:", "r:1x", "x:1", "", "r:" + "9" * 19)] == [None] * 7


# ---------------------------------------------------------------------------- delivery


def _queue(store, n: int, sink: str = "crm") -> list[EventRow]:
    rows = [row() for _ in range(n)]
    store.ingest(rows, to_sink(sink))
    return rows


def test_claim_deliver_fail_retry_dead(store):
    rows = _queue(store, 5)
    now = time.time() + 1
    first = store.claim("crm", limit=3, now=now, owner="w1", lease_seconds=60)
    assert all(isinstance(c, Claimed) for c in first)
    assert [c.event["id"] for c in first] == [r.id for r in rows[:3]]
    assert [c.event for c in first] == [store.get_event(r.id) for r in rows[:3]]
    assert all(c.sink == "crm" and c.route == "r1" and c.attempts == 0 and c.created_at <= now for c in first)
    ids = [c.outbox_id for c in first]
    assert ids == sorted(ids)
    rest = store.claim("crm", limit=10, now=now, owner="w2", lease_seconds=60)
    assert [c.event["id"] for c in rest] == [r.id for r in rows[3:]]
    assert store.claim("crm", limit=10, now=now, owner="w3", lease_seconds=60) == []
    assert store.claim("other", limit=10, now=now, owner="w3", lease_seconds=60) == []
    assert store.outbox_counts() == {("crm", "inflight"): 5}
    backlog = store.outbox_backlog()  # in flight counts as waiting until delivered
    assert list(backlog) == ["crm"] and backlog["crm"][0] == 5 and backlog["crm"][1] <= now

    store.mark_delivered([ids[0]], at=now)
    store.mark_failed([ids[1]], error="503", at=now, retry_at=now + 30)
    store.mark_failed([ids[2]], error="400 bad payload", at=now, retry_at=None)
    store.release([c.outbox_id for c in rest])
    store.mark_delivered([], at=now)
    store.mark_failed([], error="x", at=now, retry_at=None)
    store.release([])
    assert store.outbox_counts() == {("crm", "delivered"): 1, ("crm", "pending"): 3, ("crm", "dead"): 1}
    assert store.outbox_backlog_by_source() == {("moodle", "crm"): 3}  # pending only

    # released rows are due at once; the failed one only at its retry time
    assert store.next_due("crm") is not None and store.next_due("crm") <= now
    # ... and it is the sink's first pending row in outbox order: the sink's head waits for it
    assert store.head_due("crm") == pytest.approx(now + 30)
    assert store.head_due("other") is None
    assert store.outbox_backlog()["crm"][0] == 3  # the dead one no longer waits
    again = store.claim("crm", limit=10, now=now, owner="w1", lease_seconds=60)
    assert [c.outbox_id for c in again] == [c.outbox_id for c in rest]
    store.mark_delivered([c.outbox_id for c in again], at=now)
    assert store.next_due("crm") == pytest.approx(now + 30)
    assert store.next_due("other") is None
    assert store.claim("crm", limit=10, now=now + 29, owner="w1", lease_seconds=60) == []
    retried = store.claim("crm", limit=10, now=now + 30, owner="w1", lease_seconds=60)
    assert [(c.outbox_id, c.attempts) for c in retried] == [(ids[1], 1)]
    store.mark_failed([ids[1]], error="503 again", at=now + 31, retry_at=None, stage="deliver")
    assert store.next_due("crm") is None and store.head_due("crm") is None
    assert store.outbox_backlog() == {}

    letters = store.dead_letters()
    assert [(d.id, d.stage, d.sink, d.source, d.event_id, d.error, d.attempts, d.failed_at) for d in letters] == [
        (f"o:{ids[1]}", "deliver", "crm", "moodle", rows[1].id, "deliver: 503 again", 2, pytest.approx(now + 31)),
        (f"o:{ids[2]}", "deliver", "crm", "moodle", rows[2].id, "deliver: 400 bad payload", 1, pytest.approx(now)),
    ]
    assert store.dead_letters(source="moodle") == []  # a source filter lists rejects only
    assert store.dead_letters(sink="lrs") == []
    assert store.dead_letter_counts() == {"map": 0, "validate": 0, "deliver": 2}
    assert [store.dead_letter(d.id) for d in letters] == letters
    assert store.dead_letter(f"o:{ids[0]}") is None  # delivered: not a dead letter


def test_requeue_dead(store):
    _queue(store, 3, "crm")
    _queue(store, 1, "lrs")
    now = time.time() + 1
    crm = [c.outbox_id for c in store.claim("crm", limit=10, now=now, owner="w", lease_seconds=60)]
    lrs = [c.outbox_id for c in store.claim("lrs", limit=10, now=now, owner="w", lease_seconds=60)]
    store.mark_failed(crm + lrs, error="gone", at=now, retry_at=None)
    assert store.requeue_dead(outbox_ids=[], at=now) == 0
    assert store.requeue_dead(outbox_ids=[crm[0]], at=now + 5) == 1
    assert store.requeue_dead(sink="crm", outbox_ids=lrs, at=now + 5) == 0
    assert store.requeue_dead(sink="crm", at=now + 5) == 2
    assert store.requeue_dead(sink="crm", at=now + 5) == 0
    assert store.outbox_counts() == {("crm", "pending"): 3, ("lrs", "dead"): 1}
    assert [d.id for d in store.dead_letters()] == [f"o:{lrs[0]}"]
    assert store.next_due("crm") == pytest.approx(now + 5)
    back = store.claim("crm", limit=10, now=now + 5, owner="w", lease_seconds=60)
    assert [(c.outbox_id, c.attempts, c.created_at) for c in back] == [(i, 0, pytest.approx(now + 5)) for i in crm]
    assert store.requeue_dead(at=now + 6) == 1
    assert store.dead_letter_counts()["deliver"] == 0


def test_dead_letter_limit_bounds_the_whole_list(store):
    _queue(store, 3)
    now = time.time() + 1
    ids = [c.outbox_id for c in store.claim("crm", limit=10, now=now, owner="w", lease_seconds=60)]
    store.mark_failed(ids, error="x", at=now, retry_at=None)
    store.ingest([], None, rejects=[RejectRow("moodle", "map", "e", "{}") for _ in range(3)])
    assert len(store.dead_letters()) == 6
    assert [d.id[0] for d in store.dead_letters(limit=4)] == ["o", "o", "o", "r"]
    assert [d.id[0] for d in store.dead_letters(limit=2)] == ["o", "o"]
    assert len(store.dead_letters(source="moodle", limit=2)) == 2


def test_expired_lease_is_reclaimed(store):
    _queue(store, 2)
    now = time.time() + 1
    mine = store.claim("crm", limit=1, now=now, owner="w1", lease_seconds=10)
    assert len(mine) == 1
    others = store.claim("crm", limit=10, now=now + 5, owner="w2", lease_seconds=10)
    assert len(others) == 1 and others[0].outbox_id != mine[0].outbox_id  # a live lease is not claimable
    # w1 died holding its lease: after expiry w2 (or anyone) claims it again, attempts unchanged
    assert store.claim("crm", limit=10, now=now + 10, owner="w2", lease_seconds=10) == []
    reclaimed = store.claim("crm", limit=10, now=now + 10.5, owner="w2", lease_seconds=10)
    assert [(c.outbox_id, c.attempts) for c in reclaimed] == [(mine[0].outbox_id, 0)]
    # an expired lease is not "pending": next_due only reports pending rows
    assert store.next_due("crm") is None


def test_release_rows_of_a_dead_owner(store):
    _queue(store, 5)
    _queue(store, 2, "lrs")
    now = time.time() + 1
    assert store.lease_owners() == []
    store.claim("crm", limit=2, now=now, owner="host:1", lease_seconds=300)
    store.claim("crm", limit=2, now=now, owner="host:2", lease_seconds=300)
    store.claim("lrs", limit=5, now=now, owner="host:1", lease_seconds=300)
    assert sorted(store.lease_owners()) == ["host:1", "host:2"]
    assert store.release_owner("host:1") == 4
    assert store.release_owner("host:1") == 0
    assert store.lease_owners() == ["host:2"]
    assert store.outbox_counts() == {("crm", "pending"): 3, ("crm", "inflight"): 2, ("lrs", "pending"): 2}
    back = store.claim("crm", limit=10, now=now, owner="host:3", lease_seconds=300)  # due at once
    assert len(back) == 3


def test_sink_state_round_trip(store):
    assert store.sink_state("crm") == SinkState("crm")
    store.save_sink_state(SinkState("crm", 3, 1234.5, "timeout"))
    assert store.sink_state("crm") == SinkState("crm", 3, 1234.5, "timeout")
    store.save_sink_state(SinkState("crm"))
    assert store.sink_state("crm") == SinkState("crm", 0, None, None)


# ---------------------------------------------------------------------------- leases


def test_leases_are_exclusive_until_expiry(store):
    assert store.acquire_lease("scheduler", "a", ttl=30, now=1000.0)
    assert not store.acquire_lease("scheduler", "b", ttl=30, now=1010.0)
    assert store.acquire_lease("scheduler", "a", ttl=30, now=1020.0)  # renewal: now until 1050
    assert not store.acquire_lease("scheduler", "b", ttl=30, now=1049.0)
    assert store.acquire_lease("other-job", "b", ttl=30, now=1049.0)  # leases are independent
    assert store.acquire_lease("scheduler", "b", ttl=30, now=1050.0)  # a's lease expired
    assert not store.acquire_lease("scheduler", "a", ttl=30, now=1051.0)
    store.release_lease("scheduler", "a")  # not the owner: no effect
    assert not store.acquire_lease("scheduler", "a", ttl=30, now=1052.0)
    assert store.lease_holder("scheduler", now=1052.0) == "b"
    store.release_lease("scheduler", "b")
    assert store.lease_holder("scheduler", now=1052.0) is None
    assert store.acquire_lease("scheduler", "a", ttl=30, now=1053.0)
    assert store.lease_holder("scheduler", now=1082.9) == "a"
    assert store.lease_holder("scheduler", now=1083.0) is None  # expired
    assert store.lease_holder("nobody", now=0.0) is None


def test_read_snapshot_does_not_see_later_writes(store_factory):
    """An export reads journeys and events over minutes: all as of the moment it began."""
    writer, reader = store_factory(), store_factory()
    writer.ingest([row(source_id="a")], None)
    writer.save_journeys({("L1", "A"): {"learner_id": "L1", "action": "A", "v": 1}}, 1)
    with reader.read_snapshot():
        assert reader.count_events() == 1
        writer.ingest([row(source_id="b")], None)
        writer.save_journeys({("L1", "A"): {"learner_id": "L1", "action": "A", "v": 2},
                              ("L2", "A"): {"learner_id": "L2", "action": "A", "v": 1}}, 2)
        assert [e["source_id"] for e in reader.iter_events()] == ["a"]
        assert reader.journeys_page(None, 10) == [{"learner_id": "L1", "action": "A", "v": 1}]
    assert reader.count_events() == 2 and len(reader.journeys_page(None, 10)) == 2


def test_job_runs_are_claimed_once(store_factory):
    """A scheduled export of one period is produced by one daemon only."""
    stores = [store_factory() for _ in range(3)]
    won = run_threads(3, lambda i: stores[i].claim_job_run("export:opco-atlas:2026-10", owner=f"d{i}", at=1.0))
    assert sum(won) == 1
    assert not stores[0].claim_job_run("export:opco-atlas:2026-10", owner="d0", at=2.0)
    assert stores[0].claim_job_run("export:opco-atlas:2026-11", owner="d0", at=2.0)
    winner = won.index(True)
    stores[(winner + 1) % 3].release_job_run("export:opco-atlas:2026-10", owner=f"d{(winner + 1) % 3}")
    assert not stores[0].claim_job_run("export:opco-atlas:2026-10", owner="d0", at=3.0), "only the owner releases"
    stores[winner].release_job_run("export:opco-atlas:2026-10", owner=f"d{winner}")
    assert stores[0].claim_job_run("export:opco-atlas:2026-10", owner="d0", at=3.0), "released: it may run again"
    # d0 dies mid-run: one of the others takes the unfinished claim over, once
    assert stores[1].job_run("export:opco-atlas:2026-10") == {
        "key": "export:opco-atlas:2026-10", "owner": "d0", "started_at": 3.0, "finished_at": None}
    won = run_threads(2, lambda i: stores[i + 1].take_over_job_run(
        "export:opco-atlas:2026-10", previous="d0", owner=f"d{i + 1}", at=4.0))
    assert sorted(won) == [False, True]
    heir = f"d{won.index(True) + 1}"
    stores[0].finish_job_run("export:opco-atlas:2026-10", owner="d0", at=5.0)  # no longer its claim: no effect
    assert stores[0].job_run("export:opco-atlas:2026-10")["finished_at"] is None
    stores[1].finish_job_run("export:opco-atlas:2026-10", owner=heir, at=5.0)
    assert stores[0].job_run("export:opco-atlas:2026-10")["finished_at"] == 5.0
    assert not stores[2].take_over_job_run("export:opco-atlas:2026-10", previous=heir, owner="d2", at=6.0)
    assert stores[0].job_run("export:opco-atlas:2026-11")["finished_at"] is None and stores[0].job_run("nope") is None


def test_concurrent_lease_has_one_winner(store_factory):
    stores = [store_factory() for _ in range(4)]
    now = time.time()
    won = run_threads(4, lambda i: stores[i].acquire_lease("opco-atlas:2026-10", f"daemon-{i}", ttl=60, now=now))
    assert sum(won) == 1


# ---------------------------------------------------------------------------- reading


def test_iter_events_order_paging_and_filter(store):
    rows = [row(type="lms.session" if i % 3 else "lms.progress") for i in range(10)]
    store.ingest(rows[:4], None)
    store.ingest(rows[4:], None)
    events = list(store.iter_events(batch=3))
    assert [e["id"] for e in events] == [r.id for r in rows]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    after = events[4]["seq"]
    assert [e["id"] for e in store.iter_events(after_seq=after, batch=2)] == [r.id for r in rows[5:]]
    progress = list(store.iter_events(types=["lms.progress"], batch=1))
    assert [e["id"] for e in progress] == [r.id for r in rows if r.type == "lms.progress"]
    both = list(store.iter_events(types=["lms.progress", "lms.session"], batch=4))
    assert [e["id"] for e in both] == [r.id for r in rows]
    assert list(store.iter_events(types=["nothing.here"])) == []
    assert list(store.iter_events(after_seq=events[-1]["seq"])) == []


def test_get_event(store):
    r = row(learner={"ref": "42", "email": "x@y.fr"}, action="ACT-9", data={"duration": 3600, "nested": {"a": [1]}},
            evidence=[{"sha256": "00" * 32, "media_type": "application/pdf"}])
    store.ingest([r], None)
    event = store.get_event(r.id)
    assert event == expected_dict(r, event["seq"])
    assert event["occurred_at"].endswith("Z")
    assert store.get_event("missing") is None
    bare = row()
    store.ingest([bare], None)
    assert store.get_event(bare.id)["learner"] is None and store.get_event(bare.id)["evidence"] == []


def test_json_round_trips_exactly(store):
    data = {"z": 1, "a": "\u0000 nul, é, 🎓", "big": 12345678901234567890, "f": 0.1, "dup": [None, True]}
    r = row(data=data)
    store.ingest([r], None, source_cursor=("moodle", {"k": "\u0000"}))
    assert store.get_event(r.id)["data"] == data
    assert list(store.get_event(r.id)["data"]) == list(data)  # key order kept
    assert store.source_state("moodle").cursor == {"k": "\u0000"}


# ---------------------------------------------------------------------------- concurrency


def test_concurrent_ingest_of_the_same_keys(store_factory):
    """Two daemons ingest the same records (a replayed webhook, overlapping pulls) at once."""
    stores = [store_factory() for _ in range(2)]
    keys = [f"k{i}" for i in range(200)]
    batches = [[row(source_id=k) for k in keys], [row(source_id=k) for k in reversed(keys)]]

    def ingest(i: int):
        def slow_route(rows, funders, consents=None):
            time.sleep(0.05)  # keep the transaction open while the other one starts
            return [[("crm", "r1")] for _ in rows]
        return stores[i].ingest(batches[i], slow_route)

    first, second = run_threads(2, ingest)
    assert first.appended + second.appended == 200
    by_key = {}
    for batch, result in ((batches[0], first), (batches[1], second)):
        for r, event_id, is_new in zip(batch, result.ids, result.new):
            by_key.setdefault(r.source_id, []).append((event_id, is_new))
    for key, seen in by_key.items():
        assert seen[0][0] == seen[1][0], key  # both report the stored id
        assert sorted(n for _, n in seen) == [False, True], key  # exactly one appended it
    assert stores[0].count_events() == 200
    assert stores[0].outbox_counts() == {("crm", "pending"): 200}


def test_concurrent_claims_get_disjoint_rows(store_factory):
    stores = [store_factory() for _ in range(4)]
    _queue(stores[0], 120)
    now = time.time() + 1

    def drain(i: int) -> list[int]:
        got = []
        while batch := stores[i].claim("crm", limit=7, now=now, owner=f"w{i}", lease_seconds=60):
            got.extend(c.outbox_id for c in batch)
        return got

    results = run_threads(4, drain)
    claimed = [oid for r in results for oid in r]
    assert len(claimed) == 120 and len(set(claimed)) == 120
    assert stores[0].outbox_counts() == {("crm", "inflight"): 120}


@pytest.mark.postgres
def test_pg_claim_skips_rows_locked_by_another_claimer(pg_store_factory):
    """A claim in progress elsewhere (rows locked) neither blocks us nor is double-claimed."""
    import psycopg

    store = pg_store_factory()
    _queue(store, 30)
    now = time.time() + 1
    with psycopg.connect(pg_store_factory.url) as other:  # a transaction stays open until the block ends
        locked = [r[0] for r in other.execute(
            "SELECT id FROM outbox WHERE sink = 'crm' ORDER BY id LIMIT 10 FOR UPDATE")]
        started = time.monotonic()
        claimed = store.claim("crm", limit=15, now=now, owner="w2", lease_seconds=60)
        assert time.monotonic() - started < 2
        ids = [c.outbox_id for c in claimed]
        assert len(ids) == 15 and not set(ids) & set(locked)
        assert ids == sorted(ids) and min(ids) > max(locked)
        other.rollback()
    again = store.claim("crm", limit=100, now=now, owner="w3", lease_seconds=60)
    assert sorted(c.outbox_id for c in again) == sorted(set(range(min(locked), min(locked) + 30)) - set(ids))


@pytest.mark.postgres
def test_pg_ingest_waits_for_a_concurrent_writer_of_the_same_key(pg_store_factory):
    """The loser of a race on one key reports the winner's id instead of failing."""
    import psycopg

    store = pg_store_factory()
    winner = row(source_id="race")
    loser = row(source_id="race")
    with psycopg.connect(pg_store_factory.url) as other:
        # A writer that bypasses the append lock: only the unique index stands in the way.
        other.execute(
            "INSERT INTO events (seq, id, type, occurred_us, received_at, source, source_id, data) "
            "VALUES (1, %s, %s, %s, %s, %s, %s, %s)",
            (winner.id, winner.type, winner.occurred_us, winner.received_at, winner.source, winner.source_id,
             winner.data),
        )
        result: list[Any] = []
        t = threading.Thread(target=lambda: result.append(store.ingest([loser, row(source_id="free")],
                                                                       to_sink("crm"))))
        t.start()
        time.sleep(0.3)
        assert t.is_alive()  # blocked on the uncommitted key
        other.commit()
        t.join(timeout=10)
    (res,) = result
    assert res.ids[0] == winner.id and res.new == [False, True] and res.outbox_rows == 1
    assert [(e["seq"], e["id"]) for e in store.iter_events()] == [(1, winner.id), (2, res.ids[1])]
    assert [c.event["seq"] for c in store.claim("crm", limit=5, now=time.time() + 1, owner="w",
                                                lease_seconds=60)] == [2]


@pytest.mark.postgres
def test_pg_sequence_order_is_commit_order(pg_store_factory):
    """A second ingest waits for the first to commit, so a reader following seq never skips one."""
    a, b, reader = pg_store_factory(), pg_store_factory(), pg_store_factory()
    entered = threading.Event()
    release = threading.Event()

    def slow_route(rows, funders, consents=None):
        entered.set()
        release.wait(timeout=10)
        return [[] for _ in rows]

    first = row()
    t = threading.Thread(target=lambda: a.ingest([first], slow_route))
    t.start()
    assert entered.wait(timeout=10)
    second = row()
    t2 = threading.Thread(target=lambda: b.ingest([second], None))
    t2.start()
    time.sleep(0.2)
    assert t2.is_alive() and reader.count_events() == 0  # nothing visible yet, and the second writer waits
    release.set()
    t.join(timeout=10)
    t2.join(timeout=10)
    assert [e["id"] for e in reader.iter_events()] == [first.id, second.id]


def test_iter_events_limit(store):
    rows = [row() for _ in range(7)]
    store.ingest(rows, None)
    assert [e["id"] for e in store.iter_events(limit=5, batch=2)] == [r.id for r in rows[:5]]
    first = next(store.iter_events())["seq"]
    assert [e["id"] for e in store.iter_events(after_seq=first, limit=100, batch=3)] == [r.id for r in rows[1:]]
    assert list(store.iter_events(limit=0)) == []


# ---------------------------------------------------------------------------- sealed blocks


def test_blocks(store):
    assert store.last_block() is None and list(store.iter_blocks()) == []
    assert store.block_for_seq(1) is None and store.block_leaves(0) is None
    blocks = [
        {"index": 0, "first_seq": 1, "last_seq": 4, "count": 4, "root": "aa" * 32, "prev_hash": "00" * 32,
         "sealed_at": "2026-01-01T00:00:00.000000Z", "hash": "bb" * 32},
        {"index": 1, "first_seq": 5, "last_seq": 5, "count": 1, "root": "cc" * 32, "prev_hash": "bb" * 32,
         "sealed_at": "2026-01-01T00:01:00.000000Z", "hash": "dd" * 32, "leaf_format": 2},
    ]
    leaves = [bytes(range(32)) * 4, b"\x00\xff" * 16]
    for block, blob in zip(blocks, leaves):
        store.add_block(block, blob)
    expected = [{"leaf_format": 1, **b, "anchor": None} for b in blocks]  # format 1 when the block names none
    assert store.block(1) == expected[1] and store.block(2) is None
    assert store.block_totals() == {"blocks": 2, "events": 5, "anchored": 0}
    assert store.last_block() == expected[1]
    assert list(store.iter_blocks()) == expected
    assert [store.block_for_seq(s) for s in (1, 4, 5)] == [expected[0], expected[0], expected[1]]
    assert store.block_for_seq(6) is None
    assert store.block_leaves(0) == leaves[0] and store.block_leaves(1) == leaves[1]
    assert isinstance(store.block_leaves(0), bytes)
    with pytest.raises(Exception):  # a block index is written once
        store.add_block(blocks[1], leaves[1])
    assert list(store.iter_blocks()) == expected


def test_the_rows_as_a_format_3_leaf_seals_them(store):
    """The leaf bytes the database builds are the stored columns as netstrings (hub.ledger.merkle),
    and the rows that cannot be decoded are found among them."""
    from hub.ledger.merkle import LEAF_COLUMNS, stored_form

    store.ingest([row(learner={"ref": "é"}, action="A:1", data={"x": "-"}), row(), row(evidence=[])], None)
    assert store.stored_leaf_bytes(LEAF_COLUMNS, 5) == [] and store.stored_rows(LEAF_COLUMNS, 5, 9) == []
    built = store.stored_leaf_bytes(LEAF_COLUMNS, 1)
    rows = store.stored_rows(LEAF_COLUMNS, 1, 3)
    assert [seq for seq, _ in built] == [r["seq"] for r in rows] == [1, 2, 3]
    assert [leaf for _, leaf in built] == [b"\x00" + stored_form(r["stored"]) for r in rows]
    assert rows[0]["stored"]["action"] == "A:1" and rows[1]["stored"]["learner"] is None
    assert isinstance(rows[0]["stored"]["occurred_us"], int) and rows[0]["id"] == rows[0]["stored"]["id"]
    assert store.stored_leaf_bytes(LEAF_COLUMNS, 2, 2) == built[1:2] == store.stored_leaf_bytes(LEAF_COLUMNS, 2, limit=1)
    assert store.stored_rows(("id",), 3, 3) == [{"seq": 3, "id": rows[2]["id"], "stored": {"id": rows[2]["id"]}}]
    assert store.stored_rows_at(LEAF_COLUMNS, [3, 1, 7]) == {1: rows[0], 3: rows[2]}  # one read of scattered rows
    assert store.stored_rows_at(LEAF_COLUMNS, []) == {}
    assert store.undecodable_events(1, 3) == []
    store._execute("UPDATE events SET data = '[1]' WHERE seq = 2")
    [found] = store.undecodable_events(1, 3)
    assert found["seq"] == 2 and "not an object" in found["unreadable"]
    assert isinstance(store.reader_url, str)


def test_block_anchor_is_written_once(store_factory):
    store = store_factory()
    block = {"index": 0, "first_seq": 1, "last_seq": 2, "count": 2, "root": "aa" * 32, "prev_hash": "00" * 32,
             "sealed_at": "2026-01-01T00:00:00.000000Z", "hash": "bb" * 32}
    store.add_block(block, b"\x01" * 64)
    assert store.set_block_anchor(1, '{"a":1}') is False  # no such block
    assert store.set_block_anchor(0, '{"a":1}') is True
    assert store.set_block_anchor(0, '{"a":2}') is False  # an anchor is never replaced
    assert store.last_block()["anchor"] == '{"a":1}' and store.block_for_seq(2)["anchor"] == '{"a":1}'
    assert [b["anchor"] for b in store.iter_blocks()] == ['{"a":1}']
    assert store_factory().last_block()["anchor"] == '{"a":1}'  # committed: another connection sees it


# ---------------------------------------------------------------------------- learner registry


def person(ref: str, email: str | None = None, name: str | None = None, **ids) -> dict:
    out: dict[str, Any] = {"ref": ref}
    if email:
        out["email"] = email
    if name:
        out["name"] = name
    if ids:
        out["ids"] = ids
    return out


def learner_row(source: str, who: dict, **kw) -> EventRow:
    return row(source, learner=who, **kw)


def test_learners_linked_across_sources(store):
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    seen_keys: list[str | None] = []

    def route(rows, funders, consents=None):
        seen_keys.extend(r.learner_key for r in rows)
        return [[] for _ in rows]

    rows = [learner_row("moodle", person("17", "camille@example.fr", "Camille Dubois")),
            learner_row("crm", person("c-501", " CAMILLE@example.fr")),
            learner_row("stripe", person("cus_9", "camille@example.fr", stripe_customer="cus_9")),
            row("moodle")]  # no learner
    store.ingest(rows, route, learners=resolver)
    learner_id = store.learner_by_key("src:moodle:17")
    assert learner_id and all(store.learner_by_key(k) == learner_id
                              for k in ("src:crm:c-501", "src:stripe:cus_9", "email:camille@example.fr"))
    assert seen_keys == [learner_id, learner_id, learner_id, None]  # routing follows the resolved learner
    assert rows[0].learner_id == learner_id and rows[3].learner_id is None
    assert store.learner(learner_id) == {
        "id": learner_id, "name": "Camille Dubois", "email": "camille@example.fr",
        "keys": ["email:camille@example.fr", "src:crm:c-501", "src:moodle:17", "src:stripe:cus_9"], "merged": [],
    }
    assert store.learner("unknown") is None and store.learner_by_key("src:moodle:99") is None
    assert store.canonical_learner(learner_id) == learner_id
    assert store.learner_conflicts() == []
    # duplicates are not resolved again
    again = store.ingest([learner_row("moodle", person("17", "other@example.fr"), source_id=rows[0].source_id)],
                         None, learners=resolver)
    assert again.new == [False] and store.learner_by_key("email:other@example.fr") is None


def test_learner_conflicts_kept_apart(store):
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    store.ingest([learner_row("moodle", person("17", "family@example.fr", "Léa"))], None, learners=resolver)
    store.ingest([learner_row("moodle", person("18", "family@example.fr", "Hugo"))], None, learners=resolver)
    lea, hugo = store.learner_by_key("src:moodle:17"), store.learner_by_key("src:moodle:18")
    assert lea != hugo
    (conflict,) = store.learner_conflicts()
    assert set(conflict["learners"]) == {lea, hugo} and "email:family@example.fr" in conflict["reason"]
    assert conflict["resolved_at"] is None and conflict["resolution"] is None and conflict["event_id"]
    store.ingest([learner_row("moodle", person("18", "family@example.fr"))], None, learners=resolver)
    assert len(store.learner_conflicts()) == 1  # an open conflict is not repeated

    with pytest.raises(ValueError):
        store.resolve_learner_conflict(conflict["id"], merge_into="someone-else", at=1.0)
    assert store.resolve_learner_conflict(conflict["id"], merge_into=None, at=2.0) == {
        "id": conflict["id"], "learners": conflict["learners"], "resolution": "kept apart"}
    with pytest.raises(KeyError):
        store.resolve_learner_conflict(conflict["id"], merge_into=None, at=3.0)
    with pytest.raises(KeyError):
        store.resolve_learner_conflict(10_000, merge_into=None, at=3.0)
    assert store.learner_conflicts() == []
    (closed,) = store.learner_conflicts(open_only=False)
    assert closed["resolved_at"] == 2.0 and closed["resolution"] == "kept apart"
    store.ingest([learner_row("moodle", person("18", "family@example.fr"))], None, learners=resolver)
    assert store.learner_conflicts() == []  # kept apart: not reported again


def test_learner_merge_moves_keys_and_funding(store):
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    seen: list[dict] = []

    def route(rows, funders, consents=None):
        pairs = {(r.learner_key, r.action) for r in rows if r.learner_key and r.action}
        found = funders(pairs) if pairs else {}
        seen.append(found)
        return [[("atlas", "atlas")] if found.get((r.learner_key, r.action)) else [] for r in rows]

    store.ingest([learner_row("crm", person("c1", "a@example.fr"), type="funding.approved", action="ACT",
                              data={"funder": "opco-atlas"})], route, learners=resolver)
    store.ingest([learner_row("moodle", person("42", "b@example.fr"), action="ACT")], route, learners=resolver)
    crm, lms = store.learner_by_key("src:crm:c1"), store.learner_by_key("src:moodle:42")
    assert crm != lms and seen[-1] == {}
    # the CRM now gives c1 the LMS account's e-mail: two learners designated -> a conflict
    store.ingest([learner_row("crm", person("c1", "b@example.fr"))], None, learners=resolver)
    (conflict,) = store.learner_conflicts()
    assert conflict["learners"][0] == crm and set(conflict["learners"]) == {crm, lms}
    result = store.resolve_learner_conflict(conflict["id"], merge_into=crm, at=5.0)
    assert result["resolution"] == f"merged into {crm}"
    assert store.canonical_learner(lms) == crm
    assert store.learner_by_key("src:moodle:42") == crm
    merged = store.learner(lms)  # follows the merge
    assert merged["id"] == crm and merged["merged"] == [lms] and "src:moodle:42" in merged["keys"]
    # the funding recorded for the CRM learner now routes the LMS account's events
    store.ingest([learner_row("moodle", person("42", "b@example.fr"), action="ACT")], route, learners=resolver)
    assert seen[-1] == {(crm, "ACT"): {"opco-atlas"}}
    assert store.outbox_counts() == {("atlas", "pending"): 2}


def test_learner_mapping(store):
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    store.ingest([learner_row("moodle", person("42", "x.perso@example.fr")),
                  learner_row("crm", person("c1", "x@example.fr"))], None, learners=resolver)
    lms, crm = store.learner_by_key("src:moodle:42"), store.learner_by_key("src:crm:c1")
    assert lms != crm
    changes = store.apply_learner_mapping({"L-0042": ["email:x@example.fr", "src:moodle:42", "id:nir:185"],
                                           "L-new": ["src:edusign:9"]}, at=7.0)
    assert changes == [f"L-0042: merged {lms} into {crm}", "L-0042: linked id:nir:185", "L-new: linked src:edusign:9"]
    assert store.learner_by_key("map:L-0042") == crm and store.canonical_learner(lms) == crm
    assert store.learner_by_key("id:nir:185") == crm
    new = store.learner_by_key("src:edusign:9")
    assert new not in (lms, crm) and store.learner(new)["name"] == "L-new"
    assert store.apply_learner_mapping({"L-0042": ["email:x@example.fr", "src:moodle:42"]}, at=8.0) == []
    # later events of either account resolve to the mapped learner
    later = learner_row("moodle", person("42", "x.perso@example.fr"))
    store.ingest([later], None, learners=resolver)
    assert later.learner_id == crm


def test_learner_lookups_over_many_keys(store):
    """Key look-ups larger than one SQLite parameter chunk (500) see every key."""
    keys = [f"src:crm:{i}" for i in range(1200)]
    changes = store.apply_learner_mapping({"L-big": keys}, at=1.0)
    assert len(changes) == 1200
    target = store.learner_by_key("map:L-big")
    assert store.learner_by_key(keys[-1]) == target
    assert store.apply_learner_mapping({"L-big": keys}, at=2.0) == []  # every key found already owned
    assert len(store.learner(target)["keys"]) == 1201


# ---------------------------------------------------------------------------- journeys (projections)


def test_journeys_projection_state(store):
    assert store.projection_cursor() == 0 and store.journeys() == []
    assert store.load_journeys([]) == {} and store.load_journeys([("L1", "A")]) == {}
    states = {("L2", "ACT-B"): {"learner": "L2", "action": "ACT-B", "hours": 3.5, "note": "é"},
              ("L1", "ACT-B"): {"learner": "L1", "action": "ACT-B", "hours": 1},
              ("L1", "ACT-A"): {"learner": "L1", "action": "ACT-A", "days": ["2026-01-05"]}}
    store.save_journeys(states, 10)
    assert store.projection_cursor() == 10 and store.projection_cursor("other") == 0
    assert store.load_journeys([("L1", "ACT-A"), ("L2", "ACT-B"), ("L9", "ACT-A")]) == {
        ("L1", "ACT-A"): states[("L1", "ACT-A")], ("L2", "ACT-B"): states[("L2", "ACT-B")]}
    assert store.journeys() == [states[("L1", "ACT-A")], states[("L1", "ACT-B")], states[("L2", "ACT-B")]]
    assert store.journeys(action="ACT-B") == [states[("L1", "ACT-B")], states[("L2", "ACT-B")]]
    assert store.journeys(learner_id="L1", action="ACT-A") == [states[("L1", "ACT-A")]]
    assert store.journey_learners("ACT-B") == ["L1", "L2"] and store.journey_learners("ACT-Z") == []
    # chunk by chunk, in (learner, action) order
    assert store.journeys_page(None, 2) == [states[("L1", "ACT-A")], states[("L1", "ACT-B")]]
    assert store.journeys_page(("L1", "ACT-B"), 2) == [states[("L2", "ACT-B")]]
    assert store.journeys_page(("L2", "ACT-B"), 2) == []
    # one action's, a page at a time (the web app's paginated lists)
    assert store.journeys_page(None, 1, action="ACT-B") == [states[("L1", "ACT-B")]]
    assert store.journeys_page(("L1", "ACT-B"), 5, action="ACT-B") == [states[("L2", "ACT-B")]]
    assert store.journeys_page(None, 5, action="ACT-Z") == []
    store.save_journeys({("L1", "ACT-A"): {"v": 2}}, 7)  # the cursor never goes back
    assert store.projection_cursor() == 10 and store.load_journeys([("L1", "ACT-A")]) == {("L1", "ACT-A"): {"v": 2}}
    store.save_journeys({}, 12)
    assert store.projection_cursor() == 12
    store.reset_journeys(["L1"])
    assert [j.get("learner") for j in store.journeys()] == ["L2"] and store.projection_cursor() == 12
    store.reset_journeys([])
    assert len(store.journeys()) == 1
    store.reset_journeys()
    assert store.journeys() == [] and store.projection_cursor() == 0


def test_events_of_learners_and_aliases(store):
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    rows = [learner_row("moodle", person("1", "a@x.fr")), learner_row("moodle", person("2", "b@x.fr")),
            learner_row("crm", person("c", "a@x.fr")), row()]
    store.ingest(rows, None, learners=resolver)
    a, b = store.learner_by_key("src:moodle:1"), store.learner_by_key("src:moodle:2")
    assert store.get_event(rows[0].id)["learner_id"] == a and store.get_event(rows[3].id)["learner_id"] is None
    seqs = [store.get_event(r.id)["seq"] for r in rows]
    assert [e["id"] for e in store.events_of_learners([a], until_seq=seqs[-1])] == [rows[0].id, rows[2].id]
    assert [e["id"] for e in store.events_of_learners([a, b], until_seq=seqs[1])] == [rows[0].id, rows[1].id]
    assert store.events_of_learners([], until_seq=seqs[-1]) == []
    assert store.event_learner_ids() == sorted([a, b]) and store.max_seq() == seqs[-1]
    assert store.learner_aliases(a) == []
    changes = store.apply_learner_mapping({"L": ["src:moodle:1", "src:moodle:2"]}, at=1.0)
    assert changes == [f"L: merged {b} into {a}"]
    assert store.learner_aliases(a) == [b] and store.learner_alias_map() == {b: a}
    assert store.journeys(learner_id=b) == []  # follows the alias without error
    # what the live pages are told of: type, action and the learner as merged, by seq, from a seq on
    touches = store.event_touches(after_seq=0, limit=10)
    assert [t[2] for t in touches] == [a, a, a, None] and all(t[0] == rows[0].type for t in touches[:3])
    assert store.event_touches(after_seq=seqs[0], limit=1) == [(rows[1].type, rows[1].action, a)]


def test_a_learners_events_page_by_page(store):
    """What the audit pack reads (hub.audit): a learner's events about an action (or about none), by
    seq, a page at a time, each with its learner_key."""
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    rows = [learner_row("moodle", person("1", "a@x.fr"), action="ACT-A", learner_key="K1"),
            learner_row("moodle", person("2", "b@x.fr"), action="ACT-A"),
            learner_row("crm", person("c", "a@x.fr")),  # no action: about the learner all the same
            learner_row("moodle", person("1", "a@x.fr"), action="ACT-B"),  # another action
            learner_row("moodle", person("1", "a@x.fr"), action="ACT-A")]
    store.ingest(rows, None, learners=resolver)
    a = store.learner_by_key("src:moodle:1")
    seqs = [store.get_event(r.id)["seq"] for r in rows]
    first = store.learner_events_page([a], action="ACT-A", after_seq=0, limit=2)
    assert [e["id"] for e in first] == [rows[0].id, rows[2].id]
    assert first[0]["learner_key"] == a and first[0]["seq"] == seqs[0]  # the resolved id, as sealed (format 2)
    assert {k: v for k, v in first[0].items() if k != "learner_key"} == store.get_event(rows[0].id)
    assert [e["id"] for e in store.learner_events_page([a], action="ACT-A", after_seq=seqs[2], limit=2)] == [rows[4].id]
    assert store.learner_events_page([a], action="ACT-A", after_seq=seqs[4], limit=2) == []
    assert store.learner_events_page([], action="ACT-A", after_seq=0, limit=2) == []
    # every action (a person's data export): all of the learner's events, by seq
    every = store.learner_events_page([a], action=None, after_seq=0, limit=10)
    assert [e["id"] for e in every] == [rows[0].id, rows[2].id, rows[3].id, rows[4].id]


def test_a_learner_rectified_in_the_registry(store):
    from hub.learners import LearnerResolver

    store.ingest([learner_row("moodle", person("1", "a@x.fr", "Camile Dubois"))], None,
                 learners=LearnerResolver(["email"]))
    a = store.learner_by_key("src:moodle:1")
    assert store.rectify_learner(a, "name", "Camille Dubois") is True
    assert store.rectify_learner(a, "email", "camille@x.fr") is True
    assert {k: store.learner(a)[k] for k in ("name", "email")} == {"name": "Camille Dubois", "email": "camille@x.fr"}
    assert store.rectify_learner("01NOSUCHLEARNER", "name", "X") is False
    with pytest.raises(ValueError, match="only name and email"):
        store.rectify_learner(a, "id", "other")


def test_events_naming_a_value_in_their_data(store):
    rows = [row("web", type="access.sign_in", data={"account": "A1", "outcome": "success"}),
            row("web", type="access.sign_in", data={"account": "A2", "outcome": "success"}),
            row("web", type="access.sign_out", data={"account": "A1"}),
            row("web", type="access.audit_viewed", data={"link": "L", "learner": "A1"}),  # another type
            row("web", type="access.sign_in", data={"account": "A1", "outcome": "failure"})]
    store.ingest(rows, None)
    seqs = [store.get_event(r.id)["seq"] for r in rows]
    found = store.events_naming(["access.sign_in", "access.sign_out"], "account", ["A1"])
    assert [e["id"] for e in found] == [rows[0].id, rows[2].id, rows[4].id]
    assert found[0] == store.get_event(rows[0].id)
    assert [e["id"] for e in store.events_naming(["access.sign_in"], "account", ["A1", "A2"], after_seq=seqs[0],
                                                 limit=1)] == [rows[1].id]
    assert store.events_naming(["access.sign_in"], "account", []) == []
    assert store.events_naming(["access.sign_in"], "outcome", ["nothing"]) == []
    with pytest.raises(ValueError, match="not a data field name"):
        store.events_naming(["access.sign_in"], "account') OR ('1", ["A1"])


def test_dead_letters_about_a_person(store):
    from hub.learners import LearnerResolver

    rows = [learner_row("moodle", person("1", "a@x.fr"), action="ACT-A"),
            learner_row("moodle", person("2", "b@x.fr"), action="ACT-A")]
    rejects = [RejectRow("crm", "map", "no deal", json.dumps({"email": "a@x.fr", "note": "100%_sure"})),
               RejectRow("crm", "validate", "bad", json.dumps({"email": "ba@x.fr"})),  # another person's address
               RejectRow("crm", "validate", "bad", json.dumps({"id": "1"}))]
    store.ingest(rows, to_sink("lrs"), learners=LearnerResolver(["email"]), rejects=rejects)
    a = store.learner_by_key("src:moodle:1")
    now = time.time() + 1
    claimed = store.claim("lrs", limit=10, now=now, owner="w", lease_seconds=60)
    store.mark_failed([c.outbox_id for c in claimed], error="gone", at=now, retry_at=None)
    found = store.dead_letters_about([a], ['"a@x.fr"', '"1"'], limit=10)
    assert [(d.stage, d.event_id or d.payload) for d in found] == [
        ("deliver", rows[0].id), ("map", {"email": "a@x.fr", "note": "100%_sure"}), ("validate", {"id": "1"})]
    assert [d.stage for d in store.dead_letters_about([a], ['"100%_sure"'], limit=10)] == ["deliver", "map"]
    assert store.dead_letters_about([a], ['"%"'], limit=10)[1:] == [], "LIKE wildcards are matched as text"
    assert len(store.dead_letters_about([a], ['"a@x.fr"', '"1"'], limit=1)) == 2  # at most ``limit`` of each
    assert store.dead_letters_about([], [], limit=10) == []


def test_action_events_are_the_learnerless_events_of_an_action(store):
    """A trainer's signature without learner: read by action, type and sequence number."""
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    signed = {"date": "2026-11-23", "half_day": "am", "signer": "trainer"}
    rows = [row(type="attendance.signed", action="A-1", data=signed),
            row(type="attendance.signed", action="A-2", data=signed),
            learner_row("moodle", person("1", "a@x.fr"), type="attendance.signed", action="A-1"),
            row(type="lms.session", action="A-1"),
            row(type="attendance.signed", action="A-1", data={**signed, "half_day": "pm"})]
    store.ingest(rows, None, learners=resolver)
    seqs = [store.get_event(r.id)["seq"] for r in rows]
    found = store.action_events("A-1", types=["attendance.signed"], until_seq=seqs[-1])
    assert [e["id"] for e in found] == [rows[0].id, rows[4].id] and found[0]["data"] == signed
    assert [e["id"] for e in store.action_events("A-1", types=["attendance.signed"], until_seq=seqs[3])] == [rows[0].id]
    assert store.action_events("A-3", types=["attendance.signed"], until_seq=seqs[-1]) == []


def test_every_store_method_is_in_the_contract():
    """A method added to ``Store`` needs a test here, run against both stores."""
    import inspect
    import re

    from hub.store import Store

    source = inspect.getsource(inspect.getmodule(test_every_store_method_is_in_the_contract))
    untested = sorted(name for name in Store.__abstractmethods__ if not re.search(rf"\.{name}\(", source))
    assert untested == []


def test_the_store_interface_is_the_union_of_its_concerns():
    """Every ``Store`` method but the lifecycle belongs to exactly one concern protocol, so a caller
    typed against one concern (``DeliveryStore``, ``JobStore``…) sees the whole of that part."""
    from hub.store import Store, base

    concerns = [base.LedgerStore, base.BlockStore, base.JourneyStore, base.SourceSinkStore, base.DeliveryStore,
                base.DeadLetterStore, base.LearnerStore, base.JobStore, base.AccountStore, base.AuditLinkStore,
                base.ConsentStore, base.PrivacyStore]
    owners: dict[str, list[str]] = {}
    for concern in concerns:
        assert concern in Store.__mro__
        for name in concern.__abstractmethods__:
            owners.setdefault(name, []).append(concern.__name__)
    assert {name: where for name, where in owners.items() if len(where) > 1} == {}
    assert set(Store.__abstractmethods__) - set(owners) == {"migrate", "schema_version", "close"}


def test_event_learner_keys_and_first_event(store):
    assert store.first_event() is None and store.event_learner_keys(1, 10) == {}
    rows = [row(learner_key="email:a@example.org"), row(), row(learner_key="moodle:7")]
    store.ingest(rows, None)
    assert store.first_event() == {"seq": 1, "id": rows[0].id}
    assert store.event_learner_keys(2, 3) == {2: None, 3: "moodle:7"}


# --------------------------------------------------------------------------- the web app's accounts (AccountStore)


ACCOUNT = {"id": "01ACCOUNT0000000000000000A", "email": "sophie@example.fr", "name": "Sophie", "role": "trainer",
           "scopes": {"actions": ["ACT-1"], "funders": [], "learner": None}, "password_hash": "$argon2id$x",
           "totp_secret": "JBSWY3DPEHPK3PXP", "recovery_codes": ["h1", "h2"], "origin": "cli"}


def test_an_account_is_stored_read_back_and_changed(store):
    store.add_account(ACCOUNT, at=100.0)
    got = store.account_by_email("sophie@example.fr")
    assert got["id"] == ACCOUNT["id"] and got["scopes"] == ACCOUNT["scopes"] and got["recovery_codes"] == ["h1", "h2"]
    assert got["disabled_at"] is None and got["created_at"] == 100.0
    assert store.account(ACCOUNT["id"])["email"] == "sophie@example.fr"
    assert [a["email"] for a in store.accounts()] == ["sophie@example.fr"]
    assert store.update_account(ACCOUNT["id"], at=200.0, disabled_at=200.0, scopes={"actions": ["ACT-2"]})
    got = store.account(ACCOUNT["id"])
    assert got["disabled_at"] == 200.0 and got["scopes"] == {"actions": ["ACT-2"]} and got["updated_at"] == 200.0
    assert not store.update_account("nobody", at=1.0, name="x")
    with pytest.raises(ValueError, match="not an account field"):
        store.update_account(ACCOUNT["id"], at=1.0, id="other")


def test_an_address_has_one_account(store):
    store.add_account(ACCOUNT, at=1.0)
    with pytest.raises(DuplicateAccount, match="sophie@example.fr"):
        store.add_account({**ACCOUNT, "id": "01ACCOUNT0000000000000000B"}, at=2.0)


def test_a_recovery_code_works_once(store):
    store.add_account(ACCOUNT, at=1.0)
    assert store.use_recovery_code(ACCOUNT["id"], "h1", at=2.0)
    assert not store.use_recovery_code(ACCOUNT["id"], "h1", at=3.0)
    assert store.account(ACCOUNT["id"])["recovery_codes"] == ["h2"]
    assert not store.use_recovery_code("nobody", "h2", at=3.0)


def test_sessions_are_revoked_per_account(store):
    store.add_account(ACCOUNT, at=1.0)
    for sid in ("s1", "s2"):
        store.add_web_session({"id": sid, "account_id": ACCOUNT["id"], "stage": "full", "csrf": "c", "created_at": 1.0,
                               "last_seen_at": 1.0, "expires_at": 99.0, "remote": "127.0.0.1"})
    assert store.update_web_session("s1", last_seen_at=5.0)
    assert store.web_session("s1")["last_seen_at"] == 5.0
    assert store.revoke_web_sessions(ACCOUNT["id"], at=6.0) == 2
    assert store.web_session("s2")["revoked_at"] == 6.0
    assert not store.update_web_session("s1", last_seen_at=7.0)  # a revoked session stays revoked
    assert store.revoke_web_sessions(ACCOUNT["id"], at=8.0) == 0
    assert store.web_session("nope") is None


def test_failures_lock_a_key_out_then_count_again(store):
    keys = ["email:a@example.fr"]
    for n in range(2):
        assert store.record_login_failure(keys, now=10.0 + n, window=60, limit=3, lockout=100) is None
    assert store.login_lock(keys, now=12.0) is None
    assert store.record_login_failure(keys, now=12.0, window=60, limit=3, lockout=100) == 112.0
    assert store.login_lock(keys + ["ip:1.2.3.4"], now=50.0) == 112.0
    assert store.login_lock(keys, now=112.0) is None  # the lockout is over
    store.record_login_failure(keys, now=200.0, window=60, limit=3, lockout=100)
    store.clear_login_failures(keys)
    assert store.record_login_failure(keys, now=201.0, window=60, limit=2, lockout=100) is None  # counted from zero


def test_failures_older_than_the_window_are_forgotten(store):
    keys = ["ip:1.2.3.4"]
    store.record_login_failure(keys, now=0.0, window=60, limit=2, lockout=100)
    assert store.record_login_failure(keys, now=61.0, window=60, limit=2, lockout=100) is None
    assert store.record_login_failure(keys, now=62.0, window=60, limit=2, lockout=100) == 162.0


def test_a_totp_time_step_is_used_once(store):
    store.add_account(ACCOUNT, at=1.0)
    assert store.use_totp_step(ACCOUNT["id"], 1000, at=2.0)
    assert not store.use_totp_step(ACCOUNT["id"], 1000, at=3.0)  # the same code again
    assert not store.use_totp_step(ACCOUNT["id"], 999, at=3.0)  # an older one
    assert store.use_totp_step(ACCOUNT["id"], 1001, at=4.0)
    assert store.update_account(ACCOUNT["id"], at=5.0, totp_last_step=None)  # a new secret starts afresh
    assert store.use_totp_step(ACCOUNT["id"], 5, at=6.0)


# --------------------------------------------------------------------------- auditors' links (AuditLinkStore)


def test_an_audit_link_is_found_by_its_token_hash_listed_and_revoked_once(store):
    link = {"id": "01LINK", "token_hash": "ab" * 32, "action": "A1", "learners": ["L2", "L1"],
            "selection": {"mode": "sample", "size": 2, "seed": 7}, "label": "Qualiopi", "created_by": "admin",
            "created_at": 1000.0, "expires_at": 2000.0}
    store.add_audit_link(link)
    found = store.audit_link_by_token_hash("ab" * 32)
    assert found == {**link, "revoked_at": None}
    assert store.audit_link("01LINK") == found and store.audit_link_by_token_hash("cd" * 32) is None
    store.add_audit_link({**link, "id": "01LINK2", "token_hash": "ef" * 32, "created_at": 1500.0, "label": None})
    assert [x["id"] for x in store.audit_links()] == ["01LINK", "01LINK2"]
    assert store.revoke_audit_link("01LINK", at=1200.0) is True
    assert store.revoke_audit_link("01LINK", at=1300.0) is False, "revoked once: the first time stays"
    assert store.audit_link("01LINK")["revoked_at"] == 1200.0 and store.revoke_audit_link("nope", at=1.0) is False


# --------------------------------------------------------------------------- consent decisions (ConsentStore)


def consent(learner: str, purpose: str, state: str, *, at: int, version: str = "1") -> EventRow:
    r = row("hub", type=f"consent.{state}", learner={"ref": learner}, data={"purpose": purpose, "version": version,
                                                                           "channel": "cli"})
    r.occurred_us = T0 + at
    return r


def test_the_latest_consent_decision_by_occurrence_is_kept_and_a_gate_withholds_rows(store):
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    first = row("crm", type="prospect.contact_created", learner={"ref": "c1", "email": "a@example.fr"})
    store.ingest([first], None, learners=resolver)
    person = store.learner_by_key("email:a@example.fr")
    later, earlier = consent(person, "funnel_tracking", "withdrawn", at=20), consent(person, "funnel_tracking", "given", at=10)
    store.ingest([later, earlier], None, learners=resolver)  # the earlier decision arrives last: it does not win
    (decision,) = store.consent_decisions(person)
    assert (decision.state, decision.event_id, decision.occurred_us) == ("withdrawn", later.id, T0 + 20)
    assert [d.learner_id for d in store.withdrawn_consents("funnel_tracking")] == [person]
    assert store.withdrawn_consents("employer_progress") == []

    seen: list[dict] = []

    def gate(rows, decisions):
        seen.append(decisions([r.learner_id for r in rows]))
        return {r.id: "funnel_tracking:withdrawn" for r in rows if r.type.startswith("prospect.")}

    kept, dropped = row(type="lms.session", learner={"ref": "c1", "email": "a@example.fr"}), \
        row("crm", type="prospect.contact_created", learner={"ref": "c2", "email": "new@example.fr"})
    result = store.ingest([dropped, kept, dropped], None, learners=resolver, withhold=gate)
    assert result.ids == [None, kept.id, None] and result.new == [False, True, False]
    assert result.withheld == {0: "funnel_tracking:withdrawn"} and result.duplicates == 1
    assert seen[0][(person, "funnel_tracking")].state == "withdrawn"
    assert store.get_event(kept.id) is not None and store.get_event(dropped.id) is None
    assert store.learner_by_key("email:new@example.fr") is None, "a withheld event links no learner"


def test_consent_decisions_follow_a_learner_merge(store):
    from hub.learners import LearnerResolver

    resolver = LearnerResolver(["email"])
    store.ingest([learner_row("crm", person("c1", "a@example.fr"))], None, learners=resolver)
    store.ingest([learner_row("moodle", person("42", "b@example.fr"))], None, learners=resolver)
    crm, lms = store.learner_by_key("src:crm:c1"), store.learner_by_key("src:moodle:42")
    withdrawn = consent(lms, "funnel_tracking", "withdrawn", at=30)
    store.ingest([consent(crm, "funnel_tracking", "given", at=10), withdrawn], None, learners=resolver)
    store.ingest([learner_row("crm", person("c1", "b@example.fr"))], None, learners=resolver)
    (conflict,) = store.learner_conflicts()
    store.resolve_learner_conflict(conflict["id"], merge_into=crm, at=5.0)
    (decision,) = store.consent_decisions(crm)  # the merged id's later withdrawal wins
    assert decision.event_id == withdrawn.id and decision.state == "withdrawn"
    (gone,) = store.withdrawn_consents("funnel_tracking")
    assert gone.learner_id == crm and gone.event_id == withdrawn.id
# --------------------------------------------------------------------------- retention and erasure (PrivacyStore)


def test_erasure_rewrites_rows_and_the_person_in_one_go(store):
    from hub.learners import LearnerResolver

    sha = "ab" * 32
    rows = [row(type="prospect.contact_created", learner={"ref": "1", "email": "a@example.org", "name": "A"}),
            row(learner={"ref": "1", "email": "a@example.org"}, evidence=[{"sha256": sha, "size": 3}]),
            row(type="access.sign_in", learner=None, data={"email": "a@example.org"}),
            row(learner={"ref": "2", "email": "b@example.org"})]
    for r in rows:
        r.learner_ref = json.loads(r.learner) if r.learner else None
    store.ingest(rows, None, learners=LearnerResolver(["email"]))
    a = store.get_event(rows[0].id)["learner_id"]
    lasts = {r["learner_id"]: r for r in store.learner_last_events()}
    assert lasts[a]["funnel_us"] == rows[0].occurred_us and lasts[a]["evidence_us"] == rows[1].occurred_us
    assert lasts[a]["last_us"] == rows[1].occurred_us and store.learners_funded_by([]) == set()
    assert store.learners_funded_by(["opco-x"]) == set()
    events = store.erasable_events([a], until_seq=10)
    assert [e["id"] for e in events] == [rows[0].id, rows[1].id] and events[0]["learner_key"] == a
    access = store.erasable_access_events(before_us=rows[2].occurred_us + 1, until_seq=10, limit=10)
    assert [e["id"] for e in access] == [rows[2].id]
    assert store.blob_referenced(sha)
    erased = {"record": "REC1", "learner_id": a, "kind": "person", "blobs": [sha], "person": [a],
              "rows": [(e["seq"], None, '{"x":1}', None, a) for e in events]}
    b = store.get_event(rows[3].id)["learner_id"]
    store.save_journeys({(a, "ACT-A"): {"learner_id": a}, (b, "ACT-A"): {"learner_id": b}}, 0)
    store_flag_rows(store, "ACT-A", {a: {"learner_name": "A", "score": 0.9}, b: {"learner_name": "B", "score": 0.8}})
    assert store.apply_erasures([erased], at=5.0) == ["REC1"]
    assert store.journey_flags("ACT-A") == [{"learner_id": b, "flag": {"learner_name": "B", "score": 0.8}}]
    stored = [r["learner_id"] for r in store._execute("SELECT learner_id FROM journey_flags").fetchall()]
    assert stored == [b]  # A's row, which names A, is gone with A's journey
    assert store.apply_erasures([erased], at=6.0) == []
    assert store.erased_seqs(1, 10) == {events[0]["seq"]: "REC1", events[1]["seq"]: "REC1"}
    assert store.get_event(rows[1].id)["learner"] is None and store.get_event(rows[1].id)["data"] == {"x": 1}
    assert not store.blob_referenced(sha) and store.erasable_events([a], until_seq=10) == []
    learner = store.learner(a)
    assert learner["name"] is None and learner["email"] is None and learner["keys"] == []
    assert store.learner(store.get_event(rows[3].id)["learner_id"])["email"] == "b@example.org"
    assert store.erased_persons() == {a}
    assert store.unfinished_erasures() == [{"record": "REC1", "learner_id": a, "kind": "person", "blobs": [sha]}]
    assert store.erasure_totals() == {"records": {"person": 1}, "events": 2, "dead_letters": 0, "unfinished": 1}
    store.finish_erasures(["REC1"], at=7.0)
    assert store.unfinished_erasures() == [] and store.erasure_totals()["unfinished"] == 0
    assert store.unapplied_erasure_records() == []  # no privacy.erased event in this ledger


def test_erasure_scrubs_dead_letters_and_old_ones_are_deleted(store):
    from hub.learners import LearnerResolver

    rows = [row(learner={"ref": "1", "email": "a@example.org", "name": "Ann"})]
    rows[0].learner_ref = json.loads(rows[0].learner)
    store.ingest(rows, None, learners=LearnerResolver(["email"]),
                 rejects=[RejectRow("crm", "map", f"bad {i}", json.dumps({"email": "a@example.org", "i": i})) for i in range(3)])
    a = store.get_event(rows[0].id)["learner_id"]
    [identity] = store.learner_identities([a, "unknown"])
    assert identity["learner_id"] == a and identity["email"] == "a@example.org" and identity["name"] == "Ann"
    assert sorted(identity["keys"]) == ["email:a@example.org", "src:moodle:1"]
    page = store.reject_page(after_id=0, limit=2)
    assert [r["error"] for r in page] == ["bad 0", "bad 1"] and set(page[0]) == {"id", "source", "payload", "error",
                                                                                 "source_id", "created_at"}
    ids = [r["id"] for r in page] + [r["id"] for r in store.reject_page(after_id=page[-1]["id"], limit=2)]
    assert len(ids) == 3 and [r["id"] for r in store.rejects_by_id([ids[2], ids[0], 10**12])] == [ids[0], ids[2]]
    store.mark_rejects_replayed([ids[1]], at=3.0)  # a replayed reject is still there, and still reached
    erased = {"record": "REC2", "learner_id": a, "kind": "person", "rows": [], "person": [a],
              "dead_letters": [(i, '{"email":"[erased]"}', "bad", None) for i in ids[:2]]}
    assert store.apply_erasures([erased], at=5.0) == ["REC2"]
    assert [r["payload"] for r in store.rejects_by_id(ids)] == ['{"email":"[erased]"}'] * 2 + [page[0]["payload"].replace("0", "2")]
    taken = dict(store.take_rejects())
    assert taken[ids[0]].erased_at == 5.0 and taken[ids[0]].erased_by == "REC2" and taken[ids[2]].erased_at is None
    assert store.dead_letter(f"r:{ids[0]}").erased_at == 5.0
    assert store.erasure_totals()["dead_letters"] == 2
    assert store.learner_identities([a]) == [{"learner_id": a, "email": None, "name": None, "keys": []}]
    created = store.rejects_by_id([ids[0]])[0]["created_at"]
    assert store.delete_rejects_before(created, dry_run=True) == 0
    assert store.delete_rejects_before(created + 1, dry_run=True) == 3 and len(store.reject_page(after_id=0, limit=9)) == 3
    assert store.delete_rejects_before(created + 1) == 3 and store.reject_page(after_id=0, limit=9) == []


def store_flag_rows(store, action: str, rows: dict) -> None:
    """Store ``rows`` (learner id -> row) as the risk-list rows of ``action``, as the refresh does."""
    store.refresh_journey_flags(action, list(rows), lambda state: rows[state["learner_id"]])


def test_journey_flags_are_stored_per_enrolment_and_deleted_when_the_journey_is_written(store):
    store.save_journeys({(k, a): {"learner_id": k} for k, a in (("L1", "ACT-A"), ("L2", "ACT-A"), ("L3", "ACT-A"),
                                                                ("L1", "ACT-B"))}, 5)
    missing = [{"learner_id": k, "flag": None} for k in ("L1", "L2", "L3")]
    assert store.journey_flags("ACT-A") == missing  # nothing stored yet: every enrolment is to compute
    flag = {"learner_id": "L1", "score": 0.875, "reasons": [{"text": "aucune activité"}], "followed_up": None}
    store_flag_rows(store, "ACT-A", {"L1": flag, "L2": None})  # L2: computed, no flag
    store_flag_rows(store, "ACT-B", {"L1": {**flag, "score": 0.5}})
    store_flag_rows(store, "ACT-A", {})
    assert store.journey_flags("ACT-A") == [{"learner_id": "L1", "flag": flag}, {"learner_id": "L3", "flag": None}]
    store_flag_rows(store, "ACT-A", {"L3": None, "L1": {**flag, "followed_up": {"action_taken": "appel"}}})  # replaced
    assert store.journey_flags("ACT-A") == [{"learner_id": "L1", "flag": {**flag, "followed_up": {"action_taken": "appel"}}}]
    store.save_journeys({("L2", "ACT-A"): {"learner_id": "L2", "v": 2}}, 0)  # a journey written: its row is gone, not the others'
    assert store.journey_flags("ACT-A") == [{"learner_id": "L1", "flag": {**flag, "followed_up": {"action_taken": "appel"}}},
                                            {"learner_id": "L2", "flag": None}]
    assert store.journey_flags("ACT-B") == [{"learner_id": "L1", "flag": {**flag, "score": 0.5}}]
    store.reset_journeys(["L1"])  # re-projected: neither journeys nor rows remain
    assert store.journey_flags("ACT-B") == []
    store.save_journeys({("L1", "ACT-B"): {"learner_id": "L1", "v": 3}}, 6)
    assert store.journey_flags("ACT-B") == [{"learner_id": "L1", "flag": None}]
    store_flag_rows(store, "ACT-B", {"L1": flag})
    store.reset_journeys()
    store.save_journeys({("L1", "ACT-B"): {"learner_id": "L1", "v": 3}}, 7)
    assert store.journey_flags("ACT-B") == [{"learner_id": "L1", "flag": None}]


def test_journey_flags_are_refreshed_from_the_journeys_in_one_go(store):
    store.save_journeys({("L1", "ACT-A"): {"v": 1, "flagged": True}, ("L2", "ACT-A"): {"v": 1},
                         ("L1", "ACT-B"): {"v": 1, "flagged": True}}, 5)

    def row_of(state):
        return {"v": state["v"]} if state.get("flagged") else None

    assert store.refresh_journey_flags("ACT-A", [], row_of) == {}
    assert store.refresh_journey_flags("ACT-A", ["L1", "L2", "L9"], row_of) == {"L1": {"v": 1}, "L2": None}
    assert store.journey_flags("ACT-A") == [{"learner_id": "L1", "flag": {"v": 1}}]  # L2 stored without a flag
    assert store.journey_flags("ACT-B") == [{"learner_id": "L1", "flag": None}]  # another action: not computed

    def failing(state):
        raise RuntimeError("no row")

    store.save_journeys({("L1", "ACT-B"): {"v": 2, "flagged": True}}, 6)
    with pytest.raises(RuntimeError):
        store.refresh_journey_flags("ACT-B", ["L1"], failing)
    assert store.journey_flags("ACT-B") == [{"learner_id": "L1", "flag": None}]  # nothing half-written
    assert store.refresh_journey_flags("ACT-B", ["L1"], row_of) == {"L1": {"v": 2}}


def test_a_journey_written_while_its_flag_row_is_computed_deletes_that_row(store_factory):
    import threading

    store, other = store_factory(), store_factory()  # two connections: two daemons on one database
    store.save_journeys({("L1", "ACT-A"): {"v": 1}}, 5)
    writers = []

    def row_of(state):
        writer = threading.Thread(target=other.save_journeys, args=({("L1", "ACT-A"): {"v": 2}}, 6))
        writer.start()
        writer.join(0.5)  # the other connection's write waits until the refresh ends
        writers.append(writer)
        return {"v": state["v"]}

    assert store.refresh_journey_flags("ACT-A", ["L1"], row_of) == {"L1": {"v": 1}}
    writers[0].join(30)
    assert not writers[0].is_alive()
    assert store.journey_flags("ACT-A") == [{"learner_id": "L1", "flag": None}]  # v1's row went with v2's write


def test_an_erasure_deletes_the_stored_attendance_that_names_the_person(store):
    from hub.learners import LearnerResolver

    rows = [row(learner={"ref": "1", "email": "a@example.org", "name": "A"}),
            row(learner={"ref": "2", "email": "b@example.org", "name": "B"})]
    for r in rows:
        r.learner_ref = json.loads(r.learner)
    store.ingest(rows, None, learners=LearnerResolver(["email"]))
    a, b = (store.get_event(r.id)["learner_id"] for r in rows)
    store.save_journeys({(a, "ACT-A"): {"v": 1}, (b, "ACT-A"): {"v": 1}}, 0)
    store.save_journey_figures("ACT-A", {a: ("d", {"gaps": 0}, {"name": "A", "email": "a@example.org"}),
                                         b: ("d", {"gaps": 0}, {"name": "B", "email": "b@example.org"})})
    events = store.erasable_events([a], until_seq=10)
    erased = {"record": "REC1", "learner_id": a, "kind": "person", "blobs": [], "person": [a],
              "rows": [(e["seq"], None, '{"x":1}', None, a) for e in events]}
    assert store.apply_erasures([erased], at=5.0) == ["REC1"]
    assert store.journey_attendance(["ACT-A"]) == [
        {"learner_id": b, "action": "ACT-A", "basis": "d", "attendance": {"name": "B", "email": "b@example.org"}}]
    assert [r["learner_id"] for r in store._execute("SELECT learner_id FROM journey_figures").fetchall()] == [b]


def test_journey_figures_are_stored_per_enrolment_and_deleted_when_the_journey_is_written(store):
    store.save_journeys({("L1", "ACT-A"): {"v": 1}, ("L2", "ACT-A"): {"v": 1}, ("L1", "ACT-B"): {"v": 1}}, 5)
    assert store.journey_figures("ACT-A") == [{"learner_id": "L1", "basis": None, "figures": None},
                                              {"learner_id": "L2", "basis": None, "figures": None}]
    seen = {"status": "started", "half_days": {"2026-12-07/am": "signed"}}
    store.save_journey_figures("ACT-A", {"L1": ("2026-12-07 x", {"gaps": 2, "rate": "87.5"}, seen),
                                         "L2": ("2026-12-07 x", {"gaps": 0, "rate": None}, {"half_days": {}})})
    store.save_journey_figures("ACT-B", {"L1": ("2026-12-07 x", {"gaps": 9}, {"half_days": {"2026-12-08/pm": "é"}})})
    store.save_journey_figures("ACT-A", {})
    assert sorted(store.journey_figures("ACT-A"), key=lambda r: r["learner_id"]) == [
        {"learner_id": "L1", "basis": "2026-12-07 x", "figures": {"gaps": 2, "rate": "87.5"}},
        {"learner_id": "L2", "basis": "2026-12-07 x", "figures": {"gaps": 0, "rate": None}}]
    assert store.journey_attendance(["ACT-B", "ACT-A"]) == [  # one read for several actions, in key order
        {"learner_id": "L1", "action": "ACT-A", "basis": "2026-12-07 x", "attendance": seen},
        {"learner_id": "L2", "action": "ACT-A", "basis": "2026-12-07 x", "attendance": {"half_days": {}}},
        {"learner_id": "L1", "action": "ACT-B", "basis": "2026-12-07 x", "attendance": {"half_days": {"2026-12-08/pm": "é"}}}]
    assert store.journey_attendance([]) == [] and store.journey_attendance(["ACT-NONE"]) == []
    store.save_journey_figures("ACT-A", {"L2": ("2026-12-08 x", {"gaps": 1, "rate": "90"}, {"half_days": {"d": "s"}})})  # replaced
    store.save_journeys({("L1", "ACT-A"): {"v": 2}}, 0)  # a journey written: its figures are gone, not the others'
    assert sorted(store.journey_figures("ACT-A"), key=lambda r: r["learner_id"]) == [
        {"learner_id": "L1", "basis": None, "figures": None},
        {"learner_id": "L2", "basis": "2026-12-08 x", "figures": {"gaps": 1, "rate": "90"}}]
    assert store.journey_attendance(["ACT-A"]) == [
        {"learner_id": "L1", "action": "ACT-A", "basis": None, "attendance": None},
        {"learner_id": "L2", "action": "ACT-A", "basis": "2026-12-08 x", "attendance": {"half_days": {"d": "s"}}}]
    assert store.journey_figures("ACT-B") == [{"learner_id": "L1", "basis": "2026-12-07 x", "figures": {"gaps": 9}}]
    store.reset_journeys(["L1"])  # re-projected: neither journeys nor figures remain
    assert store.journey_figures("ACT-B") == [] and store.journey_attendance(["ACT-B"]) == []
    store.save_journeys({("L1", "ACT-B"): {"v": 3}}, 6)
    assert store.journey_figures("ACT-B") == [{"learner_id": "L1", "basis": None, "figures": None}]
    assert store.journey_attendance(["ACT-B"]) == [{"learner_id": "L1", "action": "ACT-B", "basis": None, "attendance": None}]
    store.reset_journeys()
    store.save_journeys({("L2", "ACT-A"): {"v": 3}}, 7)
    assert store.journey_figures("ACT-A") == [{"learner_id": "L2", "basis": None, "figures": None}]
