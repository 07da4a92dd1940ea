"""``parcours insights`` on a 10,000-learner history, against reading the same data bare.

Builds a SQLite ledger of ``--learners`` enrolments (``bench/documents_bench.py``'s actions of
500 learners, two weeks each: mornings signed in the classroom, afternoons in FOAD, LMS
sessions, activities, quizzes, downloads, media, progress; ``--events-per-learner`` events
each), to which this bench adds what the insights read and documents_bench does not carry: three
anonymous program views per enrolment, a contact per learner from one of five channels, and
dropouts — about one enrolment in six abandons on a day of its action, its later events left
out. The journeys are projected (``hub.journeys.rebuild``). Then, each step in a fresh process
so that its peak memory is its own:

1. ``baseline`` — the same data read bare: every projected journey decoded page by page
   (``journeys_page``, the pages the insights read) and the views and contacts streamed through
   the type index, nothing computed;
2. ``journeys`` — the journeys computed alone (``hub.journeys.stream.JourneyStream``, what
   ``parcours journey list`` reads): realised hours, FOAD modules, statuses;
3. ``insights`` — ``hub.insights.compute_insights`` for every action: the journeys computed and
   the six tables.

It reports the wall time of each, the ratios insights / baseline and insights / journeys, and
each step's peak RSS; the insights' peak must not grow with ``--learners`` (run ``--learners
2000`` to compare).

    .venv/bin/python bench/insights.py                          # 10,000 learners, 40 events each
    .venv/bin/python bench/insights.py --learners 2000
    .venv/bin/python bench/insights.py --history synthetic    # bench/synthetic_history.py's cohorts and stories

``--json`` prints the result; ``--output FILE`` also writes it with the machine's description.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import documents_bench  # noqa: E402
import orjson  # noqa: E402

SEED = 2026
CHANNELS = ["site web", "salon", "recommandation", "France Travail", "campagne e-mail"]
DROPOUT = 1 / 6
VIEWS_PER_ENROLMENT = 3
BATCH = 5000


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _by_learner(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_learner: dict[str, list[dict[str, Any]]] = {}
    for event in items:
        if event.get("learner"):
            by_learner.setdefault(event["learner"]["ref"], []).append(event)
    return by_learner


def funnel_events(events: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """One learner's program views (anonymous) and contact (from a channel), at their registration."""
    action, learner = events[0]["action"], events[0]["learner"]
    ref = learner["ref"]
    registered = next(e for e in events if e["type"] == "enrolment.registered")
    out = [{"type": "prospect.program_viewed", "occurred_at": registered["occurred_at"], "source_id": f"view-{ref}-{v}",
            "action": action, "data": {"program": action, "consent": True}} for v in range(VIEWS_PER_ENROLMENT)]
    out.append({"type": "prospect.contact_created", "occurred_at": registered["occurred_at"],
                "source_id": f"contact-{ref}", "learner": learner,
                "data": {"email": learner.get("email"), "origin": CHANNELS[rng.randrange(len(CHANNELS))]}})
    return out


