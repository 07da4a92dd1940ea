"""`verify` against a bare SHA-256 over the same canonical bytes.

Builds a ledger with bench/documents_bench.py's generator (``--events`` events, actions of 500
learners), seals it in blocks of 10,000, then in one process:

* ``verify``: :func:`hub.ledger.integrity.verify` over every block (reads the events, re-encodes
  each canonically, hashes the leaves, rebuilds each Merkle tree, compares the stored leaves);
* ``bare``: SHA-256 of each event's leaf bytes (``0x00 || canonical event``), prepared
  beforehand, one ``hashlib.sha256`` call per event — what verifying costs at the least.

CPU seconds of each (the machine is shared), and their ratio (bare ÷ verify: 1 would mean that
verify costs no more than the hashing it cannot avoid). ``--profile`` prints where verify's time
goes.

    .venv/bin/python bench/verify_ledger.py                      # 100,000 events
    .venv/bin/python bench/verify_ledger.py --keep /tmp/v1m --events 1000000 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import documents_bench  # noqa: E402


def measure(folder: Path, profile: bool) -> dict:
    from hub.ledger.integrity import seal, verify, with_links
    from hub.ledger.merkle import canonical, event_body
    from hub.store.sqlite import SQLiteStore

    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    try:
        if store.last_block() is None:
            seal(store)
        started = time.process_time()
        report = verify(store)
        verify_cpu = time.process_time() - started
        if not report.ok:
            raise SystemExit(f"verify failed: {report.problem}")
        leaves = []
        for block in store.iter_blocks():
            events = list(store.iter_events(after_seq=block["first_seq"] - 1, limit=block["count"], unreadable=True))
            with_links(store, events, block["leaf_format"])
            leaves.extend(b"\x00" + canonical(event_body(e, block["leaf_format"])) for e in events)
        started = time.process_time()
        for leaf in leaves:
            hashlib.sha256(leaf).digest()
        bare_cpu = time.process_time() - started
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
    return {"events": report.events, "blocks": report.blocks, "bytes": sum(map(len, leaves)),
            "verify_cpu_s": round(verify_cpu, 3), "verify_events_per_cpu_s": round(report.events / verify_cpu),
            "bare_cpu_s": round(bare_cpu, 4), "bare_events_per_cpu_s": round(report.events / bare_cpu),
            "ratio": round(bare_cpu / verify_cpu, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--keep", help="build the ledger in this folder and keep it (reused when it has one)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parcours-verify-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "hub.db").exists():
            documents_bench.phase_load(folder, args.events, max(500, args.events // 200 // 500 * 500))
        result = measure(folder, args.profile)
    result = {"benchmark": "verify_ledger", "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "machine": common.machine(), **result}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"verify: {result['events']} events in {result['blocks']} blocks, {result['verify_cpu_s']} CPU s "
              f"({result['verify_events_per_cpu_s']} events/CPU s); bare SHA-256 of the same "
              f"{result['bytes']} bytes: {result['bare_cpu_s']} CPU s; ratio {result['ratio']}")


if __name__ == "__main__":
    main()
