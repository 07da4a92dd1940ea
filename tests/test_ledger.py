"""Tamper evidence: sealing, verification naming the first altered event, inclusion proofs."""

import json
import sqlite3
import subprocess
import sys

from hub.ledger.integrity import check_proof, prove, seal, verify
from hub.ledger.merkle import audit_path, merkle_root, root_from_path
from tests.conftest import event


def test_merkle_paths_prove_every_leaf_for_any_size():
    import hashlib

    for n in (1, 2, 3, 5, 8, 13):
        leaves = [hashlib.sha256(bytes([i])).digest() for i in range(n)]
        root = merkle_root(leaves)
        for i in range(n):
            assert root_from_path(leaves[i], audit_path(leaves, i)) == root
        if n > 1:
            assert root_from_path(leaves[0], audit_path(leaves, 1)) != root


async def test_seal_verify_and_prove(make_hub):
    hub = await make_hub("")
    ids = (await hub.append([event(i) for i in range(25)], source=None)).ids
    blocks = await hub.store.call(seal, hub.store, max_events=10)
    assert [b.count for b in blocks] == [10, 10, 5] and blocks[1].prev_hash == blocks[0].hash
    more = (await hub.append([event(i) for i in range(25, 28)], source=None)).ids
    report = await hub.store.call(verify, hub.store)
    assert report.ok and report.blocks == 3 and report.events == 25 and report.unsealed == 3
    await hub.store.call(seal, hub.store)
    proof = await hub.store.call(prove, hub.store, ids[13])
    assert check_proof(proof)[0] and proof["block"]["index"] == 1
    assert json.loads(proof["event"]["stored"]["data"]) == event(13)["data"]  # the stored JSON text
    forged = json.loads(json.dumps(proof))
    forged["event"]["stored"]["data"] = forged["event"]["stored"]["data"].replace(event(13)["data"]["percent"], "99")
    ok, message = check_proof(forged)
    assert not ok and "altered" in message
    forged = json.loads(json.dumps(proof))
    forged["event"]["occurred_at"] = "2026-10-06T08:00:00.000000Z"  # beside what the leaf hashes: refused too
    assert check_proof(forged) == (False, "a format-3 proof's event is its stored columns, and nothing else")
    assert check_proof(await hub.store.call(prove, hub.store, more[-1]))[0]


async def test_verify_names_the_altered_event_and_removed_rows(make_hub, workdir):
    hub = await make_hub("")
    ids = (await hub.append([event(i) for i in range(12)], source=None)).ids
    await hub.store.call(seal, hub.store, max_events=5)
    conn = sqlite3.connect(workdir / "var" / "hub.db")
    with conn:  # someone edits the database behind the hub's back
        conn.execute("UPDATE events SET data = '{\"percent\":\"100\"}' WHERE id = ?", (ids[7],))
    report = await hub.store.call(verify, hub.store)
    assert not report.ok and report.problem == f"block 1: event {ids[7]} was altered"
    with conn:
        conn.execute("UPDATE events SET data = '{\"percent\":\"7\"}' WHERE id = ?", (ids[7],))
        conn.execute("DELETE FROM events WHERE id = ?", (ids[11],))
    report = await hub.store.call(verify, hub.store)
    assert not report.ok and "block 2" in report.problem and "removed or inserted" in report.problem
    conn.close()


def test_cli_verify_and_prove(tmp_path):
    def parcours(*args):
        return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)

    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.ndjson").write_text("\n".join(json.dumps(event(i)) for i in range(30)) + "\n")
    (tmp_path / "hub.yaml").write_text(
        "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}}\n"
        "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1h}}\n")
    run = parcours("run", "--once", "--config", "hub.yaml")
    assert run.returncode == 0 and "sealed block 0: 30 events" in run.stdout
    ok = parcours("verify", "--config", "hub.yaml")
    assert ok.returncode == 0 and "ledger intact: 1 block(s), 30 sealed event(s)" in ok.stdout
    db = sqlite3.connect(tmp_path / "var" / "hub.db")
    event_id = db.execute("SELECT id FROM events WHERE source_id = 'evt-4'").fetchone()[0]
    assert parcours("prove", event_id, "-o", "proof.json", "--config", "hub.yaml").returncode == 0
    good = parcours("prove", "--check", "proof.json")
    assert good.returncode == 0 and good.stdout.startswith("valid:")
    with db:
        db.execute("UPDATE events SET source_id = 'evt-4-bis' WHERE id = ?", (event_id,))
    bad = parcours("verify", "--config", "hub.yaml")
    assert bad.returncode == 1 and f"event {event_id} was altered" in bad.stderr
    proof = json.loads((tmp_path / "proof.json").read_text())
    proof["event"]["stored"]["occurred_us"] += 1
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    forged = parcours("prove", "--check", "proof.json")
    assert forged.returncode == 1 and "INVALID" in forged.stderr


def test_format_us_writes_what_format_utc_writes_and_refuses_years_outside_1_to_9999():
    import datetime as dt
    import random

    import pytest

    from hub.timefmt import format_us, format_utc

    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    lowest, highest = -62_135_596_800_000_000, 253_402_300_799_999_999  # 0001-01-01, 9999-12-31T23:59:59.999999
    rng = random.Random(16)
    for micros in [0, -1, 1, lowest, highest, *(rng.randrange(lowest, highest) for _ in range(2000))]:
        assert format_us(micros) == format_utc(epoch + dt.timedelta(microseconds=micros))
    assert format_us(0) == "1970-01-01T00:00:00.000000Z"
    for outside in (lowest - 1, highest + 1):
        with pytest.raises(OverflowError):
            format_us(outside)
