"""The ledger's hashing: canonical events, RFC 6962 Merkle trees and audit paths, block headers.

``leaf = SHA-256(0x00 || canonical event)``, ``node = SHA-256(0x01 || left || right)``; a block
header holds its index, the range of events it covers, their count, the Merkle root, the previous
block's hash, the sealing time and its leaf format, and its hash is SHA-256 of the canonical header.

Leaf formats: 1 seals the event's own fields; 2 also seals the event's link to a learner
(``learner_id``, ``learner_key``), which the journeys and figures are computed from; 3 (every block
sealed since) seals the same columns exactly as stored, without decoding them: ``leaf =
SHA-256(0x00 || stored form)``, the stored form being each of :data:`LEAF_COLUMNS` as a netstring
over its UTF-8 bytes (NULL: ``-``; else ``<byte length>:<bytes>``, integers as decimal text), which
both SQL stores compute themselves (see :func:`stored_form`). A format-1 header has no
``leaf_format`` key, so blocks sealed before keep their hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from hub.store.base import STORED_COLUMNS


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


LEAF_FORMAT = 3  # the format new blocks are sealed with
STORED_FORMAT = 3  # from this format on, a leaf hashes the row's columns as stored
EVENT_FIELDS = ("id", "type", "occurred_at", "received_at", "source", "source_id",
                "learner", "action", "data", "evidence", "supersedes")
LINK_FIELDS = ("learner_id", "learner_key")  # sealed from leaf format 2 on
# The columns a format-3 leaf hashes, in this order, exactly as stored (the stores build the same
# bytes in SQL from this tuple: hub.store.sql.SqlStore.stored_leaf_bytes).
LEAF_COLUMNS = STORED_COLUMNS + LINK_FIELDS


def _stored_bytes(value: Any) -> bytes:
    """One stored column value as the bytes a format-3 leaf hashes (SQL's ``CAST(value AS BLOB)``):
    text as UTF-8, an integer as its decimal text, a SQLite blob (``{"bytes": hex}`` once carried as
    JSON, see hub.store.base.event_dict) as its bytes."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        raise TypeError(f"a stored column holds no boolean ({value!r})")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return bytes.fromhex(value["bytes"])
    raise TypeError(f"a stored column holds {type(value).__name__}, which no leaf format 3 encodes")


def stored_form(columns: Mapping[str, Any]) -> bytes:
    """The bytes a format-3 leaf hashes (after ``0x00``): each of :data:`LEAF_COLUMNS` of a row, as
    stored, as a netstring: ``-`` for NULL, else ``<byte length>:<bytes>``, concatenated in order."""
    out = []
    for name in LEAF_COLUMNS:
        value = columns[name]
        if value is None:
            out.append(b"-")
        else:
            raw = _stored_bytes(value)
            out.append(b"%d:%s" % (len(raw), raw))
    return b"".join(out)


def event_body(event: dict[str, Any], leaf_format: int = 1) -> dict[str, Any]:
    """The fields of a stored event that a block of ``leaf_format`` seals (what TraceEvent carries,
    and from format 2 on the event's link to a learner).

    A row that cannot be decoded (``event["stored"]``, see hub.store.base.event_dict) is sealed as
    its columns exactly as stored: ``{"stored": {...}}``, which no decoded event can hash like.
    From format 3 on every event is sealed so: ``event["stored"]`` must then hold each of
    :data:`LEAF_COLUMNS` (hub.store.sql.SqlStore.stored_rows gives them)."""
    if leaf_format >= STORED_FORMAT:
        stored = event.get("stored") or {}
        missing = [name for name in LEAF_COLUMNS if name not in stored]
        if missing:
            raise ValueError(f"event {event.get('id')}: a format-{leaf_format} leaf hashes its stored columns, "
                             f"and {', '.join(missing)} are not given")
        return {"stored": {name: stored[name] for name in LEAF_COLUMNS}}
    if "stored" in event:
        return {"stored": event["stored"]}
    fields = EVENT_FIELDS + LINK_FIELDS if leaf_format >= 2 else EVENT_FIELDS
    return {k: event.get(k) for k in fields}


def body_id(body: dict[str, Any]) -> str:
    """The event id of a sealed body (decoded, or as stored)."""
    return (body.get("stored") or body)["id"]


def sealed_bytes(event: dict[str, Any], leaf_format: int = 1) -> bytes:
    """What the leaf of ``event`` hashes after ``0x00`` in a block of ``leaf_format``: the canonical
    sealed fields (formats 1, 2) or the stored form of its columns (format 3)."""
    body = event_body(event, leaf_format)
    return stored_form(body["stored"]) if leaf_format >= STORED_FORMAT else canonical(body)


def leaf_hash(event: dict[str, Any], leaf_format: int = 1) -> bytes:
    return hashlib.sha256(b"\x00" + sealed_bytes(event, leaf_format)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the RFC 6962 Merkle tree over ``leaves`` (already leaf-hashed), from the
    leaves up to the root: what audit paths are read from, computed once for a whole block."""
    levels = [list(leaves)]
    sha256 = hashlib.sha256
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [sha256(b"\x01" + left + right).digest() for left, right in zip(level[0::2], level[1::2])]
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


def block_header(leaves: list[bytes], index: int, first_seq: int, last_seq: int, prev_hash: str,
                 sealed_at: dt.datetime, leaf_format: int) -> BlockHeader:
    """The header of a block over ``leaves`` (already leaf-hashed), events ``first_seq``..``last_seq``."""
    return BlockHeader(
        index=index, first_seq=first_seq, last_seq=last_seq, count=len(leaves),
        root=merkle_root(leaves).hex(), prev_hash=prev_hash,
        sealed_at=sealed_at.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        leaf_format=leaf_format,
    )


def build_block(events: list[dict[str, Any]], index: int, prev_hash: str,
                sealed_at: dt.datetime, leaf_format: int = LEAF_FORMAT) -> tuple[BlockHeader, list[bytes]]:
    """A block over ``events`` (each as :func:`event_body` of ``leaf_format`` needs it) and its leaves."""
    leaves = [leaf_hash(e, leaf_format) for e in events]
    return block_header(leaves, index, events[0]["seq"], events[-1]["seq"], prev_hash, sealed_at, leaf_format), leaves
