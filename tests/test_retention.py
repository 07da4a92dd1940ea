"""Retention and erasure: personal data past its retention is pseudonymised while `verify` still
passes on the whole ledger, proofs of what remains still check, and tampering is still seen."""

import datetime as dt
import json
import subprocess
import sys

import aiohttp
import pytest

from hub.ledger.anchoring import anchor_after_seal, anchor_checker
from hub.ledger.integrity import check_proof, prove, verify
from hub.privacy.job import erase_learner, pseudonymise_kind, run_retention
from hub.privacy.rules import add_years, months_before, persons
from hub.privacy.settings import RetentionConfig
from tests.fakes.tsa import tsa_peer_fixture, tsa_pki_fixture  # noqa: F401  (fixtures)
from tests.test_anchoring import Log, settings_for

TODAY = dt.date(2026, 12, 7)


def item(i, when, who, type_="attendance.signed", **over):
    learner = who
    data = {"lms.progress": {"percent": 50}, "prospect.contact_created": {"email": learner.get("email"), "phone": "0600000000"},
            "attendance.signed": {"date": when[:10], "half_day": "am", "signer_name": learner.get("name")},
            "document.issued": {"document_type": "certificat_realisation", "document": "DOC-ALICE",
                                "sha256": "cd" * 32, "details": {"fields": {"learner": "Alice Martin"}}},
            "access.sign_in": {"email": learner.get("email") or "x@example.fr", "outcome": "success", "step": "password",
                               "remote": "192.0.2.7"}}[type_]
    return {"type": type_, "occurred_at": when, "source_id": f"e-{i}", "learner": who, "action": "ACT-1",
            "data": data, **over}


ALICE = {"ref": "17", "email": "alice@example.fr", "name": "Alice Martin"}
BRUNO = {"ref": "18", "email": "bruno@example.fr", "name": "Bruno Petit"}
CHLOE = {"ref": "19", "email": "chloe@example.fr", "name": "Chloé Roux"}
DORA = {"ref": "20", "email": "dora@example.fr", "name": "Dora Blanc"}


async def ledger(hub, *, anchor=None):
    """Alice trained in 2018 and Chloé in 2019 (past the 6 years), Dora in 2022 (her 2021 funnel trace is past
    3 years), Bruno trains now (his 2022 funnel trace is within 3 years of his last contact); sealed in small blocks."""
    sheet = hub.blobs.put(b"signed sheet of Alice Martin", media_type="application/pdf", name="alice.pdf")
    items = [item(1, "2017-11-02T10:00:00Z", ALICE, "prospect.contact_created"),
             item(2, "2018-03-05T09:00:00Z", ALICE, evidence=[sheet.model_dump(exclude_none=True)]),
             item(3, "2018-03-06T09:00:00Z", ALICE),
             item(4, "2019-05-06T09:00:00Z", CHLOE),
             item(5, "2026-11-30T09:00:00Z", BRUNO),
             item(6, "2022-06-01T09:00:00Z", BRUNO, "prospect.contact_created"),
             item(7, "2024-01-02T09:00:00Z", {"ref": "x"}, "access.sign_in", learner=None),
             item(8, "2026-11-02T09:00:00Z", {"ref": "x"}, "access.sign_in", learner=None),
             item(9, "2021-01-04T09:00:00Z", DORA, "prospect.contact_created"),
             item(10, "2022-06-01T09:00:00Z", DORA),
             item(11, "2018-03-07T09:00:00Z", ALICE, "document.issued")]
    ids = (await hub.append(items, source="crm")).ids
    hub.config.hub.ledger.max_block_events = 3
    await hub.seal()
    if anchor is not None:
        await anchor(hub)
    return ids, sheet


async def learner_of(hub, event_id):
    return (await hub.store.call(hub.store.get_event, event_id))["learner_id"]


def row(hub, event_id):
    return hub.store.conn.execute("SELECT learner, data, evidence, learner_key FROM events WHERE id = ?", (event_id,)).fetchone()


