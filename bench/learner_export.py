"""A person's data export at scale: one learner out of a large ledger, against copying the same bytes.

The ledger is ``bench/audit_pack.py``'s (``bench/documents_bench.py``'s actions of 500 learners,
400 events each, the first action's signed half-days carrying a 200 KB scanned sheet; sealed,
journeys projected), plus ``--sign-ins`` web sign-in events of other accounts spread through it:
the export reads every event of the access types to find the person's (they name an account, not
a learner). Then, each step in a fresh process so that its peak memory is its own:

1. ``export`` — ``parcours learner export``'s builder (``hub.rights.export.export_learner``, JSON
   and PDF) for ``--learners`` learners of the first action, one after the other: wall time per
   learner (median), peak RSS, the zip's size and the bytes it holds uncompressed;
2. ``copy`` — the same bytes as plain files (the last zip extracted beforehand, not timed), copied
   and fsynced, median of three (``bench/audit_pack.py``'s baseline).

The peak RSS of ``export`` must not grow with ``--events``.

    .venv/bin/python bench/learner_export.py                    # 200,000 events
    .venv/bin/python bench/learner_export.py --events 2000000 --keep /tmp/export-2m

``--json`` prints the result; ``--output FILE`` also writes it with the machine's description.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import audit_pack  # noqa: E402
import common  # noqa: E402
import documents_bench  # noqa: E402

rss_mb = audit_pack.rss_mb


def phase_load(folder: Path, events: int, sign_ins: int) -> dict[str, Any]:
    """bench/audit_pack.py's ledger, plus ``sign_ins`` sign-ins of staff accounts (not the learners')."""
    import datetime as dt

    from hub.journeys import catch_up
    from hub.store.base import EventRow
    from hub.store.sqlite import SQLiteStore
    from hub.ulid import new_ulid

    load = audit_pack.phase_load(folder, events)
    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    start = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
    rows = []
    for n in range(sign_ins):
        at = start + dt.timedelta(minutes=n)
        rows.append(EventRow(id=new_ulid(), type="access.sign_in", occurred_us=int(at.timestamp() * 1_000_000),
                             received_at=at.isoformat(), source="web", source_id=f"sign-in-{n}", learner=None,
                             learner_key=None, action=None, supersedes=None, evidence=None,
                             data=json.dumps({"email": f"staff{n % 50}@example.fr", "account": f"ACC{n % 50}",
                                              "role": "trainer", "outcome": "success", "step": "totp"})))
        if len(rows) == 10_000:
            store.ingest(rows, None)
            rows = []
    if rows:
        store.ingest(rows, None)
    catch_up(store)  # the journeys up to date, as a running daemon keeps them
    store.close()
    return {**load, "sign_ins": sign_ins}


def phase_export(folder: Path, learners: int) -> dict[str, Any]:
    from hub.documents.services import services_of
    from hub.rights.export import export_learner
    from hub.runtime.app import Hub

    async def run() -> dict[str, Any]:
        hub = Hub.open(folder / "hub.yaml", env={})
        from hub.rights import overview_pdf  # noqa: F401  (reportlab: part of the floor, not of the export)

        floor = rss_mb()
        times, events, size, content = [], 0, 0, 0
        try:
            people = sorted(await hub.store.call(hub.store.journey_learners, documents_bench.action_id(0)))[:learners]
            for person in people:
                started = time.perf_counter()
                result = await export_learner(services_of(hub), person, folder / "pack.zip", by="bench")
                times.append(time.perf_counter() - started)
                events += result.events
                size = result.bytes
        finally:
            await hub.stop()
        with zipfile.ZipFile(folder / "pack.zip") as z:
            content = sum(info.file_size for info in z.infolist())
        return {"learners": len(times), "events": events, "seconds_median": round(statistics.median(times), 3),
                "seconds": [round(t, 3) for t in times], "last_zip_bytes": size, "last_content_bytes": content,
                "peak_rss_mb": rss_mb(), "rss_before_export_mb": floor}

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="ledger size")
    parser.add_argument("--sign-ins", type=int, default=20_000, help="staff sign-in events in the ledger")
    parser.add_argument("--learners", type=int, default=5, help="learners exported, one after the other")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", help="also write the result (with the machine's description) to this JSON file")
    parser.add_argument("--keep", help="build the ledger in this folder and keep it (reused when it holds one)")
    parser.add_argument("--phase", choices=["load", "export", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        folder = Path(args.folder)
        out = {"load": lambda: phase_load(folder, args.events, args.sign_ins),
               "export": lambda: phase_export(folder, args.learners),
               "copy": lambda: audit_pack.phase_copy(folder)}[args.phase]()
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="parcours-exportbench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "hub.yaml").exists():
            load = {"reused": str(folder)}
        else:
            print(f"building a ledger of {args.events} events in {folder}", file=sys.stderr)
            load = common.run_phase(__file__, "load", folder, "--events", str(args.events), "--sign-ins", str(args.sign_ins))
        print(f"load: {load}", file=sys.stderr)
        export = common.run_phase(__file__, "export", folder, "--learners", str(args.learners))
        print(f"export: {export}", file=sys.stderr)
        copy = common.run_phase(__file__, "copy", folder)
        print(f"copy: {copy}", file=sys.stderr)
        (folder / "pack.zip").unlink(missing_ok=True)
    result = {"parameters": {"events": args.events, "sign_ins": args.sign_ins, "learners": args.learners},
              "load": load, "export": export, "copy": copy,
              "ratio_time_export_over_copy": round(export["seconds_median"] / copy["seconds"], 1) if copy["seconds"] else None,
              "ratio_rss_export_over_copy": round(export["peak_rss_mb"] / copy["peak_rss_mb"], 2)}
    path = None
    if args.output:
        data = {"benchmark": "learner_export", "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": common.machine(), **result}
        path = Path(args.output)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"ledger: {args.events} events + {args.sign_ins} sign-ins; {export['learners']} learners exported, "
              f"{export['events']} events; the last zip: {export['last_content_bytes']:,} bytes "
              f"({export['last_zip_bytes']:,} zipped)")
        print(f"export: {export['seconds_median']} s per learner (median), peak RSS {export['peak_rss_mb']} MB "
              f"(before exporting: {export['rss_before_export_mb']} MB); copy of the same bytes: {copy['seconds']} s, "
              f"peak RSS {copy['peak_rss_mb']} MB; ratio {result['ratio_time_export_over_copy']}× the time, "
              f"{result['ratio_rss_export_over_copy']}× the memory")
        if path:
            print(f"written to {path}")


if __name__ == "__main__":
    main()
