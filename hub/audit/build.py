"""Building an audit pack: the learners selected, every event about each with its inclusion proof,
their evidence and documents, a readable summary, the block headers, time-stamp tokens and signed
head that the proofs rest on, a manifest with the SHA-256 of every file, an HTML index and a README.

The events of the learners are read once, a page at a time, in ledger order (all the learners of a
group together, so that each block's tree is built once, :class:`hub.audit.proofs.BlockProofs`), and
written to per-learner scratch files beside the pack; each is then copied into the zip and removed.
Blobs are copied in chunks. Memory is bounded by a page of events, one block's tree and the list
of the pack's files, whatever the ledger's or the pack's size.

The builder's store reads go through ``read(fn, *args)`` (a store method run on the store's
thread): :func:`build_audit_pack` runs the builder in a worker thread and hands it such a
``read``, so that a pack built by the daemon holds the store thread a page at a time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import mimetypes
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from hub.audit.index_page import LEARNER_PAGE_END, event_row, learner_page_head, pack_index
from hub.audit.proofs import BlockProofs
from hub.audit.selection import Selection, select_learners
from hub.audit.summary import STATUS_FR, render_summary
from hub.audit.zipfile_out import PackFile
from hub.errors import HubError
from hub.journeys.projection import ACTION_WIDE_TYPES, is_action_wide
from hub.journeys.stream import compute_states
from hub.ledger.anchoring import Anchor
from hub.ledger.head import DOCUMENT_KEY, HeadError
from hub.ledger.merkle import BlockHeader

PACK_FORMAT = "parcours-audit-pack/1"
PAGE = 2000  # events read at a time
GROUP = 32  # learners whose events are read together (3 scratch files each are open at once)
README = Path(__file__).with_name("README.txt")

Read = Callable[..., Any]


class AuditPackError(HubError):
    """The pack cannot be made: nothing was written."""


@dataclass
class PackResult:
    path: Path
    action: str
    learners: list[str]
    seed: int | None
    events: int = 0
    unsealed: int = 0
    files: int = 0
    bytes: int = 0
    selection: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "action": self.action, "learners": self.learners, "seed": self.seed,
                "events": self.events, "unsealed": self.unsealed, "files": self.files, "bytes": self.bytes,
                "selection": self.selection}


@dataclass
class PackedLearner:
    """One learner of the pack while it is written: scratch files, evidence found, totals."""

    id: str
    folder: str
    ids: list[str]
    scratch: Path
    events: int = 0
    unsealed: list[str] = field(default_factory=list)
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha256 -> ref, pack file, events
    documents: list[dict[str, Any]] = field(default_factory=list)
    out: dict[str, IO[bytes]] = field(default_factory=dict)


async def build_audit_pack(services, head_file, selection: Selection, out: str | Path, *,
                           now: dt.datetime | None = None, cancelled: threading.Event | None = None) -> PackResult:
    """Build the pack of ``selection`` at ``out`` (a zip; see the module's docstring).

    ``services``: :class:`hub.documents.services.DocumentServices`; ``head_file``: the ledger's
    :class:`hub.ledger.head.HeadFile` (None: no signed head in the pack). Raises
    :class:`hub.audit.selection.SelectionError` or :class:`AuditPackError`, leaving no file."""
    await services.project()
    loop = asyncio.get_running_loop()
    store = services.store

    def read(fn, *args, **kwargs):
        return asyncio.run_coroutine_threadsafe(store.call(fn, *args, **kwargs), loop).result()

    cancelled = cancelled or threading.Event()
    try:
        return await asyncio.to_thread(write_pack, services.config, store, services.blobs, read, head_file,
                                       selection, Path(out), now=now, cancelled=cancelled)
    except asyncio.CancelledError:
        cancelled.set()  # the worker gives up at its next write and removes its temporary file
        raise


def write_pack(config, store, blobs, read: Read, head_file, selection: Selection, out: Path, *,
               now: dt.datetime | None = None, cancelled: threading.Event | None = None) -> PackResult:
    """The builder itself (a worker thread; store reads through ``read``)."""
    selection = selection.with_seed()
    if out.suffix.lower() != ".zip":
        raise AuditPackError(f"{out}: an audit pack is a .zip file")
    if out.is_dir():
        raise AuditPackError(f"{out} is a folder: give the path of the .zip file to write")
    learners = select_learners(store, read, config, selection)
    try:
        head = head_file.read() if head_file is not None else None
    except HeadError as exc:
        raise AuditPackError(f"the ledger's signed head cannot be packed: {exc}") from None
    last_block = read(store.last_block)
    until_seq = read(store.max_seq)
    generated_at = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    result = PackResult(out, selection.action, learners, selection.seed, selection=selection.as_dict())
    try:
        with PackFile(out, cancelled) as pack, tempfile.TemporaryDirectory(dir=out.parent, prefix=".audit-pack-") as tmp:
            proofs = BlockProofs(store, read, last_block)
            summaries: list[dict[str, Any]] = []
            for start in range(0, len(learners), GROUP):
                group = [PackedLearner(lid, f"learners/{start + i + 1:03d}", [lid, *read(store.learner_aliases, lid)],
                                  Path(tmp) / f"{start + i}") for i, lid in enumerate(learners[start:start + GROUP])]
                _read_events(store, read, group, selection.action, until_seq, proofs)
                for learner in group:
                    summaries.append(_pack_learner(pack, config, store, blobs, read, learner, selection.action,
                                                   generated_at))
                    result.events += learner.events
                    result.unsealed += len(learner.unsealed)
            action_wide = _pack_action_wide(pack, store, blobs, read, selection.action, until_seq, proofs)
            ledger = _pack_ledger(pack, store, read, proofs, head, head_file, last_block)
            manifest = {"format": PACK_FORMAT, "generated_at": generated_at, "action": selection.action,
                        "selection": selection.as_dict(), "seed": selection.seed,
                        "learners": [{k: s[k] for k in ("id", "name", "folder", "events", "unsealed_events", "files")}
                                     for s in summaries],
                        "action_wide": action_wide, "ledger": ledger}
            pack.write("README.txt", README.read_text(encoding="utf-8"))
            pack.write("index.html", pack_index(manifest, summaries))
            manifest["files"] = dict(sorted(pack.files.items()))
            result.files = len(pack.files) + 1
            pack.finish(json.dumps(manifest, indent=1, ensure_ascii=False).encode() + b"\n")
    except OSError as exc:
        raise AuditPackError(f"cannot write the audit pack {out}: {exc.strerror or exc}; nothing was kept") from None
    result.bytes = out.stat().st_size
    return result


def _read_events(store, read: Read, group: list[PackedLearner], action: str, until_seq: int, proofs: BlockProofs) -> None:
    """Read the group's events once, in ledger order, into each learner's scratch files: events,
    proofs and the rows of the learner's page."""
    owner = {lid: learner for learner in group for lid in learner.ids}
    for learner in group:
        learner.scratch.mkdir()
        learner.out = {name: open(learner.scratch / name, "wb") for name in ("events", "proofs", "rows")}
    try:
        after = 0
        while page := [e for e in read(store.learner_events_page, list(owner), action=action, after_seq=after,
                                       limit=PAGE) if e["seq"] <= until_seq]:
            after = page[-1]["seq"]
            proofs.prefetch(page)
            for event in page:
                learner = owner[event["learner_id"]]
                learner.events += 1
                proof = proofs.prove(event)
                learner.out["events"].write(_line(event))
                if proof is None:
                    learner.unsealed.append(event["id"])
                else:
                    learner.out["proofs"].write(_line(proof))
                files = note_evidence(learner, event)
                where = (proof["block"]["index"], proof["leaf_index"]) if proof else None
                learner.out["rows"].write(event_row(learner.events, event, where, files).encode())
    finally:
        for learner in group:
            for fh in learner.out.values():
                fh.close()


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def note_evidence(learner: PackedLearner, event: dict[str, Any]) -> list[str]:
    """Record the event's evidence blobs (and, for ``document.issued``, the document); their pack files,
    relative to the learner's folder."""
    files = []
    is_document = event["type"] == "document.issued"
    if is_document:
        data = event.get("data") or {}
        learner.documents.append({"type": data.get("document_type"), "id": data.get("document"), "event": event["id"],
                                  "action": event.get("action"),
                                  "occurred_at": event.get("occurred_at"), "sha256": data.get("sha256")})
    for ref in event.get("evidence") or []:
        sha = ref.get("sha256") if isinstance(ref, dict) else None
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            continue
        known = learner.evidence.get(sha)
        if known is None:
            name = ref.get("name") or ""
            suffix = Path(_SAFE.sub("-", name)).suffix.lower()[:10] or mimetypes.guess_extension(
                ref.get("media_type") or "") or ".bin"
            where = f"documents/{_SAFE.sub('-', name) or sha + suffix}" if is_document else f"evidence/{sha}{suffix}"
            known = learner.evidence[sha] = {"file": where, "media_type": ref.get("media_type"), "events": []}
        known["events"].append(event["id"])
        files.append(known["file"])
    return files


def _pack_learner(pack: PackFile, config, store, blobs, read: Read, learner: PackedLearner, action: str,
                  generated_at: str) -> dict[str, Any]:
    """Copy the learner's scratch files, evidence and documents into the pack, with the summary PDF
    and the learner's page; the learner's line of the index."""
    state = read(store.load_journeys, [(learner.id, action)]).get((learner.id, action))
    report = compute_states([state], config)[0]
    folder = learner.folder
    summary = {"id": learner.id, "name": report.learner_name, "folder": folder, "action": action,
               "status": STATUS_FR.get(report.status, report.status), "events": learner.events,
               "unsealed_events": learner.unsealed,
               "evidence": sum(1 for found in learner.evidence.values() if found["file"].startswith("evidence/")),
               "documents": len(learner.documents),
               "files": {sha: f"{folder}/{found['file']}" for sha, found in learner.evidence.items()}}
    for name, entry in (("events", "events.ndjson"), ("proofs", "proofs.ndjson")):
        with open(learner.scratch / name, "rb") as fh:
            pack.copy(f"{folder}/{entry}", fh)
    with open(learner.scratch / "rows", "rb") as rows:
        pack.write_chunks(f"{folder}/index.html", _chained(learner_page_head(summary).encode(), rows,
                                                           LEARNER_PAGE_END.encode()))
    for name in ("events", "proofs", "rows"):
        (learner.scratch / name).unlink()
    copy_evidence(pack, blobs, learner)
    organisation = config.hub.organisation.name if config.hub.organisation else "l'organisme de formation"
    pdf = render_summary(report, learner.documents, organisation=organisation, generated_at=generated_at)
    pack.write(f"{folder}/resume-parcours.pdf", pdf)
    return summary


def copy_evidence(pack: PackFile, blobs, learner: PackedLearner) -> None:
    """Copy the evidence blobs the learner's events name into the learner's folder, a chunk at a time;
    a blob missing or whose content no longer matches its SHA-256 stops the pack."""
    for sha, found in learner.evidence.items():
        path = blobs.path_for(sha)
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise AuditPackError(f"evidence {sha} of event {found['events'][0]} is missing from the blob store "
                                 f"({path})") from None
        with fh:
            copied = pack.copy(f"{learner.folder}/{found['file']}" if learner.folder else found["file"], fh)
        if copied != sha:
            raise AuditPackError(f"evidence {sha} of event {found['events'][0]} is corrupted in the blob store "
                                 f"({path}: its content hashes to {copied})")


def _pack_action_wide(pack: PackFile, store, blobs, read: Read, action: str, until_seq: int,
                      proofs: BlockProofs) -> dict[str, Any] | None:
    """The trainer's signatures about the whole action (no learner named), which co-sign every learner's
    half-day (see hub.journeys.projection.is_action_wide): in ``action/``, with their proofs and
    evidence, as a learner's events are. A few per day of the action: read as one list."""
    events = [e for e in read(store.action_events, action, types=ACTION_WIDE_TYPES, until_seq=until_seq)
              if is_action_wide(e)]
    if not events:
        return None
    entry = PackedLearner("", "action", [], Path())
    events_lines, proof_lines = [], []
    proofs.prefetch(events)
    for event in events:
        event["learner_key"] = read(store.event_learner_keys, event["seq"], event["seq"]).get(event["seq"])
        entry.events += 1
        proof = proofs.prove(event)
        events_lines.append(_line(event))
        if proof is None:
            entry.unsealed.append(event["id"])
        else:
            proof_lines.append(_line(proof))
        note_evidence(entry, event)
    pack.write("action/events.ndjson", b"".join(events_lines))
    pack.write("action/proofs.ndjson", b"".join(proof_lines))
    copy_evidence(pack, blobs, entry)
    return {"folder": "action", "events": entry.events, "unsealed_events": entry.unsealed,
            "files": {sha: f"action/{found['file']}" for sha, found in entry.evidence.items()}}


def _chained(first: bytes, middle: IO[bytes], last: bytes):
    yield first
    yield from iter(lambda: middle.read(1 << 20), b"")
    yield last


def _pack_ledger(pack: PackFile, store, read: Read, proofs: BlockProofs, head: dict[str, Any] | None, head_file,
                 last_block: dict[str, Any] | None) -> dict[str, Any]:
    """The block headers the proofs rest on, chained up to the newest block (and the head's), the
    time-stamp tokens the proofs carry, the signed head and its public key; the manifest's ``ledger``."""
    wanted = set(proofs.blocks)
    if last_block is not None:
        wanted.add(last_block["index"])
    if head is not None:
        wanted.add(head["block"])
    ledger: dict[str, Any] = {"first_block": None, "last_block": None, "first_seq": None, "last_seq": None,
                              "tokens": [], "head": None}
    tokens = []
    if wanted:
        first, last = min(wanted), max(wanted)
        ledger.update(first_block=first, last_block=last)

        def lines():
            for index in range(first, last + 1):
                block = read(store.block, index)
                if block is None:
                    raise AuditPackError(f"block {index} is missing from the ledger (run `parcours verify`)")
                line = {**BlockHeader.of(block).fields(), "hash": block["hash"]}
                if index in proofs.anchored:
                    anchor = Anchor.from_json(block["anchor"])
                    line["anchor"] = {"tsa": anchor.tsa, "gen_time": anchor.gen_time,
                                      "token": f"ledger/tokens/block-{index}.tsr"}
                    tokens.append((line["anchor"]["token"], anchor.der))
                if index == first:
                    ledger["first_seq"] = block["first_seq"]
                ledger["last_seq"] = block["last_seq"]
                yield _line(line)

        pack.write_chunks("ledger/blocks.ndjson", lines())
    else:
        pack.write("ledger/blocks.ndjson", b"")
    for name, der in tokens:
        pack.write(name, der)
        ledger["tokens"].append(name)
    if head is not None:
        pack.write("ledger/head.json", head_file.path.read_bytes())
        key = head["key"]
        if key.startswith(DOCUMENT_KEY):
            found = head_file.keyring.get(key[len(DOCUMENT_KEY):]) if head_file.keyring is not None else None
            public, kind = found.raw.hex(), "document key (published with the organisation's document keys)"
        else:
            public, kind = key, "the hub's ledger-head key"
        pack.write("ledger/head-key.json", json.dumps({"key": key, "algorithm": "Ed25519", "public_key": public,
                                                       "kind": kind}, indent=1) + "\n")
        ledger["head"] = {"block": head["block"], "time": head["time"], "file": "ledger/head.json",
                          "key_file": "ledger/head-key.json"}
    return ledger
