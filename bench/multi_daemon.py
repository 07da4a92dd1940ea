"""Ingest throughput of 1, 2 and 3 `parcours run` daemons sharing one PostgreSQL database,
against a bare ``COPY`` of the same rows into the same table, in the same run.

For each daemon count N: a fresh schema of the database named by ``--dsn``; N daemons
(subprocesses, one 127.0.0.1 port each, one shared data folder, no connectors) on it; the
synthetic events of ``bench/common.py`` as NDJSON bodies of ``--batch`` lines, POSTed to
``/api/events`` with ``--concurrency`` requests in flight per daemon, the bodies dealt to the
daemons in turn. Every answer must be a 202 with one id per line (a 503 is retried, as the
API asks). The daemons are stopped with SIGTERM and must exit 0; the ledger must hold every
event once.

Baseline: the very rows the hub stored (every column of ``events``, read back), written with
one ``COPY events … FROM STDIN`` per batch of ``--batch`` rows, each in its own transaction (as
the hub commits each request), into a fresh schema with the same tables and indexes (created by
the store's migrations). This is the database's physical limit for the ledger table alone.

    .venv/bin/python bench/multi_daemon.py [--dsn postgresql://postgres@127.0.0.1:5432/test]
        [--events 100000] [--batch 1000] [--concurrency 2] [--daemons 1,2,3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import orjson  # noqa: E402
import psycopg  # noqa: E402

import common  # noqa: E402
from http_ingest import (  # noqa: E402
    HOST, REQUEST_TIMEOUT, RETRIES, START_TIMEOUT, STOP_TIMEOUT, cpu_seconds, daemon_log_summary, free_port,
)

from hub.store import open_store  # noqa: E402
from hub.store.postgres import EVENT_COLUMNS  # noqa: E402

TOKEN_ENV = "PARCOURS_BENCH_TOKEN"


def schema_url(dsn: str, schema: str) -> str:
    """``dsn`` whose connections use ``schema`` first."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    query["options"] = (query.get("options", "") + f" -csearch_path={schema}").strip()
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class Daemon(common.DaemonProcess):
    """One ``parcours run`` on the shared store, stopped with SIGTERM."""

    def __init__(self, folder: Path, store_url: str, token: str, index: int):
        self.port = free_port()
        self.config = folder / f"hub-{index}.yaml"
        self.config.write_text("\n".join([
            "hub:", "  name: Parcours bench", f"  data_dir: {folder / 'data'}",
            f"  store: {{url: {orjson.dumps(store_url).decode()}}}",
            f"  http: {{host: {HOST}, port: {self.port}, admin_token: '${{env:{TOKEN_ENV}}}'}}",
            "  logging: {level: info, format: json}",
        ]) + "\n", encoding="utf-8")
        super().__init__(folder / f"daemon-{index}.log", f"http://{HOST}:{self.port}")
        self.start(self.config, folder, env={TOKEN_ENV: token})

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        await super().wait_ready(session, START_TIMEOUT)

    def stop(self) -> int:
        return super().stop(STOP_TIMEOUT)


