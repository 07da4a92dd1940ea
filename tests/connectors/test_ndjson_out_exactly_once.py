"""``ndjson_out`` writes each event once across crashes: a batch handed over again is skipped where
the file already holds it, a torn last line is cut, and ten ``kill -9`` of the delivering process
during a stream leave the file with every event and (almost) no duplicate."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from hub.runtime.app import Hub
from tests.conftest import BASE_HUB, event, write_config

SINK = """
connectors:
  archive:
    kind: ndjson_out
    directory: out
    fsync: {fsync}
    rotate_bytes: {rotate}
    delivery: {{batch_size: {batch}}}
routes:
  - {{name: keep, from: [api], to: archive}}
"""


def ids_in(folder: Path) -> list[str]:
    out = []
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            out.append(orjson.loads(line)["id"])
    return out


async def test_a_batch_handed_over_again_is_not_written_twice(make_hub, workdir):
    hub = await make_hub(SINK.format(fsync="false", rotate=1 << 30, batch=10))
    ids = (await hub.append([event(i) for i in range(25)], source=None)).ids
    sink = hub.connectors["archive"]
    events = [e async for e in _events(hub)]
    await sink.deliver(events[:10])
    # a fresh sink (a restarted process) is handed the same batch, then the next ones
    again = type(sink)(sink.name, sink.config, sink.context)
    await again.deliver(events[:10])
    await again.deliver(events[5:25])
    assert ids_in(workdir / "out") == ids


async def test_a_torn_last_line_is_cut_and_its_events_written_whole(make_hub, workdir):
    hub = await make_hub(SINK.format(fsync="false", rotate=1 << 30, batch=10))
    ids = (await hub.append([event(i) for i in range(6)], source=None)).ids
    sink = hub.connectors["archive"]
    events = [e async for e in _events(hub)]
    await sink.deliver(events[:3])
    path = workdir / "out" / "events.ndjson"
    with path.open("ab") as fh:  # a kill during the write of events 3-5: event 3 whole, event 4 cut
        fh.write(orjson.dumps(events[3].model_dump(mode="json")) + b"\n" + b'{"id": "' + ids[4][:5].encode())
    again = type(sink)(sink.name, sink.config, sink.context)
    await again.deliver(events[3:6])
    assert ids_in(workdir / "out") == ids


async def test_ids_of_the_rotated_file_are_remembered_after_a_restart(make_hub, workdir):
    hub = await make_hub(SINK.format(fsync="false", rotate=1024, batch=10))
    ids = (await hub.append([event(i) for i in range(4)], source=None)).ids
    sink = hub.connectors["archive"]
    events = [e async for e in _events(hub)]
    await sink.deliver(events)  # more than 1 KiB: rotated at once, the current file does not exist
    assert not (workdir / "out" / "events.ndjson").exists()
    again = type(sink)(sink.name, sink.config, sink.context)
    await again.deliver(events)
    assert ids_in(workdir / "out") == ids


async def test_a_sink_reads_back_what_another_process_wrote_to_the_same_file(make_hub, workdir):
    hub = await make_hub(SINK.format(fsync="false", rotate=1 << 30, batch=10))
    ids = (await hub.append([event(i) for i in range(9)], source=None)).ids
    sink = hub.connectors["archive"]
    events = [e async for e in _events(hub)]
    other = type(sink)(sink.name, sink.config, sink.context)  # a second daemon on the same folder
    await sink.deliver(events[:3])
    await other.deliver(events[3:6])  # the second daemon takes the next batch, then dies
    await sink.deliver(events[3:9])  # its batch comes back to the first one, with the next events
    assert ids_in(workdir / "out") == ids


async def _events(hub):
    from hub.events import to_trace_event

    for row in await hub.store.call(lambda: list(hub.store.iter_events())):
        yield to_trace_event(row)


@pytest.mark.slow
async def test_ten_kills_during_a_stream_lose_nothing_and_duplicate_almost_nothing(workdir, plugins):
    total, kills = 5000, 10
    path = write_config(workdir, BASE_HUB + SINK.format(fsync="true", rotate=256 * 1024, batch=50))
    hub = Hub.open(path, env={}, plugins=plugins)
    await hub.start()
    ids = []
    for start in range(0, total, 500):
        ids += (await hub.append([event(i) for i in range(start, start + 500)], source=None)).ids
    await hub.stop()

    out = workdir / "out"
    rng = random.Random(16)
    targets = sorted(rng.uniform(0.05, 0.9) * total for _ in range(kills))
    cmd = [sys.executable, "-m", "hub.cli", "run", "--once", "--config", str(path)]
    killed = 0
    for target in targets:
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and _lines(out) < target:
            time.sleep(0.002 + rng.random() * 0.005)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
    assert killed >= kills - 1, "the runs finished before they could be killed: the stream is too short"
    for _ in range(3):  # deliver the rest
        assert subprocess.run(cmd, cwd=workdir, stdout=subprocess.DEVNULL, timeout=300).returncode == 0
    written = ids_in(out)
    counts = collections.Counter(written)
    assert set(ids) - set(counts) == set(), "events lost"
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates / total < 0.001, f"{duplicates} duplicates in {total} events over {killed} kills"


def _lines(folder: Path) -> int:
    """Lines written so far (a partial read of a file being written may miss the last one)."""
    return sum(p.read_bytes().count(b"\n") for p in folder.glob("*.ndjson")) if folder.exists() else 0
