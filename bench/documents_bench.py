"""Documents at scale: certificats de réalisation of N enrolments from a ledger of M events.

Builds a SQLite ledger of ``--events`` events for ``--enrolments`` enrolments (actions of 500
learners, two weeks each, one after the other: mornings signed in the classroom, afternoons in
FOAD; funnel, LMS sessions, a tutor's message a day, activities, quizzes, downloads, media, progress, final assessment,
completion), time-ordered within each action. Then, each phase in a fresh process so that its
peak memory is its own:

1. ``rebuild`` — journeys rebuilt from scratch (``hub.journeys.rebuild``): events/s;
2. ``issue`` — ``issue_documents(type=certificat_realisation)`` for every action: eligibility,
   fields, Ed25519 signature, PDF with QR code, blob store, ``document.issued`` events:
   documents/s and peak RSS.

    .venv/bin/python bench/documents_bench.py                       # 200,000 events, 500 enrolments
    .venv/bin/python bench/documents_bench.py --events 2000000 --enrolments 5000   # the full size
    .venv/bin/python bench/documents_bench.py --jobs 2              # render PDFs in 2 processes

``--json`` prints the result; ``--output FILE`` also writes it with the machine's description.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import resource
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402

PER_ACTION = 500
FIRST_MONDAY = dt.date(2026, 1, 5)
TODAY = dt.date(2026, 11, 20)
TZ = dt.timezone(dt.timedelta(hours=1))
ORGANISATION = """\
  organisation:
    name: "Parcours Démo Formation SAS"
    siret: "73282932000074"
    nda: "84691234569"
    address: "12 rue de la République, 69002 Lyon"
    representative: "Claire Fontaine"
    representative_title: "Directrice"
    city: Lyon
