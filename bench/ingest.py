"""In-process ingest throughput: the hub's ingest path against a bare ``sqlite3.executemany``.

Feeds N synthetic events, as NDJSON bodies of ``--batch`` lines built before timing, through
the real path (``hub.runtime.server.parse_event_body`` → ``Ingestor.prepare`` → ``Ingestor.commit``:
dedupe query, append, funding index, routing, outbox) on a fresh SQLite store, one
transaction per batch; then replays the very rows it stored (read back from that store) with
a bare ``executemany`` into a fresh database with the same schema, indexes and pragmas, one
transaction per batch: the store's physical limit. Finally re-ingests the same N events
through the hub (all duplicates). Done for ``synchronous=full`` (the store's default) and
``normal``.

    .venv/bin/python bench/ingest.py [--events 200000] [--batch 1000] [--sync full,normal] [--repeat 1] [--json]
    .venv/bin/python bench/ingest.py --profile      # cProfile of the hub path (writes bench/results/ingest.prof)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
from hub.config import Route  # noqa: E402
from hub.events import EventTypeRegistry  # noqa: E402
from hub.ingest.ingestor import Ingestor  # noqa: E402
from hub.runtime.metrics import Metrics  # noqa: E402
from hub.ingest.router import Router  # noqa: E402
from hub.runtime.server import parse_event_body  # noqa: E402
from hub.store.sqlite import SQLiteStore  # noqa: E402

NDJSON = "application/x-ndjson"
# Two routes, as in config/demo.yaml: everything to an archive, and funder-filtered
# attendance/LMS time to a funder feed (exercises the funding lookup).
ROUTES = [
    {"name": "archive-everything", "from": "*", "to": "archive"},
    {"name": "opco-atlas-attendance", "from": "*",
     "when": {"types": ["attendance.*", "lms.session", "lms.virtual_class_attended"], "funders": ["opco-atlas"]},
     "to": "opco-atlas-feed"},
]
SINKS = ["archive", "opco-atlas-feed"]


def make_router(routes: list[dict] | None = None, sinks: list[str] | None = None) -> Router:
    routes = ROUTES if routes is None else routes
    sinks = SINKS if sinks is None else sinks
    return Router([Route.model_validate(r) for r in routes], sinks, sinks)


def open_store(folder: Path, name: str, synchronous: str) -> SQLiteStore:
    store = SQLiteStore(folder / f"{name}.db", synchronous=synchronous)
    store.migrate()
    return store


def event_types() -> EventTypeRegistry:
    """The event types a hub has: the core vocabulary plus what installed plugins register."""
    try:
        from hub.plugins import load_plugins

        return load_plugins().event_types()
    except Exception:  # plugin loading is not what is measured here
        return EventTypeRegistry()


def make_ingestor(store: SQLiteStore, router: Router | None, *, types: EventTypeRegistry | None = None,
                  metrics: bool = True) -> Ingestor:
    """An Ingestor wired as ``hub.runtime.app.Hub`` wires it: learner resolution and metrics."""
    from hub.config import LearnersConfig
    from hub.learners import LearnerResolver

    types = types or event_types()
    types.adapter  # build the pydantic validator before timing (done once per process)
    return Ingestor(store, types, router, metrics=Metrics() if metrics else None,
                    learners=LearnerResolver(LearnersConfig().match_on))


class GcTimer:
    """CPU time (of the collecting thread) spent in the cyclic garbage collector while active."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._t = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._t
            self.collections[info["generation"]] += 1

    def __enter__(self) -> "GcTimer":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


def hub_pass(batches: list[bytes], store: SQLiteStore, router: Router | None, *,
             types: EventTypeRegistry | None = None, metrics: bool = True) -> dict[str, Any]:
    """The timed hub path over ``batches``; returns counts, seconds and the per-phase split."""
    ingestor = make_ingestor(store, router, types=types, metrics=metrics)
    events = appended = outbox = 0
    per_batch: list[int] = []
    parse_s = prepare_s = commit_s = 0.0
    gc.collect()
    with GcTimer() as gc_timer:
        started, cpu = time.perf_counter(), time.process_time()
        for body in batches:
            t0 = time.perf_counter()
            items, _ = parse_event_body(body, NDJSON)
            t1 = time.perf_counter()
            rows = ingestor.prepare(items, source=None)
            t2 = time.perf_counter()
            result = ingestor.commit(rows)
            t3 = time.perf_counter()
            parse_s += t1 - t0
            prepare_s += t2 - t1
            commit_s += t3 - t2
            events += len(items)
            appended += result.appended
            outbox += result.outbox_rows
            per_batch.append(result.appended)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return {
        "events": events, "appended": appended, "outbox_rows": outbox, "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3), "events_per_s": round(common.rate(events, seconds)),
        "phases_s": {"parse": round(parse_s, 3), "prepare": round(prepare_s, 3), "commit": round(commit_s, 3)},
        "gc_s": round(gc_timer.seconds, 3), "gc_collections": gc_timer.collections,
        "_per_batch": per_batch,
    }


