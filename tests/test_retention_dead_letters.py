"""Erasure reaches the dead letters: the rejects naming a person being erased are scrubbed under
the sealed privacy.erased record, a replay of them is refused, and dead letters past their own
retention are deleted by the run (docs/retention.md, sections 2 and 6)."""

import datetime as dt
import json

from hub.ledger.integrity import verify
from hub.privacy.dead_letters import ERASED, Finder, Needles, scrub
from hub.privacy.job import erase_learner, run_retention
from hub.store.base import RejectRow
from tests.test_retention import TODAY, killed_at_second_batch, learner_of, ledger

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc).timestamp()  # within the 3 months of TODAY

ALICE_NESTED = {"contact": {"properties": {"email": "ALICE@example.fr", "firstname": "Alice", "phone": "0612345678"}},
                "deal": {"amount": 1200, "stage": "won"}, "note": "write to alice@example.fr about the deal"}
CHLOE_EVENT = {"type": "attendance.signed", "occurred_at": "2019-05-07T09:00:00Z", "source_id": "e-x",
               "learner": {"ref": "19", "email": "chloe@example.fr", "name": "Chloé Roux"}, "action": "ACT-1",
               "data": {"date": "2019-05-07", "half_day": "pm", "signer_name": "Chloé Roux"}}


async def add_rejects(hub, rejects, *, created_at=NOW):
    """Store ``rejects`` (source, stage, error, payload: a value, or text kept as is) and return their ids."""
    store = hub.store
    before = store.conn.execute("SELECT coalesce(max(id), 0) FROM rejects").fetchone()[0]
    rows = [RejectRow(source, stage, error, payload if isinstance(payload, str) else json.dumps(payload))
            for source, stage, error, payload in rejects]
    await store.call(store.ingest, [], None, rejects=rows)
    store.conn.execute("UPDATE rejects SET created_at = ? WHERE id > ?", (created_at, before))
    return [r[0] for r in store.conn.execute("SELECT id FROM rejects WHERE id > ? ORDER BY id", (before,))]


def reject(hub, reject_id):
    r = hub.store.conn.execute("SELECT source, stage, error, payload, created_at, erased_at, erased_by FROM rejects "
                               "WHERE id = ?", (reject_id,)).fetchone()
    return None if r is None else dict(zip(("source", "stage", "error", "payload", "created_at", "erased_at", "erased_by"), r))


async def dead_letter_ledger(hub):
    """test_retention's ledger (Alice and Chloé past retention, Bruno kept) and its dead letters."""
    ids, _ = await ledger(hub)
    letters = dict(zip(
        ("nested", "by_id", "other_source", "unreadable", "bruno", "chloe"),
        await add_rejects(hub, [
            ("crm", "map", "contact alice@example.fr: no action", ALICE_NESTED),
            ("crm", "map", "log row: unknown event", {"userid": 17, "eventname": "viewed", "count": 3}),
            ("moodle", "map", "log row: unknown event", {"userid": 17, "eventname": "viewed"}),  # moodle's 17: someone else
            ("crm", "map", "not JSON", "Alice Martin;alice@example.fr;17 (a CSV line"),
            ("crm", "map", "no action", {"email": "bruno@example.fr", "name": "Bruno Petit"}),
            ("crm", "validate", "data.half_day: bad", CHLOE_EVENT),
        ])))
    letters["old"] = (await add_rejects(hub, [("crm", "map", "old", {"email": "bruno@example.fr"})],
                                        created_at=dt.datetime(2026, 8, 1, tzinfo=dt.timezone.utc).timestamp()))[0]
    return ids, letters


