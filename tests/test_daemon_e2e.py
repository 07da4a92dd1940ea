"""The daemon as users run it: a `parcours run` process, HTTP, the SQLite store, plugins, a sink."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.conftest import TOKEN, event, wait_for


def daemon_config(workdir: Path, sink_url: str) -> Path:
    (workdir / "inbox").mkdir(exist_ok=True)
    path = workdir / "hub.yaml"
    path.write_text(textwrap.dedent(f"""\
        hub:
          data_dir: var
          store: {{url: "sqlite:///var/hub.db"}}
          http: {{admin_token: "${{file:secrets/token}}", port: 0}}
          delivery: {{batch_size: 50, backoff_initial: 50ms, backoff_max: 200ms, poll_interval: 100ms, pause_after_failures: 1000}}
        connectors:
          inbox:
            kind: file_drop
            path: inbox
            batch_size: 40
            settle_seconds: 0
            schedule: {{every: 1s}}
          crm:
            kind: webhook_out
            url: {sink_url}
            secret: ${{file:secrets/hook}}
        routes:
          - {{name: all, from: "*", when: {{types: ["lms.*"]}}, to: crm}}
        """))
    return path


class Daemon:
    def __init__(self, config: Path, cwd: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--config", str(config)],
            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[dict] = []

    async def url(self, timeout: float = 20) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            line = await loop.run_in_executor(None, self.proc.stderr.readline)
            if not line:
                raise AssertionError(f"daemon exited early with {self.proc.wait()}")
            try:
                record = json.loads(line)
            except ValueError:
                continue
            self.lines.append(record)
            if record.get("event") == "listening":
                self._reader = threading.Thread(target=self._read_rest, daemon=True)
                self._reader.start()  # keep reading: a full pipe would block the daemon's logging
                return "http://" + record["address"][0]
        raise AssertionError("daemon did not start listening")

    def _read_rest(self) -> None:
        for line in self.proc.stderr:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def drain_logs(self) -> list[dict]:
        self._reader.join(timeout=10)
        return self.lines


@pytest.fixture
def daemon_dir(workdir):
    return workdir


async def test_sigterm_drains_and_exits_cleanly(daemon_dir, sink_peer):
    config = daemon_config(daemon_dir, sink_peer.url)
    daemon = Daemon(config, daemon_dir)
    base = await daemon.url()
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{base}/api/events", json=[event(i) for i in range(20)],
                               headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 202
        assert await wait_for(lambda: len(sink_peer.received) == 20, timeout=10)
        async with client.get(f"{base}/readyz") as r:
            assert r.status == 200
    daemon.proc.send_signal(signal.SIGTERM)
    code = await asyncio.get_running_loop().run_in_executor(None, daemon.proc.wait, 40)
    assert code == 0
    assert any(line.get("event") == "stopped" for line in daemon.drain_logs())


async def test_kill_9_loses_no_acknowledged_event_and_duplicates_none(daemon_dir, aiohttp_server_factory):
    from aiohttp import web

    delivered: list[str] = []

    async def slow_sink(request):  # a sink that is slow and sometimes fails: deliveries are in flight
        await asyncio.sleep(0.02)
        body = orjson.loads(await request.read())
        if len(delivered) % 7 == 3:
            delivered.append("-")
            return web.Response(status=503)
        delivered.extend(e["id"] for e in body["events"])
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", slow_sink)
    server = await aiohttp_server_factory(app)
    config = daemon_config(daemon_dir, f"http://127.0.0.1:{server.port}/hook")
    # files for the pull source: 6 files x 100 lines, pulled in pages of 40 with a cursor
    for f in range(6):
        lines = [orjson.dumps(event(10_000 + f * 100 + i)).decode() for i in range(100)]
        (daemon_dir / "inbox" / f"batch-{f}.ndjson").write_text("\n".join(lines) + "\n")

    acked: set[str] = set()
    daemon = Daemon(config, daemon_dir)
    base = await daemon.url()

    async def feed(client, url, start):
        n = start
        while True:
            batch = [event(n + i) for i in range(25)]
            try:
                async with client.post(f"{url}/api/events", json=batch, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    if r.status == 202:
                        acked.update(e["source_id"] for e in batch)
            except aiohttp.ClientError:
                return n
            n += 25

    async with aiohttp.ClientSession() as client:
        feeder = asyncio.create_task(feed(client, base, 0))
        await asyncio.sleep(1.5)
        daemon.proc.kill()  # SIGKILL: no drain, no cleanup
        daemon.proc.wait()
        next_n = await asyncio.wait_for(feeder, 10)
        assert len(acked) > 0
        daemon = Daemon(config, daemon_dir)
        base = await daemon.url()
        await feed_once(client, base, next_n + 1000, acked)
        db = daemon_dir / "var" / "hub.db"

        def settled():
            with sqlite3.connect(db) as conn:
                pending = conn.execute("SELECT count(*) FROM outbox WHERE state != 'delivered'").fetchone()[0]
                files_left = list((daemon_dir / "inbox").glob("*.ndjson"))
            return pending == 0 and not files_left

        if not await wait_for(settled, timeout=60, interval=0.2):
            with sqlite3.connect(db) as conn:
                states = conn.execute("SELECT state, lease_owner, count(*) FROM outbox GROUP BY 1, 2").fetchall()
            raise AssertionError(f"not settled: outbox {states}, files {list((daemon_dir / 'inbox').glob('*'))}")
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(40) == 0

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT source, source_id, id FROM events").fetchall()
        cursor = json.loads(conn.execute("SELECT cursor FROM sources WHERE name = 'inbox'").fetchone()[0])
    api_ids = [sid for src, sid, _ in rows if src == "api"]
    file_ids = [sid for src, sid, _ in rows if src == "inbox"]
    assert acked <= set(api_ids), "an acknowledged event is missing"
    assert len(api_ids) == len(set(api_ids)) and len(file_ids) == len(set(file_ids)), "duplicate in the ledger"
    assert len(file_ids) == 600, "the pull cursor ran ahead of (or behind) its events"
    assert cursor["file"] is None or not (daemon_dir / "inbox" / cursor["file"]).exists()
    ledger_ids = {eid for _, _, eid in rows}
    assert {i for i in delivered if i != "-"} == ledger_ids, "every stored event is delivered (at least once)"


async def feed_once(client, base, start, acked):
    batch = [event(start + i) for i in range(25)]
    async with client.post(f"{base}/api/events", json=batch, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        assert r.status == 202
        acked.update(e["source_id"] for e in batch)
