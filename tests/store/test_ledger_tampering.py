"""What figures are computed from is sealed, and truncation is detected (SQLite and PostgreSQL).

Each test edits the database behind the hub's back, as someone with access to it would, and
checks that ``verify`` names what changed: an event's link to a learner, the stored leaf hashes,
an event inserted before the first block, the newest blocks removed (against the signed head kept
outside the store), anchors removed.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from hub.learners import LearnerResolver
from hub.ledger.head import HeadError, HeadFile, publish_head
from hub.ledger.integrity import GENESIS, check_proof, prove, seal, verify, with_links
from hub.ledger.merkle import build_block
from tests.store.test_store_contract import row

T1 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)


def tamper(store_factory, sql: str, params: tuple = ()) -> None:
    """Run ``sql`` on the store's database through a connection of its own."""
    if store_factory.kind == "sqlite":
        conn = sqlite3.connect(store_factory.url.removeprefix("sqlite:///"))
        with conn:
            conn.execute(sql, params)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(store_factory.url) as conn:
            conn.execute(sql.replace("?", "%s"), params)


def learners_ledger(store, n: int = 12) -> list:
    """``n`` events of two learners, linked by the learner registry, sealed in blocks of 5."""
    rows = [row(learner={"ref": f"u{i % 2}", "email": f"learner{i % 2}@example.org"}, action="A1")
            for i in range(n)]
    store.ingest(rows, None, learners=LearnerResolver())
    seal(store, max_events=5, now=T1)
    assert verify(store).ok
    return [store.get_event(r.id) for r in rows]


def test_moving_an_event_to_another_learner_is_caught(store_factory):
    store = store_factory()
    events = learners_ledger(store)
    moved, other = events[6], events[7]
    assert moved["learner_id"] != other["learner_id"]
    tamper(store_factory, "UPDATE events SET learner_id = ? WHERE id = ?", (other["learner_id"], moved["id"]))
    report = verify(store)
    assert not report.ok and report.problem == f"block 1: event {moved['id']} was altered"


def test_changing_an_events_learner_key_is_caught(store_factory):
    store = store_factory()
    events = learners_ledger(store)
    tamper(store_factory, "UPDATE events SET learner_key = 'email:someone@else.org' WHERE id = ?", (events[11]["id"],))
    report = verify(store)
    assert not report.ok and report.problem == f"block 2: event {events[11]['id']} was altered"


def test_stored_leaf_hashes_are_checked(store_factory):
    store = store_factory()
    learners_ledger(store)
    leaves = bytearray(store.block_leaves(1))
    leaves[40] ^= 1
    tamper(store_factory, "UPDATE blocks SET leaves = ? WHERE idx = 1", (bytes(leaves),))
    report = verify(store)
    assert not report.ok and report.problem == "block 1: its stored leaf hashes were altered"
    tamper(store_factory, "UPDATE blocks SET leaves = NULL WHERE idx = 1")
    assert verify(store).problem == "block 1: its stored leaf hashes were removed"


@pytest.mark.parametrize("seq", [0, -5])
def test_an_event_before_the_first_block_is_reported(store_factory, seq):
    store = store_factory()
    learners_ledger(store)
    tamper(store_factory, "INSERT INTO events (seq, id, type, occurred_us, received_at, source, source_id, data) "
                          "VALUES (?, 'EVBEFORE', 'lms.session', 0, '2026-01-01T00:00:00Z', 'moodle', 'x', '{}')", (seq,))
    report = verify(store)
    assert not report.ok
    assert report.problem == f"event EVBEFORE at seq {seq} lies before the first block (seq 1): it was inserted"


@pytest.mark.parametrize("old_format", [1, 2])
def test_blocks_sealed_in_an_earlier_leaf_format_keep_verifying(store_factory, old_format):
    """A ledger sealed in format 1 (before the link to a learner was sealed) or 2 (before leaves hashed
    the stored bytes), then in format 3: each block keeps its format and hash, and proofs of both check."""
    store = store_factory()
    rows = [row(learner={"ref": "u1"}) for _ in range(4)]
    store.ingest(rows, None, learners=LearnerResolver())
    old = with_links(store, list(store.iter_events()), old_format)
    header, leaves = build_block(old, 0, GENESIS, T1, leaf_format=old_format)
    fields = {"index": 0, "first_seq": header.first_seq, "last_seq": header.last_seq, "count": header.count,
              "root": header.root, "prev_hash": header.prev_hash, "sealed_at": header.sealed_at, "hash": header.hash}
    if old_format > 1:
        fields["leaf_format"] = old_format
    store.add_block(fields, b"".join(leaves))  # as the hub wrote it then (format 1: no leaf_format)
    store.ingest([row(learner={"ref": "u1"}) for _ in range(3)], None, learners=LearnerResolver())
    [new] = seal(store, now=T1)
    assert new.leaf_format == 3 and new.prev_hash == header.hash
    report = verify(store)
    assert report.ok and report.blocks == 2 and report.events == 7
    proof = prove(store, rows[1].id)
    assert (proof["block"].get("leaf_format") or 1) == old_format and "stored" not in proof["event"]
    assert ("learner_id" in proof["event"]) == (old_format == 2) and check_proof(proof)[0]
    proof = prove(store, list(store.iter_events(after_seq=5))[0]["id"])
    stored = proof["event"]["stored"]
    assert proof["block"]["leaf_format"] == 3 and stored["learner_id"] and isinstance(stored["data"], str)
    assert check_proof(proof)[0]
    forged = json.loads(json.dumps(proof))
    forged["event"]["stored"]["learner_id"] = "01SOMEONEELSE"
    assert not check_proof(forged)[0]
    # a block whose header is made to claim another format no longer matches its hash
    tamper(store_factory, "UPDATE blocks SET leaf_format = 3 WHERE idx = 0")
    assert verify(store).problem == "block 0: its header was altered (hash mismatch)"