def with_funnel_and_dropouts(items: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """An action's events with views, contacts, and the dropouts' later events replaced by their abandonment."""
    out: list[dict[str, Any]] = []
    for ref, events in _by_learner(items).items():
        action, learner = events[0]["action"], events[0]["learner"]
        out.extend(funnel_events(events, rng))
        if rng.random() >= DROPOUT:
            out.extend(events)
            continue
        days = sorted({e["occurred_at"][:10] for e in events if e["type"] == "attendance.signed"})
        last = days[rng.randrange(len(days) - 1)]
        kept = [e for e in events if e["occurred_at"][:10] <= last and e["type"] != "enrolment.completed"]
        kept.append({"type": "enrolment.abandoned", "occurred_at": f"{last}T18:00:00+01:00", "source_id": f"quit-{ref}",
                     "learner": learner, "action": action, "data": {"date": last, "reason": "reprise d'emploi"}})
        out.extend(kept)
    out.sort(key=lambda e: e["occurred_at"])
    return out


def phase_load_synthetic(folder: Path, learners: int) -> dict[str, Any]:
    """bench/synthetic_history.py's history (cohorts of présentiel, FOAD and mixed actions, learners
    who complete, disengage, fail then drop, never start), ``learners`` enrolments over 24 cohorts,
    with this bench's views and contacts added."""
    import synthetic_history

    from hub.config import LearnersConfig
    from hub.events import EventTypeRegistry
    from hub.ingest.ingestor import Ingestor
    from hub.journeys import rebuild
    from hub.learners import LearnerResolver
    from hub.store.sqlite import SQLiteStore

    cohorts = 24
    made = synthetic_history.generate(folder, seed=SEED, cohorts=cohorts, learners=max(1, learners // cohorts))
    (folder / "var").mkdir(exist_ok=True)
    store = SQLiteStore(folder / "var" / "hub.db", synchronous="normal")
    store.migrate()
    ingestor = Ingestor(store, EventTypeRegistry(), None, learners=LearnerResolver(LearnersConfig().match_on))
    rng = random.Random(SEED)
    total, started = 0, time.perf_counter()
    for path in sorted((folder / "data").glob("*.ndjson")):
        items = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        items += [e for events in _by_learner(items).values() for e in funnel_events(events, rng)]
        for i in range(0, len(items), BATCH):
            ingestor.commit(ingestor.prepare(items[i:i + BATCH], source="history"))
        total += len(items)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    rebuild(store)
    projected = time.perf_counter() - started
    store.close()
    return {"events": total, "actions": made["actions"], "enrolments": made["enrolments"], "stories": made["stories"],
            "load_seconds": round(loaded, 1), "rebuild_seconds": round(projected, 1)}


def phase_load(folder: Path, learners: int, per_learner: int) -> dict[str, Any]:
    from hub.config import LearnersConfig
    from hub.events import EventTypeRegistry
    from hub.ingest.ingestor import Ingestor
    from hub.journeys import rebuild
    from hub.learners import LearnerResolver
    from hub.store.sqlite import SQLiteStore

    actions = max(1, learners // documents_bench.PER_ACTION)
    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    store.migrate()
    ingestor = Ingestor(store, EventTypeRegistry(), None, learners=LearnerResolver(LearnersConfig().match_on))
    rng = random.Random(SEED)
    total, started = 0, time.perf_counter()
    for k in range(actions):
        items = with_funnel_and_dropouts(documents_bench.action_events(k, per_learner, rng), rng)
        for i in range(0, len(items), BATCH):
            ingestor.commit(ingestor.prepare(items[i:i + BATCH], source="bench"))
        total += len(items)
        print(f"  loaded action {k + 1}/{actions}: {total} events", file=sys.stderr, flush=True)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    rebuild(store)
    projected = time.perf_counter() - started
    store.close()
    (folder / "hub.yaml").write_text(documents_bench.config_text(folder, actions), encoding="utf-8")
    return {"events": total, "actions": actions, "enrolments": actions * documents_bench.PER_ACTION,
            "load_seconds": round(loaded, 1), "rebuild_seconds": round(projected, 1)}


def phase_baseline(folder: Path) -> dict[str, Any]:
    from hub.insights import CHUNK
    from hub.store.sqlite import SQLiteStore

    db = folder / "hub.db" if (folder / "hub.db").exists() else folder / "var" / "hub.db"  # synthetic: under var/
    store = SQLiteStore(db, synchronous="normal")
    floor = rss_mb()
    started = time.perf_counter()
    journeys, facts, after = 0, 0, None
    while states := store.journeys_page(after, CHUNK):
        after = (states[-1]["learner_id"], states[-1]["action"])
        journeys += len(states)
        facts += sum(len(s.get("activities", [])) for s in states)
    events = sum(1 for _ in store.iter_events(types=["prospect.program_viewed", "prospect.contact_created"], batch=5000))
    seconds = time.perf_counter() - started
    store.close()
    return {"journeys": journeys, "activity_facts": facts, "prospect_events": events, "seconds": round(seconds, 2),
            "peak_rss_mb": rss_mb(), "rss_before_mb": floor}


def phase_journeys(folder: Path) -> dict[str, Any]:
    """The journeys computed alone (hub.journeys.stream, as ``parcours journey list`` reads them):
    what the insights cost beyond it is their tallies."""
    from hub.journeys.stream import JourneyStream
    from hub.runtime.app import Hub

    async def run() -> dict[str, Any]:
        hub = Hub.open(folder / "hub.yaml", env={})
        floor = rss_mb()
        try:
            started = time.perf_counter()
            count = await hub.store.call(lambda: sum(1 for _ in JourneyStream(hub.store, hub.config,
                                                                              today=documents_bench.TODAY)))
            seconds = time.perf_counter() - started
        finally:
            await hub.stop()
        return {"journeys": count, "seconds": round(seconds, 2), "peak_rss_mb": rss_mb(), "rss_before_mb": floor}

    return asyncio.run(run())


def phase_insights(folder: Path) -> dict[str, Any]:
    from hub.insights import compute_insights
    from hub.insights.scope import Scope
    from hub.runtime.app import Hub

    async def run() -> dict[str, Any]:
        hub = Hub.open(folder / "hub.yaml", env={})
        floor = rss_mb()
        try:
            started = time.perf_counter()
            found = await hub.store.call(compute_insights, hub.store, hub.config, Scope(), documents_bench.TODAY)
            seconds = time.perf_counter() - started
        finally:
            await hub.stop()
        rows = {t.name: len(t.rows) for t in found.tables}
        total = next(r for r in found.table("funnel_channels").rows if r["channel"] == CHANNELS[0])
        return {"enrolments": found.enrolments, "rows": rows, "seconds": round(seconds, 2), "peak_rss_mb": rss_mb(),
                "rss_before_mb": floor, "funnel_first_channel": {k: str(v) for k, v in total.items()}}

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10_000, help="enrolments (500 per action)")
    parser.add_argument("--events-per-learner", type=int, default=40)
    parser.add_argument("--history", choices=["bench", "synthetic"], default="bench",
                        help="bench: documents_bench's actions with dropouts added; synthetic: "
                             "bench/synthetic_history.py's cohorts and dropout stories")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", help="also write the result (with the machine's description) to this JSON file")
    parser.add_argument("--keep", help="build the ledger in this folder and keep it (reused when it holds one)")
    parser.add_argument("--phase", choices=["load", "baseline", "journeys", "insights"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        folder = Path(args.folder)
        out = {"load": lambda: (phase_load_synthetic(folder, args.learners) if args.history == "synthetic"
                                else phase_load(folder, args.learners, args.events_per_learner)),
               "baseline": lambda: phase_baseline(folder), "journeys": lambda: phase_journeys(folder),
               "insights": lambda: phase_insights(folder)}[args.phase]()
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="parcours-insightsbench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "hub.yaml").exists():
            load = {"reused": str(folder)}
        else:
            print(f"building a history of {args.learners} learners in {folder}", file=sys.stderr)
            load = common.run_phase(__file__, "load", folder, "--learners", str(args.learners),
                                    "--events-per-learner", str(args.events_per_learner), "--history", args.history)
        print(f"load: {load}", file=sys.stderr)
        baseline = common.run_phase(__file__, "baseline", folder)
        print(f"baseline: {baseline}", file=sys.stderr)
        journeys = common.run_phase(__file__, "journeys", folder)
        print(f"journeys: {journeys}", file=sys.stderr)
        insights = common.run_phase(__file__, "insights", folder)
        print(f"insights: {insights}", file=sys.stderr)
    result = {"parameters": {"learners": args.learners, "events_per_learner": args.events_per_learner,
                             "history": args.history},
              "load": load, "baseline": baseline, "journeys": journeys, "insights": insights,
              "ratio_time_insights_over_baseline": round(insights["seconds"] / baseline["seconds"], 1)
              if baseline["seconds"] else None,
              "ratio_time_insights_over_journeys": round(insights["seconds"] / journeys["seconds"], 2)
              if journeys["seconds"] else None,
              "ratio_rss_insights_over_baseline": round(insights["peak_rss_mb"] / baseline["peak_rss_mb"], 2)}
    if args.output:
        data = {"benchmark": "insights", "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": common.machine(), **result}
        Path(args.output).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{insights['enrolments']} enrolments: insights {insights['seconds']} s "
              f"({insights['peak_rss_mb']} MB peak), bare read {baseline['seconds']} s "
              f"({baseline['peak_rss_mb']} MB peak): ×{result['ratio_time_insights_over_baseline']} time, "
              f"×{result['ratio_rss_insights_over_baseline']} memory; the journeys computed alone "
              f"{journeys['seconds']} s ({journeys['peak_rss_mb']} MB peak)")


if __name__ == "__main__":
    main()