async def test_the_run_scrubs_the_dead_letters_of_the_persons_it_erases(make_hub):
    hub = await make_hub("", start=False)
    ids, letters = await dead_letter_ledger(hub)
    untouched = {name: reject(hub, i) for name, i in letters.items()}

    dry = await run_retention(hub, today=TODAY, dry_run=True)
    assert dry["dead_letters_due"] == 4  # Alice: nested, by_id, unreadable; Chloé: her event
    assert dry["dead_letters_expired"] == 1 and dry["dead_letters_before"] == "2026-09-07"
    assert {name: reject(hub, i) for name, i in letters.items()} == untouched  # a dry run changes nothing

    report = await run_retention(hub, today=TODAY)
    assert report["dead_letters_erased"] == 4 and report["dead_letters_due"] == 4 and report["dead_letters_expired"] == 1
    assert reject(hub, letters["old"]) is None  # past its 3 months: deleted, whoever it named

    nested = reject(hub, letters["nested"])
    payload = json.loads(nested["payload"])
    assert payload["contact"]["properties"] == {"email": ERASED, "firstname": ERASED, "phone": ERASED}
    assert payload["deal"] == {"amount": 1200, "stage": "won"} and payload["note"] == f"write to {ERASED} about the deal"
    assert nested["error"] == f"contact {ERASED}: no action"
    assert (nested["source"], nested["stage"], nested["created_at"]) == ("crm", "map", NOW)  # what dlq list shows stays
    assert "alice" not in json.dumps(nested).lower()
    assert json.loads(reject(hub, letters["by_id"])["payload"]) == {"userid": ERASED, "eventname": "viewed", "count": 3}
    unreadable = reject(hub, letters["unreadable"])
    marker = json.loads(unreadable["payload"])
    assert set(marker) == {"erased", "record", "note"} and dt.datetime.fromisoformat(marker["erased"].replace("Z", "+00:00"))
    assert "alice" not in unreadable["payload"].lower() and unreadable["erased_by"] == marker["record"]
    chloe = json.loads(reject(hub, letters["chloe"])["payload"])
    assert chloe["learner"] == ERASED and chloe["data"] == {"date": "2019-05-07", "half_day": "pm", "signer_name": ERASED}
    for name in ("other_source", "bruno"):  # another person's: intact
        assert reject(hub, letters[name]) == untouched[name]

    # the ledger records it, without personal data, and still verifies
    alice = await learner_of(hub, ids[1])
    records = await hub.store.call(lambda: list(hub.store.iter_events(types=["privacy.erased"])))
    alice_record = next(r for r in records if r["data"]["learner"] == alice)
    assert alice_record["data"]["dead_letters"] == sorted([letters["nested"], letters["by_id"], letters["unreadable"]])
    assert reject(hub, letters["nested"])["erased_by"] == alice_record["id"]
    assert (await hub.store.call(verify, hub.store)).ok
    totals = await hub.store.call(hub.store.erasure_totals)
    assert totals["dead_letters"] == 4

    # dlq list still shows them, marked; a replay is refused with the reason, and they stay listed
    listed = {d.id: d for d in await hub.store.call(hub.store.dead_letters)}
    assert listed[f"r:{letters['nested']}"].erased_at is not None and listed[f"r:{letters['bruno']}"].erased_at is None
    assert listed[f"r:{letters['unreadable']}"].payload == marker
    count = "SELECT count(*) FROM events WHERE type = 'attendance.signed'"
    events_before = hub.store.conn.execute(count).fetchone()[0]
    summary = await hub.dead_letters.replay(ids=[f"r:{letters['nested']}", f"r:{letters['chloe']}"])
    assert summary["replayed"] == 0 and len(summary["errors"]) == 2
    assert all("personal data was erased on" in e and "not replayed" in e for e in summary["errors"])
    assert await hub.store.call(hub.store.dead_letter, f"r:{letters['nested']}") is not None
    assert hub.store.conn.execute(count).fetchone()[0] == events_before  # nothing recreated

    again = await run_retention(hub, today=TODAY)  # nothing twice
    assert again["dead_letters_erased"] == 0 and again["dead_letters_due"] == 0