"""


def action_id(k: int) -> str:
    return f"ACT-BENCH-{k + 1:03d}"


def action_days(k: int) -> list[dt.date]:
    start = FIRST_MONDAY + dt.timedelta(days=14 * k)
    return [start + dt.timedelta(days=d) for d in range(12) if (start + dt.timedelta(days=d)).weekday() < 5]


def config_text(folder: Path, actions: int) -> str:
    blocks = []
    for k in range(actions):
        days = action_days(k)
        blocks.append(textwrap.indent(textwrap.dedent(f"""\
            {action_id(k)}:
              title: "Développeur·se web — promotion {k + 1}"
              nature: formation
              modality: mixte
              start: {days[0]}
              end: {days[-1]}
              trainer: Sophie Lambert
              objectives: [Concevoir une interface web, Consommer une API REST, Tester et livrer]
              pattern:
                weekdays: [mon, tue, wed, thu, fri]
                am: {{start: "09:00", end: "12:30", modality: presentiel}}
                pm: {{start: "14:00", end: "17:30", modality: foad_asynchrone}}
            """), "  "))
    return (f"hub:\n  data_dir: {folder}\n  store: {{url: \"sqlite:///{folder / 'hub.db'}\", synchronous: normal}}\n"
            f"  logging: {{level: warning}}\n  http: {{public_url: \"https://of-demo.example.fr\"}}\n{ORGANISATION}"
            "actions:\n" + "".join(blocks))


def _at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).isoformat()


def action_events(k: int, per_learner: int, rng: random.Random) -> list[dict[str, Any]]:
    """Every event of action ``k``'s 500 enrolments, time-ordered."""
    days = action_days(k)
    act = action_id(k)
    out: list[dict[str, Any]] = []
    for i in range(PER_ACTION):
        n = k * PER_ACTION + i
        ref = f"lrn-{n:06d}"
        learner = {"ref": ref, "email": f"{ref}@example.fr", "name": f"Apprenant·e {n} d'Étienne-Lefèvre"}
        base = {"learner": learner, "action": act}
        before = days[0] - dt.timedelta(days=20)
        evs = [
            dict(base, type="enrolment.registered", occurred_at=_at(before, 10), source_id=f"reg-{ref}", data={}),
            dict(base, type="enrolment.agreement_signed", occurred_at=_at(before + dt.timedelta(days=2), 10),
                 source_id=f"conv-{ref}", data={"reference": f"CONV-{n}"}),
            dict(base, type="funding.approved", occurred_at=_at(before + dt.timedelta(days=5), 10), source_id=f"pec-{ref}",
                 data={"funder": "opco-atlas", "funder_kind": "opco", "hours": "70"}),
            dict(base, type="enrolment.started", occurred_at=_at(days[0], 9), source_id=f"start-{ref}",
                 data={"date": days[0].isoformat()}),
        ]
        for d, day in enumerate(days):
            evs.append(dict(base, type="attendance.signed", occurred_at=_at(day, 9, rng.randrange(15)),
                            source_id=f"sig-{ref}-{day}", data={"date": day.isoformat(), "half_day": "am",
                                                                 "trainer_cosigned": True, "proof": "tablette"}))
            minutes = rng.randrange(120, 200)
            evs.append(dict(base, type="lms.session", occurred_at=_at(day, 17, 30), source_id=f"sess-{ref}-{day}",
                            data={"start": _at(day, 14), "end": _at(day, 14 + minutes // 60, minutes % 60),
                                  "duration_seconds": minutes * 60}))
            evs.append(dict(base, type="lms.tutor_interaction", occurred_at=_at(day, 16, 10), source_id=f"tut-{ref}-{day}",
                            data={"kind": "message", "tutor": "Sophie Lambert", "summary": "question sur l'exercice"}))
        evs.append(dict(base, type="assessment.graded", occurred_at=_at(days[-1], 12), source_id=f"eval-{ref}",
                        data={"assessment": "Projet final", "score": str(rng.randrange(10, 20)), "max_score": "20",
                              "passed": True}))
        evs.append(dict(base, type="enrolment.completed", occurred_at=_at(days[-1], 17, 45), source_id=f"done-{ref}",
                        data={"date": days[-1].isoformat()}))
        kinds = ("lms.activity_completed", "lms.quiz_attempted", "lms.resource_downloaded", "lms.media_played", "lms.progress")
        for j in range(max(0, per_learner - len(evs))):
            day = days[j % len(days)]
            kind = kinds[j % len(kinds)]
            at = _at(day, 14 + (j * 7) % 3, (j * 13) % 60)
            if kind == "lms.activity_completed":
                data = {"activity": f"act-{j}", "activity_name": f"Activité {j}", "estimated_minutes": 20}
            elif kind == "lms.quiz_attempted":
                data = {"activity": f"quiz-{j % 7}", "activity_name": f"Quiz {j % 7}", "score": str(rng.randrange(21)),
                        "max_score": "20", "attempt": 1 + j // 7}
            elif kind == "lms.resource_downloaded":
                data = {"resource": f"res-{j}", "resource_name": f"Support {j}"}
            elif kind == "lms.media_played":
                data = {"media": f"vid-{j}", "played_seconds": 300}
            else:
                data = {"percent": str(min(100, j))}
            evs.append(dict(base, type=kind, occurred_at=at, source_id=f"f{j}-{ref}", data=data))
        out.extend(evs)
    out.sort(key=lambda e: e["occurred_at"])
    return out


def rss_mb(who=resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def phase_load(folder: Path, events: int, enrolments: int) -> dict[str, Any]:
    from hub.config import LearnersConfig
    from hub.events import EventTypeRegistry
    from hub.ingest.ingestor import Ingestor
    from hub.learners import LearnerResolver
    from hub.store.sqlite import SQLiteStore

    actions = max(1, enrolments // PER_ACTION)
    per_learner = max(40, events // (actions * PER_ACTION))
    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    store.migrate()
    ingestor = Ingestor(store, EventTypeRegistry(), None, learners=LearnerResolver(LearnersConfig().match_on))
    rng = random.Random(2026)
    total, started = 0, time.perf_counter()
    for k in range(actions):
        items = action_events(k, per_learner, rng)
        for i in range(0, len(items), 5000):
            ingestor.commit(ingestor.prepare(items[i:i + 5000], source="bench"))
        total += len(items)
        print(f"  loaded action {k + 1}/{actions}: {total} events", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    store.close()
    (folder / "hub.yaml").write_text(config_text(folder, actions), encoding="utf-8")
    return {"events": total, "actions": actions, "enrolments": actions * PER_ACTION, "events_per_enrolment": per_learner,
            "seconds": round(seconds, 1), "events_per_s": round(common.rate(total, seconds)), "peak_rss_mb": rss_mb()}


def phase_rebuild(folder: Path) -> dict[str, Any]:
    from hub.journeys import rebuild
    from hub.store.sqlite import SQLiteStore

    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    count = store.count_events()
    started = time.perf_counter()
    read = rebuild(store)
    seconds = time.perf_counter() - started
    journeys = len(store.journeys())
    store.close()
    return {"events": read, "ledger_events": count, "journeys": journeys, "seconds": round(seconds, 1),
            "events_per_s": round(common.rate(read, seconds)), "peak_rss_mb": rss_mb()}


def phase_issue(folder: Path, jobs: int, profile: bool = False) -> dict[str, Any]:
    from hub.runtime.app import Hub
    from hub.documents.issue import issue_documents
    from hub.documents.keys import KeyRing
    from hub.documents.services import services_of
    from hub.documents.settings import keys_dir

    async def run() -> dict[str, Any]:
        hub = Hub.open(folder / "hub.yaml", env={})
        ring = KeyRing(keys_dir(hub.config))
        if ring.active() is None:
            ring.generate()
        issued = refused = 0
        sizes = 0
        started = time.perf_counter()
        try:
            for act in hub.config.model.actions:
                result = await issue_documents(services_of(hub), action=act, today=TODAY, jobs=jobs)
                issued += len(result.issued)
                refused += len(result.refused)
                sizes += sum(hub.blobs.path_for(d.sha256).stat().st_size for d in result.issued)
                print(f"  {act}: {len(result.issued)} issued in {result.seconds:.1f} s", file=sys.stderr, flush=True)
            seconds = time.perf_counter() - started
        finally:
            await hub.stop()
        return {"documents": issued, "refused": refused, "seconds": round(seconds, 1),
                "documents_per_s": round(common.rate(issued, seconds), 2), "jobs": jobs,
                "mean_pdf_kb": round(sizes / max(issued, 1) / 1024, 1), "peak_rss_mb": rss_mb(),
                "peak_rss_children_mb": rss_mb(resource.RUSAGE_CHILDREN)}

    if not profile:
        return asyncio.run(run())
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    out = profiler.runcall(asyncio.run, run())
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    print(text.getvalue(), file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--enrolments", type=int, default=500, help="a multiple of 500 (actions of 500 learners)")
    parser.add_argument("--jobs", type=int, default=1, help="PDF rendering processes")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", help="also write the result (with the machine's description) to this JSON file")
    parser.add_argument("--profile", action="store_true", help="cProfile the issue phase (top functions on stderr)")
    parser.add_argument("--keep", help="build the ledger in this folder and keep it")
    parser.add_argument("--phase", choices=["load", "rebuild", "issue"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        folder = Path(args.folder)
        out = {"load": lambda: phase_load(folder, args.events, args.enrolments), "rebuild": lambda: phase_rebuild(folder),
               "issue": lambda: phase_issue(folder, args.jobs, args.profile)}[args.phase]()
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="parcours-docbench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"building a ledger of {args.events} events for {args.enrolments} enrolments in {folder}", file=sys.stderr)
        load = common.run_phase(__file__, "load", folder, "--events", str(args.events), "--enrolments", str(args.enrolments))
        print(f"load: {load}", file=sys.stderr)
        rebuild = common.run_phase(__file__, "rebuild", folder)
        print(f"rebuild: {rebuild}", file=sys.stderr)
        issue = common.run_phase(__file__, "issue", folder, "--jobs", str(args.jobs), *(["--profile"] if args.profile else []))
        print(f"issue: {issue}", file=sys.stderr)
    result = {"parameters": {"events": args.events, "enrolments": args.enrolments, "jobs": args.jobs},
              "load": load, "rebuild": rebuild, "issue": issue}
    path = None
    if args.output:
        data = {"benchmark": "documents_bench", "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": common.machine(), **result}
        path = Path(args.output)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"ledger: {load['events']} events ({load['events_per_s']}/s to load)")
        print(f"journeys rebuilt from scratch: {rebuild['events_per_s']} events/s ({rebuild['seconds']} s, "
              f"{rebuild['journeys']} journeys, peak RSS {rebuild['peak_rss_mb']} MB)")
        print(f"certificats de réalisation: {issue['documents']} in {issue['seconds']} s = {issue['documents_per_s']} "
              f"documents/s (jobs={issue['jobs']}, peak RSS {issue['peak_rss_mb']} MB"
              + (f", workers {issue['peak_rss_children_mb']} MB" if args.jobs > 1 else "") + ")")
        if path:
            print(f"written to {path}")


if __name__ == "__main__":
    main()
