"""Hand-written code against maintained PyPI packages, in the same run, on the ingest path.

ULIDs (hub/ulid.py). The ingest path (``Ingestor._prepare``) asks for one batch of ids per batch of events
(``new_ulids(n)``, strictly increasing: sorting ids sorts events by ingest order) and stores
them as 26-character text. Each candidate makes the same thing — ``n`` increasing ULID strings —
timed per id (best of ``--repeat``), and the ratio ``package / hub`` is printed (above 1: the
package is slower). Candidates:

* ``python-ulid`` (``ulid.ULID()``, strictly monotonic by default since 3.0): the maintained one;
* ``ulid-transform`` (C extension, ``ulid_now()``): fastest, but not monotonic within a
  millisecond, so it could not replace the hub's ids as they are; shown for reference.

xAPI durations (connectors/xapi/iso8601.py): one ``result.duration`` parsed per statement that
has one, against ``isodate.parse_duration`` on the same strings (the tests also check that both
read every valid duration alike).

    .venv/bin/pip install -e '.[bench]'       # python-ulid, ulid-transform, isodate
    .venv/bin/python bench/libs_bench.py      # 1,000-id batches, best of 7
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_result  # noqa: E402
from hub.ulid import new_ulid, new_ulids  # noqa: E402


DURATIONS = ["PT1H30M15.5S", "P1DT2H", "PT0.42S", "PT24.57S", "PT45M"]


def ulid_candidates(batch: int) -> dict[str, tuple[Callable[[], list[str]], bool] | str]:
    """name -> (make one batch of ids, monotonic?) or, when not installed, why."""
    out: dict[str, tuple[Callable[[], list[str]], bool] | str] = {
        "hub.ulid.new_ulids (batch)": (lambda: new_ulids(batch), True),
        "hub.ulid.new_ulid (one by one)": (lambda: [new_ulid() for _ in range(batch)], True),
    }
    try:
        from ulid import ULID

        out["python-ulid str(ULID())"] = (lambda: [str(ULID()) for _ in range(batch)], True)
    except ImportError:
        out["python-ulid str(ULID())"] = "not installed (pip install python-ulid)"
    try:
        from ulid_transform import ulid_now

        out["ulid-transform ulid_now()"] = (lambda: [ulid_now() for _ in range(batch)], False)
    except ImportError:
        out["ulid-transform ulid_now()"] = "not installed (pip install ulid-transform)"
    return out


def duration_candidates(batch: int) -> dict[str, tuple[Callable[[], list], bool] | str]:
    """name -> (parse ``batch`` durations, True) or, when not installed, why."""
    from connectors.xapi.iso8601 import parse_duration

    texts = (DURATIONS * (batch // len(DURATIONS) + 1))[:batch]
    out: dict[str, tuple[Callable[[], list], bool] | str] = {
        "connectors.xapi.iso8601": (lambda: [parse_duration(t) for t in texts], True)}
    try:
        import isodate

        out["isodate.parse_duration"] = (lambda: [isodate.parse_duration(t) for t in texts], True)
    except ImportError:
        out["isodate.parse_duration"] = "not installed (pip install isodate)"
    return out


def best_ns_per_item(make: Callable[[], list[str]], batch: int, rounds: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter_ns()
        for _ in range(rounds):
            make()
        best = min(best, (time.perf_counter_ns() - started) / (rounds * batch))
    return best


def increasing(make: Callable[[], list[str]]) -> bool:
    ids = make() + make()
    return all(a < b for a, b in zip(ids, ids[1:]))


def compare(candidates: dict, args, unit: str, *, ordered: bool) -> dict[str, dict]:
    results: dict[str, dict] = {}
    baseline = None
    for name, candidate in candidates.items():
        if isinstance(candidate, str):
            print(f"  {name:34} {candidate}")
            results[name] = {"skipped": candidate}
            continue
        make, monotonic = candidate
        ns = best_ns_per_item(make, args.batch, args.rounds, args.repeat)
        baseline = baseline or ns
        results[name] = {f"ns_per_{unit}": round(ns, 1), "ratio": round(ns / baseline, 2)}
        line = f"  {name:34} {ns:8.1f} ns/{unit}   x{ns / baseline:5.2f}"
        if ordered:
            increases = increasing(make)
            results[name].update(monotonic_by_design=monotonic, increasing_in_this_run=increases)
            line += "   " + ("monotonic" if monotonic else "NOT monotonic") + ("" if increases else " (out of order here)")
        print(line)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1000, help="ids (durations) per batch: the ingest batch size")
    parser.add_argument("--rounds", type=int, default=100, help="batches per timing")
    parser.add_argument("--repeat", type=int, default=7, help="timings; the best is kept")
    parser.add_argument("--json", action="store_true", help="write bench/results/libs.json")
    args = parser.parse_args(argv)
    results: dict[str, dict] = {}
    print("ULIDs, as the ingest path makes them (ratio over hub.ulid.new_ulids)")
    results["ulid"] = compare(ulid_candidates(args.batch), args, "id", ordered=True)
    print("xAPI durations, one per statement (ratio over connectors.xapi.iso8601)")
    results["duration"] = compare(duration_candidates(args.batch), args, "parse", ordered=False)
    if args.json:
        write_result("libs", {"batch": args.batch, "rounds": args.rounds, "repeat": args.repeat, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
