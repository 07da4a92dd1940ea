"""Benchmark: a Moodle log store of N rows sessionised and ingested by a hub.

For each size, a fresh PostgreSQL schema (or MariaDB database) with Moodle's
``mdl_logstore_standard_log`` is filled with generated rows (learners' sessions: log-in,
dashboard, course, activity views, file downloads, completions, quiz submissions, BigBlueButton
classes, log-out or an abandoned session; :func:`tests.fakes.moodle_dataset.log_rows`), then a
child process opens a hub (SQLite store, no sink) and runs ``hub.pull("moodle")`` until the log
is read. The child reports the wall time, rows/s, events ingested and its peak RSS; a second
child does the same with the connector alone (no store) to separate sessionisation from ingest.

    .venv/bin/python bench/moodle_logstore.py                       # 250k, 500k, 1M rows, PostgreSQL
    .venv/bin/python bench/moodle_logstore.py --sizes 1000000 --dialect mariadb
    .venv/bin/python bench/moodle_logstore.py --sizes 100000 --page-size 2000

Needs the PostgreSQL (``PARCOURS_TEST_POSTGRES_DSN``, default postgresql://postgres@127.0.0.1:5432/test)
or MariaDB (``PARCOURS_TEST_MARIADB_DSN``, default mysql://root@127.0.0.1:3306/test) server of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --------------------------------------------------------------------------- loading rows


def load(dialect: str, rows: int, users: int) -> contextlib.AbstractContextManager[str]:
    from tests.fakes import moodle_db
    from tests.fakes.moodle_dataset import log_rows

    @contextlib.contextmanager
    def make():
        factory = moodle_db.postgres_schema if dialect == "postgresql" else moodle_db.mariadb_database
        started = time.perf_counter()
        with factory(moodle_db.LOGSTORE_TABLES, rows=False) as dsn:
            stream = log_rows(rows, users=users)
            if dialect == "postgresql":
                import psycopg

                with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
                    columns = ", ".join(moodle_db.LOG_INSERT_COLUMNS)
                    with cur.copy(f"COPY {moodle_db.LOG_TABLE} ({columns}) FROM STDIN") as copy:
                        for row in stream:
                            copy.write_row(row)
            else:
                with moodle_db.connect(dsn) as cur:
                    moodle_db.insert_rows(cur, "mysql", moodle_db.LOG_TABLE, moodle_db.LOG_INSERT_COLUMNS, stream,
                                          batch=2000)
            print(f"  loaded {rows:,} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            yield dsn

    return make()


# --------------------------------------------------------------------------- the measured child


async def child_hub(dsn: str, page_size: int, views: bool = True) -> dict:
    from hub.runtime.app import Hub

    work = Path(tempfile.mkdtemp(prefix="moodle-bench-"))
    (work / "dsn").write_text(dsn)
    (work / "hub.yaml").write_text(f"""
hub:
  data_dir: {work}/var
  store: {{url: "sqlite:///{work}/var/hub.db", synchronous: normal}}
  logging: {{level: warning, format: json}}
connectors:
  moodle:
    kind: moodle
    logstore:
      dsn: "${{file:{work}/dsn}}"
      page_size: {page_size}
      emit_views: {"true" if views else "false"}
""")
    os.chdir(work)
    hub = Hub.open(work / "hub.yaml", env={})
    await hub.start()
    base = current_rss_mb()
    cpu = cpu_seconds()
    started = time.perf_counter()
    summary = await hub.pull("moodle")
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    state = await hub.store.call(hub.store.source_state, "moodle")
    events = await hub.store.call(hub.store.count_events)
    await hub.stop()
    assert summary.ok, summary.error
    return {"mode": "hub", "seconds": elapsed, "cpu_seconds": cpu, "pages": summary.pages, "events": events,
            "rejected": summary.rejected, "rss_before_mb": base, "peak_rss_mb": rss_mb(),
            "cursor_bytes": len(json.dumps(state.cursor)), "last_id": state.cursor["log"]["last_id"]}


async def child_connector(dsn: str, page_size: int, views: bool = True) -> dict:
    from connectors.moodle import Moodle
    from hub.testing import close_context, make_context

    config = Moodle.Config.model_validate({"kind": "moodle", "logstore": {"dsn": dsn, "page_size": page_size,
                                                                         "emit_views": views}})
    context = make_context(tempfile.mkdtemp(prefix="moodle-bench-"), "moodle")
    context.log = _Quiet()
    moodle = Moodle("moodle", config, context)
    base = current_rss_mb()
    cpu = cpu_seconds()
    started = time.perf_counter()
    cursor, pages, events, biggest = None, 0, 0, 0
    while True:
        result = await moodle.pull(cursor)
        pages += 1
        events += len(result.events)
        cursor = result.cursor
        biggest = max(biggest, len(json.dumps(cursor)))
        if not result.has_more:
            break
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    await moodle.close()
    await close_context(context)
    return {"mode": "connector", "seconds": elapsed, "cpu_seconds": cpu, "pages": pages, "events": events,
            "rss_before_mb": base,
            "peak_rss_mb": rss_mb(), "cursor_bytes": biggest, "last_id": cursor["log"]["last_id"]}


class _Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None

    def bind(self, **kw):
        return self


def run_child(mode: str, dsn: str, page_size: int, views: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--dsn", dsn, "--page-size", str(page_size)]
                         + ([] if views else ["--no-views"]),
                         capture_output=True, text=True, check=False, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250000,500000,1000000", help="comma-separated row counts")
    parser.add_argument("--dialect", choices=["postgresql", "mariadb"], default="postgresql")
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--modes", default="connector,hub")
    parser.add_argument("--no-views", action="store_true", help="emit_views: false (no moodle.activity_viewed)")
    parser.add_argument("--child", choices=["hub", "connector"], help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = child_hub if args.child == "hub" else child_connector
        print(json.dumps(asyncio.run(fn(args.dsn, args.page_size, not args.no_views))))
        return
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        print(f"{size:,} rows ({args.dialect}, page size {args.page_size}):", file=sys.stderr)
        with load(args.dialect, size, args.users) as dsn:
            for mode in args.modes.split(","):
                r = run_child(mode, dsn, args.page_size, not args.no_views)
                r.update(rows=size, rows_per_s=size / r["seconds"], rows_per_cpu_s=size / r["cpu_seconds"])
                results.append(r)
                print(f"  {mode:9s} {r['seconds']:7.1f} s  {r['rows_per_s']:9,.0f} rows/s  "
                      f"({r['cpu_seconds']:.1f} CPU s, {r['rows_per_cpu_s']:,.0f} rows/CPU s)  {r['events']:>9,} events  "
                      f"{r['pages']:4d} pages  peak RSS {r['peak_rss_mb']:6.1f} MB (before the pull "
                      f"{r['rss_before_mb']:.1f} MB)  largest cursor {r['cursor_bytes']:,} B", file=sys.stderr)
    buf = io.StringIO()
    buf.write("| rows | mode | seconds | rows/s | CPU s | rows/CPU s | events | pages | peak RSS (MB) | largest cursor (B) |\n")
    buf.write("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in results:
        buf.write(f"| {r['rows']:,} | {r['mode']} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} | {r['cpu_seconds']:.1f} | "
                  f"{r['rows_per_cpu_s']:,.0f} | {r['events']:,} | "
                  f"{r['pages']} | {r['peak_rss_mb']:.0f} | {r['cursor_bytes']:,} |\n")
    print(buf.getvalue())


if __name__ == "__main__":
    main()
