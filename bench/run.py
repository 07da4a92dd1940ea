"""Run the benchmarks (``./dev bench``): in-process ingest, HTTP ingest, memory; one summary table.

Each benchmark runs in its own process with ``--json`` and writes ``bench/results/<name>.json``
(git-ignored); this script then reads the files back and prints the summary.

    .venv/bin/python bench/run.py            # full: 200k events (best of 3), HTTP 200k, memory 20k vs 200k (~7 min)
    .venv/bin/python bench/run.py --quick    # smoke run: 20k events, HTTP 20k, memory 2k vs 20k (under a minute)
    .venv/bin/python bench/run.py --only ingest,memory
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TIMEOUT = 1800  # seconds per benchmark: each also bounds its own steps

FULL = {
    "ingest": ["--events", "200000", "--repeat", "3"],
    "http_ingest": ["--events", "200000"],
    "memory": ["--events", "20000"],
}
QUICK = {
    "ingest": ["--events", "20000", "--sync", "full"],
    "http_ingest": ["--events", "20000"],
    "memory": ["--events", "2000"],
}


def run(name: str, args: list[str]) -> tuple[int, float]:
    cmd = [sys.executable, str(BENCH / f"{name}.py"), *args, "--json"]
    print(f"$ {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    try:
        code = subprocess.run(cmd, timeout=TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        print(f"{name}: timed out after {TIMEOUT}s", flush=True)
        code = 124
    return code, time.perf_counter() - started


def load(name: str, since: float) -> dict | None:
    path = RESULTS / f"{name}.json"
    if not path.exists() or path.stat().st_mtime < since:
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def summary(results: dict[str, dict | None]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    ing = results.get("ingest")
    if ing:
        for r in ing["results"]:
            rows.append((f"in-process ingest, synchronous={r['synchronous']}",
                         f"{r['hub']['best_events_per_s']:,} ev/s (bare {r['bare']['best_events_per_s']:,})",
                         f"ratio {r['ratio']:.3f} (target >= 0.2; hub target >= 40,000 ev/s)"))
            rows.append((f"  re-ingest, all duplicates ({r['synchronous']})",
                         f"{r['reingest_duplicates']['best_events_per_s']:,} ev/s", ""))
    http = results.get("http_ingest")
    if http:
        base = http["inprocess"]["events_per_s"]
        for r in http["http"]:
            label = "sequential" if r["concurrency"] == 1 else f"concurrency {r['concurrency']}"
            rows.append((f"HTTP ingest, batches of {http['batch']:,}, {label}",
                         f"{r['events_per_s']:,} ev/s (in-process {base:,})",
                         f"ratio {r['ratio_http_over_inprocess']:.3f}, exit {r['exit_code']}"
                         + ("" if r["ok"] else " PROBLEM")))
    mem = results.get("memory")
    if mem:
        floor, small, large = mem["runs"]
        rows.append((f"memory, parcours sync {small['events']:,} vs {large['events']:,} events",
                     f"{small['peak_rss_mib']} vs {large['peak_rss_mib']} MiB (floor {floor['peak_rss_mib']})",
                     f"ratio {mem['ratio']:.3f}" + ("" if mem["ok"] else " PROBLEM")))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", help="comma-separated subset of: ingest, http_ingest, memory")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    names = [n.strip() for n in args.only.split(",")] if args.only else list(plan)
    unknown = [n for n in names if n not in plan]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    since = time.time()
    codes: dict[str, int] = {}
    for name in names:
        codes[name], seconds = run(name, plan[name])
        print(f"-- {name}: exit {codes[name]} in {seconds:.0f}s\n", flush=True)
    results = {name: load(name, since) for name in names}

    rows = summary(results)
    width = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    print("=" * (sum(width) + 4))
    print(f"Parcours Hub benchmarks ({'quick' if args.quick else 'full'}); details in {RESULTS}/*.json")
    print("=" * (sum(width) + 4))
    for r in rows:
        print(f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]}")
    failed = [n for n, c in codes.items() if c != 0]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
