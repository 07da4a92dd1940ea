"""Peak memory of ``parcours sync`` over a ``file_drop`` folder of N events, then 10×N events.

Each run writes one NDJSON file of synthetic events (streamed to disk, never held in memory)
into a fresh folder with a fresh SQLite store, then runs ``parcours sync drop --config …`` as a
child process and reads its peak resident set size (``ru_maxrss`` from ``wait4``). The sync
pulls the file page by page (``batch_size`` records per transaction, each page committed with
its cursor); with ``--sink`` it also routes every event to one ``ndjson_out`` sink and delivers
them before exiting (bench/outbox_drain.py times the drain alone). A run on an empty folder
gives the floor (the process with its imports). Streaming means the 10×N peak stays close to
the N peak.

    .venv/bin/python bench/memory.py [--events 20000] [--factor 10] [--sink] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

import common  # noqa: E402

SYNC_TIMEOUT = 900.0
PAGE = 1000  # file_drop batch_size (its default)
MAX_PAGES_PER_PULL = 1000  # hub.runtime.app: one `parcours sync` follows at most this many pages


def write_folder(folder: Path, events: int, sink: bool) -> Path:
    drop = folder / "drop"
    drop.mkdir(parents=True)
    if events:
        with open(drop / "events.ndjson", "wb") as fh:
            for event in common.iter_events(events):
                fh.write(orjson.dumps(event) + b"\n")
    lines = [
        "hub:",
        "  name: Parcours bench",
        f"  data_dir: {folder / 'data'}",
        "  store:",
        f"    url: sqlite:///{folder / 'hub.db'}",
        "  logging:",
        "    level: warning",
        "    format: json",
        "connectors:",
        "  drop:",
        "    kind: file_drop",
        f"    path: {drop}",
        f"    batch_size: {PAGE}",
        "    settle_seconds: 0",
    ]
    if sink:
        lines += [
            "  archive:",
            "    kind: ndjson_out",
            f"    directory: {folder / 'out'}",
            "    fsync: false",
            "routes:",
            "  - name: archive-everything",
            '    from: "*"',
            "    to: archive",
        ]
    config = folder / "hub.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def sync_peak(folder: Path, events: int, sink: bool) -> dict[str, Any]:
    """Run one ``parcours sync`` in a child; its peak RSS (KiB), time and what it reported."""
    t = time.perf_counter()
    config = write_folder(folder, events, sink)
    size = sum(p.stat().st_size for p in (folder / "drop").glob("*.ndjson"))
    written = time.perf_counter() - t
    exe = Path(sys.executable).with_name("parcours")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hub.cli"]
    out_path, err_path = folder / "sync.out", folder / "sync.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([*cmd, "sync", "drop", "--config", str(config), "--json"],
                                cwd=folder, stdout=out, stderr=err)
        deadline = started + SYNC_TIMEOUT
        status = rusage = None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    maxrss_kib = rusage.ru_maxrss  # KiB on Linux
    report: dict[str, Any] = {}
    try:
        report = json.loads(out_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    pull = report.get("pull", {})
    delivered = sum(d.get("delivered", 0) for d in report.get("delivery", {}).values())
    result = {
        "events": events, "file_bytes": size, "exit_code": proc.returncode, "seconds": round(seconds, 2),
        "write_seconds": round(written, 2), "peak_rss_kib": maxrss_kib, "peak_rss_mib": round(maxrss_kib / 1024, 1),
        "appended": pull.get("appended"), "pages": pull.get("pages"), "delivered": delivered if sink else None,
    }
    problems = []
    if proc.returncode != 0:
        problems.append(f"exit code {proc.returncode}: {err_path.read_text(errors='replace')[-1500:]}")
    if pull.get("appended") != events:
        problems.append(f"appended {pull.get('appended')} of {events}"
                        + (f" (one sync follows at most {MAX_PAGES_PER_PULL} pages of {PAGE})"
                           if events > MAX_PAGES_PER_PULL * PAGE else ""))
    if sink and delivered != events:
        problems.append(f"delivered {delivered} of {events}")
    result["problems"] = problems
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="N (the small run)")
    parser.add_argument("--factor", type=int, default=10, help="the large run has N × factor events")
    parser.add_argument("--sink", action="store_true",
                        help="route everything to one ndjson_out sink: the sync also delivers")
    parser.add_argument("--dir", help="parent folder of the temporary folders (default: system temp)")
    parser.add_argument("--json", action="store_true", help="write bench/results/memory.json")
    args = parser.parse_args(argv)
    sink = args.sink

    runs = []
    with tempfile.TemporaryDirectory(prefix="parcours-bench-mem-", dir=args.dir) as tmp:
        for label, events in (("floor (empty folder)", 0), ("N", args.events), (f"{args.factor}×N", args.events * args.factor)):
            print(f"parcours sync: {label}, {events:,} events …", flush=True)
            run = sync_peak(Path(tmp) / f"run-{events}", events, sink)
            run["label"] = label
            runs.append(run)
    floor, small, large = runs
    ratio = large["peak_rss_kib"] / small["peak_rss_kib"]
    above = (large["peak_rss_kib"] - floor["peak_rss_kib"]) / max(1, small["peak_rss_kib"] - floor["peak_rss_kib"])
    per_event = (large["peak_rss_kib"] - small["peak_rss_kib"]) * 1024 / max(1, large["events"] - small["events"])

    print()
    print(f"memory: peak RSS of `parcours sync` (file_drop, pages of {PAGE}, "
          f"{'one ndjson_out sink' if sink else 'no sink'}), one NDJSON file per run")
    print(f"{'run':<22}{'events':>10}{'file MB':>9}{'peak RSS MiB':>14}{'seconds':>9}{'exit':>6}")
    for r in runs:
        print(f"{r['label']:<22}{r['events']:>10,}{r['file_bytes'] / 1e6:>9.1f}{r['peak_rss_mib']:>14.1f}"
              f"{r['seconds']:>9.1f}{r['exit_code']:>6}")
        for problem in r["problems"]:
            print(f"  PROBLEM: {problem}")
    print(f"ratio {args.factor}×N / N: {ratio:.3f} (above the floor: {above:.2f}); "
          f"{per_event:.1f} bytes of peak RSS per extra event")
    ok = not any(r["problems"] for r in runs)
    if args.json:
        path = common.write_result("memory", {
            "events": args.events, "factor": args.factor, "sink": sink, "page": PAGE, "runs": runs,
            "ratio": round(ratio, 3), "ratio_above_floor": round(above, 3),
            "bytes_per_extra_event": round(per_event, 1), "ok": ok,
        })
        print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
