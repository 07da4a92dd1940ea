"""Evidence integrity: Merkle-sealed blocks over the append-only ledger.

Events are sealed in ledger order into blocks. A block's header holds its index, the range of
events it covers, their count, the Merkle root of their leaf hashes (RFC 6962 hashing:
``leaf = SHA-256(0x00 || sealed bytes)``, ``node = SHA-256(0x01 || left || right)``), the
previous block's hash, the sealing time and the leaf format (format 1: the canonical event; 2: with
its link to a learner; 3, every block sealed now: the row's columns as stored, see
:mod:`hub.ledger.merkle`); the block hash is SHA-256 of the canonical header.
Changing, removing or inserting any sealed event changes a root, and every later block hash.
Removing the newest blocks is caught against the signed head kept outside the store
(:mod:`hub.ledger.head`), when ``verify`` is given it.

``verify`` recomputes everything and names the first event or block that does not match; the
events of each block are checked by :mod:`hub.ledger.block_check`, in worker processes if asked.
``prove`` gives one event's audit path, which anyone can check with the event and the block
header alone (``check_proof``), without the rest of the ledger.

A block can carry an RFC 3161 time-stamp anchor over its hash (:mod:`hub.ledger.anchoring`); as each
header holds the previous block's hash, an anchor dates its block and every block before it.
``verify`` checks anchors when given ``check_anchor``; a proof carries the anchor that dates its
block (with the headers linking the two) and ``check_proof`` checks it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from hub.ledger.anchoring import anchor_record, check_chained_anchor, covering_anchor
from hub.ledger.head import compare_head
from hub.ledger.merges import check_merges
from hub.ledger.tombstones import Tombstones
from hub.ledger.block_check import MAX_FINDINGS, BlockCheck, checked_blocks, with_links
from hub.ledger.merkle import (
    LEAF_COLUMNS,
    LEAF_FORMAT,
    STORED_FORMAT,
    BlockHeader,
    audit_path,
    block_header,
    event_body,
    leaf_hash,
    body_id,
    root_from_path,
)
from hub.logs import get_logger

GENESIS = "0" * 64
PROOF_FORMAT = "parcours-inclusion-proof/1"

log = get_logger("parcours", component="ledger")


def seal(store, *, max_events: int = 10_000, now: dt.datetime | None = None,
         max_blocks: int | None = None) -> list[BlockHeader]:
    """Seal every event not yet in a block (at most ``max_blocks`` blocks; store thread), in leaf
    format 3: each leaf hashes the row's columns as stored, as the database gives them
    (hub.store.sql_sealed_rows), no event decoded. Returns the new block headers.

    An event row that cannot be decoded is sealed like any other (its stored bytes), and logged: it
    neither stops sealing nor escapes the seal."""
    made = []
    while max_blocks is None or len(made) < max_blocks:
        last = store.last_block()
        after = last["last_seq"] if last else 0
        rows = store.stored_leaf_bytes(LEAF_COLUMNS, after + 1, limit=max_events)
        if not rows:
            return made
        for event in store.undecodable_events(rows[0][0], rows[-1][0]):
            log.warning("sealed an unreadable event as its stored columns", event_id=event["id"],
                        seq=event["seq"], problem=event["unreadable"])
        sha256 = hashlib.sha256
        leaves = [sha256(leaf).digest() for _, leaf in rows]
        header = block_header(leaves, (last["index"] + 1) if last else 0, rows[0][0], rows[-1][0],
                              last["hash"] if last else GENESIS, now or dt.datetime.now(dt.timezone.utc), LEAF_FORMAT)
        store.add_block({**asdict(header), "hash": header.hash}, b"".join(leaves))
        made.append(header)
    return made


@dataclass
class VerifyReport:
    ok: bool
    blocks: int = 0
    events: int = 0
    unsealed: int = 0
    problem: str | None = None
    anchored: int = 0  # blocks with a time-stamp anchor (checked when verify got check_anchor)
    unanchored: int = 0  # blocks without one; an anchor on a later block dates them too
    not_time_stamped: int = 0  # blocks sealed after the newest anchor: dated by no anchor yet
    last_anchor: dict[str, Any] | None = None  # {"block", "gen_time", "tsa"} of the newest anchor
    unreadable: int = 0  # event rows that cannot be decoded (each one makes ok False)
    unreadable_events: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_FINDINGS: seq, id, block, problem

    def note_unreadable(self, found: BlockCheck) -> None:
        """Count and name (the first MAX_FINDINGS) the unreadable rows a check found."""
        if found.unreadable:
            self.ok = False
            self.unreadable += found.unreadable
            self.unreadable_events.extend(found.findings[:MAX_FINDINGS - len(self.unreadable_events)])


def verify(store, *, check_anchor: Callable[[dict[str, Any]], Any] | None = None,
           progress: Callable[[int], None] | None = None, head: dict[str, Any] | None = None,
           jobs: int = 1) -> VerifyReport:
    """Recompute every block from the stored events (store thread); stop at the first mismatch.

    ``check_anchor(block)`` (e.g. :func:`hub.ledger.anchoring.anchor_checker`) checks each block's
    time-stamp anchor once the block itself checks out: it returns None (no anchor) or an object
    with ``ok`` whose ``str()`` says what is wrong. A block without anchor is no failure.
    ``progress(n)`` is told the events of each block checked. ``head`` (a signed head already
    checked, see :mod:`hub.ledger.head`) is compared with the store once every block checks out.
    ``jobs`` > 1 checks the blocks' events in that many worker processes (each its own read
    connection, see :mod:`hub.ledger.block_check`); the report is the same, the lowest block that
    fails is the one named.

    An event row that cannot be decoded is no alteration (it is checked as sealed, as its stored
    columns) but a finding: it is named in ``unreadable_events`` and makes ``ok`` False.
    """
    report = VerifyReport(True)
    prev_hash = GENESIS
    expected_first = None
    head_hash = None  # the store's hash of the block the head names
    last = store.last_block()
    for block, found in checked_blocks(store, store.iter_blocks(), last["last_seq"] if last else 0, jobs):
        header = BlockHeader.of(block)
        if header.hash != block["hash"]:
            return _fail(report, f"block {header.index}: its header was altered (hash mismatch)")
        if header.prev_hash != prev_hash:
            return _fail(report, f"block {header.index}: does not chain to block {header.index - 1}")
        if expected_first is not None and header.first_seq != expected_first:
            return _fail(report, f"block {header.index}: events between seq {expected_first} and "
                                 f"{header.first_seq} are missing from the chain")
        report.note_unreadable(found)
        if found.problem is not None:
            return _fail(report, found.problem)
        if block.get("anchor"):
            check = check_anchor(block) if check_anchor is not None else None
            if check is not None and not check.ok:
                return _fail(report, f"block {header.index}: its time-stamp anchor does not match ({check})")
            anchor = anchor_record(block["anchor"])
            anchor = anchor if isinstance(anchor, dict) else {}
            report.anchored += 1
            report.not_time_stamped = 0
            report.last_anchor = {"block": header.index, "tsa": anchor.get("tsa"),
                                  "gen_time": check.gen_time if check is not None else anchor.get("gen_time")}
        else:
            report.unanchored += 1
            report.not_time_stamped += 1
        report.blocks += 1
        report.events += header.count
        if progress is not None:
            progress(header.count)
        prev_hash = block["hash"]
        expected_first = header.last_seq + 1
        if head is not None and header.index == head["block"]:
            head_hash = block["hash"]
    if (problem := _before_first_block(store)) is not None:
        return _fail(report, problem)
    if (problem := check_merges(store)) is not None:
        return _fail(report, problem)
    if head is not None and (problem := compare_head(head, report.blocks, report.events, report.anchored,
                                                      head_hash)) is not None:
        return _fail(report, problem)
    after = expected_first - 1 if expected_first else 0
    unsealed = BlockCheck(-1)
    for event in store.iter_events(after_seq=after, unreadable=True):
        report.unsealed += 1
        unsealed.note([event], None)
    report.note_unreadable(unsealed)
    return report


def _before_first_block(store) -> str | None:
    """An event whose seq comes before the first block's (seq 0, a negative seq) was inserted."""
    first_block, first = store.block(0), store.first_event()
    if first_block is None or first is None or first["seq"] >= first_block["first_seq"]:
        return None
    return (f"event {first['id']} at seq {first['seq']} lies before the first block (seq {first_block['first_seq']}): "
            "it was inserted")


