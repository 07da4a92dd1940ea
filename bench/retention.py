"""Retention job and ledger verification at scale, each against a bare baseline of the same run.

1. **retention**: a ledger of ``--learners`` learners (``--per-learner`` events each, in 2018, all
   past their 6 years) sealed in blocks; ``run_retention`` as the daemon's job runs it (records,
   seals, per-person transactions, registry, journeys, blobs), timed; against the **bare UPDATE**
   of the same rows to the same erased content, in one transaction, on a copy of the same database.
   Then ``verify`` of the erased ledger (tombstones checked against their records). With
   ``--rejects N``, N dead letters are stored first, every other one naming a learner (its e-mail
   in a nested field): the job scrubs those (one pass over the rejects for the run), and the
   baseline adds the bare ``UPDATE`` of the same rejects to the same scrubbed payloads.
2. **verify**: a ledger of ``--verify-events`` events (``bench/common.py``'s feed) sealed in blocks
   of 10,000; ``verify`` timed against two baselines over the same canonical leaf bytes: reading,
   decoding and SHA-256 of each event from the same store the same way (no Merkle tree, no
   checks), and the **bare SHA-256** alone over those bytes already built. Best of two alternated rounds.

    .venv/bin/python bench/retention.py                                   # 10,000 learners, 200k events
    .venv/bin/python bench/retention.py --verify-events 2000000           # the issue's 2 million
    .venv/bin/python bench/retention.py --rejects 10000                   # with 10,000 dead letters
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

CONFIG = """\
hub:
  data_dir: "{folder}/var"
  store: {{url: "sqlite:///{folder}/var/hub.db"}}
  ledger: {{max_block_events: 10000}}
