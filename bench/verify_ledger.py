"""`verify` against a bare SHA-256 over the same leaf bytes.

Builds a ledger with bench/documents_bench.py's generator (``--events`` events, actions of 500
learners), seals it in blocks of 10,000 (leaf format 3: each leaf hashes the row's columns as
stored), then in one run:

* ``verify``, one process (``--jobs 1``): :func:`hub.ledger.integrity.verify` over every block (the
  database builds each row's leaf bytes, the leaves are hashed, each Merkle tree rebuilt and
  compared with the header and the stored leaves, the rows that cannot be decoded looked for in
  SQL) — CPU seconds of this process;
* ``verify --jobs N`` (default: every CPU): the same with the blocks checked in N worker processes —
  wall seconds;
* ``bare``: SHA-256 of each event's leaf bytes (``0x00 || stored form``), prepared in memory
  beforehand, one ``hashlib.sha256`` call per event — what verifying costs at the least; CPU and
  wall seconds.

Ratios are bare ÷ verify (1 would mean that verify costs no more than the hashing it cannot avoid):
``cpu_ratio`` (one process, CPU seconds) and ``wall_ratio`` (wall seconds: ``--jobs N`` against the
bare hashing, one core); ``jobs_speedup`` is the one-process verify's wall time ÷ ``--jobs N``'s. On
a shared machine wall times depend on the load (printed): compare within one run. ``--profile`` prints where the one-process verify's time goes.

    .venv/bin/python bench/verify_ledger.py                      # 100,000 events
    .venv/bin/python bench/verify_ledger.py --keep /tmp/v2m --events 2000000 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import documents_bench  # noqa: E402


def measure(folder: Path, profile: bool, jobs: int) -> dict:
    from hub.ledger.integrity import seal, verify
    from hub.ledger.merkle import LEAF_COLUMNS
    from hub.store.sqlite import SQLiteStore

    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    try:
        if store.last_block() is None:
            started = time.perf_counter()
            seal(store)
            print(f"  sealed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        started, started_wall = time.process_time(), time.perf_counter()
        report = verify(store, jobs=1)
        verify_cpu, verify_wall_one = time.process_time() - started, time.perf_counter() - started_wall
        if not report.ok:
            raise SystemExit(f"verify failed: {report.problem}")
        started = time.perf_counter()
        parallel = verify(store, jobs=jobs)
        verify_wall = time.perf_counter() - started
        if not parallel.ok:
            raise SystemExit(f"verify --jobs {jobs} failed: {parallel.problem}")
        leaves = []
        for block in store.iter_blocks():
            if block["leaf_format"] != 3:
                raise SystemExit(f"block {block['index']} is sealed in leaf format {block['leaf_format']}, not 3: "
                                 "rebuild the ledger")
            leaves.extend(leaf for _, leaf in store.stored_leaf_bytes(LEAF_COLUMNS, block["first_seq"], block["last_seq"]))
        started, started_wall = time.process_time(), time.perf_counter()
        for leaf in leaves:
            hashlib.sha256(leaf).digest()
        bare_cpu, bare_wall = time.process_time() - started, time.perf_counter() - started_wall
        if profile:
            import cProfile
            import io
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(verify, store)
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
            print(text.getvalue(), file=sys.stderr)
    finally:
        store.close()
    events = report.events
    return {"events": events, "blocks": report.blocks, "bytes": sum(map(len, leaves)), "jobs": jobs,
            "verify_cpu_s": round(verify_cpu, 3), "verify_events_per_cpu_s": round(events / verify_cpu),
            "verify_one_wall_s": round(verify_wall_one, 3),
            "verify_jobs_wall_s": round(verify_wall, 3), "verify_jobs_events_per_s": round(events / verify_wall),
            "bare_cpu_s": round(bare_cpu, 4), "bare_wall_s": round(bare_wall, 4),
            "bare_events_per_cpu_s": round(events / bare_cpu),
            "cpu_ratio": round(bare_cpu / verify_cpu, 4), "wall_ratio": round(bare_wall / verify_wall, 4),
            "jobs_speedup": round(verify_wall_one / verify_wall, 2),
            "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes of the parallel verify")
    parser.add_argument("--keep", help="build the ledger in this folder and keep it (reused when it has one)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parcours-verify-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "hub.db").exists():
            documents_bench.phase_load(folder, args.events, max(500, args.events // 200 // 500 * 500))
        result = measure(folder, args.profile, args.jobs)
    result = {"benchmark": "verify_ledger", "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "machine": common.machine(), **result}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"verify: {result['events']} events in {result['blocks']} blocks; one process {result['verify_cpu_s']} CPU s "
              f"({result['verify_events_per_cpu_s']} events/CPU s, {result['verify_one_wall_s']} s wall), --jobs {result['jobs']} "
              f"{result['verify_jobs_wall_s']} s wall ({result['verify_jobs_events_per_s']} events/s, x{result['jobs_speedup']}); "
              f"bare SHA-256 of the same {result['bytes']} bytes: {result['bare_cpu_s']} CPU s, {result['bare_wall_s']} s wall "
              f"({result['bare_events_per_cpu_s']} events/CPU s); "
              f"ratio {result['cpu_ratio']} (CPU, one process), {result['wall_ratio']} (wall, --jobs {result['jobs']}); "
              f"load average {result['load_average']}")


if __name__ == "__main__":
    main()