def _fail(report: VerifyReport, problem: str) -> VerifyReport:
    report.ok = False
    report.problem = problem
    return report


def prove(store, event_id: str) -> dict[str, Any]:
    """An inclusion proof for ``event_id`` (store thread). Raises KeyError if unknown or unsealed.

    It carries the time-stamp anchor that dates the event's block: the block's own, or that of the
    next anchored block with the headers chaining the block to it (``anchor_chain``).
    """
    event = store.get_event(event_id, unreadable=True)  # an unreadable row is proved as its stored columns
    if event is None:
        raise KeyError(f"no event {event_id}")
    block = store.block_for_seq(event["seq"])
    if block is None:
        raise KeyError(f"event {event_id} is not sealed yet (run `parcours run --once` or wait for the daemon)")
    header = BlockHeader.of(block)
    events = sealed_events(store, header)
    leaves, problem, erased = Tombstones(store, store.last_block()["last_seq"]).leaves(header, events)
    if event["seq"] in erased:
        raise KeyError(f"event {event_id} was erased (record {erased[event['seq']]}): the hub keeps its leaf hash, "
                       "not its content; proofs of the other events of its block still check")
    if problem is not None:
        raise KeyError(f"no proof of event {event_id}: {problem} (run `parcours verify`)")
    index = next(i for i, e in enumerate(events) if e["id"] == event_id)
    anchor, chain = covering_anchor(store, block)
    return inclusion_proof(events[index], {**header.fields(), "hash": block["hash"]}, index,
                           audit_path(leaves, index), anchor, chain)


