"""Inclusion proofs for the events of a pack, from the blocks' stored leaf hashes.

``parcours prove`` re-reads and re-hashes a whole block for one event; a pack proves hundreds of
events, so :class:`BlockProofs` keeps the tree of one block at a time (the events of a learner come
in ledger order): the block's stored leaves (``blocks.leaves``), checked once against the block's
Merkle root, and every level of its tree. An event's leaf is recomputed from the event (for a
format-3 block, from its row's columns as stored, which its proof then carries) and looked up among
the leaves: an event that does not hash to a sealed leaf is an alteration, and the pack stops
(``parcours verify`` names it). Each proof is what :func:`hub.ledger.integrity.prove` gives.
"""

from __future__ import annotations

from typing import Any, Callable

from hub.errors import HubError
from hub.ledger.anchoring import MAX_LOOKBACK, covering_anchor
from hub.ledger.integrity import inclusion_proof
from hub.ledger.merkle import LEAF_COLUMNS, STORED_FORMAT, BlockHeader, leaf_hash, path_in_tree, tree_levels

Read = Callable[..., Any]  # read(fn, *args, **kwargs): runs a store method on the store's thread


class LedgerAltered(HubError):
    """The ledger does not match its seal: no pack is made from it."""


class BlockProofs:
    """Proofs of events, block by block; remembers every block and anchor it used."""

    def __init__(self, store, read: Read, last_block: dict[str, Any] | None):
        self.store, self.read = store, read
        self.last_seq = last_block["last_seq"] if last_block else 0  # events after it are not sealed yet
        self.last_index = last_block["index"] if last_block else -1
        self._block: dict[str, Any] | None = None
        self._levels: list[list[bytes]] = []
        self._positions: dict[bytes, int] = {}
        self._header: dict[str, Any] = {}  # the block's hashed fields and hash, as a proof carries them
        self._anchor: tuple[Any, list[dict[str, Any]]] = (None, [])
        self._covered: tuple[int, Any, list[dict[str, Any]]] | None = None  # (block, its anchor, chain) last looked up
        self._stored: dict[int, dict[str, Any]] = {}  # rows as stored of the events about to be proved (format 3)
        self.blocks: set[int] = set()  # blocks of the proved events, and those their anchors sit on
        self.anchored: set[int] = set()  # blocks whose anchor a proof carries

    def prefetch(self, events: list[dict[str, Any]]) -> None:
        """Read at once the stored rows of ``events`` that sealed format-3 blocks may need, before
        they are proved one by one (one query per page of events, not one per event)."""
        sealed = [e["seq"] for e in events if e["seq"] <= self.last_seq]
        self._stored = self.read(self.store.stored_rows_at, LEAF_COLUMNS, sealed) if sealed else {}

    def prove(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The inclusion proof of ``event`` (a stored event with its ``learner_key``); None when it is
        not sealed yet, or was erased (hub.privacy: the hub keeps its leaf hash, not what it hashed)."""
        if event["seq"] > self.last_seq:
            return None
        block = self._block_of(event["seq"])
        if block is None:
            return None
        leaf_format = self._header.get("leaf_format") or 1
        if leaf_format >= STORED_FORMAT:  # sealed as its columns are stored: the proof carries them
            event = self._stored.get(event["seq"]) or \
                self.read(self.store.stored_rows, LEAF_COLUMNS, event["seq"], event["seq"])[0]
        index = self._positions.get(leaf_hash(event, leaf_format))
        if index is None and self.read(self.store.erased_seqs, event["seq"], event["seq"]):
            return None
        if index is None:
            raise LedgerAltered(f"event {event['id']} does not hash to any leaf of block {block['index']}: it was "
                                "altered after sealing (run `parcours verify`)")
        anchor, chain = self._anchor
        return inclusion_proof(event, self._header, index, path_in_tree(self._levels, index), anchor, chain)

    def _block_of(self, seq: int) -> dict[str, Any] | None:
        block = self._block
        if block is not None and block["first_seq"] <= seq <= block["last_seq"]:
            return block
        block = self.read(self.store.block_for_seq, seq)
        if block is None:
            return None
        header = BlockHeader.of(block)
        if header.hash != block["hash"]:
            raise LedgerAltered(f"block {header.index}: its header was altered (hash mismatch; run `parcours verify`)")
        stored = self.read(self.store.block_leaves, header.index) or b""
        leaves = [stored[i:i + 32] for i in range(0, len(stored), 32)]
        if len(leaves) != header.count:
            raise LedgerAltered(f"block {header.index}: its stored leaf hashes were removed or altered (run `parcours verify`)")
        levels = tree_levels(leaves)
        if levels[-1][0].hex() != header.root:
            raise LedgerAltered(f"block {header.index}: its stored leaf hashes do not give its Merkle root "
                                "(run `parcours verify`)")
        self._block, self._levels = block, levels
        self._header = {**header.fields(), "hash": block["hash"]}
        self._positions = {leaf: i for i, leaf in enumerate(leaves)}
        self._anchor = self._covering(block)
        self.blocks.add(header.index)
        anchor, chain = self._anchor
        if anchor is not None:
            on = chain[-1]["index"] if chain else header.index
            self.blocks.add(on)
            self.anchored.add(on)
        return block

    def _covering(self, block: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
        """The anchor that dates ``block`` and the headers chaining it there (see
        :func:`hub.ledger.anchoring.covering_anchor`), from the previous block's when it tells: blocks
        come in ledger order, and without this each block would walk forward to the next anchor again."""
        known = self._covered
        if not block.get("anchor") and known is not None and known[0] < block["index"]:
            _, anchor, chain = known
            if anchor is None and known[0] + MAX_LOOKBACK >= self.last_index:
                return None, []  # nothing anchored after an earlier block, up to the newest: nor after this one
            rest = [h for h in chain if h["index"] > block["index"]]
            if anchor is not None and rest:  # the anchored block comes after this one: the same anchor, a shorter chain
                return anchor, rest
        anchor, chain = self.read(covering_anchor, self.store, block)
        self._covered = (block["index"], anchor, chain)
        return anchor, chain
