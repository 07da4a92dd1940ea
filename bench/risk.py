"""Dropout risk: the model against the rules on the held-out cohorts of the synthetic history.

For each seed: ``bench/synthetic_history.py`` writes two years of cohorts into a temporary
folder, the hub ingests them (``file_drop``, as ``parcours sync history`` does), then the
evaluation of ``parcours risk evaluate`` runs for the logistic regression and for gradient
boosting. The baseline, measured in the same run on the same held-out snapshots, is the rules
score (the alert rules of hub/journeys/alerts.py); the figures are ratios model / rules. Also
timed: scoring every enrolment in progress on a day with the model vs with the rules.

    .venv/bin/python bench/risk.py                       # seeds 7, 8, 9; 24 cohorts of 16 learners
    .venv/bin/python bench/risk.py --seeds 7 --json      # one seed, results in bench/results/risk.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_result  # noqa: E402
from bench.synthetic_history import generate  # noqa: E402
from hub.risk.evaluate import evaluate, matrix  # noqa: E402
from hub.risk.features import as_of_instant  # noqa: E402
from hub.risk.model import RiskModel, fit  # noqa: E402
from hub.risk.service import finished_examples, scores  # noqa: E402
from hub.runtime.app import Hub  # noqa: E402

KINDS = ("logistic_regression", "gradient_boosting")
SCORE_DAY = dt.date(2026, 10, 14)  # the last cohort is under way


async def one_seed(seed: int, cohorts: int, learners: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="risk-bench-") as tmp:
        counts = generate(Path(tmp), seed=seed, cohorts=cohorts, learners=learners)
        hub = Hub.open(Path(tmp) / "hub.yaml", env={})
        try:
            started = time.perf_counter()
            await hub.pull("history")
            await hub.project()
            ingest = time.perf_counter() - started
            started = time.perf_counter()
            examples = await finished_examples(hub)
            featurise = time.perf_counter() - started
            cfg = hub.config.hub.risk
            out = {"seed": seed, **counts, "examples": len(examples), "ingest_s": ingest, "features_s": featurise,
                   "kinds": {}}
            for kind in KINDS:
                started = time.perf_counter()
                result = evaluate(examples, kind, cfg.threshold, cfg.top_k, seed=seed)
                result["evaluate_s"] = time.perf_counter() - started
                out["kinds"][kind] = result
            X, y = matrix(examples)
            model = RiskModel("bench", "logistic_regression", fit("logistic_regression", X, y), X.mean(axis=0),
                              {"used": True})
            as_of = as_of_instant(SCORE_DAY, hub.config.timezone)
            timings = {}
            for name, use in (("model", model), ("rules", None)):
                started = time.perf_counter()
                found = await scores(hub, as_of=as_of, model=use, rules_only=use is None)
                timings[name] = {"seconds": time.perf_counter() - started, "scored": len(found)}
            out["scoring"] = timings
            return out
        finally:
            await hub.stop()


def _ratio(a, b) -> str:
    return "n/a" if a is None or not b else f"{a / b:.2f}×"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="7,8,9", help="comma-separated generator seeds")
    parser.add_argument("--cohorts", type=int, default=24)
    parser.add_argument("--learners", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="write bench/results/risk.json")
    args = parser.parse_args(argv)
    runs = [asyncio.run(one_seed(int(s), args.cohorts, args.learners)) for s in args.seeds.split(",")]
    print(f"{'seed':>4} {'model':<20} {'AUC model/rules':<22} {'P@k model/rules':<22} {'Brier model/rules':<22} used")
    for run in runs:
        for kind, r in run["kinds"].items():
            m, b = r.get("model"), r.get("rules")
            if not m:
                print(f"{run['seed']:>4} {kind:<20} {r['why']}")
                continue
            print(f"{run['seed']:>4} {kind:<20} "
                  f"{m['auc']:.3f}/{b['auc']:.3f} = {_ratio(m['auc'], b['auc']):<7} "
                  f"{m['precision_at_k']:.2f}/{b['precision_at_k']:.2f} = {_ratio(m['precision_at_k'], b['precision_at_k']):<7} "
                  f"{m['brier']:.3f}/{b['brier']:.3f} = {_ratio(m['brier'], b['brier']):<7} {r['used']}")
    for run in runs:
        s = run["scoring"]
        print(f"seed {run['seed']}: {run['enrolments']} enrolments, {run['events']} events, {run['examples']} snapshots; "
              f"features {run['features_s']:.1f} s; scoring {s['model']['scored']} enrolments: model "
              f"{s['model']['seconds']:.2f} s vs rules {s['rules']['seconds']:.2f} s "
              f"({_ratio(s['model']['seconds'], s['rules']['seconds'])})")
    lr = [r["kinds"]["logistic_regression"] for r in runs if r["kinds"]["logistic_regression"].get("model")]
    if lr:
        print(f"median AUC ratio (logistic regression / rules): "
              f"{median(r['model']['auc'] / r['rules']['auc'] for r in lr):.2f}×")
    if args.json:
        print(f"written: {write_result('risk', {'runs': runs})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
