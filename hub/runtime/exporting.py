"""Running a funder export: select the journeys, call the format, version, manifest, ledger.

The format writes its files into a fresh version folder; the exporter adds a ``manifest.json``
(format, version, period, generation time, the ledger range used, the SHA-256 of every file) and
records it as a ``document.issued`` event. Re-running a period produces a new version that
supersedes the previous one; nothing is overwritten."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from hub.formats import ExportRequest, ExportResult, FunderFormat, MissingField, Period
from hub.journeys.stream import JourneyStream
from hub.leases import owner_is_dead
from hub.store import open_store

if TYPE_CHECKING:
    from hub.blobs import BlobStore
    from hub.config import LoadedConfig
    from hub.ingest.audit import Append
    from hub.store.base import JobStore

MANIFEST = "manifest.json"


@dataclass
class ExportOutcome:
    name: str
    period: str
    version: int | None = None
    folder: Path | None = None
    files: list[str] = field(default_factory=list)
    missing: list[MissingField] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    event_id: str | None = None
    written: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"export": self.name, "period": self.period, "version": self.version, "written": self.written,
                "folder": str(self.folder) if self.folder else None, "files": self.files,
                "missing": [m.__dict__ for m in self.missing], "notes": self.notes, "event_id": self.event_id}


def export_journeys(config: "LoadedConfig", fmt: FunderFormat, reader, period: Period, funder: str | None) -> JourneyStream:
    """The journeys of the export, read from ``reader``: its actions and funders, with training in the period."""
    actions = set(fmt.config.actions or ())

    def keep(state: dict[str, Any]) -> bool:  # before computing: the state lists every funder
        funders = state.get("funders") or {}
        return ((not actions or state["action"] in actions)
                and (not fmt.config.funders or any(f in funders for f in fmt.config.funders))
                and (not funder or funder in funders))

    def select(report) -> bool:  # the report's funders leave out superseded decisions
        funders = set(report.funders)
        if fmt.config.funders and not funders & set(fmt.config.funders):
            return False
        if funder and funder not in funders:
            return False
        action = report.action
        return action is None or period.overlaps(action.start, report.exit_date or action.end)

    today = min(period.end + dt.timedelta(days=1), dt.date.today())
    return JourneyStream(reader, config, today=today, keep=keep, select=select)


def scheduled_period(fmt: FunderFormat, today: dt.date) -> Period:
    """The period a scheduled run exports: the configured ``period``, else the one that just ended."""
    return Period.parse(fmt.config.period) if fmt.config.period else Period.previous(fmt.period, today)


class Exporter:
    """Produces funder exports: the format's files in a new version folder, the manifest, and the
    ``document.issued`` event that records them in the ledger.

    It gets what it uses: the configuration, the store (job-run claims), the blob store (the
    manifest is kept as evidence), ``append`` (the one door to the ledger), ``project`` (brings
    the journeys up to date before reading them), the configured formats by name, a logger and
    this process's owner string (claims of scheduled runs).
    """

    def __init__(self, config: "LoadedConfig", store: "JobStore", blobs: "BlobStore", append: "Append", *,
                 project: Callable[[], Awaitable[int]], funder_format: Callable[[str], FunderFormat], log: Any,
                 owner: str):
        self.config = config
        self.store = store
        self.blobs = blobs
        self.append = append
        self.project = project
        self.funder_format = funder_format
        self.log = log
        self.owner = owner

    async def run(self, fmt: FunderFormat, period: Period, *, funder: str | None = None,
                  allow_incomplete: bool = False, out_dir: Path | None = None,
                  progress: Callable[[int], None] | None = None) -> ExportOutcome:
        """Produce a new version of ``fmt`` for ``period``; nothing is kept when it fails, nor when
        required fields are missing (unless ``allow_incomplete``). ``progress(n)``: journeys read."""
        await self.project()  # the journeys up to date with the ledger
        config = self.config
        base = out_dir or (config.resolve_path(fmt.config.output_dir) if fmt.config.output_dir
                           else config.data_dir / "exports" / fmt.name)
        version, folder = next_version_dir(Path(base), period)
        folder.mkdir(parents=True)
        reader = open_store(config.hub.store.url, base_dir=Path.cwd())  # its own connection: ingest goes on
        ledger: dict[str, Any] = {}

        def events(types: list[str] | None = None):  # the ledger as far as the journeys have read it
            through = ledger["events_through_seq"]
            return itertools.takewhile(lambda e: e["seq"] <= through, reader.iter_events(types=types, batch=5000))

        stream = export_journeys(config, fmt, reader, period, funder)
        stream.progress = progress
        request = ExportRequest(fmt.name, period, stream, folder, config, events, allow_incomplete, funder)

        def export() -> ExportResult:
            with reader.read_snapshot():  # journeys and events as of one moment, however long it takes
                ledger.update(_ledger_range(reader))
                return fmt.export(request)

        try:
            result = await asyncio.to_thread(export)
        except BaseException:
            discard(folder)
            raise
        finally:
            reader.close()
        outcome = ExportOutcome(fmt.name, period.label, missing=result.missing, notes=list(result.notes))
        if result.missing and not allow_incomplete:
            discard(folder)
            return outcome
        if result.missing:
            outcome.notes.append(f"{len(result.missing)} required field(s) missing, exported anyway (--allow-incomplete)")
        previous = _previous_event(folder.parent, version)
        manifest = write_manifest(folder, name=fmt.name, fmt=fmt, version=version, period=period, ledger=ledger,
                                  files=result.files, notes=outcome.notes, supersedes=previous,
                                  incomplete=result.missing)
        outcome.event_id = await self._record(fmt, period, version, manifest, previous, result)
        (folder / ".ledger-event").write_text(outcome.event_id)
        outcome.version, outcome.folder, outcome.written = version, folder, True
        outcome.files = sorted(f.name for f in result.files) + ["manifest.json"]
        return outcome

    async def _record(self, fmt: FunderFormat, period: Period, version: int, manifest: Path,
                      previous: str | None, result: ExportResult) -> str:
        blob = await asyncio.to_thread(self.blobs.put, manifest.read_bytes(), media_type="application/json",
                                       name=f"{fmt.name}-{period.label}-v{version}-manifest.json")
        item = {
            "type": "document.issued", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "source_id": f"export:{fmt.name}:{period.label}:v{version}",
            "data": {"document_type": f"export:{fmt.kind}", "document": f"{fmt.name}/{period.label}/v{version}",
                     "sha256": sha256_file(manifest)},
            "evidence": [blob.model_dump(exclude_none=True)],
            **({"supersedes": previous} if previous else {}),
        }
        ingested = await self.append([item, *result.events], source="hub")
        self.log.info("export written", export=fmt.name, period=period.label, version=version, event_id=ingested.ids[0])
        return ingested.ids[0]

    async def scheduled(self, name: str) -> ExportOutcome | None:
        """The scheduler's job (and `run --once`'s): export the scheduled period once across daemons.

        None when that period was already produced, or is being produced by a live process. A run
        that fails or writes nothing (required fields missing) gives its claim back, so that the next
        run tries again; the unfinished claim of a process of this host that died mid-run is taken over."""
        fmt = self.funder_format(name)
        period = scheduled_period(fmt, dt.datetime.now(self.config.timezone).date())
        owner, key, store = self.owner, f"export:{name}:{period.label}", self.store
        if not await store.call(store.claim_job_run, key, owner=owner, at=time.time()):
            run = await store.call(store.job_run, key)
            if not (run and run["finished_at"] is None and owner_is_dead(run["owner"])
                    and await store.call(store.take_over_job_run, key, previous=run["owner"], owner=owner, at=time.time())):
                return None
            self.log.warning("scheduled export interrupted by a crash: running it again", export=name,
                             period=period.label, previous_owner=run["owner"])
        try:
            outcome = await self.run(fmt, period)
        except BaseException:
            await asyncio.shield(store.call(store.release_job_run, key, owner=owner))
            raise
        if outcome.written:
            await store.call(store.finish_job_run, key, owner=owner, at=time.time())
        else:
            await store.call(store.release_job_run, key, owner=owner)
            self.log.error("scheduled export incomplete: nothing written", export=name, period=period.label,
                           missing=[f"{m.learner}: {m.field}" for m in outcome.missing][:20])
        return outcome


def _ledger_range(store) -> dict[str, Any]:
    last = store.last_block()
    return {"events_through_seq": store.projection_cursor(),
            "last_sealed_block": ({"index": last["index"], "hash": last["hash"]} if last else None)}


def _previous_event(folder: Path, version: int) -> str | None:
    marker = folder / f"v{version - 1}" / ".ledger-event"
    return marker.read_text().strip() if marker.exists() else None


# --------------------------------------------------------------------------- version folders and manifests


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def next_version_dir(base: Path, period: Period) -> tuple[int, Path]:
    folder = base / period.label
    folder.mkdir(parents=True, exist_ok=True)
    versions = [int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit()]
    version = max(versions, default=0) + 1
    return version, folder / f"v{version}"


def write_manifest(out: Path, *, name: str, fmt: FunderFormat, version: int, period: Period,
                   ledger: dict[str, Any], files: list[Path], notes: list[str], supersedes: str | None,
                   incomplete: list[MissingField] | None = None) -> Path:
    manifest = {
        "format": fmt.kind,
        "format_version": fmt.format_version,
        "export": name,
        "version": version,
        "period": {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat()},
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        "inputs": {"ledger": ledger},
        "files": [{"name": f.name, "sha256": sha256_file(f), "bytes": f.stat().st_size} for f in sorted(files)],
        "notes": notes,
        # required fields that were missing when the export was forced (--allow-incomplete)
        "incomplete": [m.__dict__ for m in incomplete or []],
        "supersedes": supersedes,
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def discard(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