def head_ledger(store_factory, tmp_path):
    store = store_factory()
    learners_ledger(store)
    head_file = HeadFile(tmp_path / "head.json", tmp_path / "data" / "ledger-head.key")
    head = publish_head(store, head_file, now=T1)
    assert head["block"] == 2 and head["blocks"] == 3 and head["events"] == 12 and head["time"] == "2026-11-02T09:00:00Z"
    assert verify(store, head=head_file.read()).ok
    return store, head_file


def test_removing_the_newest_block_and_its_events_is_caught(store_factory, tmp_path):
    store, head_file = head_ledger(store_factory, tmp_path)
    tamper(store_factory, "DELETE FROM events WHERE seq > 10")
    tamper(store_factory, "DELETE FROM blocks WHERE idx = 2")
    assert verify(store).ok  # the chain that is left checks out: only the head shows what is missing
    report = verify(store, head=head_file.read())
    assert not report.ok and report.problem == (
        "the ledger is shorter than it was at 2026-11-02T09:00:00Z: the signed head records 3 block(s) and 12 sealed "
        "event(s) (newest block 2); the store holds 2 block(s) and 10 sealed event(s)")
    with pytest.raises(HeadError, match="shorter than it was"):
        publish_head(store, head_file)  # the head never moves backwards
    assert head_file.read()["blocks"] == 3


def test_removing_the_newest_block_row_then_sealing_again_is_caught(store_factory, tmp_path):
    store, head_file = head_ledger(store_factory, tmp_path)
    tamper(store_factory, "DELETE FROM blocks WHERE idx = 2")
    report = verify(store, head=head_file.read())
    assert not report.ok and report.problem.startswith("the ledger is shorter than it was at 2026-11-02T09:00:00Z")
    # its events are "not sealed yet": edited, then sealed again into a new block 2
    tamper(store_factory, "UPDATE events SET data = '{\"n\": 0}' WHERE seq = 12")
    seal(store, max_events=5)
    assert verify(store).ok
    report = verify(store, head=head_file.read())
    assert not report.ok and report.problem == (
        "block 2 is not the block the signed head of 2026-11-02T09:00:00Z records: the ledger was rewritten from there")


def test_removing_an_anchor_is_caught(store_factory, tmp_path):
    store, head_file = head_ledger(store_factory, tmp_path)
    store.set_block_anchor(2, json.dumps({"tsa": "https://tsa.example", "token": "AA==", "gen_time": "2026-11-02T09:00:01Z"}))
    assert publish_head(store, head_file)["anchored"] == 1
    tamper(store_factory, "UPDATE blocks SET anchor = NULL WHERE idx = 2")
    report = verify(store, head=head_file.read())
    assert not report.ok and report.problem.startswith("time-stamp anchors were removed: the signed head of ")


def test_a_forged_head_is_refused(store_factory, tmp_path):
    store, head_file = head_ledger(store_factory, tmp_path)
    signed = json.loads(head_file.path.read_text())
    head_file.path.write_text(json.dumps({**signed, "blocks": 2, "block": 1}))
    with pytest.raises(HeadError, match="was altered"):
        head_file.read()
    (tmp_path / "data" / "ledger-head.key").unlink()
    with pytest.raises(HeadError, match="key .* is missing"):
        head_file.read()


def test_the_head_is_signed_with_the_document_key_when_there_is_one(store_factory, tmp_path):
    from hub.documents.keys import KeyRing

    store = store_factory()
    learners_ledger(store)
    ring = KeyRing(tmp_path / "keys")
    key = ring.generate()
    head_file = HeadFile(tmp_path / "head.json", tmp_path / "data" / "ledger-head.key", ring)
    assert publish_head(store, head_file, now=T1)["key"] == f"document:{key.kid}"
    assert not head_file.key_path.exists()  # no hub key needed
    ring.rotate()  # a retired key still checks the heads it signed
    assert verify(store, head=head_file.read()).ok
    elsewhere = HeadFile(head_file.path, head_file.key_path, KeyRing(tmp_path / "other-keys"))
    with pytest.raises(HeadError, match=f"names document key {key.kid}, which the document key ring does not hold"):
        elsewhere.read()
