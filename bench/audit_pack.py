"""Audit pack at scale: 20 learners out of a large ledger, against copying the same bytes.

Builds a SQLite ledger of ``--events`` events (``bench/documents_bench.py``'s actions of 500
learners, two weeks each, time-ordered within each action; the first action's signed half-days
each carry the day's scanned attendance sheet, a 200 KB blob, as evidence), seals it in blocks of
10,000 and projects the journeys. Then, each step in a fresh process so that its peak memory is
its own:

1. ``pack`` — ``parcours audit-pack``'s builder (``hub.audit.build.build_audit_pack``) for a sample
   of ``--learners`` learners of the first action (seed 2026): wall time, peak RSS, the pack's size
   and the bytes it holds uncompressed;
2. ``copy`` — the same bytes as plain files: the pack extracted to a folder beforehand (not timed),
   then copied to another folder and fsynced, three times: the median wall time, and the peak RSS;
3. ``verify`` — ``docs/verify_audit_pack.py`` on the pack (informational).

The ratio pack / copy says what the proofs, the summary PDFs and the compression cost on top of
moving the bytes; the peak RSS of ``pack`` must not grow with ``--events``.

    .venv/bin/python bench/audit_pack.py                         # 200,000 events (a few minutes on 2 cores)
    .venv/bin/python bench/audit_pack.py --events 2000000        # the issue's size (2,000,000 events)

``--json`` prints the result; ``--output FILE`` also writes it with the machine's description.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import documents_bench  # noqa: E402

SHEET_BYTES = 200_000
SEED = 2026


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def phase_load(folder: Path, events: int) -> dict[str, Any]:
    """The ledger (events, sheets as blobs), sealed, journeys projected."""
    from hub.blobs import BlobStore
    from hub.journeys import rebuild
    from hub.ledger.integrity import seal
    from hub.store.sqlite import SQLiteStore

    blobs = BlobStore(folder / "blobs")
    rng = random.Random(SEED)
    sheets = {day.isoformat(): blobs.put(rng.randbytes(SHEET_BYTES), media_type="application/pdf",
                                         name=f"emargement-{day}.pdf").model_dump(exclude_none=True)
              for day in documents_bench.action_days(0)}
    generate = documents_bench.action_events

    def with_sheets(k: int, per_learner: int, rng: random.Random) -> list[dict[str, Any]]:
        out = generate(k, per_learner, rng)
        if k == 0:
            for event in out:
                if event["type"] == "attendance.signed":
                    event["evidence"] = [sheets[event["data"]["date"]]]
        return out

    documents_bench.action_events = with_sheets
    enrolments = max(500, events // 400 // 500 * 500)  # 400 events per enrolment, as documents_bench's full size
    load = documents_bench.phase_load(folder, events, enrolments)
    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    started = time.perf_counter()
    blocks = seal(store, max_events=10_000)
    sealed = time.perf_counter() - started
    started = time.perf_counter()
    rebuild(store)
    projected = time.perf_counter() - started
    store.close()
    return {**load, "blocks": len(blocks), "seal_seconds": round(sealed, 1), "rebuild_seconds": round(projected, 1)}


def phase_pack(folder: Path, learners: int) -> dict[str, Any]:
    from hub.audit.build import build_audit_pack
    from hub.audit.selection import Selection
    from hub.documents.services import services_of
    from hub.runtime.app import Hub

    async def run() -> dict[str, Any]:
        hub = Hub.open(folder / "hub.yaml", env={})
        from hub.audit import summary  # noqa: F401  (reportlab: part of the floor, not of the pack)

        floor = rss_mb()  # Python, the hub and its imports: what the process holds before packing
        try:
            started = time.perf_counter()
            result = await build_audit_pack(services_of(hub), hub.head_file(),
                                            Selection(documents_bench.action_id(0), sample=learners, seed=SEED),
                                            folder / "pack.zip")
            seconds = time.perf_counter() - started
        finally:
            await hub.stop()
        with zipfile.ZipFile(folder / "pack.zip") as z:
            content = sum(info.file_size for info in z.infolist())
        return {"learners": len(result.learners), "events": result.events, "files": result.files,
                "pack_bytes": result.bytes, "content_bytes": content, "seconds": round(seconds, 2),
                "peak_rss_mb": rss_mb(), "rss_before_pack_mb": floor}

    return asyncio.run(run())


def phase_copy(folder: Path, rounds: int = 3) -> dict[str, Any]:
    """The pack's content copied as plain files, fsynced (``rounds`` times: the median is kept, a copy
    being at the mercy of the page cache and of the other processes' writes)."""
    source, target = folder / "extracted", folder / "copied"
    shutil.rmtree(source, ignore_errors=True)
    with zipfile.ZipFile(folder / "pack.zip") as z:
        z.extractall(source)
    floor = rss_mb()
    times, copied = [], 0
    for _ in range(rounds):
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        shutil.copytree(source, target)
        copied = 0
        for path in target.rglob("*"):
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
                copied += path.stat().st_size
        times.append(time.perf_counter() - started)
    shutil.rmtree(source)
    shutil.rmtree(target)
    return {"bytes": copied, "seconds": round(sorted(times)[len(times) // 2], 3), "rounds": [round(t, 3) for t in times],
            "peak_rss_mb": rss_mb(), "rss_before_copy_mb": floor}


def phase_verify(folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, str(common.REPO / "docs" / "verify_audit_pack.py"), str(folder / "pack.zip")],
                         capture_output=True, text=True)
    return {"exit": run.returncode, "seconds": round(time.perf_counter() - started, 1),
            "last_line": (run.stdout.strip().splitlines() or [""])[-1], "errors": run.stderr[-2000:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="ledger size (the issue's: 2000000)")
    parser.add_argument("--learners", type=int, default=20, help="learners in the pack")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", help="also write the result (with the machine's description) to this JSON file")
    parser.add_argument("--keep", help="build the ledger in this folder and keep it (reused when it holds one)")
    parser.add_argument("--phase", choices=["load", "pack", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        folder = Path(args.folder)
        out = {"load": lambda: phase_load(folder, args.events), "pack": lambda: phase_pack(folder, args.learners),
               "copy": lambda: phase_copy(folder)}[args.phase]()
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="parcours-auditbench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "hub.yaml").exists():
            load = {"reused": str(folder)}
        else:
            print(f"building a ledger of {args.events} events in {folder}", file=sys.stderr)
            load = common.run_phase(__file__, "load", folder, "--events", str(args.events))
        print(f"load: {load}", file=sys.stderr)
        pack = common.run_phase(__file__, "pack", folder, "--learners", str(args.learners))
        print(f"pack: {pack}", file=sys.stderr)
        copy = common.run_phase(__file__, "copy", folder)
        print(f"copy: {copy}", file=sys.stderr)
        verify = phase_verify(folder)
        print(f"verify: {verify}", file=sys.stderr)
        (folder / "pack.zip").unlink(missing_ok=True)
    result = {"parameters": {"events": args.events, "learners": args.learners}, "load": load, "pack": pack,
              "copy": copy, "verify": verify,
              "ratio_time_pack_over_copy": round(pack["seconds"] / copy["seconds"], 1) if copy["seconds"] else None,
              "ratio_rss_pack_over_copy": round(pack["peak_rss_mb"] / copy["peak_rss_mb"], 2)}
    path = None
    if args.output:
        data = {"benchmark": "audit_pack", "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": common.machine(), **result}
        path = Path(args.output)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"ledger: {args.events} events; pack of {pack['learners']} learners: {pack['events']} events, "
              f"{pack['files']} files, {pack['content_bytes']:,} bytes ({pack['pack_bytes']:,} zipped)")
        print(f"pack: {pack['seconds']} s, peak RSS {pack['peak_rss_mb']} MB (before packing: {pack['rss_before_pack_mb']} MB); "
              f"copy of the same bytes: {copy['seconds']} s, "
              f"peak RSS {copy['peak_rss_mb']} MB; ratio {result['ratio_time_pack_over_copy']}× the time, "
              f"{result['ratio_rss_pack_over_copy']}× the memory")
        print(f"verifier: exit {verify['exit']} in {verify['seconds']} s ({verify['last_line']})")
        if path:
            print(f"written to {path}")


if __name__ == "__main__":
    main()
