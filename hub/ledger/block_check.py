"""One sealed block's events checked against its header: what ``verify`` spends its time on.

:func:`check_block` recomputes a block's leaves from the store, its Merkle root, and compares them
with the header and the stored leaf hashes (``blocks.leaves``); it also names the rows that cannot
be decoded. A format-3 block (hub.ledger.merkle) is read as the database builds its leaf bytes (one
query, no row decoded); formats 1 and 2 decode each event and re-encode it canonically.

:func:`checked_blocks` runs it over many blocks, in this process (``jobs`` 1) or in ``jobs`` worker
processes, each with its own read connection to the store (its ``reader_url``), and yields the
results in block order, so that the lowest block that fails is the one named whatever the jobs.
At most ``2 × jobs`` blocks are in flight: memory stays bounded by a few blocks.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from hub.ledger.merkle import LEAF_COLUMNS, STORED_FORMAT, BlockHeader, merkle_root
from hub.ledger.tombstones import Tombstones

MAX_FINDINGS = 100  # unreadable events named one by one in a verify report (all are counted)
# Workers are forked from a fork server where the system has one: a clean single-threaded process
# that imported the block check once, so each worker starts at once, and none inherits a lock
# another thread of the caller (a daemon's store thread, a driver's) held when it forked; elsewhere
# they start as fresh interpreters. Each opens its own connection.
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


@dataclass
class BlockCheck:
    """What :func:`check_block` found: ``problem`` (None: the block checks out), the unreadable rows
    (counted, the first MAX_FINDINGS named: seq, id, block, problem)."""

    index: int
    problem: str | None = None
    unreadable: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)

    def note(self, events: Iterable[dict[str, Any]], block: int | None) -> None:
        for event in events:
            if "unreadable" in event:
                self.unreadable += 1
                if len(self.findings) < MAX_FINDINGS:
                    self.findings.append({"seq": event["seq"], "id": event["id"], "block": block,
                                          "problem": event["unreadable"]})


def check_block(store, block: dict[str, Any], sealed_until: int) -> BlockCheck:
    """Check the events of ``block`` (a stored block, its header already checked) against it;
    ``sealed_until``: the newest sealed seq (which erasure records are sealed)."""
    header = BlockHeader.of(block)
    found = BlockCheck(header.index)
    tombstones = Tombstones(store, sealed_until)
    if header.leaf_format >= STORED_FORMAT:
        found.note(store.undecodable_events(header.first_seq, header.last_seq), header.index)
        rows = store.stored_leaf_bytes(LEAF_COLUMNS, header.first_seq, header.last_seq)
        seqs = [seq for seq, _ in rows]
        if (problem := _count_problem(header, seqs)) is not None:
            return _failed(found, problem)
        sha256 = hashlib.sha256
        leaves = [sha256(leaf).digest() for _, leaf in rows]
        events = None  # seq and id of each row, read only where needed: erased rows, an altered one
        erased = store.erased_seqs(header.first_seq, header.last_seq)
        problem = None
        if erased:
            ids = {r["seq"]: r["id"] for r in store.stored_rows(("id",), header.first_seq, header.last_seq)}
            events = [{"seq": seq, "id": ids.get(seq)} for seq in seqs]
            kept = {i: sha256(rows[i][1][1:]).hexdigest() for i, seq in enumerate(seqs) if seq in erased}
            leaves, problem, _ = tombstones.vouch(header, events, leaves, kept.__getitem__, erased)
    else:
        events = list(store.iter_events(after_seq=header.first_seq - 1, limit=header.count, unreadable=True))
        found.note(events, header.index)
        seqs = [e["seq"] for e in events]
        if (problem := _count_problem(header, seqs)) is not None:
            return _failed(found, problem)
        with_links(store, events, header.leaf_format)
        leaves, problem, _ = tombstones.leaves(header, events)
    if problem is not None:
        return _failed(found, problem)
    if merkle_root(leaves).hex() != header.root:
        first_bad = _first_altered(store, header, leaves, events or [{"seq": seq} for seq in seqs])
        return _failed(found, f"block {header.index}: event {first_bad} was altered" if first_bad
                       else f"block {header.index}: Merkle root mismatch")
    stored = store.block_leaves(header.index)
    if stored is None:
        return _failed(found, f"block {header.index}: its stored leaf hashes were removed")
    if stored != b"".join(leaves):
        return _failed(found, f"block {header.index}: its stored leaf hashes were altered")
    return found


def _count_problem(header: BlockHeader, seqs: list[int]) -> str | None:
    if len(seqs) != header.count or (seqs and seqs[-1] != header.last_seq):
        return (f"block {header.index}: sealed {header.count} events (seq {header.first_seq}–{header.last_seq}), "
                f"found {len(seqs)}: events were removed or inserted")
    return None


def _failed(found: BlockCheck, problem: str) -> BlockCheck:
    found.problem = problem
    return found


def with_links(store, events: list[dict[str, Any]], leaf_format: int) -> list[dict[str, Any]]:
    """Add each event's ``learner_key`` (which a format-2 leaf seals with ``learner_id``) in place."""
    if leaf_format >= 2 and events:
        keys = store.event_learner_keys(events[0]["seq"], events[-1]["seq"])
        for event in events:
            event["learner_key"] = keys.get(event["seq"])
    return events


def _first_altered(store, header: BlockHeader, leaves: list[bytes], events: list[dict[str, Any]]) -> str | None:
    """Events keep their leaf hash in the block's leaf list; name the first that differs (``events``:
    each with its ``seq``, and its ``id`` when read already)."""
    stored = store.block_leaves(header.index)
    if not stored:
        return None
    for i, leaf in enumerate(leaves):
        if leaf != stored[i * 32 : (i + 1) * 32]:
            if "id" in events[i]:
                return events[i]["id"]
            row = store.stored_rows(("id",), events[i]["seq"], events[i]["seq"])
            return row[0]["id"] if row else None
    return None


# ---------------------------------------------------------------------------- worker processes
_worker_store = None


def _open_worker(url: str) -> None:
    global _worker_store
    from hub.store import open_store

    _worker_store = open_store(url, migrate=False)


def _check_in_worker(job: tuple[dict[str, Any], int]) -> BlockCheck:
    block, sealed_until = job
    return check_block(_worker_store, block, sealed_until)


def checked_blocks(store, blocks: Iterable[dict[str, Any]], sealed_until: int, jobs: int = 1) -> Iterator[tuple[dict[str, Any], BlockCheck]]:
    """Each of ``blocks`` with its :func:`check_block`, in the order given; in ``jobs`` processes."""
    url = store.reader_url if jobs > 1 else None
    if url is None:  # one job, or a store no other process can open
        for block in blocks:
            yield block, check_block(store, block, sealed_until)
        return
    context = multiprocessing.get_context(START_METHOD)
    if START_METHOD == "forkserver":
        context.set_forkserver_preload([__name__, "hub.store"])
    executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_open_worker, initargs=(url,))
    try:
        pending: deque = deque()
        for block in blocks:
            pending.append((block, executor.submit(_check_in_worker, (block, sealed_until))))
            if len(pending) >= 2 * jobs:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:  # also when the caller stops at a failing block: what is queued is dropped, not waited for
        executor.shutdown(wait=True, cancel_futures=True)
