"""Certificats de réalisation per second and per core: rendering as it is vs as it was.

Renders ``--documents`` certificats de réalisation (fields as ``hub.documents.fields`` builds them,
one learner each, names of varied lengths, each signed with Ed25519 and carrying its own QR code)
in fresh processes, one core each, and counts CPU seconds (the machine is shared: CPU time is
steadier than wall time):

* ``current``: ``hub.documents.stamp.render`` as issuing calls it — the fixed layout laid out once
  per process, each document's values, QR code and embedded data written into it;
* ``baseline`` (same run, same fields): ``hub.documents.render.render``, platypus laying out and
  writing every page from scratch (zxing-cpp QR code, reportlab with ``rl_accel``), as issuing
  rendered before the stamped renderer, and still renders what that one cannot.

Each phase renders one document first (fonts registered, the fixed layout laid out: what a render
process does once), then times the others. Rounds alternate the two (``--repeat``); the figures
are the medians of the rounds. Also prints what the current path gives with 1 and ``--jobs``
render processes (wall time, as issuing's ``--jobs`` uses them).

    .venv/bin/python bench/certificates.py                      # 200 documents, 3 rounds
    .venv/bin/python bench/certificates.py --documents 500 --jobs 2 --json
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BASE_URL = "https://of-demo.example.fr"


def documents(n: int) -> list[tuple]:
    """``n`` render jobs (type, fields, template, url, page url, payload), signed with a fresh key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.documents import payload as payload_mod
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from hub.documents.keys import kid_for
    from hub.documents.templates import load_templates
    from hub.ulid import new_ulids

    key = Ed25519PrivateKey.generate()
    kid = kid_for(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    template = load_templates(None)["certificat_realisation"]
    out = []
    for i, doc_id in enumerate(new_ulids(n)):
        name = f"Apprenant·e {i} d'Étienne-Lefèvre" + (" de la Tour-Maubourg-Saint-Hilaire" if i % 3 == 0 else "")
        fields = {"type": "certificat_realisation", "id": doc_id, "issued_on": "2026-11-20",
                  "organisation": {"name": "Parcours Démo Formation SAS", "siret": "73282932000074",
                                   "nda": "84691234569", "address": "12 rue de la République, 69002 Lyon"},
                  "signatory": {"name": "Claire Fontaine", "title": "Directrice"}, "place": "Lyon", "learner": name,
                  "action": {"id": "ACT-BENCH-001", "title": "Développeur·se web — promotion 1"},
                  "start": "2026-01-05", "end": "2026-01-16", "nature": "formation", "hours": f"{60 + i % 10}.5",
                  **({"employer": "Boulangerie Martin SARL"} if i % 2 else {}),
                  "distance": {"foad": {"connection_daily_cap": "7", "capped_at_planned": "oui"}}}
        payload = payload_mod.sign(doc_id, "certificat_realisation", fields, kid, key)
        out.append(("certificat_realisation", fields, template, payload_mod.verification_url(BASE_URL, doc_id, payload),
                    payload_mod.page_url(BASE_URL, doc_id), payload))
    return out


def phase(mode: str, n: int) -> dict[str, Any]:
    """Render ``n`` certificates in this process; CPU and wall seconds of the renders alone."""
    if mode == "current":
        from hub.documents.stamp import render
    else:
        from hub.documents.render import render
    jobs = documents(n + 1)
    first = render(*jobs[0][:3], url=jobs[0][3], page_url=jobs[0][4], payload=jobs[0][5])  # fonts, fixed layout
    cpu, wall = time.process_time(), time.perf_counter()
    size = 0
    for doc_type, fields, template, url, page_url, payload in jobs[1:]:
        size += len(render(doc_type, fields, template, url=url, page_url=page_url, payload=payload))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    from reportlab.lib import rl_accel

    return {"mode": mode, "documents": n, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
            "per_cpu_s": round(n / cpu, 1), "mean_kb": round(size / n / 1024, 1),
            "stamped": not first.startswith(b"%PDF-1.4\n%\x93\x8c\x8b\x9e ReportLab"),
            "rl_accel": rl_accel.fp_str.__module__ != rl_accel.__name__}


def _warm(args: tuple) -> None:
    """One render in a worker, which then stays busy a moment: the next one goes to another worker."""
    from hub.documents.issue import _render_job

    _render_job(args)
    time.sleep(0.5)


def phase_pool(n: int, jobs: int) -> dict[str, Any]:
    """Render ``n`` certificates in ``jobs`` processes, as ``issue_documents(jobs=…)`` does (its
    ``render_pdfs``, in chunks of its ``CHUNK`` documents)."""
    import asyncio

    from hub.documents.issue import CHUNK, render_pdfs

    work = documents(n)

    async def run() -> float:
        with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
            list(pool.map(_warm, work[:jobs]))  # start each worker: reportlab, fonts, the fixed layout
            wall = time.perf_counter()
            for start in range(0, n, CHUNK):
                await render_pdfs(pool, jobs, work[start:start + CHUNK])
            return time.perf_counter() - wall

    wall = asyncio.run(run())
    return {"mode": f"jobs={jobs}", "documents": n, "wall_s": round(wall, 3), "per_s": round(n / wall, 1)}


def run_phase(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--phase", *args], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"phase {args} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=0, help="also render with 1 and this many processes (0: not)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        mode, n = args.phase[0], int(args.phase[1])
        out = phase_pool(n, int(args.phase[2])) if mode == "pool" else phase(mode, n)
        print(json.dumps(out))
        return
    import common

    rounds = []
    for r in range(args.repeat):
        current = run_phase("current", str(args.documents))
        baseline = run_phase("baseline", str(args.documents))
        if not current["stamped"] or baseline["stamped"]:
            raise SystemExit("the current path must stamp the certificats, the baseline render them with platypus")
        rounds.append({"current": current, "baseline": baseline,
                       "ratio": round(current["per_cpu_s"] / baseline["per_cpu_s"], 2)})
        print(f"round {r + 1}: current {current['per_cpu_s']}/CPU s, baseline {baseline['per_cpu_s']}/CPU s "
              f"(×{rounds[-1]['ratio']})", file=sys.stderr)
    result: dict[str, Any] = {
        "benchmark": "certificates", "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": common.machine(), "rounds": rounds,
        "median_current_per_cpu_s": statistics.median(r["current"]["per_cpu_s"] for r in rounds),
        "median_baseline_per_cpu_s": statistics.median(r["baseline"]["per_cpu_s"] for r in rounds),
        "median_ratio": statistics.median(r["ratio"] for r in rounds),
        "load_average": [round(v, 2) for v in os.getloadavg()]}
    if args.jobs:
        single = run_phase("pool", str(args.documents), "1")
        multi = run_phase("pool", str(args.documents), str(args.jobs))
        result["pool"] = {"jobs_1": single, f"jobs_{args.jobs}": multi,
                          "scaling": round(multi["per_s"] / single["per_s"], 2)}
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"certificats de réalisation: {result['median_current_per_cpu_s']} per CPU second "
              f"(baseline {result['median_baseline_per_cpu_s']}), median ratio ×{result['median_ratio']}, "
              f"load average {result['load_average']}")
        if args.jobs:
            p = result["pool"]
            print(f"process pool: 1 job {p['jobs_1']['per_s']}/s, {args.jobs} jobs {p[f'jobs_{args.jobs}']['per_s']}/s "
                  f"(×{p['scaling']}) wall")


if __name__ == "__main__":
    main()
