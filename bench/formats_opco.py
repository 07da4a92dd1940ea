"""The monthly OPCO export at scale: wall time and peak memory, and how both grow with learners.

For each size N (learners), the script builds an organisation in a fresh folder: ten training
actions (10 weeks, Monday to Thursday; mornings in the classroom, afternoons in FOAD) that all
run through October 2026, N learners spread over them, ``--events-per-learner`` events each
(funnel, funding with the employer's details, a signed or absent morning and an LMS session per
scheduled day, LMS traces, completion; 5 % drop out in October) — 200 by default, so 10,000
learners make 2,000,000 events. The events go through the hub's real ingest path
(``Hub.append``: validation, learner resolution, dedupe, append) in batches, then the
journeys are projected (``hub.project``), as a running daemon would have done.

Then, each in a fresh child process (so that peak RSS is the run's own):

* ``export`` — ``hub.export("opco", 2026-10)``, the code path of ``parcours export``, with
  ``--outputs`` (default: attendance_csv and attendance_xlsx, profile atlas): wall and CPU time,
  the time spent in the format (which reads the journeys the hub computes chunk by chunk), peak
  RSS (``ru_maxrss``);
* ``journeys`` — the baseline: every journey computed once, page by page (``hub.journey_pages``),
  and nothing else: what any export of the whole organisation must at least spend;
* ``format`` — the same export with ``tracemalloc`` started inside ``OpcoFormat.export``: the
  peak of memory allocated while the format runs, the journeys it reads included (its time is
  slowed by tracing; not reported).

    .venv/bin/python bench/formats_opco.py                        # 200, 500, 1,000 learners (a few minutes)
    .venv/bin/python bench/formats_opco.py --full                 # 1,000, 2,500, 5,000, 10,000 (2M events)
    .venv/bin/python bench/formats_opco.py --learners 2000 --keep /tmp/opco-bench   # reuse the stores
    .venv/bin/python bench/formats_opco.py --learners 2000 --keep /tmp/opco-bench --outputs attendance_csv  # same stores
    .venv/bin/python bench/formats_opco.py --json                 # also write bench/results/formats_opco.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402

PERIOD = "2026-10"
ACTIONS = 10
WEEKS = 10
FIRST_MONDAY = dt.date(2026, 9, 7)
EMPLOYERS = 200
BATCH = 2000
OUTPUTS = ["attendance_csv", "attendance_xlsx"]
TZ = "+02:00"


# --------------------------------------------------------------------------- the organisation


def _siret(n: int) -> str:
    """A SIRET-shaped number with a valid check digit."""
    stem = f"{4000000000000 + n * 7919:013d}"
    for digit in "0123456789":
        value = stem + digit
        total = 0
        for i, ch in enumerate(reversed(value)):
            k = int(ch) * (2 if i % 2 else 1)
            total += k - 9 if k > 9 else k
        if total % 10 == 0:
            return value
    raise AssertionError("no check digit")


def _action(i: int) -> tuple[str, dt.date, dt.date, list[dt.date]]:
    start = FIRST_MONDAY + dt.timedelta(days=7 * (i % 3))
    end = start + dt.timedelta(weeks=WEEKS) - dt.timedelta(days=4)
    days = [start + dt.timedelta(days=d) for d in range((end - start).days + 1)
            if (start + dt.timedelta(days=d)).weekday() < 4]
    return f"ACT-BENCH-{i + 1:02d}", start, end, days


def config_text(folder: Path, outputs: list[str]) -> str:
    actions = []
    for i in range(ACTIONS):
        code, start, end, _ = _action(i)
        actions.append(f"""  {code}:
    title: "Formation {i + 1} — gestion et outils numériques"
    nature: formation
    modality: mixte
    start: {start.isoformat()}
    end: {end.isoformat()}
    pattern:
      weekdays: [mon, tue, wed, thu]
      am: {{start: "09:00", end: "12:30", modality: presentiel}}
      pm: {{start: "13:30", end: "17:00", modality: foad_asynchrone}}
""")
    return f"""hub:
  name: Parcours bench
  organisation:
    name: "Organisme Bench SAS"
    siret: "73282932000074"
    city: Lyon
    representative: Claire Fontaine
    representative_title: Directrice
  data_dir: {folder / 'data'}
  store:
    url: sqlite:///{folder / 'hub.db'}
    synchronous: normal
  logging:
    level: warning
    format: json
