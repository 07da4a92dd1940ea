"""The ledger's signed head, kept outside the store: what makes truncation detectable.

Blocks chain backwards: each header holds the previous block's hash, so removing the newest
blocks (or the newest block's row alone, which leaves its events "not sealed yet" to be edited
and sealed again) leaves a chain that checks out. After each seal and anchor the hub therefore
writes a *signed head* to a file outside the database, as Certificate Transparency logs publish
signed tree heads: the newest block's index and hash, the number of blocks, sealed events and
anchored blocks, and the time. It is signed with the organisation's active document key when the
document key ring holds one (anyone with its published keys can check the head), else with an
Ed25519 key the hub generates under its data dir.
``verify`` compares the store with it and says "the ledger is shorter than it was at T".

A head only moves forward along the same chain: when the store is shorter than the head, or its
block at the head's index has another hash, the head is not rewritten (``publish_head`` raises).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.ledger.merkle import canonical

HEAD_FORMAT = "parcours-ledger-head/1"
HEAD_FIELDS = ("format", "block", "hash", "blocks", "events", "anchored", "time", "key")
DOCUMENT_KEY = "document:"  # ``key`` of a head signed with a document key: ``document:<key id>``


class HeadError(Exception):
    """The signed head cannot be read or checked, or the store is behind it."""


@dataclass(frozen=True)
class HeadFile:
    """Where the signed head and the hub's head key are kept (``hub.ledger.head_file`` / ``head_key``).

    ``keyring`` (a :class:`hub.documents.keys.KeyRing`, given by the runtime) holds the
    organisation's document keys: its active key signs the head when there is one."""

    path: Path
    key_path: Path
    keyring: Any = None

    @classmethod
    def from_config(cls, config, keyring: Any = None) -> "HeadFile":
        ledger, data_dir = config.hub.ledger, config.data_dir
        path = config.resolve_path(ledger.head_file) if ledger.head_file else data_dir.parent / f"{data_dir.name}-ledger-head.json"
        key = config.resolve_path(ledger.head_key) if ledger.head_key else data_dir / "ledger-head.key"
        return cls(path, key, keyring)

    def _signer(self) -> tuple[str, Ed25519PrivateKey]:
        """(``key`` field, private key): the active document key, else the hub's head key."""
        if self.keyring is not None and self.keyring.active() is not None:
            kid, private = self.keyring.signer()
            return DOCUMENT_KEY + kid, private
        private = self.signing_key(create=True)
        return _public_hex(private.public_key()), private

    def _public_key(self, key: str) -> Ed25519PublicKey:
        """The public key a head's ``key`` field names, from the key ring or the hub's head key."""
        if key.startswith(DOCUMENT_KEY):
            found = self.keyring.get(key[len(DOCUMENT_KEY):]) if self.keyring is not None else None
            if found is None:
                raise HeadError(f"the signed head {self.path} names document key {key[len(DOCUMENT_KEY):]}, "
                                "which the document key ring does not hold")
            return Ed25519PublicKey.from_public_bytes(found.raw)
        public = self.signing_key().public_key()
        if key != _public_hex(public):
            raise HeadError(f"the signed head {self.path} was not signed with the hub's head key {self.key_path}")
        return public

    def signing_key(self, *, create: bool = False) -> Ed25519PrivateKey:
        """The head key; generated (mode 0600) on first use when ``create``."""
        if not self.key_path.exists():
            if not create:
                raise HeadError(f"the signed head {self.path} exists but its key {self.key_path} is missing")
            key = Ed25519PrivateKey.generate()
            self.key_path.parent.mkdir(parents=True, exist_ok=True)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            return key
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise HeadError(f"cannot read the head key {self.key_path}: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise HeadError(f"{self.key_path} is not an Ed25519 private key")
        return key

    def read(self) -> dict[str, Any] | None:
        """The newest signed head, its signature checked; None when none was written yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HeadError(f"cannot read the signed head {self.path}: {exc.strerror}") from None
        try:
            head = json.loads(raw)
            body = {name: head[name] for name in HEAD_FIELDS}
            signature = base64.b64decode(head["signature"], validate=True)
        except (ValueError, KeyError, TypeError):
            raise HeadError(f"the signed head {self.path} is not a Parcours Hub ledger head") from None
        if body["format"] != HEAD_FORMAT or not isinstance(body["key"], str):
            raise HeadError(f"the signed head {self.path} is not a Parcours Hub ledger head")
        public = self._public_key(body["key"])
        try:
            public.verify(signature, canonical(body))
        except InvalidSignature:
            raise HeadError(f"the signed head {self.path} was altered (its signature does not match)") from None
        return body

    def write(self, head: dict[str, Any]) -> dict[str, Any]:
        """Sign ``head`` (without ``key`` and ``signature``) and replace the file atomically."""
        key_id, key = self._signer()
        body = {**head, "format": HEAD_FORMAT, "key": key_id}
        signed = {**body, "signature": base64.b64encode(key.sign(canonical(body))).decode()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")  # the daemon and a CLI run may both write
        tmp.write_text(json.dumps(signed, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
        return body


def _public_hex(public) -> str:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def compare_head(head: dict[str, Any], blocks: int, events: int, anchored: int, head_hash: str | None) -> str | None:
    """What the store lacks against ``head`` (None: nothing). ``head_hash`` is the store's hash of
    the block the head names (None when it has no such block)."""
    at = head["time"]
    if blocks <= head["block"] or head_hash is None:
        return (f"the ledger is shorter than it was at {at}: the signed head records {head['blocks']} block(s) and "
                f"{head['events']} sealed event(s) (newest block {head['block']}); the store holds {blocks} block(s) "
                f"and {events} sealed event(s)")
    if head_hash != head["hash"]:
        return (f"block {head['block']} is not the block the signed head of {at} records: the ledger was rewritten "
                "from there")
    if anchored < head["anchored"]:
        return (f"time-stamp anchors were removed: the signed head of {at} records {head['anchored']} anchored "
                f"block(s), the store holds {anchored}")
    return None


def publish_head(store, head_file: HeadFile, *, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Write the signed head of the store's newest block if it moved (store thread); the head or None.

    Raises HeadError, leaving the file as it is, when the store is behind the head already written."""
    old = head_file.read()
    totals, last = store.block_totals(), store.last_block()
    if old is not None:
        kept = store.block(old["block"])
        problem = compare_head(old, totals["blocks"], totals["events"], totals["anchored"],
                               kept["hash"] if kept else None)
        if problem is not None:
            raise HeadError(f"{problem}; the signed head is left as it was")
        if old["block"] == last["index"] and old["anchored"] == totals["anchored"]:
            return old
    if last is None:
        return None
    time = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return head_file.write({"block": last["index"], "hash": last["hash"], **totals,
                            "time": time.isoformat(timespec="seconds").replace("+00:00", "Z")})


async def publish_signed_head(store, head_file: HeadFile, log: Any) -> dict[str, Any] | None:
    """:func:`publish_head` from the event loop (what ``Hub.seal`` calls after sealing and anchoring):
    a store behind the head, or a head that cannot be written, is logged as an error, never raised."""
    try:
        return await store.call(publish_head, store, head_file)
    except (HeadError, OSError) as exc:
        log.error("ledger head not written", path=str(head_file.path), error=str(exc))
        return None
