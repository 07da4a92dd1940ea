"""The ledger's hashing: canonical events, RFC 6962 Merkle trees and audit paths, block headers.

``leaf = SHA-256(0x00 || canonical event)``, ``node = SHA-256(0x01 || left || right)``; a block
header holds its index, the range of events it covers, their count, the Merkle root, the previous
block's hash, the sealing time and its leaf format, and its hash is SHA-256 of the canonical header.

Leaf formats: 1 seals the event's own fields; 2 (every block sealed since) also seals the event's
link to a learner (``learner_id``, ``learner_key``), which the journeys and figures are computed
from. A format-1 header has no ``leaf_format`` key, so blocks sealed before keep their hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


LEAF_FORMAT = 2  # the format new blocks are sealed with
EVENT_FIELDS = ("id", "type", "occurred_at", "received_at", "source", "source_id",
                "learner", "action", "data", "evidence", "supersedes")
LINK_FIELDS = ("learner_id", "learner_key")  # sealed from leaf format 2 on


def event_body(event: dict[str, Any], leaf_format: int = 1) -> dict[str, Any]:
    """The fields of a stored event that a block of ``leaf_format`` seals (what TraceEvent carries,
    and from format 2 on the event's link to a learner).

    A row that cannot be decoded (``event["stored"]``, see hub.store.base.event_dict) is sealed as
    its columns exactly as stored: ``{"stored": {...}}``, which no decoded event can hash like."""
    if "stored" in event:
        return {"stored": event["stored"]}
    fields = EVENT_FIELDS + LINK_FIELDS if leaf_format >= 2 else EVENT_FIELDS
    return {k: event.get(k) for k in fields}


def body_id(body: dict[str, Any]) -> str:
    """The event id of a sealed body (decoded, or as stored)."""
    return (body.get("stored") or body)["id"]


def leaf_hash(event: dict[str, Any], leaf_format: int = 1) -> bytes:
    return hashlib.sha256(b"\x00" + canonical(event_body(event, leaf_format))).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the RFC 6962 Merkle tree over ``leaves`` (already leaf-hashed), from the
    leaves up to the root: what audit paths are read from, computed once for a whole block."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])  # an odd node is promoted unchanged
        levels.append(nxt)
    return levels


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash of ``leaves`` (already leaf-hashed)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return tree_levels(leaves)[-1][0]


def path_in_tree(levels: list[list[bytes]], index: int) -> list[tuple[str, str]]:
    """Sibling hashes from leaf ``index`` to the root of a tree given by :func:`tree_levels`, each
    with the side it sits on."""
    path: list[tuple[str, str]] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(("left" if sibling < index else "right", level[sibling].hex()))
        index //= 2
    return path


def audit_path(leaves: list[bytes], index: int) -> list[tuple[str, str]]:
    """Sibling hashes from leaf ``index`` to the root, each with the side it sits on."""
    return path_in_tree(tree_levels(leaves), index)


def root_from_path(leaf: bytes, path: Iterable[tuple[str, str]]) -> bytes:
    current = leaf
    for side, sibling in path:
        other = bytes.fromhex(sibling)
        current = _node(other, current) if side == "left" else _node(current, other)
    return current


@dataclass
class BlockHeader:
    index: int
    first_seq: int
    last_seq: int
    count: int
    root: str
    prev_hash: str
    sealed_at: str
    leaf_format: int = 1

    @classmethod
    def of(cls, block: dict[str, Any]) -> "BlockHeader":
        """The header of a stored block or of a header dict (format 1 when it names none)."""
        names = [n for n in cls.__dataclass_fields__ if n != "leaf_format"]
        return cls(**{n: block[n] for n in names}, leaf_format=block.get("leaf_format") or 1)

    def fields(self) -> dict[str, Any]:
        """The hashed header: without ``leaf_format`` for format 1, as headers were before it."""
        fields = asdict(self)
        if self.leaf_format == 1:
            del fields["leaf_format"]
        return fields

    @property
    def hash(self) -> str:
        return hashlib.sha256(canonical(self.fields())).hexdigest()


def build_block(events: list[dict[str, Any]], index: int, prev_hash: str,
                sealed_at: dt.datetime, leaf_format: int = LEAF_FORMAT) -> tuple[BlockHeader, list[bytes]]:
    leaves = [leaf_hash(e, leaf_format) for e in events]
    header = BlockHeader(
        index=index, first_seq=events[0]["seq"], last_seq=events[-1]["seq"], count=len(events),
        root=merkle_root(leaves).hex(), prev_hash=prev_hash,
        sealed_at=sealed_at.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        leaf_format=leaf_format,
    )
    return header, leaves