def test_durations_count_from_the_end_of_the_year_and_the_last_contact():
    us = lambda d: int(dt.datetime.fromisoformat(d).replace(tzinfo=dt.timezone.utc).timestamp() * 1e6)  # noqa: E731
    rows = [{"learner_id": "A", "last_us": us("2019-02-01"), "funnel_us": us("2017-01-01"), "evidence_us": us("2018-06-01")},
            {"learner_id": "A2", "last_us": us("2018-01-01"), "funnel_us": None, "evidence_us": us("2018-01-01")},
            {"learner_id": "B", "last_us": us("2020-02-29"), "funnel_us": us("2020-02-29"), "evidence_us": None}]
    out = persons(rows, {"A2": "A"}, {"A2"}, RetentionConfig(eu_cofunded_years=10))
    assert out["A"].ids == ["A", "A2"] and out["A"].evidence_until == dt.date(2029, 1, 1)  # EU co-funded: 10 years
    assert out["A"].funnel_until == dt.date(2022, 2, 1) and out["A"].until == dt.date(2029, 1, 1)
    assert out["B"].evidence_until is None and out["B"].until == dt.date(2023, 2, 28)
    assert persons(rows, {}, set(), RetentionConfig())["A"].evidence_until == dt.date(2025, 1, 1)
    assert add_years(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28) and months_before(TODAY, 12) == dt.date(2025, 12, 7)


