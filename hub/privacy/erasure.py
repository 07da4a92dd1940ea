"""Erasing personal data from sealed events, so that ``verify`` still passes (docs/retention.md).

An erasure goes in four steps, each safe to repeat:

1. **Seal** what is not sealed yet, then compute, for each event to erase, its sealed leaf hash
   and the hash of the row as erasure will leave it (:mod:`hub.privacy.pseudonymise`).
   For a whole person, also find the dead letters (rejects) that name them
   (:mod:`hub.privacy.dead_letters`).
2. **Record** them in a ``privacy.erased`` event (no personal data: hub learner id, kind, rule,
   hashes, the ids of the dead letters) and **seal** it. Nothing has changed yet: the record
   vouches for rows still intact.
3. **Apply**, one transaction per batch of records (``hub.retention.batch`` persons): the rows
   rewritten and listed under their record, and for a whole person the dead letters scrubbed and
   the learner registry, funding index, conflicts, journeys and web account pseudonymised. A run
   killed before the commit left none of them changed; after it, all of them, whole.
   Kept files (funder export versions, issued PDFs) covering the person are withdrawn just before.
4. **Finish**: the person's blobs no other event names are deleted, journeys re-projected.

:meth:`Eraser.resume` applies the records a stopped run sealed but did not apply, and finishes
the erasures it applied but did not finish; every run starts with it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.journeys import reproject_learners
from hub.ledger.merkle import LEAF_COLUMNS, STORED_FORMAT, leaf_hash
from hub.ledger.tombstones import ERASED_TYPE, kept_hash
from hub.privacy.dead_letters import Needles, find_dead_letters, needles_of, scrub
from hub.privacy.pseudonymise import blobs_of, document_ids, erased_event, erased_row
from hub.ulid import new_ulid

FUNNEL = "funnel"
PERSON = "person"
ACCESS = "access"
KINDS = (PERSON, FUNNEL, ACCESS)


@dataclass
class Plan:
    """What to erase: ``kind`` of the data of person ``learner_id`` (with ``ids``, the learners merged into
    it), or access logs (``learner_id`` None, ``events`` given). For a whole person, ``dead_letters``
    are the rejects naming them when a run found them already (None: the erasure looks for them)."""

    kind: str
    learner_id: str | None
    rule: str
    ids: list[str] = field(default_factory=list)
    reason: str | None = None
    events: list[dict[str, Any]] | None = None
    dead_letters: list[int] | None = None


def _of_kind(kind: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if kind == FUNNEL:
        return [e for e in events if str(e["type"]).startswith("prospect.")]
    return events


class Eraser:
    """Erasures against an opened hub (its store, ``append``, ``seal``, blob store and configuration)."""

    def __init__(self, hub):
        self.hub = hub
        self.store = hub.store
        self.log = hub.log.bind(component="retention")
        self._block: dict[str, Any] | None = None  # the block of the last event hashed

    async def _read(self, fn, *args, **kwargs):
        return await self.store.call(fn, *args, **kwargs)

    async def erase(self, plans: list[Plan]) -> list[dict[str, Any]]:
        """Erase what ``plans`` name (steps 1–4 of the module; one transaction for their rows); one
        result per plan that had something to erase: ``record``, ``kind``, ``learner``, ``events``."""
        await self.hub.seal()
        last = await self._read(self.store.last_block)
        sealed_until = last["last_seq"] if last else 0
        wanted = [i for plan in plans if plan.events is None for i in plan.ids]
        found = await self._read(self.store.erasable_events, wanted, until_seq=sealed_until) if wanted else []
        by_learner: dict[str, list[dict[str, Any]]] = {}
        for event in found:
            by_learner.setdefault(event["learner_id"], []).append(event)
        unsearched = {plan.learner_id: plan.ids for plan in plans
                      if plan.kind == PERSON and plan.dead_letters is None and plan.learner_id is not None}
        letters = await find_dead_letters(self.store, unsearched) if unsearched else {}
        items, staged = [], []
        for plan in plans:
            events = plan.events if plan.events is not None else _of_kind(
                plan.kind, sorted((e for i in plan.ids for e in by_learner.get(i, [])), key=lambda e: e["seq"]))
            events = [e for e in events if "unreadable" not in e]
            dead = sorted(set(plan.dead_letters if plan.dead_letters is not None else letters.get(plan.learner_id, []))) \
                if plan.kind == PERSON else []
            if not events and not dead:
                continue
            items.append({
                "type": ERASED_TYPE, "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "source_id": new_ulid(),
                "data": {"learner": plan.learner_id, "kind": plan.kind, "rule": plan.rule,
                         **({"reason": plan.reason} if plan.reason else {}), "events": await self._entries(events),
                         **({"dead_letters": dead} if dead else {})},
            })
            staged.append((plan, events, dead))
        if not items:
            return []
        ids = (await self.hub.append(items, source="hub")).ids
        await self.hub.seal()  # the records are sealed before any row changes
        await self._apply([(record, plan.kind, plan.learner_id, plan.ids, events, dead)
                           for record, (plan, events, dead) in zip(ids, staged)])
        await self.finish()
        return [{"record": record, "kind": plan.kind, "learner": plan.learner_id, "events": len(events),
                 "dead_letters": len(dead)} for record, (plan, events, dead) in zip(ids, staged)]

    async def _entries(self, events: list[dict[str, Any]]) -> list[dict[str, str]]:
        """``{id, leaf, kept}`` of each event, with the leaf format of its block."""
        entries = []
        stored = await self._read(self.store.stored_rows_at, LEAF_COLUMNS, [e["seq"] for e in events])
        for event in events:
            block = self._block
            if block is None or not block["first_seq"] <= event["seq"] <= block["last_seq"]:
                block = self._block = await self._read(self.store.block_for_seq, event["seq"])
            fmt = block.get("leaf_format") or 1
            if fmt >= STORED_FORMAT:  # the row's columns as stored, and as the erasure will store them
                sealed = stored[event["seq"]]
                _, learner, data, evidence, key = erased_row(event)
                erased = {**sealed, "stored": {**sealed["stored"], "learner": learner, "data": data,
                                               "evidence": evidence, "learner_key": key}}
                entries.append({"id": event["id"], "leaf": leaf_hash(sealed, fmt).hex(), "kept": kept_hash(erased, fmt)})
            else:
                entries.append({"id": event["id"], "leaf": leaf_hash(event, fmt).hex(),
                                "kept": kept_hash(erased_event(event), fmt)})
        return entries

    async def _apply(self, erasures: list[tuple[str, str, str | None, list[str], list[dict[str, Any]], list[int]]]) -> None:
        """Step 3 for sealed records ``(record, kind, learner, learner ids, events, dead letters)``, in one
        transaction; the kept files of the persons among them are withdrawn just before."""
        folders = kept_file_dirs(self.hub.config)  # once per batch: the same for every person of it
        for record, kind, _, _, events, _ in erasures:
            if kind == PERSON and folders:
                withdraw_kept_files(self.hub.config, record, events, folders)
        at = time.time()
        letters = await self._scrubbed_letters(erasures, at)
        applied = await self._read(self.store.apply_erasures, [
            {"record": record, "learner_id": learner_id, "kind": kind, "rows": [erased_row(e) for e in events],
             "blobs": blobs_of(events), "person": ids if kind == PERSON else None,
             "dead_letters": [letters[i] for i in dead if i in letters]}
            for record, kind, learner_id, ids, events, dead in erasures], at=at)
        if applied:
            self.log.info("erased", records=len(applied), events=sum(len(e[4]) for e in erasures if e[0] in applied),
                          dead_letters=sum(len(e[5]) for e in erasures if e[0] in applied))

    async def _scrubbed_letters(self, erasures, at: float) -> dict[int, tuple[int, str, str, str | None]]:
        """The dead letters the ``erasures`` list, each scrubbed of every person of the batch that names it
        (their needles read from the registry, which the same transaction then pseudonymises)."""
        named: dict[int, list[tuple[str, str]]] = {}  # reject -> (record, person) naming it
        for record, _, learner_id, _, _, dead in erasures:
            for reject_id in dead:
                named.setdefault(reject_id, []).append((record, learner_id))
        if not named:
            return {}
        persons = {learner_id: ids for _, _, learner_id, ids, _, dead in erasures if dead and learner_id is not None}
        needles = await needles_of(self.store, persons)
        out = {}
        for reject in await self._read(self.store.rejects_by_id, list(named)):
            found = Needles()
            for _, person in named[reject["id"]]:
                found = found.merge(needles.get(person, Needles()))
            out[reject["id"]] = scrub(reject, found, record=named[reject["id"]][-1][0], at=at)
        return out

    async def finish(self) -> None:
        """Step 4 for every erasure applied and not finished: blobs, journeys, then marked finished."""
        unfinished = await self._read(self.store.unfinished_erasures)
        if not unfinished:
            return
        removed = 0
        for erasure in unfinished:
            for sha in erasure["blobs"]:
                if not await self._read(self.store.blob_referenced, sha) and self.hub.blobs.remove(sha):
                    removed += 1
        learners = [e["learner_id"] for e in unfinished if e["learner_id"] is not None]
        if learners:
            await self._read(reproject_learners, self.store, learners)
        await self._read(self.store.finish_erasures, [e["record"] for e in unfinished], at=time.time())
        self.log.info("erasures finished", records=len(unfinished), blobs_removed=removed)

    async def resume(self) -> int:
        """Apply the sealed records a stopped run did not apply, and finish what it did not finish.
        Returns how many records were applied."""
        pending = await self._read(self.store.unapplied_erasure_records)
        if pending:
            await self.hub.seal()
        erasures = []
        for record in pending:
            data = record["data"]
            events = []
            for entry in data.get("events") or []:
                event = await self._read(self.store.get_event, entry["id"])
                if event is None:
                    continue
                keys = await self._read(self.store.event_learner_keys, event["seq"], event["seq"])
                events.append({**event, "learner_key": keys.get(event["seq"])})
            learner_id = data.get("learner")
            ids = [] if learner_id is None else [learner_id, *await self._read(self.store.learner_aliases, learner_id)]
            erasures.append((record["id"], data["kind"], learner_id, ids, events, data.get("dead_letters") or []))
        if erasures:
            await self._apply(erasures)
        await self.finish()
        return len(pending)


def kept_file_dirs(config) -> list[Path]:
    """Where the hub keeps files about learners outside the store: funder export versions and issued PDFs."""
    from hub.documents.settings import output_dir

    dirs = [config.data_dir / "exports"]
    for export in config.exports.values():
        folder = getattr(export, "output_dir", None)
        if folder:
            dirs.append(config.resolve_path(folder))
    dirs.append(output_dir(config))
    return [d for d in dirs if d.is_dir()]


def withdraw_kept_files(config, record: str, events: list[dict[str, Any]],
                        folders: list[Path] | None = None) -> list[Path]:
    """Remove the kept copies covering a person being erased: each funder export version whose
    period overlaps the person's events (its files deleted, its manifest kept and marked
    ``withdrawn``: ``parcours export`` writes a new version from the ledger), and each issued PDF of
    the person's documents (in ``folders``, :func:`kept_file_dirs` when not given). Returns what was withdrawn."""
    days = [dt.date.fromisoformat(str(e["occurred_at"])[:10]) for e in events if e.get("occurred_at")]
    documents = set(document_ids(events))
    withdrawn: list[Path] = []
    for folder in kept_file_dirs(config) if folders is None else folders:
        for manifest in folder.rglob("manifest.json"):
            if _overlaps(manifest, days) and _withdraw(manifest, record):
                withdrawn.append(manifest.parent)
        for pdf in folder.rglob("*.pdf"):
            if any(pdf.name.endswith(f"-{doc}.pdf") for doc in documents):
                pdf.unlink(missing_ok=True)
                withdrawn.append(pdf)
    return withdrawn


def _overlaps(manifest: Path, days: list[dt.date]) -> bool:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        start = dt.date.fromisoformat(data["period"]["start"][:10])
        end = dt.date.fromisoformat(data["period"]["end"][:10])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return "withdrawn" not in data and any(start <= d <= end for d in days)


def _withdraw(manifest: Path, record: str) -> bool:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for path in manifest.parent.iterdir():
        if path != manifest and path.is_file():
            path.unlink()
    data["withdrawn"] = {"at": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
                         "reason": f"a person it covered was pseudonymised (ledger record {record}); "
                                   "export the period again for a new version"}
    manifest.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return True
