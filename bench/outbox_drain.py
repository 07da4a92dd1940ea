"""Draining a sink's outbox: the store's claim (index walk in id order) against the former claim
(one query with an OR), on SQLite and PostgreSQL, in the same run.

For each size N, a fresh store gets N events routed to one sink (``store.ingest``), then is
drained batch after batch exactly as the dispatcher does it, without a sink: ``claim`` 100 rows,
``mark_delivered``. Only the drain is timed. ``current`` is the store's own ``claim``;
``baseline`` is the claim the stores had before (kept here verbatim: one ``WHERE … OR …`` query
that sorts, or walks the primary key past, every row already delivered), on an identical store.
A linear drain takes 10× the time for 10× the rows; the baseline's grows with N².

    .venv/bin/python bench/outbox_drain.py [--sizes 10000,50000] [--current-only 200000]
                                           [--pg postgresql://…] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402

from hub.store import EventRow, open_store  # noqa: E402
from hub.store.base import Claimed  # noqa: E402

SINK = "archive"
BATCH = 100
_ids = itertools.count()


def rows(n: int):
    for _ in range(n):
        i = next(_ids)
        yield EventRow(id=f"EV{i:012d}", type="lms.session", occurred_us=1_790_000_000_000_000 + i,
                       received_at="2026-01-01T00:00:01.000000Z", source="bench", source_id=f"s{i}",
                       learner=None, learner_key=None, action=None, data=json.dumps({"n": i}),
                       evidence=None, supersedes=None)


def route(batch, funders, consents=None):
    return [[(SINK, "r1")] for _ in batch]


def fill(store, n: int) -> None:
    chunk = []
    for r in rows(n):
        chunk.append(r)
        if len(chunk) == 5000:
            store.ingest(chunk, route)
            chunk = []
    if chunk:
        store.ingest(chunk, route)


def baseline_claim_sqlite(store, now: float) -> list[int]:
    conn = store.conn
    with store._tx():
        found = conn.execute(
            "SELECT o.id AS oid, o.route, o.attempts, o.created_at AS ocreated, e.* FROM outbox o "
            "JOIN events e ON e.seq = o.event_seq "
            "WHERE o.sink = ? AND ((o.state = 'pending' AND o.next_attempt_at <= ?) "
            "OR (o.state = 'inflight' AND o.lease_until < ?)) ORDER BY o.id LIMIT ?",
            (SINK, now, now, BATCH)).fetchall()
        ids = [r["oid"] for r in found]
        if ids:
            conn.execute(f"UPDATE outbox SET state = 'inflight', lease_owner = ?, lease_until = ? "
                         f"WHERE id IN ({','.join('?' * len(ids))})", ["bench", now + 60, *ids])
    return ids


def baseline_claim_postgresql(store, now: float) -> list[int]:
    found = store.conn.execute(
        """
        WITH picked AS (
            SELECT id FROM outbox
            WHERE sink = %(sink)s AND ((state = 'pending' AND next_attempt_at <= %(now)s)
                                    OR (state = 'inflight' AND lease_until < %(now)s))
            ORDER BY id LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE outbox o SET state = 'inflight', lease_owner = 'bench', lease_until = %(until)s
            FROM picked WHERE o.id = picked.id
            RETURNING o.id AS oid, o.route, o.attempts, o.created_at AS ocreated, o.event_seq
        )
        SELECT c.oid, c.route, c.attempts, c.ocreated, e.*
        FROM claimed c JOIN events e ON e.seq = c.event_seq ORDER BY c.oid
        """, {"sink": SINK, "now": now, "limit": BATCH, "until": now + 60}).fetchall()
    return [r["oid"] for r in found]


def current_claim(store, now: float) -> list[int]:
    claimed: list[Claimed] = store.claim(SINK, limit=BATCH, now=now, owner="bench", lease_seconds=60)
    return [c.outbox_id for c in claimed]


def drain(store, claim) -> tuple[float, int]:
    started = time.perf_counter()
    drained = 0
    while True:
        now = time.time()
        ids = claim(store, now)
        if not ids:
            break
        store.mark_delivered(ids, at=now)
        drained += len(ids)
    return time.perf_counter() - started, drained


def one_run(dialect: str, url_for, n: int, variant: str) -> dict:
    url, cleanup = url_for()
    store = open_store(url)
    try:
        fill(store, n)
        claim = current_claim if variant == "current" else (
            baseline_claim_sqlite if dialect == "sqlite" else baseline_claim_postgresql)
        seconds, drained = drain(store, claim)
    finally:
        store.close()
        cleanup()
    if drained != n:
        raise SystemExit(f"{dialect} {variant} {n}: drained {drained} rows of {n}")
    return {"dialect": dialect, "variant": variant, "rows": n, "seconds": round(seconds, 3),
            "rows_per_s": round(common.rate(n, seconds))}


def sqlite_url(tmp: Path):
    def make():
        path = tmp / f"drain-{uuid.uuid4().hex}.db"
        return f"sqlite:///{path}", lambda: [p.unlink() for p in tmp.glob(path.name + "*")]
    return make


def pg_url(dsn: str):
    import psycopg

    def make():
        schema = f"bench_drain_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in dsn else "?"

        def cleanup():
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        return f"{dsn}{sep}options=-csearch_path%3D{schema}", cleanup
    return make


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,50000", help="outbox sizes drained by both claims")
    parser.add_argument("--current-only", default="200000", help="larger sizes drained by the current claim only")
    parser.add_argument("--pg", default=os.environ.get("PARCOURS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
                        help="PostgreSQL DSN (a schema per run is created and dropped); 'none' to skip")
    parser.add_argument("--json", action="store_true", help="write bench/results/outbox_drain.json")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    bigger = [int(s) for s in args.current_only.split(",") if s]

    runs = []
    with tempfile.TemporaryDirectory(prefix="parcours-bench-drain-") as tmp:
        dialects = [("sqlite", sqlite_url(Path(tmp)))]
        if args.pg != "none":
            dialects.append(("postgresql", pg_url(args.pg)))
        for dialect, url_for in dialects:
            for n in sizes:
                for variant in ("baseline", "current"):
                    print(f"{dialect}: {variant} claim, {n:,} rows …", flush=True)
                    runs.append(one_run(dialect, url_for, n, variant))
            for n in bigger:
                print(f"{dialect}: current claim, {n:,} rows …", flush=True)
                runs.append(one_run(dialect, url_for, n, "current"))

    print()
    print(f"{'dialect':<12}{'claim':<10}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'vs baseline':>13}")
    by = {(r["dialect"], r["variant"], r["rows"]): r for r in runs}
    for r in runs:
        base = by.get((r["dialect"], "baseline", r["rows"]))
        speedup = f"{base['seconds'] / r['seconds']:.1f}×" if base and r["variant"] == "current" else ""
        print(f"{r['dialect']:<12}{r['variant']:<10}{r['rows']:>10,}{r['seconds']:>10.2f}{r['rows_per_s']:>10,}{speedup:>13}")
    for dialect in {r["dialect"] for r in runs}:
        for variant in ("baseline", "current"):
            mine = sorted((r for r in runs if r["dialect"] == dialect and r["variant"] == variant), key=lambda r: r["rows"])
            if len(mine) >= 2:
                small, large = mine[0], mine[-1]
                print(f"{dialect} {variant}: {large['rows'] / small['rows']:g}× the rows took "
                      f"{large['seconds'] / small['seconds']:.1f}× the time")
    if args.json:
        print(f"wrote {common.write_result('outbox_drain', {'batch': BATCH, 'runs': runs})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