async def test_retention_erases_what_is_past_and_verify_and_proofs_still_check(make_hub, tsa_peer, workdir):
    hub = await make_hub("", start=False)
    async with aiohttp.ClientSession() as session:
        async def anchor(h):
            assert await anchor_after_seal(h.store, session, settings_for(tsa_peer), log=Log()) is not None
        ids, sheet = await ledger(hub, anchor=anchor)
    alice, bruno = await learner_of(hub, ids[1]), await learner_of(hub, ids[4])
    kept_export = workdir / "var" / "exports" / "opco" / "2018-03" / "v1"
    recent_export = workdir / "var" / "exports" / "opco" / "2026-11" / "v1"
    for folder, (start, end) in ((kept_export, ("2018-03-01", "2018-03-31")), (recent_export, ("2026-11-01", "2026-11-30"))):
        folder.mkdir(parents=True)
        (folder / "statement.csv").write_text("Martin;Alice;3,50\n")
        (folder / "manifest.json").write_text(json.dumps({"period": {"label": "x", "start": start, "end": end}}))
    documents = workdir / "var" / "documents"
    documents.mkdir(parents=True)
    (documents / "certificat_realisation-alice-martin-DOC-ALICE.pdf").write_bytes(b"%PDF Alice Martin")
    (documents / "certificat_realisation-bruno-petit-DOC-BRUNO.pdf").write_bytes(b"%PDF Bruno Petit")
    checker = anchor_checker([tsa_peer.pki.ca])
    assert (await hub.store.call(verify, hub.store, check_anchor=checker)).ok

    report = await run_retention(hub, today=TODAY)
    assert report["erased"] == {"person": 2, "funnel": 1, "access": 1}  # Alice, Chloé; Dora's funnel trace; 2024 log
    assert report["events_erased"] == 7

    result = await hub.store.call(verify, hub.store, check_anchor=checker)
    assert result.ok, result.problem
    assert result.anchored >= 1
    # what remains still proves, offline, with its anchor
    proof = await hub.store.call(prove, hub.store, ids[4])
    assert check_proof(proof, tsa_ca=[tsa_peer.pki.ca])[0]
    with pytest.raises(KeyError, match="was erased"):
        await hub.store.call(prove, hub.store, ids[1])

    learner, data, evidence, key = row(hub, ids[1])
    assert learner is None and evidence is None and key == alice
    facts = json.loads(data)
    assert facts["date"] == "2018-03-05" and facts["half_day"] == "am" and "signer_name" not in facts  # the facts, not the person
    assert "signer_name" not in row(hub, ids[2])[1] and "alice" not in row(hub, ids[0])[1].lower()
    assert json.loads(row(hub, ids[6])[1]) == {"outcome": "success", "step": "password"}  # 2024 sign-in: no email, no IP
    assert "email" in json.loads(row(hub, ids[7])[1])  # a sign-in of last month is kept
    assert json.loads(row(hub, ids[4])[1])["signer_name"] == "Bruno Petit"  # within retention: intact
    assert json.loads(row(hub, ids[8])[1]) == {} and "Dora" in row(hub, ids[9])[1]  # Dora: funnel trace only
    assert json.loads(row(hub, ids[5])[1])["email"] == "bruno@example.fr"  # 3 years from the last contact: kept
    found = await hub.store.call(hub.store.learner, alice)
    assert found["name"] is None and found["email"] is None and found["keys"] == []
    assert (await hub.store.call(hub.store.learner, bruno))["email"] == "bruno@example.fr"
    assert not hub.blobs.exists(sheet.sha256)
    assert not (kept_export / "statement.csv").exists() and "withdrawn" in json.loads((kept_export / "manifest.json").read_text())
    assert (recent_export / "statement.csv").exists()
    assert sorted(p.name for p in documents.iterdir()) == ["certificat_realisation-bruno-petit-DOC-BRUNO.pdf"]
    document = json.loads(row(hub, ids[10])[1])
    assert document == {"document_type": "certificat_realisation", "document": "DOC-ALICE", "sha256": "cd" * 32}
    journeys = await hub.store.call(hub.store.journeys, learner_id=alice)
    assert journeys == [] or all("alice" not in json.dumps(j).lower() for j in journeys)

    again = await run_retention(hub, today=TODAY)  # nothing twice
    assert again["events_erased"] == 0 and again["persons_erased_before"] == 2

    # tampering is still seen: an erased row changed again, a row changed with no erasure record
    conn = hub.store.conn
    conn.execute("UPDATE events SET data = ? WHERE id = ?", (json.dumps({**facts, "half_day": "pm"}), ids[1]))
    bad = await hub.store.call(verify, hub.store)
    assert not bad.ok and f"event {ids[1]} was altered after its erasure" in bad.problem
    conn.execute("UPDATE events SET data = ? WHERE id = ?", (data, ids[1]))
    assert (await hub.store.call(verify, hub.store)).ok
    bruno_row = row(hub, ids[4])
    conn.execute("UPDATE events SET learner = NULL, data = '{}' WHERE id = ?", (ids[4],))
    bad = await hub.store.call(verify, hub.store)
    assert not bad.ok and bad.problem.endswith(f"event {ids[4]} was altered")
    conn.execute("UPDATE events SET learner = ?, data = ? WHERE id = ?", (bruno_row[0], bruno_row[1], ids[4]))
    listed = conn.execute("SELECT seq FROM events WHERE id = ?", (ids[2],)).fetchone()[0]
    record = conn.execute("SELECT record FROM erased_events WHERE seq = ?", (listed,)).fetchone()[0]
    conn.execute("DELETE FROM erased_events WHERE seq = ?", (listed,))  # an erasure the ledger does not vouch for
    bad = await hub.store.call(verify, hub.store)
    assert not bad.ok and f"event {ids[2]} was altered" in bad.problem
    conn.execute("INSERT INTO erased_events (seq, record) VALUES (?, ?)", (listed, ids[4]))  # pointing at another event
    bad = await hub.store.call(verify, hub.store)
    assert not bad.ok and "which is no sealed privacy.erased record" in bad.problem
    conn.execute("UPDATE erased_events SET record = ? WHERE seq = ?", (record, listed))
    assert (await hub.store.call(verify, hub.store)).ok