async def post_spread(daemons: list[Daemon], token: str, batches: list[bytes], concurrency: int) -> dict[str, Any]:
    """POST ``batches`` dealt to ``daemons`` in turn, ``concurrency`` in flight per daemon."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    appended = duplicates = retried = 0
    lanes = [iter(batches[i::len(daemons)]) for i in range(len(daemons))]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
                                     connector=aiohttp.TCPConnector(limit=concurrency * len(daemons))) as session:
        for number, daemon in enumerate(daemons):  # warm-up: one event each, outside the measured set
            warm = orjson.dumps({"type": "lms.progress", "occurred_at": "2026-09-01T10:00:00+02:00",
                                 "source_id": f"bench-warm-up-{number}", "data": {"percent": "1"}})
            async with session.post(daemon.url + "/api/events", data=warm, headers=headers) as resp:
                if resp.status != 202:
                    raise RuntimeError(f"warm-up: HTTP {resp.status}: {await resp.text()}")

        async def worker(daemon: Daemon, lane) -> None:
            nonlocal appended, duplicates, retried
            for body in lane:
                for attempt in range(RETRIES + 1):
                    async with session.post(daemon.url + "/api/events", data=body, headers=headers) as resp:
                        payload, status = await resp.read(), resp.status
                    if status == 503 and attempt < RETRIES:
                        retried += 1
                        await asyncio.sleep(0.5)
                        continue
                    if status != 202:
                        raise RuntimeError(f"HTTP {status}: {payload[:500]!r}")
                    break
                answer, lines = orjson.loads(payload), body.count(b"\n")
                if len(answer["ids"]) != lines:
                    raise RuntimeError(f"{len(answer['ids'])} ids for {lines} lines")
                appended += answer["appended"]
                duplicates += answer["duplicates"]

        started = time.perf_counter()
        await asyncio.gather(*(worker(d, lane) for d, lane in zip(daemons, lanes) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "appended": appended, "duplicates": duplicates, "retried_503": retried}


async def daemons_run(dsn: str, count: int, batches: list[bytes], events: int, concurrency: int) -> dict[str, Any]:
    schema = f"bench_md_{uuid.uuid4().hex[:10]}"
    url = schema_url(dsn, schema)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    open_store(url).close()  # migrate once, before the daemons start
    token = secrets.token_urlsafe(32)
    try:
        with tempfile.TemporaryDirectory(prefix="parcours-multi-") as tmp:
            folder = Path(tmp)
            daemons = [Daemon(folder, url, token, i) for i in range(count)]
            try:
                async with aiohttp.ClientSession() as session:
                    for daemon in daemons:
                        await daemon.wait_ready(session)
                cpu0 = [cpu_seconds(d.proc.pid) for d in daemons]
                sent = await post_spread(daemons, token, batches, concurrency)
                cpu = sum(cpu_seconds(d.proc.pid) - c for d, c in zip(daemons, cpu0))
            finally:
                codes = [d.stop() for d in daemons]
            logs = [daemon_log_summary(d.log_path) for d in daemons]
        with psycopg.connect(url) as conn:
            stored, distinct = conn.execute("SELECT count(*), count(DISTINCT (source, source_id)) FROM events").fetchone()
            rows = conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE source_id NOT LIKE 'bench-warm-up-%' "
                                "ORDER BY seq").fetchall() if count == 1 else None
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    problems = []
    if any(codes):
        problems.append(f"daemon exit codes after SIGTERM: {codes}")
    if stored != distinct or stored != events + count:
        problems.append(f"stored {stored} events ({distinct} distinct), expected {events} + {count} warm-up")
    return {"daemons": count, "events": events, "seconds": round(sent["seconds"], 3),
            "events_per_s": round(common.rate(events, sent["seconds"])), "daemon_cpu_seconds": round(cpu, 3),
            "retried_503": sent["retried_503"], "daemon_logs": logs, "ok": not problems, "problems": problems, "_rows": rows}


def bare_copy(dsn: str, rows: list[tuple], batch: int) -> dict[str, Any]:
    """The same rows with one COPY per batch (own transaction) into a fresh, migrated schema."""
    schema = f"bench_md_copy_{uuid.uuid4().hex[:10]}"
    url = schema_url(dsn, schema)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    open_store(url).close()
    columns = ("seq", *EVENT_COLUMNS)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            for start in range(0, len(rows), batch):
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(f"COPY events ({', '.join(columns)}) FROM STDIN") as copy:
                        for seq, row in enumerate(rows[start:start + batch], start + 1):
                            copy.write_row((seq, *row))
            seconds = time.perf_counter() - started
            stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return {"rows": len(rows), "seconds": round(seconds, 3), "rows_per_s": round(common.rate(len(rows), seconds)),
            "ok": stored == len(rows)}


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("PARCOURS_TEST_POSTGRES_DSN")
                        or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight per daemon")
    parser.add_argument("--daemons", default="1,2,3")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.daemons.split(",")]
    if 1 not in counts:
        counts.insert(0, 1)  # the one-daemon run gives the rows of the baseline
    batches = common.ndjson_batches(args.events, args.batch)

    runs = []
    for count in counts:
        run = asyncio.run(daemons_run(args.dsn, count, batches, args.events, args.concurrency))
        runs.append(run)
        print(f"{count} daemon(s): {run['events_per_s']:>8,} events/s ({run['seconds']} s)", file=sys.stderr)
    rows = next(r["_rows"] for r in runs if r["daemons"] == 1)
    copy = bare_copy(args.dsn, rows, args.batch)
    for run in runs:
        run.pop("_rows")
        run["ratio_to_copy"] = round(run["events_per_s"] / copy["rows_per_s"], 3)
        run["scaling_vs_1"] = round(run["events_per_s"] / runs[0]["events_per_s"], 2)
    result = {"events": args.events, "batch": args.batch, "concurrency_per_daemon": args.concurrency,
              "postgres": server_version(args.dsn),
              "bare_copy": copy, "runs": runs, "ok": copy["ok"] and all(r["ok"] for r in runs)}
    path = common.write_result("multi_daemon", result)
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        print(f"{'run':<22} {'events/s':>10} {'vs COPY':>8} {'vs 1 daemon':>12}")
        print(f"{'bare COPY (baseline)':<22} {copy['rows_per_s']:>10,} {1:>8.2f} {'':>12}")
        for run in runs:
            print(f"{str(run['daemons']) + ' daemon(s)':<22} {run['events_per_s']:>10,} {run['ratio_to_copy']:>8.2f} "
                  f"{run['scaling_vs_1']:>12.2f}")
        for run in runs:
            for problem in run["problems"]:
                print(f"PROBLEM ({run['daemons']} daemons): {problem}")
        print(f"written {path}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
