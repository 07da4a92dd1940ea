"""A PostgreSQL outage is a pause, not a stop, end to end: a `parcours run` daemon on its own
PostgreSQL server (initdb/pg_ctl in a temp folder, on a free port), events streamed over HTTP,
the server stopped (``pg_ctl stop -m immediate``) for about five seconds and started again.

Clients get only 2xx or 503 with Retry-After; every acknowledged event is in the ledger once and
reaches the sink; /readyz says not ready during the outage and ok after; SIGTERM exits 0.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.conftest import TOKEN, event, wait_for
from tests.test_daemon_e2e import Daemon, daemon_config

psycopg = pytest.importorskip("psycopg")
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
pytestmark = pytest.mark.skipif(not PG_BIN and not shutil.which("initdb"),
                                reason="needs the PostgreSQL server binaries (initdb, pg_ctl)")
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """A throw-away PostgreSQL server; as root, run by the ``postgres`` user (initdb refuses root)."""

    def __init__(self):
        self.bin = Path(PG_BIN[-1]) if PG_BIN else Path(shutil.which("initdb")).parent
        self.dir = Path(tempfile.mkdtemp(prefix="parcours-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("fast")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres_server():
    server = LocalPostgres()
    server.start()
    yield server
    server.remove()


def sealed_up_to_the_end(url: str) -> bool:
    with psycopg.connect(url) as conn:
        last_event = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        last_sealed = conn.execute("SELECT max(last_seq) FROM blocks").fetchone()[0]
    return last_sealed is not None and last_sealed == last_event


def file_event_ids(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM events WHERE source = 'inbox'")]


def outage_config(workdir: Path, store_url: str, sink_url: str) -> Path:
    """The end-to-end daemon's configuration (a file drop pulled every second, a webhook sink) on
    ``store_url``, sealing every second."""
    path = daemon_config(workdir, sink_url)
    sqlite = 'store: {url: "sqlite:///var/hub.db"}'
    assert sqlite in path.read_text()
    path.write_text(path.read_text().replace(sqlite, f'store: {{url: "{store_url}"}}\n  ledger: {{seal_every: 1s}}'))
    return path


async def test_a_postgresql_outage_pauses_the_daemon_and_it_resumes_by_itself(workdir, postgres_server,
                                                                               aiohttp_server_factory):
    delivered: list[str] = []

    async def sink(request):
        delivered.extend(e["id"] for e in orjson.loads(await request.read())["events"])
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", sink)
    receiver = await aiohttp_server_factory(app)
    config = outage_config(workdir, postgres_server.url, f"http://127.0.0.1:{receiver.port}/hook")
    daemon = Daemon(config, workdir)
    base = await daemon.url()
    acked: dict[str, str] = {}  # source_id -> event id
    statuses: list[tuple[int, str | None]] = []
    ready_during: list[int] = []
    feeding = True

    async def feed(client, n):
        while feeding:
            batch = [event(n + i) for i in range(50)]
            async with client.post(f"{base}/api/events", json=batch, headers=AUTH) as r:
                statuses.append((r.status, r.headers.get("Retry-After")))
                if r.status == 202:
                    acked.update(zip((e["source_id"] for e in batch), (await r.json())["ids"]))
                    n += 50
                else:
                    await asyncio.sleep(0.1)  # a 503: the same batch again, as a client would
            await asyncio.sleep(0.01)

    async with aiohttp.ClientSession() as client:
        feeders = [asyncio.create_task(feed(client, start)) for start in (0, 10**6, 2 * 10**6)]
        await asyncio.sleep(1.0)
        before = len(acked)
        await asyncio.to_thread(postgres_server.stop)  # an outage: the server is gone at once
        for f in range(10):  # files dropped for the pull source meanwhile: pulled once the store is back
            lines = [orjson.dumps(event(5 * 10**6 + f * 100 + i)).decode() for i in range(100)]
            (workdir / "inbox" / f"outage-{f}.ndjson").write_text("\n".join(lines) + "\n")
            async with client.get(f"{base}/readyz") as r:
                ready_during.append(r.status)
            await asyncio.sleep(0.5)
        await asyncio.to_thread(postgres_server.start)
        assert await wait_for(lambda: len(acked) > before + 1000, timeout=20), "ingest did not resume"
        feeding = False
        await asyncio.wait_for(asyncio.gather(*feeders), 10)

        assert await wait_for(lambda: not list((workdir / "inbox").glob("*.ndjson")), timeout=20, interval=0.2), \
            "the pulls did not resume"
        ids = set(acked.values()) | set(file_event_ids(postgres_server.url))
        assert len(ids) == len(acked) + 1000
        assert await wait_for(lambda: ids <= set(delivered), timeout=30, interval=0.2), \
            f"{len(ids - set(delivered))} of {len(ids)} acknowledged events not delivered"
        async with client.get(f"{base}/readyz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        assert await wait_for(lambda: sealed_up_to_the_end(postgres_server.url), timeout=20, interval=0.5), \
            "the seal job did not resume"
    daemon.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(daemon.proc.wait, 40) == 0

    assert {status for status, _ in statuses} <= {202, 503}
    assert 503 in {status for status, _ in statuses}, "the outage was not seen by the clients"
    assert all(retry == "5" for status, retry in statuses if status == 503)
    assert 503 in ready_during
    with psycopg.connect(postgres_server.url) as conn:
        rows = conn.execute("SELECT source_id, id FROM events WHERE source = 'api'").fetchall()
    assert len(rows) == len({sid for sid, _ in rows}), "an event is twice in the ledger"
    assert len(file_event_ids(postgres_server.url)) == 1000
    assert set(acked.items()) <= set(rows), "an acknowledged event is missing from the ledger"
    logs = daemon.drain_logs()
    assert not any("Traceback" in str(line) or line.get("level") == "error" for line in logs)


async def test_sigterm_during_an_outage_exits_0(workdir, postgres_server, sink_peer):
    daemon = Daemon(outage_config(workdir, postgres_server.url, sink_peer.url), workdir)
    base = await daemon.url()
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{base}/api/events", json=[event(i) for i in range(10)], headers=AUTH) as r:
            assert r.status == 202
        assert await wait_for(lambda: len(sink_peer.received) == 10, timeout=10)
        await asyncio.to_thread(postgres_server.stop)
        async with client.post(f"{base}/api/events", json=[event(99)], headers=AUTH) as r:
            assert r.status == 503 and r.headers["Retry-After"] == "5"
    daemon.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(daemon.proc.wait, 40) == 0
    logs = daemon.drain_logs()
    assert any(line.get("event") == "stopped" for line in logs)
    assert not any("Traceback" in str(line) for line in logs)