OUTBOX_COLUMNS = "event_seq, sink, route, created_at, next_attempt_at"  # what SQLiteStore.ingest writes


def event_columns(conn: sqlite3.Connection) -> list[str]:
    return [r[1] for r in conn.execute("PRAGMA table_info(events)")]


def stored_rows(store: SQLiteStore, per_batch: list[int]) -> tuple[list[list[tuple]], list[list[tuple]]]:
    """The event rows (every column) and outbox rows the hub stored, grouped by the batch
    (transaction) that wrote them."""
    conn = store.conn
    columns = event_columns(conn)
    seq_at = columns.index("seq")
    events = conn.execute(f"SELECT {', '.join(columns)} FROM events ORDER BY seq").fetchall()
    outbox = conn.execute(
        f"SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id").fetchall()
    ev_batches, ob_batches = [], []
    pos = opos = 0
    for count in per_batch:
        chunk = [tuple(r) for r in events[pos:pos + count]]
        pos += count
        last_seq = chunk[-1][seq_at] if chunk else None
        ochunk = []
        while last_seq is not None and opos < len(outbox) and outbox[opos][0] <= last_seq:
            ochunk.append(tuple(outbox[opos]))
            opos += 1
        ev_batches.append(chunk)
        ob_batches.append(ochunk)
    return ev_batches, ob_batches


def bare_pass(conn: sqlite3.Connection, ev_batches: list[list[tuple]], ob_batches: list[list[tuple]] | None) -> dict[str, Any]:
    """``executemany`` of prepared tuples, one BEGIN IMMEDIATE … COMMIT per batch."""
    columns = event_columns(conn)
    insert_events = f"INSERT INTO events ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"
    insert_outbox = f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?,?,?,?,?)"
    events = 0
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    for i, rows in enumerate(ev_batches):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_events, rows)
        if ob_batches is not None and ob_batches[i]:
            conn.executemany(insert_outbox, ob_batches[i])
        conn.execute("COMMIT")
        events += len(rows)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return {"events": events, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "events_per_s": round(common.rate(events, seconds))}


def run_mode(batches: list[bytes], folder: Path, synchronous: str, *, metrics: bool, tag: str) -> dict[str, Any]:
    """One round: hub pass, bare and bare+outbox replays of its rows, hub re-ingest (duplicates)."""
    store = open_store(folder, f"hub-{synchronous}-{tag}", synchronous)
    hub = hub_pass(batches, store, make_router(), metrics=metrics)
    per_batch = hub.pop("_per_batch")
    ev_batches, ob_batches = stored_rows(store, per_batch)

    bare_store = open_store(folder, f"bare-{synchronous}-{tag}", synchronous)  # same schema and pragmas
    bare = bare_pass(bare_store.conn, ev_batches, None)
    bare_store.close()
    bare_ob_store = open_store(folder, f"bare-outbox-{synchronous}-{tag}", synchronous)
    bare_ob = bare_pass(bare_ob_store.conn, ev_batches, ob_batches)
    bare_ob_store.close()
    del ev_batches, ob_batches

    again = hub_pass(batches, store, make_router(), metrics=metrics)
    again.pop("_per_batch")
    store.close()
    for path in folder.glob(f"*-{synchronous}-{tag}.db*"):
        path.unlink()
    return {"hub": hub, "bare": bare, "bare_with_outbox": bare_ob, "reingest_duplicates": again}