async def killed_at_second_batch(hub, monkeypatch) -> None:
    """A retention run killed as it applies its second batch (after the first committed)."""
    applied = []
    real = type(hub.store).apply_erasures

    def crash_on_second(self, erasures, **kw):
        if len(applied) == 1:
            raise RuntimeError("killed")
        applied.append(erasures)
        return real(self, erasures, **kw)

    with monkeypatch.context() as patch:  # (undo() would also undo the fixture's chdir)
        patch.setattr(type(hub.store), "apply_erasures", crash_on_second)
        with pytest.raises(RuntimeError, match="killed"):
            await run_retention(hub, today=TODAY)


async def test_a_run_killed_mid_way_leaves_no_person_half_erased_and_resumes(make_hub, monkeypatch):
    hub = await make_hub("", start=False)
    hub.config.hub.retention.batch = 1  # one person per transaction: killed between the two
    ids, _ = await ledger(hub)
    store = hub.store
    await killed_at_second_batch(hub, monkeypatch)
    rows = {i: row(hub, ids[i]) for i in (1, 3)}
    erased = [i for i, r in rows.items() if r[0] is None]
    intact = [i for i, r in rows.items() if r[0] is not None]
    assert len(erased) == 1 and len(intact) == 1  # one person done as a whole, the other untouched
    untouched = await hub.store.call(hub.store.learner, await learner_of(hub, ids[intact[0]]))
    assert untouched["email"] is not None and untouched["keys"]
    assert (await store.call(verify, store)).ok  # its record is sealed, its rows still intact: nothing to see
    assert len(await store.call(store.unapplied_erasure_records)) >= 1

    report = await run_retention(hub, today=TODAY)
    assert report["resumed"] >= 1
    assert row(hub, ids[intact[0]])[0] is None
    assert (await store.call(verify, store)).ok
    records = await store.call(lambda: list(store.iter_events(types=["privacy.erased"])))
    persons_erased = [r for r in records if r["data"]["kind"] == "person"]
    assert len(persons_erased) == 2  # no person erased twice
    assert await store.call(store.unapplied_erasure_records) == [] and await store.call(store.unfinished_erasures) == []


async def test_a_request_before_the_end_of_retention_is_refused_and_recorded(make_hub):
    hub = await make_hub("", start=False)
    ids, _ = await ledger(hub)
    bruno = await learner_of(hub, ids[4])
    outcome = await erase_learner(hub, bruno, reason="courriel du 2026-12-01", actor="dpo", today=TODAY)
    assert not outcome.erased and outcome.until == dt.date(2033, 1, 1) and "6 years" in outcome.refused_rule
    refusal = await hub.store.call(hub.store.get_event, outcome.refusal_event)
    assert refusal["type"] == "privacy.erasure_refused" and refusal["data"]["until"] == "2033-01-01"
    assert json.loads(row(hub, ids[5])[1]) == {}  # funnel traces go at once all the same
    assert json.loads(row(hub, ids[4])[1])["signer_name"] == "Bruno Petit"
    await hub.seal()
    assert (await hub.store.call(verify, hub.store)).ok

    alice = await learner_of(hub, ids[1])
    outcome = await erase_learner(hub, alice, reason="request", today=TODAY)
    assert outcome.erased and sum(r["events"] for r in outcome.records) == 4
    assert (await erase_learner(hub, alice, reason="request", today=TODAY)).already
    assert (await hub.store.call(verify, hub.store)).ok


async def test_one_kind_of_one_person_can_be_pseudonymised_alone(make_hub):
    """What a withdrawal of consent to funnel tracking calls."""
    hub = await make_hub("", start=False)
    ids, _ = await ledger(hub)
    bruno = await learner_of(hub, ids[4])
    records = await pseudonymise_kind(hub, bruno, "funnel", rule="consent withdrawn", reason="test")
    assert [r["events"] for r in records] == [1] and json.loads(row(hub, ids[5])[1]) == {}
    assert (await hub.store.call(hub.store.learner, bruno))["email"] == "bruno@example.fr"
    assert (await hub.store.call(verify, hub.store)).ok