async def test_an_erasure_on_request_scrubs_the_persons_dead_letters(make_hub):
    hub = await make_hub("", start=False)
    ids, letters = await dead_letter_ledger(hub)
    alice = await learner_of(hub, ids[1])
    outcome = await erase_learner(hub, alice, reason="courriel", today=TODAY)
    assert outcome.erased and sum(r["dead_letters"] for r in outcome.records) == 3
    assert "alice" not in reject(hub, letters["nested"])["payload"].lower()
    assert reject(hub, letters["chloe"])["erased_at"] is None  # Chloé did not ask
    assert reject(hub, letters["old"]) is not None  # deleting by age is the run's job
    assert (await hub.store.call(verify, hub.store)).ok


async def test_a_run_killed_between_batches_leaves_no_dead_letter_half_erased(make_hub, monkeypatch):
    hub = await make_hub("", start=False)
    hub.config.hub.retention.batch = 1  # Alice and Chloé in two transactions: killed between them
    ids, letters = await dead_letter_ledger(hub)
    store = hub.store
    await killed_at_second_batch(hub, monkeypatch)
    alice_letters = [letters[n] for n in ("nested", "by_id", "unreadable")]
    alice_done = {reject(hub, i)["erased_at"] is not None for i in alice_letters}
    chloe_done = reject(hub, letters["chloe"])["erased_at"] is not None
    assert len(alice_done) == 1 and alice_done != {chloe_done}  # each person whole, one done and one not
    assert (await store.call(verify, store)).ok

    report = await run_retention(hub, today=TODAY)
    assert report["resumed"] >= 1
    assert all(reject(hub, i)["erased_at"] is not None for i in [*alice_letters, letters["chloe"]])
    assert "chloé" not in reject(hub, letters["chloe"])["payload"].lower()
    assert reject(hub, letters["bruno"])["erased_at"] is None


def test_a_reject_names_a_person_by_their_values_not_by_chance():
    alice = Needles.of({"learner_id": "L1", "email": "Alice@Example.fr", "name": "Alice Martin",
                        "keys": ["email:alice@example.fr", "src:crm:17", "src:edusign/site-a:S-9", "id:ft:FT123"]})
    finder = Finder({"L1": alice})
    row = lambda source, payload, error="": {"id": 1, "source": source, "payload": json.dumps(payload), "error": error}  # noqa: E731
    assert finder.persons_in(row("crm", {"to": "Alice <ALICE@example.fr>"})) == {"L1"}
    assert finder.persons_in(row("crm", {"contact_id": "17"})) == {"L1"}
    assert finder.persons_in(row("crm", {"userids": [16, 17]})) == {"L1"}  # a number under an id-like key
    assert finder.persons_in(row("crm", {"count": 17})) == set()  # a number that is no id
    assert finder.persons_in(row("moodle", {"userid": 17})) == set()  # another source's 17
    assert finder.persons_in(row("edusign", {"student": "S-9"})) == {"L1"}  # a site's reference, under its source
    assert finder.persons_in(row("stripe", {"metadata": {"ft": "FT123"}})) == {"L1"}  # id: keys, anywhere
    assert finder.persons_in(row("crm", {"x": "not alice@example.fr.evil"})) == set()
    assert finder.persons_in(row("crm", {"name": "Alice Martin"})) == set()  # a name alone: homonyms
    assert finder.persons_in(row("crm", {"a": 1}, error="contact alice@example.fr: bad")) == {"L1"}
    assert finder.persons_in({"id": 2, "source": "crm", "payload": "{broken alice@example.fr", "error": ""}) == {"L1"}

    scrubbed = scrub({"id": 3, "source": "crm", "source_id": "17", "error": "Alice Martin (17): bad",
                      "payload": json.dumps({"Prénom": "Alice", "nom": "Martin", "E-mail": "x@y.fr", "ref": "17",
                                             "hours": 3.5, "userid": 17, "comment_count": 2})},
                     alice, record="R", at=NOW)
    assert scrubbed[0] == 3 and scrubbed[3] == ERASED and scrubbed[2] == f"{ERASED} ({ERASED}): bad"
    assert json.loads(scrubbed[1]) == {"Prénom": ERASED, "nom": ERASED, "E-mail": ERASED, "ref": ERASED, "hours": 3.5,
                                       "userid": ERASED, "comment_count": 2}
