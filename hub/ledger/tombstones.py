"""Sealed events whose personal content was erased (retention or a person's request, hub.privacy).

Erasing a sealed event rewrites its row without the person's data, so its leaf can no longer be
recomputed from it. What stands in for it is the leaf hash the block stored when it was sealed
(``blocks.leaves``), vouched for by a ``privacy.erased`` event the hub appended, and sealed,
before it changed any row. That record names each erased event with two hashes:

- ``leaf``: the event's leaf as sealed (so the block's Merkle root, and every proof through it,
  still checks);
- ``kept``: SHA-256 of what the event's leaf format seals of the erased row (what remains of it:
  type, times, action, hours…), without the leaf's ``0x00``: its canonical sealed fields (formats 1
  and 2), or the stored form of its columns as the erasure leaves them (format 3, see
  hub.ledger.merkle.stored_form), so that changing what an erasure left is still detected.

The store lists each erased row under its record (``erased_events``). A row is accepted in its
erased form only when that record is a ``privacy.erased`` event of the hub, sealed, naming the
event with both hashes; any other change to a sealed row is reported as before.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from hub.ledger.merkle import BlockHeader, leaf_hash, sealed_bytes

ERASED_TYPE = "privacy.erased"
_CACHE = 64  # records kept parsed while a verify runs (a block's erased events come from few records)


def kept_hash(event: dict[str, Any], leaf_format: int) -> str:
    """SHA-256 of what a block of ``leaf_format`` seals of ``event``, as its row now stands (hex)."""
    return hashlib.sha256(sealed_bytes(event, leaf_format)).hexdigest()


class Tombstones:
    """The erasure records of a ledger whose events are sealed up to ``sealed_until`` (a seq), read
    as blocks are checked."""

    def __init__(self, store, sealed_until: int):
        self.store = store
        self.sealed_until = sealed_until
        self._records: dict[str, dict[str, dict[str, str]] | None] = {}

    def _entries(self, record_id: str) -> dict[str, dict[str, str]] | None:
        if record_id not in self._records:
            if len(self._records) >= _CACHE:
                self._records.clear()
            event = self.store.get_event(record_id, unreadable=True)
            ok = (event is not None and event.get("type") == ERASED_TYPE and event.get("source") == "hub"
                  and "unreadable" not in event and event["seq"] <= self.sealed_until)
            self._records[record_id] = ({e["id"]: e for e in (event["data"].get("events") or [])
                                         if isinstance(e, dict) and "id" in e} if ok else None)
        return self._records[record_id]

    def leaves(self, header: BlockHeader, events: list[dict[str, Any]]) -> tuple[list[bytes], str | None, dict[int, str]]:
        """The leaves of a block's ``events`` as sealed: recomputed, or for an erased row the leaf its
        record vouches for. Also what is wrong (None: nothing) and the erased rows (seq -> record)."""
        leaves = [leaf_hash(e, header.leaf_format) for e in events]
        erased = self.store.erased_seqs(header.first_seq, header.last_seq) if events else {}
        return self.vouch(header, events, leaves, lambda i: kept_hash(events[i], header.leaf_format), erased)

    def vouch(self, header: BlockHeader, events: list[dict[str, Any]], leaves: list[bytes], kept: Callable[[int], str],
              erased: dict[int, str]) -> tuple[list[bytes], str | None, dict[int, str]]:
        """:meth:`leaves` from leaves already computed: ``events`` (``seq``, ``id``) in block order,
        ``kept(i)`` the kept hash of erased event ``i`` as its row now stands, ``erased`` seq -> record."""
        for i, event in enumerate(events):
            record_id = erased.get(event["seq"])
            if record_id is None:
                continue
            entry = (self._entries(record_id) or {}).get(event["id"])
            if entry is None or not _is_hash(entry.get("leaf")):
                return leaves, (f"block {header.index}: event {event['id']} is listed as erased by {record_id}, "
                                "which is no sealed privacy.erased record of the hub naming it"), erased
            if entry.get("kept") != kept(i):
                return leaves, f"block {header.index}: event {event['id']} was altered after its erasure (record {record_id})", erased
            leaves[i] = bytes.fromhex(entry["leaf"])
        return leaves, None, erased


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
