"""Journeys projection: events per CPU second of a rebuild, against the same rebuild decoding the
JSON columns with ``json`` alone (the decoder before orjson), alternated in one process.

Builds (or reuses, ``--keep``) a ledger with bench/documents_bench.py's generator (actions of 500
learners), then rebuilds the journeys from scratch (``hub.journeys.rebuild``) ``--rounds`` times
with each decoder in turn. CPU seconds (the machine is shared); the figure is the median of the
per-round ratios.

    .venv/bin/python bench/projection.py                                   # 60,000 events
    .venv/bin/python bench/projection.py --events 200000 --keep /tmp/p200k --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import documents_bench  # noqa: E402


def json_only(text: str):
    return json.loads(text), False


def measure(folder: Path, rounds: int) -> dict:
    from hub.journeys import rebuild
    from hub.store import base
    from hub.store.sqlite import SQLiteStore

    current = base._loads
    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    rates: dict[str, list[float]] = {"current": [], "json_only": []}
    try:
        rebuild(store)  # warm the page cache
        for _ in range(rounds):
            for name, decoder in (("json_only", json_only), ("current", current)):
                base._loads = decoder
                started = time.process_time()
                events = rebuild(store)
                rates[name].append(events / (time.process_time() - started))
    finally:
        base._loads = current
        store.close()
    ratios = [c / j for c, j in zip(rates["current"], rates["json_only"])]
    return {"events": events, "rounds": rounds,
            "current_events_per_cpu_s": [round(r) for r in rates["current"]],
            "json_only_events_per_cpu_s": [round(r) for r in rates["json_only"]],
            "median_ratio": round(statistics.median(ratios), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", help="build the ledger in this folder and keep it (reused when it has one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parcours-projection-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "hub.db").exists():
            common.run_phase(documents_bench.__file__, "load", folder, "--events", str(args.events),
                             "--enrolments", "500")
        result = {**measure(folder, args.rounds), "machine": common.machine()}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"journeys rebuilt, {result['events']} events: {result['current_events_per_cpu_s']} events per CPU s "
              f"(json only: {result['json_only_events_per_cpu_s']}), median ratio ×{result['median_ratio']}")


if __name__ == "__main__":
    main()
