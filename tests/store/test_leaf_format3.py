"""Leaf format 3: a leaf hashes the row's columns exactly as stored (SQLite and PostgreSQL).

The database builds the bytes (hub.store.sql_sealed_rows); Python rebuilds them from the stored
values (hub.ledger.merkle.stored_form) for proofs and erasure records: both must agree byte for
byte. Every single column of a sealed row changed, a row deleted or inserted, the stored leaves
altered: ``verify`` names each, with one process or several.
"""

from __future__ import annotations

import json

import pytest

from hub.learners import LearnerResolver
from hub.ledger.integrity import check_proof, prove, seal, verify
from hub.ledger.merkle import LEAF_COLUMNS, STORED_FORMAT, stored_form
from hub.store.base import STORED_COLUMNS
from tests.store.test_ledger_tampering import T1, learners_ledger, tamper
from tests.store.test_store_contract import row


def test_the_leaf_columns_are_the_stored_columns_and_the_link_to_a_learner():
    assert LEAF_COLUMNS == STORED_COLUMNS + ("learner_id", "learner_key") and STORED_FORMAT == 3


def test_the_stored_form_is_netstrings_in_column_order():
    columns = dict.fromkeys(LEAF_COLUMNS)
    columns.update(id="É:1", type="", occurred_us=-5, data='{"a":"-"}')
    assert stored_form(columns) == (b"4:\xc3\x89:1" + b"0:" + b"2:-5" + b"-" * 5 + b'9:{"a":"-"}' + b"-" * 4)
    with pytest.raises(TypeError):
        stored_form({**columns, "data": 1.5})


def odd_rows() -> list:
    """Values where an ambiguous layout would collide: non-ASCII, empty text vs NULL, ':' and '-'
    inside values, a big data JSON."""
    return [
        row(learner={"ref": "é:ü-", "name": "Zoë-Ōta 😀"}, action="", data={"note": "1:-:2", "é": "ß" * 3}),
        row(learner=None, action=None, data={}, evidence=[]),
        row(source="-", source_id=":", learner_key="", data={"big": "x" * 300_000, "list": list(range(2000))}),
        row(data={"a": "-"}, evidence=[{"sha256": "ab" * 32, "name": "attestation – signée.pdf"}]),
    ]


def test_sql_and_python_build_the_same_bytes(store):
    store.ingest(odd_rows(), None, learners=LearnerResolver())
    built = store.stored_leaf_bytes(LEAF_COLUMNS, 1)
    rows = store.stored_rows(LEAF_COLUMNS, 1, built[-1][0])
    assert [seq for seq, _ in built] == [r["seq"] for r in rows] and len(built) == 4
    for (_, leaf), stored in zip(built, rows):
        assert leaf == b"\x00" + stored_form(stored["stored"])
    assert rows[1]["stored"]["action"] is None and rows[0]["stored"]["action"] == ""
    assert b"-" in built[1][1] and b"0:" in built[0][1]  # NULL and empty text differ
    assert len(built[2][1]) > 300_000
    assert store.stored_leaf_bytes(LEAF_COLUMNS, 2, 3) == built[1:3]
    assert store.stored_leaf_bytes(LEAF_COLUMNS, 2, limit=1) == built[1:2]
    with pytest.raises(ValueError):
        store.stored_leaf_bytes(("data", "1; DROP TABLE events"), 1)


def test_a_format_3_ledger_verifies_and_its_proofs_carry_the_stored_columns(store):
    store.ingest(odd_rows(), None, learners=LearnerResolver())
    [block] = seal(store, now=T1)
    assert block.leaf_format == 3
    assert verify(store).ok and verify(store, jobs=2).ok
    event_id = store.stored_rows(("id",), 3, 3)[0]["id"]
    proof = prove(store, event_id)
    assert check_proof(proof)[0] and json.loads(proof["event"]["stored"]["data"])["big"] == "x" * 300_000


COLUMN_CHANGES = [
    ("id", "'EVOTHER'"), ("type", "'lms.other'"), ("occurred_us", "occurred_us + 1"),
    ("received_at", "'2026-01-01T00:00:02.000000Z'"), ("source", "'other'"), ("source_id", "'other'"),
    ("learner", "NULL"), ("action", "'A2'"), ("data", "'{\"n\": 1} '"), ("evidence", "'[]'"),
    ("supersedes", "'EVX'"), ("learner_id", "'01SOMEONEELSE'"), ("learner_key", "'email:x@y.org'"),
]


@pytest.mark.parametrize("column, value", COLUMN_CHANGES, ids=[c for c, _ in COLUMN_CHANGES])
def test_changing_any_single_column_of_a_sealed_row_is_caught(store_factory, column, value):
    store = store_factory()
    events = learners_ledger(store)
    victim = events[6]
    assert {c for c, _ in COLUMN_CHANGES} == set(LEAF_COLUMNS)
    tamper(store_factory, f"UPDATE events SET {column} = {value} WHERE seq = ?", (victim["seq"],))
    expected = f"block 1: event {'EVOTHER' if column == 'id' else victim['id']} was altered"
    assert verify(store).problem == expected
    assert verify(store, jobs=2).problem == expected


