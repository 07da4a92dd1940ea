#!/usr/bin/env python3
"""The consent gate's cost at ingest: the same feed through ``Ingestor.prepare`` + ``commit`` with
the gate (hub.consents.gate, the built-in purposes) and without it, in the same run.

The feed is bench/common.py's (about 500 learners, an LMS and attendance mix) with one event in
four turned into a funnel event (``prospect.contact_created``) of the same learner, so that the
gate has work on most batches; one learner in ten has withdrawn ``funnel_tracking`` before the
run, so some events are withheld. Each round opens fresh SQLite stores (the consent decisions
recorded first, outside the timing) and alternates the two paths; the figure is the ratio of the
gated path's rate to the ungated one (1.0: free).

    .venv/bin/python bench/consent_gate.py                    # 100,000 events, 3 rounds
    .venv/bin/python bench/consent_gate.py --events 20000 --rounds 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
from ingest import event_types, make_router, open_store  # noqa: E402

from hub.consents.gate import ConsentGate  # noqa: E402
from hub.consents.settings import ConsentsConfig  # noqa: E402
from hub.ingest.ingestor import Ingestor  # noqa: E402
from hub.learners import LearnerResolver  # noqa: E402


def feed(count: int) -> list[dict]:
    out = []
    for index, item in enumerate(common.iter_events(count)):
        if index >= common.LEARNERS and index % 4 == 0:
            item = {"type": "prospect.contact_created", "occurred_at": item["occurred_at"],
                    "source_id": f"contact-{index:09d}", "learner": item["learner"],
                    "data": {"email": item["learner"]["email"], "origin": "site"}}
        out.append(item)
    return out


def withdrawals(items: list[dict]) -> list[dict]:
    """consent.withdrawn of funnel_tracking for one learner in ten (by e-mail, as a connector sends it)."""
    seen: dict[str, dict] = {}
    for item in items:
        seen.setdefault(item["learner"]["email"], item["learner"])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return [{"type": "consent.withdrawn", "occurred_at": start.isoformat(), "source_id": f"withdrawn-{n}",
             "learner": learner, "data": {"purpose": "funnel_tracking", "version": "1", "channel": "connector"}}
            for n, learner in enumerate(sorted(seen.values(), key=lambda l: l["ref"])) if n % 10 == 0]


def one_pass(items: list[dict], batch: int, folder: Path, name: str, gated: bool, types) -> dict:
    store = open_store(folder, name, "normal")
    ingestor = Ingestor(store, types, make_router(), learners=LearnerResolver(["email"]),
                        consents=ConsentGate(ConsentsConfig()) if gated else None)
    ingestor.commit(ingestor.prepare(withdrawals(items), source="crm"))
    appended = withheld = 0
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        result = ingestor.commit(ingestor.prepare(items[start:start + batch], source=None))
        appended += result.appended
        withheld += len(result.withheld)
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": round(seconds, 3), "events_per_s": round(common.rate(len(items), seconds)),
            "appended": appended, "withheld": withheld}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    items, types = feed(args.events), event_types()
    types.adapter  # the validator is built once, before timing
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-consent-") as tmp:
        for n in range(args.rounds):
            order = (False, True) if n % 2 == 0 else (True, False)
            got = {gated: one_pass(items, args.batch, Path(tmp), f"r{n}-{gated}", gated, types) for gated in order}
            rounds.append({"ungated": got[False], "gated": got[True],
                           "ratio": round(got[True]["events_per_s"] / got[False]["events_per_s"], 3)})
    ratio = statistics.median(r["ratio"] for r in rounds)
    last = rounds[-1]
    print(f"{args.events} events, {args.rounds} round(s), batches of {args.batch}")
    print(f"  without the gate: {last['ungated']['events_per_s']:>8} events/s, appended {last['ungated']['appended']}")
    print(f"  with the gate:    {last['gated']['events_per_s']:>8} events/s, appended {last['gated']['appended']}, "
          f"withheld {last['gated']['withheld']}")
    print(f"  gated / ungated rate (median of rounds): {ratio}")
    path = common.write_result("consent_gate", {"events": args.events, "batch": args.batch, "rounds": rounds,
                                                "ratio_median": ratio})
    print(f"  written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