def test_cli_erase_unknown_refused_and_erased(tmp_path):
    def parcours(*args):
        return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--config", "hub.yaml"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    (tmp_path / "inbox").mkdir()
    lines = [item(1, "2018-03-05T09:00:00Z", ALICE), item(2, "2026-11-30T09:00:00Z", BRUNO)]
    (tmp_path / "inbox" / "a.ndjson").write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    (tmp_path / "hub.yaml").write_text(
        "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}}\n"
        "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1h}}\n")
    assert parcours("run", "--once").returncode == 0
    long = parcours("learner", "erase", "email:alice@example.fr", "--reason", "x" * 301)
    assert long.returncode == 2 and "--reason must have 1 to 300 characters" in long.stderr
    unknown = parcours("learner", "erase", "email:nobody@example.fr", "--reason", "x")
    assert unknown.returncode == 2 and "no learner 'email:nobody@example.fr'" in unknown.stderr
    refused = parcours("learner", "erase", "email:bruno@example.fr", "--reason", "courriel")
    assert refused.returncode == 1 and "refused: learner" in refused.stderr and "until 2033-01-01" in refused.stderr
    erased = parcours("learner", "erase", "email:alice@example.fr", "--reason", "courriel", "--json")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["erased"] is True
    status = json.loads(parcours("retention", "status", "--json").stdout)
    assert status["erased"]["records"] == {"person": 1} and status["next_due"] == "2033-01-01"
    dry = json.loads(parcours("retention", "run", "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["persons_due"] == 0 and dry["persons_erased_before"] == 1
    ok = parcours("verify")
    assert ok.returncode == 0, ok.stderr
    import sqlite3

    db = sqlite3.connect(tmp_path / "var" / "hub.db")
    erased_id, kept_id = (db.execute("SELECT id FROM events WHERE source_id = ?", (f"e-{i}",)).fetchone()[0] for i in (1, 2))
    db.close()
    gone = parcours("prove", erased_id)
    assert gone.returncode == 1 and f"event {erased_id} was erased" in gone.stderr
    assert parcours("prove", kept_id, "-o", "proof.json").returncode == 0
    assert parcours("prove", "--check", "proof.json").returncode == 0


async def test_the_daemon_runs_the_retention_job_unless_disabled(make_hub):
    hub = await make_hub("", start=False)
    (job,) = [j for j in hub.scheduled_jobs() if j.name == "retention"]
    assert job.schedule.every == dt.timedelta(days=1)
    report = await job.run()  # what the scheduler awaits: an empty ledger erases nothing
    assert report["events_erased"] == 0
    off = await make_hub("", start=False, hub_extra="  retention: {enabled: false, run_every: 12h}\n")
    assert "retention" not in [j.name for j in off.scheduled_jobs()]


async def test_the_run_erases_the_funnel_traces_of_a_person_who_withdrew_consent(make_hub):
    """Bruno's 2022 funnel trace is within its 3 years, but he withdrew his consent to funnel tracking:
    the next run erases it (and only it); a second run has nothing more to do."""
    hub = await make_hub("", start=False)
    ids, _ = await ledger(hub)
    bruno = await learner_of(hub, ids[4])
    before = await run_retention(hub, today=TODAY, dry_run=True)
    assert before["funnels_withdrawn"] == 0
    await hub.append([{"type": "consent.withdrawn", "occurred_at": "2026-12-01T10:00:00Z", "source_id": "c-1",
                       "learner": {"ref": bruno}, "data": {"purpose": "funnel_tracking", "version": "1", "channel": "web"}}],
                     source="hub")
    report = await run_retention(hub, today=TODAY)
    assert report["funnels_withdrawn"] == 1, report
    assert json.loads(row(hub, ids[5])[1]) == {}  # the funnel trace, pseudonymised
    assert json.loads(row(hub, ids[4])[1])["signer_name"] == "Bruno Petit"  # his evidence is kept
    again = await run_retention(hub, today=TODAY)
    assert again["events_erased"] == 0
    await hub.seal()
    assert (await hub.store.call(verify, hub.store)).ok