def test_the_same_json_written_with_other_bytes_is_an_alteration(store_factory):
    store = store_factory()
    events = learners_ledger(store)
    victim = events[2]
    stored = store.stored_rows(("data",), victim["seq"], victim["seq"])[0]["stored"]["data"]
    respaced = json.dumps(json.loads(stored), indent=1)
    assert json.loads(respaced) == json.loads(stored) and respaced != stored
    tamper(store_factory, "UPDATE events SET data = ? WHERE seq = ?", (respaced, victim["seq"]))
    assert verify(store).problem == f"block 0: event {victim['id']} was altered"


def test_deleting_or_inserting_a_row_and_altering_the_stored_leaves_are_caught(store_factory):
    store = store_factory()
    events = learners_ledger(store)
    leaves = bytearray(store.block_leaves(2))
    leaves[5] ^= 1
    tamper(store_factory, "UPDATE blocks SET leaves = ? WHERE idx = 2", (bytes(leaves),))
    assert verify(store).problem == "block 2: its stored leaf hashes were altered"
    assert verify(store, jobs=2).problem == "block 2: its stored leaf hashes were altered"
    tamper(store_factory, "DELETE FROM events WHERE seq = ?", (events[7]["seq"],))
    for jobs in (1, 2):  # the lowest block that fails is named, whatever the jobs
        problem = verify(store, jobs=jobs).problem
        assert problem.startswith("block 1: sealed 5 events (seq 6–10), found 4") and "removed or inserted" in problem
    tamper(store_factory, "INSERT INTO events (seq, id, type, occurred_us, received_at, source, source_id, data) "
                          "VALUES (?, 'EVIN', 'lms.session', 0, '2026-01-01T00:00:00Z', 'moodle', 'x', '{}')",
           (events[7]["seq"],))
    assert verify(store).problem == "block 1: event EVIN was altered"


def test_a_sealed_unreadable_row_is_reported_by_a_check_in_sql_not_by_decoding_every_row(store_factory):
    store = store_factory()
    store.ingest([row(data={"n": i}) for i in range(6)], None, learners=LearnerResolver())
    tamper(store_factory, "UPDATE events SET data = ? WHERE seq = 2", ('{"n": "1',))
    tamper(store_factory, "UPDATE events SET data = ? WHERE seq = 4", ('{"a": "\\ud800"}',))
    tamper(store_factory, "UPDATE events SET evidence = ? WHERE seq = 5", ("{}",))
    seal(store, now=T1)
    for jobs in (1, 2):
        report = verify(store, jobs=jobs)
        assert not report.ok and report.problem is None and report.unreadable == 3
        assert [f["seq"] for f in report.unreadable_events] == [2, 4, 5]
    assert [e["seq"] for e in store.undecodable_events(1, 6)] == [2, 4, 5]


ODD_VALUES = [  # (column, stored text): readable or not, the SQL pre-check must let none unreadable through
    ("data", '{"a": NaN}'), ("data", ' {"a": 1}'), ("data", '{"a": "\\ud83d\\ude00"}'), ("data", '{"a": "\\ud800"}'),
    ("data", '{"a": "\\uD800"}'), ("data", "[1]"), ("data", "null"), ("data", ""), ("data", '{"n": 12345678901234567890}'),
    ("data", '{"a": 1} x'), ("data", '{"a": 1,}'), ("data", '\ufeff{}'), ("data", '{"a": "x\ty"}'), ("data", '{"a": 1e999}'),
    ("data", '{"é": "\\u00e9"}'), ("evidence", " []"), ("evidence", "null"), ("evidence", "{}"), ("evidence", '[1] '),
    ("evidence", ""), ("learner", '"u1"'), ("learner", "null"), ("learner", " {}"), ("learner", "[]"), ("learner", "{"),
]


def test_the_sql_pre_check_finds_exactly_the_rows_that_cannot_be_decoded(store):
    from hub.store.base import event_dict

    store.ingest([row() for _ in ODD_VALUES], None)
    for seq, (column, value) in enumerate(ODD_VALUES, start=1):
        store._execute(f"UPDATE events SET {column} = ? WHERE seq = ?", (value, seq))
    decoded = [event_dict(r) for r in store._execute("SELECT * FROM events ORDER BY seq")]
    expected = [e["seq"] for e in decoded if "unreadable" in e]
    assert 8 <= len(expected) < len(ODD_VALUES)  # some of each
    assert [e["seq"] for e in store.undecodable_events(1, len(ODD_VALUES))] == expected
