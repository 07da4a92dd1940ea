"""The yearly BPF export at scale: wall time and peak memory, and how both grow with the learners.

For each size, a fresh hub (SQLite store) gets a synthetic year of evidence through the real ingest
path (``Ingestor.prepare`` → ``Ingestor.ingest``, batches of 5 000): ``--learners`` learners over
actions of 25 learners (two weeks each, mornings in the classroom, afternoons in FOAD, spread over
2026), each learner with ``--events-per-learner`` events (funding or card payment, entry, signed
half-days, LMS sessions, activities, quizzes, downloads, media, progress, exit). The journeys are
then projected (timed apart: the hub does it continuously as events arrive), and the BPF of 2026
is exported in a fresh process, whose wall time and peak RSS (``ru_maxrss``) are measured. The
baseline, in another fresh process on the same store: every journey computed once, page by page
(``hub.journey_pages``), the least any yearly figure over the whole organisation costs; the
export's time is reported as a ratio to it.

    .venv/bin/python bench/formats_bpf.py                                  # 1 000 learners, 200 000 events
    .venv/bin/python bench/formats_bpf.py --sizes 1000,2500,5000,10000     # the growth, up to 2 million events
    .venv/bin/python bench/formats_bpf.py --sizes 10000 --json             # the full size only, JSON out
    options: --events-per-learner 200  --keep (leave the work folders)  --save (bench/results/formats_bpf.json)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PER_ACTION = 25
TZ = dt.timezone(dt.timedelta(hours=1))
KINDS = [("opco-atlas", "opco"), ("france-travail", "france_travail"), ("cpf", "cpf"), ("region-ara", "region"), (None, "self")]
TRAINERS = [("Sophie Lambert", "internal"), ("Karim Aït-Ali", "internal"), ("Julie Roche", "external"), ("Marc Perrin", "external")]
NSF = ["326", "314", "315", "136", "344", "331"]
FILLER = ["lms.resource_downloaded", "lms.media_played", "lms.progress", "lms.quiz_attempted", "lms.activity_completed",
          "lms.tutor_interaction"]


def action_start(k: int) -> dt.date:
    return dt.date(2026, 1, 5) + dt.timedelta(weeks=k % 48)


def config(n_learners: int) -> str:
    actions = (n_learners + PER_ACTION - 1) // PER_ACTION
    lines = ["hub:", "  data_dir: var", '  store: {url: "sqlite:///var/hub.db", synchronous: normal}',
             "  logging: {level: warning}",
             '  organisation: {name: "Bench Formation", siret: "73282932000074", nda: "84691234569", representative: "C. F."}',
             "actions:"]
    for k in range(actions):
        start = action_start(k)
        trainer = TRAINERS[k % len(TRAINERS)][0]
        lines.append(f"  ACT-{k:04d}: {{title: 'Action {k}', modality: mixte, start: {start}, end: {start + dt.timedelta(days=11)},"
                     f" trainer: '{trainer}', pattern: {{am: {{start: '09:00', end: '12:30'}},"
                     f" pm: {{start: '14:00', end: '17:30', modality: foad_asynchrone}}}}}}")
    lines += ["exports:", "  bpf:", "    kind: bpf", "    turnover: 5000000",
              "    charges: {total: 2000000, trainer_salaries: 900000, purchases: 150000}",
              "    funder_kind_types: {opco: a, employer: a, france_travail: c, self: d, cpf: a, region: c}",
              "    trainers: {" + ", ".join(f"'{n}': {s}" for n, s in TRAINERS) + "}", "    catalogue:"]
    for k in range(actions):
        level = ("5", "4", "6_8")[k % 3]
        lines.append(f"      ACT-{k:04d}: {{aim: rncp, rncp_level: '{level}', nsf: '{NSF[k % len(NSF)]}'}}")
    return "\n".join(lines) + "\n"


def learner_events(i: int, per_learner: int):
    """The events of learner ``i`` (deterministic, ~``per_learner`` of them)."""
    k = i // PER_ACTION
    action = f"ACT-{k:04d}"
    start = action_start(k)
    days = [start + dt.timedelta(days=d) for d in range(12) if (start + dt.timedelta(days=d)).weekday() < 5]
    who = {"ref": f"l{i:06d}", "name": f"Apprenant {i}", "email": f"l{i:06d}@example.fr"}
    funder, kind = KINDS[i % len(KINDS)]
    out = []

    def ev(type_, sid, at, data):
        out.append({"type": type_, "occurred_at": at.isoformat(), "source_id": f"{i}-{sid}", "learner": who,
                    "action": action, "data": data})

    t0 = dt.datetime.combine(start, dt.time(9), TZ)
    if funder:
        ev("funding.approved", "pec", t0 - dt.timedelta(days=20),
           {"funder": funder, "funder_kind": kind, "amount": "2450.00", "hours": "70", "reference": f"PEC-{i}"})
    else:
        ev("payment.succeeded", "pay", t0 - dt.timedelta(days=20), {"amount": "2450.00", "currency": "EUR", "payer": who["name"]})
    ev("enrolment.started", "start", t0, {"date": start.isoformat()})
    dropout = i % 20 == 7
    for n, day in enumerate(days):
        if dropout and n >= 5:
            break
        at = dt.datetime.combine(day, dt.time(9, 3), TZ)
        if (i + n) % 17 == 0:
            ev("attendance.absent", f"abs{n}", at, {"date": day.isoformat(), "half_day": "am"})
        else:
            ev("attendance.signed", f"sig{n}", at, {"date": day.isoformat(), "half_day": "am", "trainer_cosigned": True})
        s = dt.datetime.combine(day, dt.time(14, 5), TZ)
        ev("lms.session", f"ses{n}", s + dt.timedelta(hours=3), {"start": s.isoformat(), "end": (s + dt.timedelta(hours=3)).isoformat(),
                                                                   "duration_seconds": 10800})
    last = days[4] if dropout else days[-1]
    n = 0
    while len(out) < per_learner - 1:
        day = days[n % (5 if dropout else len(days))]
        at = dt.datetime.combine(day, dt.time(15), TZ) + dt.timedelta(seconds=n)
        kind_ = FILLER[n % len(FILLER)]
        data = {"lms.resource_downloaded": {"resource": f"r{n % 40}"}, "lms.media_played": {"media": f"m{n % 30}", "played_seconds": 300},
                "lms.progress": {"percent": str(min(100, n))}, "lms.quiz_attempted": {"activity": f"q{n % 10}", "score": "12", "max_score": "20", "passed": True},
                "lms.activity_completed": {"activity": f"a{n % 10}", "estimated_minutes": 30},
                "lms.tutor_interaction": {"kind": "message"}}[kind_]
        ev(kind_, f"f{n}", at, data)
        n += 1
    end = dt.datetime.combine(last, dt.time(18), TZ)
    if dropout:
        ev("enrolment.abandoned", "exit", end, {"date": last.isoformat()})
    else:
        ev("enrolment.completed", "exit", end, {"date": last.isoformat()})
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _open(folder: Path):
    from hub.runtime.app import Hub
    from hub.plugins import load_plugins

    os.chdir(folder)
    plugins = load_plugins(env={"PARCOURS_LOAD_PLUGINS": "bpf"})
    hub = Hub.open(folder / "hub.yaml", env={}, plugins=plugins)
    await hub.start()
    return hub


async def build(folder: Path, learners: int, per_learner: int) -> dict:
    hub = await _open(folder)
    try:
        t0 = time.perf_counter()
        batch, count = [], 0
        for i in range(learners):
            batch.extend(learner_events(i, per_learner))
            if len(batch) >= 5000:
                count += (await hub.append(batch, source="bench")).appended
                batch = []
        if batch:
            count += (await hub.append(batch, source="bench")).appended
        ingest_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        await hub.project()
        project_s = time.perf_counter() - t1
    finally:
        await hub.stop()
    return {"events": count, "ingest_s": round(ingest_s, 1), "events_per_s": round(count / ingest_s),
            "project_s": round(project_s, 1), "build_peak_rss_mb": round(_rss_mb())}


async def export(folder: Path) -> dict:
    from hub.formats import Period

    base = _rss_mb()
    hub = await _open(folder)
    try:
        t0 = time.perf_counter()
        outcome = await hub.export("bpf", Period.parse("2026"))
        seconds = time.perf_counter() - t0
    finally:
        await hub.stop()
    data = json.loads((outcome.folder / "bpf-2026.json").read_text())
    figures = {f["line"]: f for f in data["figures"]}
    return {"export_s": round(seconds, 2), "export_peak_rss_mb": round(_rss_mb()), "baseline_rss_mb": round(base),
            "written": outcome.written, "missing": len(outcome.missing),
            "trainees": figures["F1-total"]["trainees"], "hours": figures["F1-total"]["hours"],
            "products": figures["C-total"]["amount"],
            "files_bytes": sum((outcome.folder / name).stat().st_size for name in outcome.files)}


async def baseline(folder: Path) -> dict:
    hub = await _open(folder)
    try:
        t0, count = time.perf_counter(), 0
        async for page in hub.journey_pages(today=dt.date(2027, 1, 1)):
            count += len(page)
        seconds = time.perf_counter() - t0
    finally:
        await hub.stop()
    return {"baseline_s": round(seconds, 2), "baseline_peak_rss_mb": round(_rss_mb()), "journeys": count}


def run_size(learners: int, per_learner: int, keep: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"bpf-bench-{learners}-"))
    (folder / "hub.yaml").write_text(config(learners), encoding="utf-8")
    try:
        result = {"learners": learners}
        for phase in ("build", "baseline", "export"):
            proc = subprocess.run([sys.executable, __file__, "--phase", phase, "--folder", str(folder),
                                   "--learners", str(learners), "--events-per-learner", str(per_learner)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode:
                raise SystemExit(f"{phase} failed for {learners} learners:\n{proc.stderr[-3000:]}")
            result.update(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"  {learners} learners: {phase} done {json.dumps(result)}", file=sys.stderr)
        result["db_mb"] = round((folder / "var" / "hub.db").stat().st_size / 1e6)
        return result
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000", help="comma-separated numbers of learners")
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--events-per-learner", type=int, default=200)
    parser.add_argument("--phase", choices=["build", "baseline", "export"])
    parser.add_argument("--folder")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", action="store_true", help="write bench/results/formats_bpf.json")
    args = parser.parse_args()
    if args.phase:
        folder = Path(args.folder)
        phases = {"build": lambda: build(folder, args.learners, args.events_per_learner),
                  "baseline": lambda: baseline(folder), "export": lambda: export(folder)}
        result = asyncio.run(phases[args.phase]())
        print(json.dumps(result))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = [run_size(n, args.events_per_learner, args.keep) for n in sizes]
    first = runs[0]
    for r in runs:
        r["time_ratio"] = round(r["export_s"] / first["export_s"], 2)
        r["size_ratio"] = round(r["learners"] / first["learners"], 2)
        r["rss_over_baseline_mb"] = r["export_peak_rss_mb"] - r["baseline_rss_mb"]
        r["export_over_journeys"] = round(r["export_s"] / r["baseline_s"], 2)
    out = {"events_per_learner": args.events_per_learner, "runs": runs}
    if args.save:
        sys.path.insert(0, str(REPO / "bench"))
        import common

        common.write_result("formats_bpf", out)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print("baseline: every journey computed once, page by page, in its own process")
    print(f"{'learners':>9} {'events':>9} {'ingest s':>9} {'project s':>9} {'export s':>9} {'baseline s':>10} "
          f"{'ratio':>6} {'peak MB':>8} {'baseline MB':>11} {'x size':>7} {'x time':>7}")
    for r in runs:
        print(f"{r['learners']:>9} {r['events']:>9} {r['ingest_s']:>9} {r['project_s']:>9} {r['export_s']:>9} "
              f"{r['baseline_s']:>10} {r['export_over_journeys']:>6} {r['export_peak_rss_mb']:>8} "
              f"{r['baseline_peak_rss_mb']:>11} {r['size_ratio']:>7} {r['time_ratio']:>7}")


if __name__ == "__main__":
    main()