def summarise(synchronous: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Best and median over rounds; the ratios are taken per round (hub and bare measured
    back to back) and their median reported."""
    out: dict[str, Any] = {"synchronous": synchronous, "rounds": rounds}
    for key in ("hub", "bare", "bare_with_outbox", "reingest_duplicates"):
        values = [r[key]["events_per_s"] for r in rounds]
        out[key] = {"best_events_per_s": max(values), "median_events_per_s": round(statistics.median(values))}
    out["ratio"] = round(statistics.median(r["hub"]["events_per_s"] / r["bare"]["events_per_s"] for r in rounds), 3)
    out["ratio_vs_bare_with_outbox"] = round(statistics.median(
        r["hub"]["events_per_s"] / r["bare_with_outbox"]["events_per_s"] for r in rounds), 3)
    best = max(rounds, key=lambda r: r["hub"]["events_per_s"])["hub"]
    out["best_hub_round"] = {k: best[k] for k in ("seconds", "cpu_seconds", "phases_s", "gc_s", "gc_collections",
                                                   "outbox_rows")}
    return out


def profile(batches: list[bytes], folder: Path, synchronous: str, top: int) -> str:
    store = open_store(folder, f"profile-{synchronous}", synchronous)
    router = make_router()
    types = event_types()
    types.adapter
    prof = cProfile.Profile()
    prof.enable()
    hub_pass(batches, store, router, types=types)
    prof.disable()
    store.close()
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / "ingest.prof"
    prof.dump_stats(str(out))
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return f"profile written to {out}\n" + text.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--sync", default="full,normal", help="synchronous modes to run (comma-separated)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per mode; best and median are reported")
    parser.add_argument("--no-metrics", action="store_true", help="leave out the hub's Prometheus counting callback")
    parser.add_argument("--dir", help="parent folder of the temporary databases (default: system temp)")
    parser.add_argument("--json", action="store_true", help="write bench/results/ingest.json")
    parser.add_argument("--profile", action="store_true", help="cProfile the hub path instead of benchmarking")
    parser.add_argument("--top", type=int, default=30, help="rows of the profile to print")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.sync.split(",") if m.strip()]
    metrics = not args.no_metrics

    t = time.perf_counter()
    batches = common.ndjson_batches(args.events, args.batch)
    print(f"generated {args.events:,} events in {len(batches)} NDJSON batches "
          f"({sum(map(len, batches)) / 1e6:.1f} MB) in {time.perf_counter() - t:.1f}s", flush=True)

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="parcours-bench-", dir=args.dir) as tmp:
        if args.profile:
            print(profile(batches, Path(tmp), modes[0], args.top))
            return 0
        rounds: dict[str, list] = {m: [] for m in modes}
        for i in range(args.repeat):
            for mode in modes:  # modes interleaved, so a burst of load does not hit one mode only
                print(f"round {i + 1}/{args.repeat}, synchronous={mode}: hub, bare, bare+outbox, re-ingest …", flush=True)
                rounds[mode].append(run_mode(batches, Path(tmp), mode, metrics=metrics, tag=str(i)))
    load_after = os.getloadavg()
    results = [summarise(mode, rounds[mode]) for mode in modes]

    print()
    best = "best of " + str(args.repeat) if args.repeat > 1 else "1 round"
    print(f"ingest: {args.events:,} events, batches of {args.batch:,}, one transaction per batch, "
          f"{len(ROUTES)} routes ({results[0]['best_hub_round']['outbox_rows']:,} outbox rows), "
          f"metrics callback {'on' if metrics else 'off'}; events/s {best}, ratios median")
    print(f"{'synchronous':<12}{'hub ev/s':>11}{'bare ev/s':>11}{'ratio':>8}{'bare+outbox':>13}{'ratio':>8}"
          f"{'re-ingest':>11}")
    for r in results:
        print(f"{r['synchronous']:<12}{r['hub']['best_events_per_s']:>11,}{r['bare']['best_events_per_s']:>11,}"
              f"{r['ratio']:>8.3f}{r['bare_with_outbox']['best_events_per_s']:>13,}"
              f"{r['ratio_vs_bare_with_outbox']:>8.3f}{r['reingest_duplicates']['best_events_per_s']:>11,}")
    if args.repeat > 1:
        print("medians:    " + "; ".join(
            f"{r['synchronous']}: hub {r['hub']['median_events_per_s']:,}, bare {r['bare']['median_events_per_s']:,}"
            for r in results))
    for r in results:
        b = r["best_hub_round"]
        ph = b["phases_s"]
        total = sum(ph.values()) or 1
        print(f"  hub time split ({r['synchronous']}, best round): "
              + ", ".join(f"{k} {v:.2f}s ({v / total:.0%})" for k, v in ph.items())
              + f"; CPU {b['cpu_seconds']:.2f}s of {b['seconds']:.2f}s wall, of which GC {b['gc_s']:.2f}s")
    print(f"  load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} "
          f"on {os.cpu_count()} CPUs (other processes share the machine if this is above ~1)")
    print("  target: >= 40,000 events/s through the hub on one core, ratio >= 0.2")
    if args.json:
        path = common.write_result("ingest", {
            "events": args.events, "batch": args.batch, "repeat": args.repeat, "metrics_callback": metrics,
            "routes": ROUTES, "results": results, "loadavg_before_after": [load_before, load_after],
            "target": {"hub_events_per_s": 40_000, "ratio": 0.2},
        })
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
