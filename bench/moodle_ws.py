"""Benchmark: a full Moodle web-service sync of L learners × A activities against the fake Moodle.

The fake Moodle (``tests/fakes/moodle.py``, generated data set of ``tests/fakes/moodle_dataset.py``)
runs in its own process on 127.0.0.1, so that serving and syncing do not share one event loop.
The connector runs a full round (every learner came at least once, except ~15 % who never did),
then a second round with nothing new, then a round 15 minutes later (by the connector's clock)
where the learners whose periodic poll fell due (``learner_poll_interval``, 1 day) are polled.
Reported: web-service calls per function (one HTTP request each: the fake does not fail), wall
time, events.

    .venv/bin/python bench/moodle_ws.py                          # 500 learners × 30 activities
    .venv/bin/python bench/moodle_ws.py --learners 2000 --activities 30 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PER_LEARNER = ("core_completion_get_activities_completion_status", "core_completion_get_course_completion_status",
               "mod_quiz_get_user_attempts", "mod_scorm_get_scorm_attempt_count", "mod_scorm_get_scorm_sco_tracks")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("the fake Moodle did not start")


class _Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None


def count_calls(moodle) -> Counter:
    """Count the connector's web-service calls per function (the client keeps no counters)."""
    calls: Counter = Counter()
    call = moodle.ws.call

    async def counted(function, params=None):
        calls[function] += 1
        return await call(function, params)

    moodle.ws.call = counted
    return calls

    def bind(self, **kw):
        return self


async def one_round(moodle, cursor):
    from connectors.moodle.mapping import EVENT_TYPES
    from hub.events import EventTypeRegistry

    registry = EventTypeRegistry()
    for name, model in EVENT_TYPES.items():
        registry.register(name, model)
    before = Counter(moodle.bench_calls)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    events = rejects = pages = 0
    while True:
        result = await moodle.pull(cursor)
        pages += 1
        registry.validate_batch(result.events)  # what the hub does with a page
        events += len(result.events)
        rejects += len(result.rejects)
        cursor = result.cursor
        if not result.has_more:
            break
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu
    calls = Counter(moodle.bench_calls)
    calls.subtract(before)
    calls = +calls
    return cursor, {"seconds": elapsed, "cpu_seconds": cpu, "events": events, "rejects": rejects, "pages": pages,
                    "requests": sum(calls.values()), "calls": calls}


async def run(args) -> None:
    from connectors.moodle import Moodle
    from hub.testing import close_context, make_context
    from tests.fakes.moodle import TOKEN

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.moodle", "--generated", "--port", str(port),
                               "--learners", str(args.learners), "--activities", str(args.activities)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_for(port)
        config = Moodle.Config.model_validate({"kind": "moodle", "url": f"http://127.0.0.1:{port}", "token": TOKEN,
                                               "concurrency": args.concurrency, "timeout": "60s"})
        context = make_context(tempfile.mkdtemp(prefix="moodle-ws-bench-"), "moodle")
        context.log = _Quiet()
        moodle = Moodle("moodle", config, context)
        moodle.bench_calls = count_calls(moodle)
        started = time.time()
        moodle.clock = lambda: started
        cursor, full = await one_round(moodle, None)
        cursor, again = await one_round(moodle, cursor)
        moodle.clock = lambda: started + 900
        _, later = await one_round(moodle, cursor)
        await close_context(context)
    finally:
        server.terminate()
        server.wait(timeout=10)

    per_learner = sum(full["calls"][f] for f in PER_LEARNER)
    print(f"Full sync, {args.learners} learners × {args.activities} activities, concurrency {args.concurrency}:")
    print(f"  {full['requests']:,} HTTP requests in {full['seconds']:.1f} s "
          f"({full['requests'] / full['seconds']:,.0f} req/s; the connector's process used {full['cpu_seconds']:.1f} CPU s), "
          f"{full['events']:,} events, {full['rejects']} rejects")
    print(f"  course-wide calls: {full['requests'] - per_learner}; per-learner calls: {per_learner:,}")
    print("  | function | calls |\n  |---|---:|")
    for function, count in sorted(full["calls"].items(), key=lambda kv: -kv[1]):
        print(f"  | {function} | {count:,} |")
    print(f"Second sync, nothing new: {again['requests']:,} HTTP requests in {again['seconds']:.1f} s, "
          f"{again['events']} events")
    polled = later["calls"]["core_completion_get_activities_completion_status"]
    print(f"A round 15 minutes later: {later['requests']:,} HTTP requests in {later['seconds']:.1f} s, "
          f"{polled} learners polled (recheck and the periodic poll), "
          f"{sum(later['calls'][f] for f in PER_LEARNER)} per-learner calls, {later['events']} events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--activities", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
