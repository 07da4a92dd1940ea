"""Badges at scale: awarding over every journey of a large ledger, against computing the same
journeys (the work awarding cannot avoid), and the revocation status list.

Builds a SQLite ledger with ``documents_bench``'s generator (actions of 500 learners, two weeks
each: mornings signed, afternoons in FOAD, LMS activities), then, in one process:

1. ``baseline`` — every journey computed a page at a time (``Hub.journey_pages``), nothing else;
2. ``award`` — ``Hub.award_badges()`` with two badges (a module completed, a streak of 5 signed
   half-days): the same pages, the milestones, and the ``badge.awarded`` appends;
3. ``again`` — the same award a second time, once the first run's awards are projected into the
   journeys (timed apart: the journeys job's work): every milestone is found already held by its
   journey and nothing is appended;
4. ``status`` — the revocation status list built as ``GET /badges/status/revocation`` builds it,
   after revoking 1 % of the badges.

Figures are ratios against the baseline measured in the same run.

    .venv/bin/python bench/badges_bench.py                          # 100,000 events, 1,000 enrolments
    .venv/bin/python bench/badges_bench.py --events 1000000 --enrolments 10000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import documents_bench  # noqa: E402

BADGES = """\
  badges:
    enabled: true
    badges:
      - {id: module-5, name: "Module 5", description: "Activité 5 terminée.", criteria: "Terminer l'activité act-5.",
         kind: module_completed, activity: act-5}
      - {id: assiduite-5, name: "Assiduité", description: "Cinq demi-journées.", criteria: "Émarger cinq demi-journées d'affilée.",
         kind: attendance_streak, half_days: 5}
"""


async def measure(folder: Path) -> dict:
    from hub.badges.award import revoke_badge
    from hub.badges.issue import issuer_of
    from hub.badges.records import revoked_indices
    from hub.badges.status import list_credential
    from hub.documents.services import services_of
    from hub.runtime.app import Hub

    hub = Hub.open(folder / "hub.yaml", env={})
    try:
        await hub.project()  # the projection is the journeys job's work, not awarding's
        started = time.perf_counter()
        journeys = 0
        async for reports in hub.journey_pages():
            journeys += len(reports)
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        first = await hub.award_badges()
        award = time.perf_counter() - started

        started = time.perf_counter()
        await hub.project()  # the first run's awards into the journeys: the journeys job's work
        projection = time.perf_counter() - started

        started = time.perf_counter()
        again = await hub.award_badges()
        repeat = time.perf_counter() - started

        services = services_of(hub)
        for a in first.awarded[::100]:
            await revoke_badge(services, a["id"], "bench", actor="bench")
        started = time.perf_counter()
        revoked = await hub.store.call(revoked_indices, hub.store)
        size = await hub.store.call(hub.store.max_seq) + 1
        body = list_credential(issuer_of(hub.config), revoked, size, dt.datetime.now(dt.timezone.utc))
        status = time.perf_counter() - started
    finally:
        await hub.stop()
    return {"journeys": journeys, "awarded": len(first.awarded), "already": again.already,
            "baseline_s": round(baseline, 2), "award_s": round(award, 2), "projection_s": round(projection, 2),
            "again_s": round(repeat, 2), "projection_vs_baseline": round(projection / baseline, 2),
            "award_vs_baseline": round(award / baseline, 2), "again_vs_baseline": round(repeat / baseline, 2),
            "revoked": len(revoked), "status_entries": size, "status_s": round(status, 3),
            "status_encoded_kb": round(len(body["credentialSubject"]["encodedList"]) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--enrolments", type=int, default=1000, help="a multiple of 500")
    parser.add_argument("--output", help="also write the result (with the machine's description) to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parcours-badgebench-") as tmp:
        folder = Path(tmp)
        load = documents_bench.phase_load(folder, args.events, args.enrolments)
        config = (folder / "hub.yaml").read_text(encoding="utf-8")
        (folder / "hub.yaml").write_text(config.replace("actions:\n", BADGES + "actions:\n", 1), encoding="utf-8")
        print(f"ledger: {load['events']} events, {load['enrolments']} enrolments", file=sys.stderr)
        result = {"parameters": {"events": args.events, "enrolments": args.enrolments}, "load": load,
                  **asyncio.run(measure(folder))}
    if args.output:
        Path(args.output).write_text(json.dumps({"benchmark": "badges_bench", "command": " ".join(sys.argv),
                                                 "machine": common.machine(), **result}, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