def sealed_events(store, header: BlockHeader) -> list[dict[str, Any]]:
    """The events of a block as its leaf format seals them: decoded with their ``learner_key``
    (formats 1, 2), or ``seq``, ``id`` and their ``stored`` columns (format 3)."""
    if header.leaf_format >= STORED_FORMAT:
        return store.stored_rows(LEAF_COLUMNS, header.first_seq, header.last_seq)
    return with_links(store, list(store.iter_events(after_seq=header.first_seq - 1, limit=header.count,
                                                    unreadable=True)), header.leaf_format)


def inclusion_proof(event: dict[str, Any], header: dict[str, Any], index: int, path: list[tuple[str, str]],
                    anchor: Any, chain: list[dict[str, Any]]) -> dict[str, Any]:
    """The proof document of ``event`` (leaf ``index`` of the block whose hashed ``header`` fields and
    ``hash`` are given; the event with its ``learner_key`` for a format-2 block, its ``stored`` columns
    for a format-3 block, see :func:`sealed_events`): what ``parcours prove`` prints and
    :func:`check_proof` checks. A format-3 proof's ``event`` is ``{"stored": {column: value as
    stored}}`` (``data`` as its stored JSON text), from which anyone rebuilds the leaf."""
    return {
        "format": PROOF_FORMAT,
        "event": event_body(event, header.get("leaf_format") or 1),
        "leaf_index": index,
        "path": [list(p) for p in path],
        "block": header,
        "anchor": anchor,
        "anchor_chain": chain,
    }


def check_proof(proof: dict[str, Any], *, tsa_ca: Iterable[str | Path] = ()) -> tuple[bool, str]:
    """Check a proof made by :func:`prove` with nothing but its content.

    A proof with an anchor is valid only if the anchor dates its block (through ``anchor_chain``)
    and checks out against ``tsa_ca``, PEM files of the CAs to trust (none: the system's trust
    store); see :func:`hub.ledger.anchoring.check_chained_anchor`. Raises
    :class:`hub.ledger.anchoring.AnchorError` when the anchor cannot be checked at all (no openssl).
    """
    if proof.get("format") != PROOF_FORMAT:
        return False, "not a Parcours Hub inclusion proof"
    header = BlockHeader.of(proof["block"])
    if header.hash != proof["block"]["hash"]:
        return False, "the block header does not match its hash"
    if header.leaf_format >= STORED_FORMAT and (set(proof["event"]) != {"stored"}
                                                or set(proof["event"]["stored"]) != set(LEAF_COLUMNS)):
        return False, "a format-3 proof's event is its stored columns, and nothing else"
    try:
        leaf = leaf_hash(proof["event"], header.leaf_format)
    except (TypeError, ValueError) as exc:
        return False, f"the event cannot be hashed: {exc}"
    root = root_from_path(leaf, [tuple(p) for p in proof["path"]])
    if root.hex() != header.root:
        return False, "the event does not hash to the block's Merkle root: it was altered or is not in this block"
    message = f"event {body_id(proof['event'])} is in block {header.index} (root {header.root[:16]}…)"
    if not proof.get("anchor"):
        return True, message
    chain = proof.get("anchor_chain") or []
    check = check_chained_anchor(proof["block"], chain, proof["anchor"], tsa_ca)
    if not check.ok:
        return False, f"the block's time-stamp anchor does not check out: {check}"
    via = f" (anchor on block {chain[-1]['index']}, which chains to block {header.index})" if chain else ""
    return True, f"{message}, time-stamped {check.gen_time} by {check.tsa or 'the TSA'}{via}"