"""


def open_hub(folder: Path):
    from hub.plugins import load_plugins
    from hub.runtime.app import Hub

    (folder / "hub.yaml").write_text(CONFIG.format(folder=folder))
    return Hub.open(folder / "hub.yaml", env={}, plugins=load_plugins(env={}))


def learner_events(learners: int, per_learner: int):
    for i in range(learners):
        who = {"ref": f"lrn-{i:06d}", "email": f"learner.{i}@example.fr", "name": f"Prénom{i} Nom{i}"}
        for k in range(per_learner):
            day = dt.date(2018, 3, 5) + dt.timedelta(days=k)
            yield {"type": "attendance.signed", "occurred_at": f"{day.isoformat()}T09:00:00Z",
                   "source_id": f"att-{i}-{k}", "learner": who, "action": "ACT-2018-01",
                   "data": {"date": day.isoformat(), "half_day": "am", "signer_name": who["name"]}}


async def fill(hub, items, batch: int = 5000) -> int:
    n, chunk = 0, []
    for item in items:
        chunk.append(item)
        if len(chunk) == batch:
            n += (await hub.append(chunk, source="bench")).appended
            chunk = []
    if chunk:
        n += (await hub.append(chunk, source="bench")).appended
    await hub.seal()
    return n


def dead_letters(count: int, learners: int):
    """``count`` rejects of a CRM: the even ones name a learner of the bench (nested e-mail and first
    name), the odd ones someone else."""
    from hub.store.base import RejectRow

    for i in range(count):
        email = f"learner.{(i // 2) % learners}@example.fr" if i % 2 == 0 else f"someone.{i}@elsewhere.fr"
        payload = {"contact": {"id": f"c-{i}", "properties": {"email": email, "firstname": "Prénom", "lifecyclestage": "lead"}},
                   "deal": {"amount": 1200 + i, "stage": "won"}}
        yield RejectRow("crm", "map", f"deal {i}: no training action matches", json.dumps(payload))


async def bench_retention(folder: Path, learners: int, per_learner: int, rejects: int = 0) -> dict:
    from hub.ledger.integrity import verify
    from hub.privacy.job import run_retention
    from hub.privacy.pseudonymise import erased_row

    hub = open_hub(folder)
    events = await fill(hub, learner_events(learners, per_learner))
    if rejects:
        await hub.store.call(hub.store.ingest, [], None, rejects=list(dead_letters(rejects, learners)))
    await hub.project()
    db = folder / "var" / "hub.db"
    copy = folder / "baseline.db"
    await hub.store.call(lambda: hub.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    shutil.copy(db, copy)
    letters_cpu = None
    if rejects:  # the dead-letter search alone, as the job runs it once (read only): its CPU time
        from hub.privacy.dead_letters import find_dead_letters
        from hub.privacy.job import plan_retention

        plan = await plan_retention(hub, dt.date(2026, 12, 7))
        cpu = time.process_time()
        found = await find_dead_letters(hub.store, {p.learner_id: p.ids for p in plan.persons})
        letters_cpu = time.process_time() - cpu
        assert sum(map(len, found.values())) == (rejects + 1) // 2
    started, cpu = time.perf_counter(), time.process_time()
    report = await run_retention(hub, today=dt.date(2026, 12, 7))
    job, job_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report["erased"]["person"] == learners, report
    if rejects:
        assert report["dead_letters_erased"] == (rejects + 1) // 2, report
    scrubbed = [] if not rejects else [(r["payload"], r["error"], r["source_id"], r["id"]) for r in await hub.store.call(
        lambda: [dict(r) for r in hub.store.conn.execute("SELECT * FROM rejects WHERE erased_at IS NOT NULL")])]
    started = time.perf_counter()
    check = await hub.store.call(verify, hub.store)
    verify_seconds = time.perf_counter() - started
    assert check.ok, check.problem
    await hub.stop()

    conn = sqlite3.connect(copy)
    conn.row_factory = sqlite3.Row
    from hub.store.base import event_dict

    rows = [erased_row({**event_dict(r), "learner_key": r["learner_key"]})
            for r in conn.execute("SELECT * FROM events WHERE type = 'attendance.signed'")]
    started, cpu = time.perf_counter(), time.process_time()
    with conn:
        conn.executemany("UPDATE events SET learner = ?, data = ?, evidence = ?, learner_key = ? WHERE seq = ?",
                         [(learner, data, evidence, key, seq) for seq, learner, data, evidence, key in rows])
        conn.executemany("UPDATE rejects SET payload = ?, error = ?, source_id = ? WHERE id = ?", scrubbed)
    bare, bare_cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return {"learners": learners, "events": events, "rejects": rejects, "rejects_scrubbed": len(scrubbed),
            "job_seconds": round(job, 3), "bare_update_seconds": round(bare, 3),
            "job_vs_bare": round(job / bare, 1), "job_cpu_seconds": round(job_cpu, 3),
            "bare_update_cpu_seconds": round(bare_cpu, 3), "job_vs_bare_cpu": round(job_cpu / bare_cpu, 1),
            "dead_letter_search_cpu_seconds": None if letters_cpu is None else round(letters_cpu, 3), "learners_per_second": round(common.rate(learners, job)),
            "verify_after_erasure_seconds": round(verify_seconds, 3),
            "verify_after_erasure_events_per_second": round(common.rate(check.events, verify_seconds))}


async def bench_verify(folder: Path, count: int) -> dict:
    from hub.ledger.integrity import sealed_events, verify
    from hub.ledger.merkle import BlockHeader, sealed_bytes

    hub = open_hub(folder)
    started = time.perf_counter()
    events = await fill(hub, common.iter_events(count), batch=10_000)
    load = time.perf_counter() - started
    store = hub.store

    def bare() -> tuple[int, float]:
        """Read every sealed event as its leaf format seals it and hash its leaf bytes, block by block
        (format 3: the stored columns, encoded in Python); also the time of the SHA-256 alone over
        those bytes (built before it is timed, a block at a time)."""
        n, hashing = 0, 0.0
        for block in store.iter_blocks():
            header = BlockHeader.of(block)
            chunk = sealed_events(store, header)
            leaves = [b"\x00" + sealed_bytes(event, header.leaf_format) for event in chunk]
            started = time.perf_counter()
            for leaf in leaves:
                hashlib.sha256(leaf).digest()
            hashing += time.perf_counter() - started
            n += len(leaves)
        return n, hashing

    rounds = {"verify": [], "read_hash": [], "hash_only": []}
    for _ in range(2):  # alternated, best of two: neither gets the warmer cache alone
        started = time.perf_counter()
        hashed, hashing = await store.call(bare)
        rounds["read_hash"].append(time.perf_counter() - started)
        rounds["hash_only"].append(hashing)
        started = time.perf_counter()
        check = await store.call(verify, store)
        rounds["verify"].append(time.perf_counter() - started)
        assert check.ok and check.events == events == hashed, (check, events, hashed)
    verify_seconds, read_hash, hash_only = (min(rounds[k]) for k in ("verify", "read_hash", "hash_only"))
    await hub.stop()
    return {"events": events, "load_seconds": round(load, 1), "verify_seconds": round(verify_seconds, 2),
            "read_decode_sha256_seconds": round(read_hash, 2), "sha256_only_seconds": round(hash_only, 3),
            "verify_vs_read_decode_sha256": round(read_hash / verify_seconds, 2),
            "verify_vs_sha256_only": round(hash_only / verify_seconds, 3),
            "verify_events_per_second": round(common.rate(events, verify_seconds))}


async def main_async(args) -> dict:
    out = {}
    with tempfile.TemporaryDirectory(prefix="parcours-retention-") as tmp:
        folder = Path(tmp) / "retention"
        folder.mkdir()
        out["retention"] = await bench_retention(folder, args.learners, args.per_learner, args.rejects)
        print(f"retention: {out['retention']}", file=sys.stderr)
        folder = Path(tmp) / "verify"
        folder.mkdir()
        out["verify"] = await bench_verify(folder, args.verify_events)
        print(f"verify: {out['verify']}", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--per-learner", type=int, default=5)
    parser.add_argument("--rejects", type=int, default=0, help="dead letters stored first, every other one naming a learner")
    parser.add_argument("--verify-events", type=int, default=200_000, help="ledger size for verify (the issue's: 2000000)")
    args = parser.parse_args()
    import os

    os.chdir(tempfile.gettempdir())
    result = asyncio.run(main_async(args))
    path = common.write_result("retention", result)
    r, v = result["retention"], result["verify"]
    print(f"retention job: {r['learners']} learners ({r['events']} events, {r['rejects_scrubbed']} of "
          f"{r['rejects']} dead letters scrubbed) in {r['job_seconds']} s "
          f"({r['learners_per_second']}/s) = {r['job_vs_bare']}x the bare UPDATE ({r['bare_update_seconds']} s); "
          f"CPU {r['job_cpu_seconds']} s = {r['job_vs_bare_cpu']}x the bare UPDATE's ({r['bare_update_cpu_seconds']} s)"
          + (f"; the dead-letter search alone (the job's one pass, timed before it) {r['dead_letter_search_cpu_seconds']} s CPU"
             if r["dead_letter_search_cpu_seconds"] is not None else "") + "; "
          f"verify after erasure {r['verify_after_erasure_seconds']} s")
    print(f"verify: {v['events']} events in {v['verify_seconds']} s ({v['verify_events_per_second']}/s); "
          f"reading, decoding and hashing the same leaves {v['read_decode_sha256_seconds']} s "
          f"(verify's throughput = {v['verify_vs_read_decode_sha256']} of it); SHA-256 alone over the same canonical "
          f"bytes {v['sha256_only_seconds']} s ({v['verify_vs_sha256_only']} of it)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
