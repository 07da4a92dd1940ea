"""HTTP ingest throughput: ``POST /api/events`` (NDJSON batches) against a real daemon on loopback.

Starts ``parcours run --config <temporary config>`` as a subprocess on a free 127.0.0.1 port
(store in a temporary folder; no connectors, or with ``--sink`` one ``ndjson_out`` sink and a
route to it), waits for ``/healthz``, sends one warm-up event, then POSTs the synthetic events
as NDJSON bodies of ``--batch`` lines over one keep-alive connection (sequential), and again
with ``--concurrency`` requests in flight on a fresh daemon and store. Every answer must be a
202 with one id per line. Each daemon is stopped with SIGTERM and must exit 0; the ledger is
then counted. Baseline, in the same run: the in-process path of ``bench/ingest.py`` (parse,
prepare, commit) over the same events with the same routing and ``synchronous`` setting.

    .venv/bin/python bench/http_ingest.py [--events 200000] [--batch 1000] [--concurrency 4] [--sink] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import secrets
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import orjson  # noqa: E402

import common  # noqa: E402
import ingest  # noqa: E402

HOST = "127.0.0.1"
TOKEN_ENV = "PARCOURS_BENCH_TOKEN"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 120.0
RETRIES = 5  # a 503 ("nothing was acknowledged, retry later") is retried, as the API asks clients to
SINK_ROUTES = [{"name": "archive-everything", "from": "*", "to": "archive"}]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def write_config(folder: Path, port: int, synchronous: str, sink: bool) -> Path:
    lines = [
        "hub:",
        "  name: Parcours bench",
        f"  data_dir: {folder / 'data'}",
        "  store:",
        f"    url: sqlite:///{folder / 'hub.db'}",
        f"    synchronous: {synchronous}",
        "  http:",
        f"    host: {HOST}",
        f"    port: {port}",
        f"    admin_token: ${{env:{TOKEN_ENV}}}",
        "  logging:",
        "    level: info",
        "    format: json",
    ]
    if sink:
        lines += [
            "connectors:",
            "  archive:",
            "    kind: ndjson_out",
            f"    directory: {folder / 'out'}",
            "    prefix: bench",
            "    fsync: false",
            "routes:",
            "  - name: archive-everything",
            '    from: "*"',
            "    to: archive",
        ]
    path = folder / "hub.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class Daemon(common.DaemonProcess):
    """``parcours run`` on a fresh SQLite ledger, stopped with SIGTERM."""

    def __init__(self, folder: Path, synchronous: str, sink: bool):
        self.folder = folder
        self.port = free_port()
        self.config = write_config(folder, self.port, synchronous, sink)
        self.token = secrets.token_urlsafe(32)
        super().__init__(folder / "daemon.log", f"http://{HOST}:{self.port}")

    def start(self) -> None:
        super().start(self.config, self.folder, "--port", str(self.port), env={TOKEN_ENV: self.token})

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        await super().wait_ready(session, START_TIMEOUT)

    def stop(self) -> int:
        return super().stop(STOP_TIMEOUT)

    def count(self) -> tuple[int, int]:
        conn = sqlite3.connect(self.folder / "hub.db")
        try:
            return (conn.execute("SELECT count(*) FROM events").fetchone()[0],
                    conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        finally:
            conn.close()


async def post_batches(url: str, token: str, batches: list[bytes], concurrency: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    latencies: list[float] = []
    errors: list[str] = []
    appended = duplicates = retried = 0
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        # warm-up: one event outside the measured set (builds the validator, opens the connection)
        warm = orjson.dumps({"type": "lms.progress", "occurred_at": "2026-09-01T10:00:00+02:00",
                             "source_id": "bench-warm-up", "data": {"percent": "1"}})
        async with session.post(url + "/api/events", data=warm, headers=headers) as resp:
            if resp.status != 202:
                raise RuntimeError(f"warm-up: HTTP {resp.status}: {await resp.text()}")
        queue = iter(batches)

        async def worker() -> None:
            nonlocal appended, duplicates, retried
            for body in queue:
                lines = body.count(b"\n")
                for attempt in range(RETRIES + 1):
                    t = time.perf_counter()
                    async with session.post(url + "/api/events", data=body, headers=headers) as resp:
                        payload = await resp.read()
                        status = resp.status
                    latencies.append(time.perf_counter() - t)
                    if status == 503 and attempt < RETRIES:
                        retried += 1
                        errors.append(payload[:200].decode(errors="replace"))
                        await asyncio.sleep(0.5)
                        continue
                    if status != 202:
                        raise RuntimeError(f"HTTP {status}: {payload[:500]!r}")
                    break
                answer = orjson.loads(payload)
                if len(answer["ids"]) != lines:
                    raise RuntimeError(f"{len(answer['ids'])} ids for {lines} lines")
                appended += answer["appended"]
                duplicates += answer["duplicates"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {"seconds": seconds, "appended": appended, "duplicates": duplicates, "requests": len(latencies),
            "retried_503": retried,
            "errors": sorted(set(errors)),
            "latency_ms": {"p50": round(1000 * statistics.median(latencies), 1),
                           "p99": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
                           "max": round(1000 * latencies[-1], 1)}}


async def http_run(folder: Path, batches: list[bytes], events: int, concurrency: int,
                   synchronous: str, sink: bool) -> dict[str, Any]:
    folder.mkdir(parents=True)
    daemon = Daemon(folder, synchronous, sink)
    daemon.start()
    try:
        async with aiohttp.ClientSession() as session:
            await daemon.wait_ready(session)
        cpu0 = cpu_seconds(daemon.proc.pid)
        sent = await post_batches(daemon.url, daemon.token, batches, concurrency)
        daemon_cpu = cpu_seconds(daemon.proc.pid) - cpu0
    except BaseException:
        daemon.stop()
        raise
    exit_code = daemon.stop()
    stored, outbox = daemon.count()
    result = {
        "concurrency": concurrency, "events": events, "seconds": round(sent["seconds"], 3),
        "events_per_s": round(common.rate(events, sent["seconds"])), "appended": sent["appended"],
        "duplicates": sent["duplicates"],
        "requests": sent["requests"], "retried_503": sent["retried_503"], "errors": sent["errors"],
        "latency_ms": sent["latency_ms"], "daemon_cpu_seconds": round(daemon_cpu, 3),
        "daemon_log": daemon_log_summary(folder / "daemon.log"),
        "events_per_daemon_cpu_s": round(common.rate(events, daemon_cpu)),
        "exit_code": exit_code, "stored_events": stored, "outbox_rows": outbox,
    }
    problems = []
    if exit_code != 0:
        problems.append(f"daemon exited with {exit_code} after SIGTERM: {daemon.tail()}")
    if stored != events + 1:  # + the warm-up event
        problems.append(f"stored {stored} events, expected {events} + 1 warm-up")
    if sent["appended"] + sent["duplicates"] != events or (sent["duplicates"] and not sent["retried_503"]):
        problems.append(f"answers: {sent['appended']} appended, {sent['duplicates']} duplicates for {events} events")
    result["ok"] = not problems
    result["problems"] = problems
    result["warnings"] = ([f"{sent['retried_503']} request(s) answered 503 and were retried: {sent['errors']}"]
                          if sent["retried_503"] else [])
    return result


def daemon_log_summary(path: Path) -> dict[str, Any]:
    """What the daemon did besides answering: log lines by message (parentheses stripped) and the
    longest run of each scheduled job (from its "Running job" / "executed successfully" lines)."""
    counts: dict[str, int] = {}
    started: dict[str, dt.datetime] = {}
    longest: dict[str, float] = {}
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        message = str(record.get("event", "?"))
        key = f"{record.get('level', '?')}: {re.sub(r' *[(].*', '', message)}"
        counts[key] = counts.get(key, 0) + 1
        job = re.match(r'(Running job|Job) "([^ "]+)', message)
        if job and "timestamp" in record:
            at = dt.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
            if job.group(1) == "Running job":
                started[job.group(2)] = at
            elif "executed successfully" in message and job.group(2) in started:
                seconds = (at - started.pop(job.group(2))).total_seconds()
                longest[job.group(2)] = round(max(longest.get(job.group(2), 0.0), seconds), 2)
    return {"lines": counts, "longest_job_seconds": longest}



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight in the second run")
    parser.add_argument("--sync", default="full", choices=["full", "normal"], help="hub.store.synchronous")
    parser.add_argument("--sink", action="store_true",
                        help="configure one ndjson_out sink and a route to it (deliveries run during the test)")
    parser.add_argument("--dir", help="parent folder of the temporary stores (default: system temp)")
    parser.add_argument("--json", action="store_true", help="write bench/results/http_ingest.json")
    args = parser.parse_args(argv)

    batches = common.ndjson_batches(args.events, args.batch)
    print(f"generated {args.events:,} events in {len(batches)} NDJSON batches", flush=True)
    routes = SINK_ROUTES if args.sink else []
    sinks = ["archive"] if args.sink else []
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="parcours-bench-http-", dir=args.dir) as tmp:
        print("in-process baseline (bench/ingest.py path) …", flush=True)
        store = ingest.open_store(Path(tmp), "inprocess", args.sync)
        baseline = ingest.hub_pass(batches, store, ingest.make_router(routes, sinks))
        baseline.pop("_per_batch")
        store.close()
        for concurrency in dict.fromkeys([1, args.concurrency]):
            print(f"HTTP, {concurrency} request(s) in flight …", flush=True)
            runs.append(asyncio.run(http_run(Path(tmp) / f"http-{concurrency}", batches, args.events,
                                             concurrency, args.sync, args.sink)))

    print()
    print(f"HTTP ingest: {args.events:,} events, NDJSON batches of {args.batch:,}, POST /api/events on {HOST}, "
          f"synchronous={args.sync}, {'one ndjson_out sink' if args.sink else 'no sinks'}")
    print(f"{'':<22}{'events/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'daemon CPU s':>14}{'exit':>6}")
    print(f"{'in-process baseline':<22}{baseline['events_per_s']:>10,}{1:>8.3f}{'':>9}{'':>9}"
          f"{baseline['cpu_seconds']:>14.2f}{'':>6}")
    for r in runs:
        r["ratio_http_over_inprocess"] = round(r["events_per_s"] / baseline["events_per_s"], 3)
        label = "HTTP sequential" if r["concurrency"] == 1 else f"HTTP concurrency {r['concurrency']}"
        print(f"{label:<22}{r['events_per_s']:>10,}{r['ratio_http_over_inprocess']:>8.3f}{r['latency_ms']['p50']:>9}"
              f"{r['latency_ms']['p99']:>9}{r['daemon_cpu_seconds']:>14.2f}{r['exit_code']:>6}")
        for problem in r["problems"]:
            print(f"  PROBLEM: {problem}")
        for warning in r["warnings"]:
            print(f"  WARNING: {warning}")
        jobs = r["daemon_log"]["longest_job_seconds"]
        if jobs:
            print("  longest scheduled job runs (they hold the store thread): "
                  + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in sorted(jobs.items())))
    ok = all(r["ok"] for r in runs)
    if args.json:
        path = common.write_result("http_ingest", {
            "events": args.events, "batch": args.batch, "synchronous": args.sync, "sink": args.sink,
            "inprocess": baseline, "http": runs, "ok": ok,
        })
        print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
