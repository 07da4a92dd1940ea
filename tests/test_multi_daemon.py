"""Several `parcours run` daemons on one PostgreSQL database, as an organisation scales out.

- A connector's pull runs on one daemon at a time (lease ``pull:<connector>``), whoever starts it.
- Three daemons take an HTTP stream of events; one is killed with SIGKILL and restarted twice:
  every acknowledged event is in the ledger exactly once, the ledger verifies, and every event
  reaches the NDJSON file sink (duplicate deliveries are counted and reported).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import orjson
import psycopg
import pytest

from tests.conftest import TOKEN, event, wait_for
from tests.fakes import xapi_statements as S
from tests.fakes.xapi_lrs import FakeLrs
from tests.test_daemon_e2e import Daemon

pytestmark = pytest.mark.postgres


def base_config(store_url: str) -> str:
    return textwrap.dedent(f"""\
        hub:
          data_dir: var
          store: {{url: "{store_url}"}}
          http: {{admin_token: "${{file:secrets/token}}", port: 0}}
          delivery: {{batch_size: 200, backoff_initial: 50ms, backoff_max: 200ms, poll_interval: 100ms, pause_after_failures: 1000}}
        """)


class SlowLrs(FakeLrs):
    """The fake LRS, each statements page answered after ``delay`` seconds; ``most``: the most
    statement requests it served at once."""

    delay = 3.0
    inflight = 0
    most = 0

    async def get_statements(self, request):
        return await self._slowly(super().get_statements, request)

    async def get_more(self, request):
        return await self._slowly(super().get_more, request)

    async def _slowly(self, handler, request):
        self.inflight += 1
        self.most = max(self.most, self.inflight)
        try:
            await asyncio.sleep(self.delay)
            return await handler(request)
        finally:
            self.inflight -= 1


async def parcours(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "hub.cli", *args], cwd=cwd,
                                   capture_output=True, text=True, timeout=300)


async def test_a_pull_runs_on_one_daemon_at_a_time(workdir, pg_schema_url):
    lrs = SlowLrs(max_limit=4)
    lrs.add(S.ALL_SAMPLES)
    (workdir / "secrets" / "lrs-user").write_text(lrs.username)
    (workdir / "secrets" / "lrs-password").write_text(lrs.password)
    async with lrs.running():
        (workdir / "hub.yaml").write_text(base_config(pg_schema_url) + textwrap.dedent(f"""\
            connectors:
              lrs:
                kind: xapi
                endpoint: "{lrs.url}"
                username: "${{file:secrets/lrs-user}}"
                password: "${{file:secrets/lrs-password}}"
                page_limit: 4
                retries: 0
                schedule: {{every: 1h}}
                actions: {{"http://course-repository.example.edu/identifiers/courses/02baafcf/aus/4c07": ACT-2026-GEO-01}}
            """))
        daemons = [Daemon(workdir / "hub.yaml", workdir) for _ in range(2)]
        try:
            for daemon in daemons:
                await daemon.url()
            # the scheduler's leader pulls at start; meanwhile an administrator runs `parcours sync`
            assert await wait_for(lambda: lrs.inflight == 1, timeout=30)
            during = await parcours("sync", "lrs", "--config", "hub.yaml", cwd=workdir)
            assert during.returncode == 0, during.stdout + during.stderr
            assert "lrs: not pulled: " in during.stdout and " is pulling it now" in during.stdout, during.stdout

            def pulled() -> bool:
                with psycopg.connect(pg_schema_url) as pg:
                    row = pg.execute("SELECT last_success_at FROM sources WHERE name = 'lrs'").fetchone()
                return bool(row and row[0])

            assert await wait_for(pulled, timeout=60, interval=0.2)
            after = await parcours("sync", "lrs", "--config", "hub.yaml", cwd=workdir)
            assert after.returncode == 0 and after.stdout.startswith("lrs: 0 new"), after.stdout + after.stderr
        finally:
            for daemon in daemons:
                daemon.proc.send_signal(signal.SIGTERM)
            for daemon in daemons:
                await asyncio.to_thread(daemon.proc.wait, 40)
    assert lrs.most == 1, "two pulls of one source ran at once"
    with psycopg.connect(pg_schema_url) as pg:
        total, distinct = pg.execute("SELECT count(*), count(DISTINCT source_id) FROM events WHERE source = 'lrs'").fetchone()
        leases = pg.execute("SELECT name FROM leases WHERE name LIKE 'pull:%'").fetchall()
    assert total == distinct > 0 and leases == []  # released at the end of each pull


EVENTS = 10_000
BATCH = 100
PACE = 0.5  # seconds between two batches of one client: 3 clients, about 17 seconds of stream


def sink_config(workdir: Path, store_url: str, prefix: str) -> Path:
    """A daemon's configuration: the common store, an NDJSON sink writing its own file in the
    shared folder (two processes never append to one file, and a killed one leaves its torn
    last line in a file no one appends to)."""
    path = workdir / f"{prefix}.yaml"
    path.write_text(base_config(store_url) + textwrap.dedent(f"""\
        connectors:
          out: {{kind: ndjson_out, directory: out, prefix: {prefix}}}
        routes:
          - {{name: all, from: "*", to: out}}
        """))
    return path


async def test_three_daemons_one_killed_twice_lose_and_duplicate_nothing(workdir, pg_schema_url, capsys):
    incarnation = 0

    async def start() -> tuple[Daemon, str]:
        nonlocal incarnation
        incarnation += 1
        daemon = Daemon(sink_config(workdir, pg_schema_url, f"d{incarnation}"), workdir)
        return daemon, await daemon.url(timeout=60)

    daemons = [await start() for _ in range(3)]
    acked: set[str] = set()
    refused = 0

    async def post(client: aiohttp.ClientSession, index: int, batch: list[dict]) -> bool:
        try:
            async with client.post(f"{daemons[index][1]}/api/events", json=batch,
                                   headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                if r.status == 202:
                    acked.update(e["source_id"] for e in batch)
                    return True
        except aiohttp.ClientError:
            pass
        return False

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as client:
            queue: asyncio.Queue = asyncio.Queue()
            for first in range(0, EVENTS, BATCH):
                queue.put_nowait([event(n) for n in range(first, first + BATCH)])

            async def feed(lane: int) -> None:
                """One client per daemon, all at once; a refused or cut request goes to the next
                daemon, as a load balancer's client would retry it."""
                nonlocal refused
                while not queue.empty():
                    batch = queue.get_nowait()
                    for attempt in range(30):
                        if await post(client, (lane + attempt) % 3, batch):
                            await asyncio.sleep(PACE)  # a stream that lasts across the restarts
                            break
                        refused += 1
                        await asyncio.sleep(0.1)
                    else:
                        raise AssertionError("a batch was refused by every daemon")

            async def kill_twice() -> None:
                for share in (3, 3 / 2):
                    await wait_for(lambda: len(acked) >= EVENTS / share, timeout=120, interval=0.01)
                    victim, _ = daemons[2]
                    victim.proc.kill()  # SIGKILL mid-stream: requests and deliveries in flight are cut
                    kills.append(len(acked))
                    await asyncio.to_thread(victim.proc.wait, 30)
                    daemons[2] = await start()

            kills: list[int] = []
            await asyncio.gather(kill_twice(), *(feed(lane) for lane in range(3)))
            assert len(kills) == 2 and kills[-1] < EVENTS, f"the daemon was not killed mid-stream: {kills}"

        def settled() -> bool:
            with psycopg.connect(pg_schema_url) as pg:
                return pg.execute("SELECT count(*) FROM outbox WHERE state <> 'delivered'").fetchone()[0] == 0

        assert await wait_for(settled, timeout=120, interval=0.5), "deliveries did not finish"
    finally:
        for daemon, _ in daemons:
            daemon.proc.send_signal(signal.SIGTERM)
        for daemon, _ in daemons:
            await asyncio.to_thread(daemon.proc.wait, 40)

    assert len(acked) == EVENTS
    with psycopg.connect(pg_schema_url) as pg:
        rows = pg.execute("SELECT source_id, id FROM events").fetchall()
        outbox = pg.execute("SELECT count(*) FROM outbox").fetchone()[0]
    source_ids = [sid for sid, _ in rows]
    assert len(source_ids) == len(set(source_ids)) == EVENTS and set(source_ids) == acked, "lost or duplicated in the ledger"
    assert outbox == EVENTS

    delivered: list[str] = []
    torn = 0
    for file in sorted((workdir / "out").glob("*.ndjson")):
        for line in file.read_bytes().splitlines():
            try:
                delivered.append(orjson.loads(line)["id"])
            except orjson.JSONDecodeError:
                torn += 1  # the last line of a killed daemon's file, cut mid-write
    ledger_ids = {eid for _, eid in rows}
    assert set(delivered) == ledger_ids, "an event was not delivered"
    duplicates = len(delivered) - len(set(delivered))
    with capsys.disabled():
        print(f"\n3 daemons, 2 x SIGKILL, {EVENTS} events: {refused} request(s) retried on another daemon, "
              f"{duplicates} duplicate deliveries ({duplicates / EVENTS:.2%}), {torn} torn line(s)")

    check = await parcours("run", "--once", "--config", "d1.yaml", cwd=workdir)  # seals what is not sealed yet
    assert check.returncode == 0, check.stdout + check.stderr
    check = await parcours("verify", "--config", "d1.yaml", cwd=workdir)
    assert check.returncode == 0 and f"{EVENTS} sealed event(s)" in check.stdout, check.stdout + check.stderr
    assert json.loads((workdir / "var-ledger-head.json").read_text())["events"] == EVENTS