actions:
{''.join(actions)}exports:
  opco:
    kind: opco
    profile: atlas
    outputs: [{', '.join(outputs)}]
"""


def _iso(day: dt.date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00{TZ}"


def learner_events(n: int, per_learner: int) -> list[dict[str, Any]]:
    """The ``per_learner`` events of learner ``n`` (deterministic)."""
    rng = random.Random(n)
    code, start, end, days = _action(n % ACTIONS)
    ref = f"lrn-{n:06d}"
    first, last = common.FIRST[n % len(common.FIRST)], common.LAST[(n * 7) % len(common.LAST)]
    learner = {"ref": ref, "name": f"{first} {last}", "email": f"{ref}@example.fr"}
    funder, kind = (("opco-atlas", "opco") if n % 20 < 14 else ("opco-akto", "opco") if n % 20 < 17
                    else ("france-travail", "france_travail"))
    employer = n % EMPLOYERS
    out: list[dict[str, Any]] = []

    def add(type_: str, when: str, data: dict[str, Any], sid: str) -> None:
        out.append({"type": type_, "occurred_at": when, "source_id": f"{sid}-{ref}", "learner": learner,
                    "action": code, "data": data})

    add("enrolment.registered", _iso(start - dt.timedelta(days=40), 10), {}, "reg")
    add("enrolment.agreement_signed", _iso(start - dt.timedelta(days=35), 10),
        {"agreement_type": "convention", "reference": f"CONV-{ref}"}, "conv")
    add("funding.approved", _iso(start - dt.timedelta(days=20), 10),
        {"funder": funder, "funder_kind": kind, "hours": str(len(days) * 7), "amount": "4900.00",
         "reference": f"PEC-{ref}", "details": {"employer_siret": _siret(employer), "employer_name": f"Employeur {employer}",
                                                 "dossier": f"DOS-{n:06d}"}}, "pec")
    add("enrolment.started", _iso(start, 9), {"date": start.isoformat()}, "start")
    dropout = days[len(days) // 2 + rng.randrange(5)] if n % 20 == 19 else None
    held = [d for d in days if dropout is None or d <= dropout]
    for day in held:
        if rng.random() < 0.04:
            add("attendance.absent", _iso(day, 12, 30), {"date": day.isoformat(), "half_day": "am",
                                                         "justified": rng.random() < 0.5}, f"abs-{day}")
        else:
            add("attendance.signed", _iso(day, 9, rng.randrange(15)),
                {"date": day.isoformat(), "half_day": "am", "modality": "presentiel", "signer": "learner",
                 "trainer_cosigned": rng.random() > 0.02, "proof": "signature électronique"}, f"sig-{day}")
        if rng.random() < 0.95:
            minutes = rng.randrange(120, 211)
            begin = dt.datetime.fromisoformat(_iso(day, 13, 40))
            add("lms.session", (begin + dt.timedelta(minutes=minutes)).isoformat(),
                {"start": begin.isoformat(), "end": (begin + dt.timedelta(minutes=minutes)).isoformat(),
                 "duration_seconds": minutes * 60}, f"sess-{day}")
    closing = 1
    budget = per_learner - len(out) - closing
    for k in range(max(0, budget)):
        day = held[k % len(held)]
        module, name = common.MODULES[k % len(common.MODULES)]
        when = _iso(day, 14 + k % 3, (k * 7) % 60)
        choice = k % 5
        if choice == 0:
            add("lms.activity_completed", when, {"activity": f"{module}-{k}", "activity_name": name, "state": "complete"},
                f"act{k}")
        elif choice == 1:
            add("lms.quiz_attempted", when, {"activity": f"quiz-{module}", "attempt": 1 + k // 5, "score": "14",
                                             "max_score": "20", "passed": True}, f"quiz{k}")
        elif choice == 2:
            add("lms.resource_downloaded", when, {"resource": f"res-{module}-{k}", "resource_name": name}, f"res{k}")
        elif choice == 3:
            add("lms.media_played", when, {"media": f"vid-{module}", "played_seconds": 300}, f"vid{k}")
        else:
            add("lms.progress", when, {"percent": str(min(100, k))}, f"prog{k}")
    if dropout is not None:
        add("enrolment.abandoned", _iso(dropout, 18), {"date": dropout.isoformat(), "reason": "reprise d'emploi"}, "abandon")
    else:
        add("enrolment.completed", _iso(end, 17, 30), {"date": end.isoformat()}, "done")
    return out


async def build(folder: Path, learners: int, per_learner: int, outputs: list[str]) -> dict[str, Any]:
    """Create the hub folder and ingest the organisation's ledger through the real ingest path."""
    from hub.runtime.app import Hub

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hub.yaml"
    path.write_text(config_text(folder, outputs), encoding="utf-8")
    hub = Hub.open(path)
    await hub.start()
    events = 0
    started = time.perf_counter()
    try:
        batch: list[dict[str, Any]] = []
        for n in range(learners):
            batch.extend(learner_events(n, per_learner))
            if len(batch) >= BATCH:
                events += (await hub.append(batch, source=None)).appended
                batch = []
            if n and n % 1000 == 0:
                print(f"    {n:,} learners, {events:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
        if batch:
            events += (await hub.append(batch, source=None)).appended
        ingest_s = time.perf_counter() - started
        t = time.perf_counter()
        await hub.project()
        project_s = time.perf_counter() - t
    finally:
        await hub.stop()
    (folder / "built.json").write_text(json.dumps({"learners": learners, "events": events,
                                                   "per_learner": per_learner, "outputs": outputs}))
    return {"events": events, "ingest_s": round(ingest_s, 1), "project_s": round(project_s, 1),
            "events_per_s": round(events / ingest_s) if ingest_s else None}


# --------------------------------------------------------------------------- the measured runs (children)


async def child(folder: Path, mode: str) -> dict[str, Any]:
    import tracemalloc

    from funder_formats.opco.format import OpcoFormat
    from hub.runtime.app import Hub
    from hub.formats import Period

    hub = Hub.open(folder / "hub.yaml")
    await hub.start()
    out: dict[str, Any] = {}
    try:
        if mode == "journeys":
            t, c = time.perf_counter(), time.process_time()
            count = 0
            async for page in hub.journey_pages(today=dt.date(2026, 11, 1)):
                count += len(page)
            out["journeys_s"] = round(time.perf_counter() - t, 2)
            out["journeys_cpu_s"] = round(time.process_time() - c, 2)
            out["journeys"] = count
        else:
            original_export = OpcoFormat.export
            timings: dict[str, float] = {}

            def timed_export(self, request):
                if mode == "format":
                    tracemalloc.start()
                t, c = time.perf_counter(), time.thread_time()  # the format runs on a worker thread
                try:
                    return original_export(self, request)
                finally:
                    timings["format_s"] = time.perf_counter() - t
                    timings["format_cpu_s"] = time.thread_time() - c
                    if mode == "format":
                        timings["format_peak_bytes"] = tracemalloc.get_traced_memory()[1]
                        tracemalloc.stop()

            OpcoFormat.export = timed_export
            t, c = time.perf_counter(), time.process_time()
            outcome = await hub.export("opco", Period.parse(PERIOD), out_dir=folder / "exports")
            out["export_s"] = round(time.perf_counter() - t, 2)
            out["export_cpu_s"] = round(time.process_time() - c, 2)
            out.update({k: (round(v, 2) if k.endswith("_s") else v) for k, v in timings.items()})
            out["written"] = outcome.written
            out["missing"] = len(outcome.missing)
            out["files"] = {name: (outcome.folder / name).stat().st_size for name in outcome.files} if outcome.folder else {}
            csv_name = next((n for n in outcome.files if n.endswith(".csv") and "etat-presence" in n), None)
            if csv_name:
                with open(outcome.folder / csv_name, "rb") as fh:
                    out["lines"] = sum(1 for _ in fh) - 1
            shutil.rmtree(folder / "exports", ignore_errors=True)
    finally:
        await hub.stop()
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_child(folder: Path, mode: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--dir", str(folder)],
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def measure(folder: Path, learners: int, per_learner: int, outputs: list[str]) -> dict[str, Any]:
    built = folder / "built.json"
    setup: dict[str, Any] = {}
    known = json.loads(built.read_text()) if built.exists() else {}
    if known.get("learners") == learners and known.get("per_learner") == per_learner:
        setup = {"events": known["events"], "reused": True}
        if known.get("outputs") != outputs:  # the same ledger: only the export's outputs change
            (folder / "hub.yaml").write_text(config_text(folder, outputs), encoding="utf-8")
            built.write_text(json.dumps({**known, "outputs": outputs}))
        print(f"  reusing {folder}", flush=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"  building {learners:,} learners × {per_learner} events …", flush=True)
        setup = asyncio.run(build(folder, learners, per_learner, outputs))
        print(f"  ingested {setup['events']:,} events in {setup['ingest_s']} s, projected in {setup['project_s']} s",
              flush=True)
    result = {"learners": learners, "setup": setup}
    for mode in ("export", "journeys", "format"):
        print(f"  {mode} …", flush=True)
        result[mode] = run_child(folder, mode)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", default="200,500,1000", help="comma-separated sizes (default: 200,500,1000)")
    parser.add_argument("--full", action="store_true", help="sizes 1000,2500,5000,10000 (2M events at 10,000)")
    parser.add_argument("--events-per-learner", type=int, default=200)
    parser.add_argument("--outputs", default=",".join(OUTPUTS), help="opco outputs (default: attendance_csv,attendance_xlsx)")
    parser.add_argument("--keep", help="build the stores in this folder and keep them (reused by the next run)")
    parser.add_argument("--json", action="store_true", help="write bench/results/formats_opco.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(child(Path(args.dir), args.child))))
        return 0
    sizes = [1000, 2500, 5000, 10000] if args.full else [int(x) for x in args.learners.split(",")]
    outputs = [o.strip() for o in args.outputs.split(",") if o.strip()]
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="parcours-bench-opco-"))
    runs = []
    try:
        for n in sizes:
            print(f"{n:,} learners", flush=True)
            runs.append(measure(base / f"learners-{n}", n, args.events_per_learner, outputs))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    print()
    print(f"monthly OPCO export ({PERIOD}, profile atlas, outputs {', '.join(outputs)}), "
          f"{args.events_per_learner} events per learner")
    print("wall and CPU seconds (CPU: less sensitive to other load on the machine); RSS: peak of the process;")
    print("baseline: every journey computed once, page by page (the format reads them once too, then merges its lines)")
    head = (f"{'learners':>9}{'events':>11}{'lines':>9}{'export s':>9}{'cpu':>7}{'format cpu':>11}"
            f"{'baseline s':>11}{'cpu':>7}{'cpu ratio':>10}{'RSS MiB':>9}{'baseline':>9}{'fmt peak MiB':>13}")
    print(head)
    for r in runs:
        e, j, f = r["export"], r["journeys"], r["format"]
        print(f"{r['learners']:>9,}{r['setup']['events']:>11,}{e.get('lines', 0):>9,}{e['export_s']:>9.1f}"
              f"{e['export_cpu_s']:>7.1f}{e['format_cpu_s']:>11.1f}{j['journeys_s']:>11.1f}{j['journeys_cpu_s']:>7.1f}"
              f"{e['export_cpu_s'] / j['journeys_cpu_s']:>10.2f}{e['peak_rss_mib']:>9.0f}{j['peak_rss_mib']:>9.0f}"
              f"{f['format_peak_bytes'] / 2**20:>13.1f}")
    growth = []
    for a, b in zip(runs, runs[1:]):
        k = b["learners"] / a["learners"]
        growth.append({
            "from": a["learners"], "to": b["learners"], "learners_x": round(k, 2),
            "export_time_x": round(b["export"]["export_s"] / a["export"]["export_s"], 2),
            "export_cpu_x": round(b["export"]["export_cpu_s"] / a["export"]["export_cpu_s"], 2),
            "format_cpu_x": round(b["export"]["format_cpu_s"] / a["export"]["format_cpu_s"], 2),
            "rss_x": round(b["export"]["peak_rss_mib"] / a["export"]["peak_rss_mib"], 2),
            "format_peak_x": round(b["format"]["format_peak_bytes"] / a["format"]["format_peak_bytes"], 2),
        })
    for g in growth:
        print(f"{g['from']:,} → {g['to']:,} learners (×{g['learners_x']}): export wall ×{g['export_time_x']}, "
              f"CPU ×{g['export_cpu_x']}; format CPU ×{g['format_cpu_x']}; peak RSS ×{g['rss_x']}; "
              f"format's own peak ×{g['format_peak_x']}")
    if args.json:
        path = common.write_result("formats_opco", {"period": PERIOD, "outputs": outputs,
                                                    "events_per_learner": args.events_per_learner,
                                                    "runs": runs, "growth": growth})
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
