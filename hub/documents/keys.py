"""The document-signing key ring: Ed25519 keys with key ids, rotation, and the public keys document.

A ring holds keys of one algorithm: ``EdDSA`` (Ed25519, the documents' algorithm and the default) or ``RS256``
(RSA 3072 bits, PKCS#1 v1.5 with SHA-256: the badges' default, see docs/badges.md), in the same
layout, with the same file modes and the same rotation rules.

Layout of the keys folder (``hub.documents.keys_dir``, default ``<data_dir>/keys``, mode 0700):

* ``<kid>.pem`` — a private key (PKCS#8 PEM, file mode 0600), one per key ever generated;
* ``keyring.json`` — the public part: for every key its id, public key, creation time and, once
  rotated out, its retirement time. Exactly one key is active (signs new documents); retired keys
  stay so that the documents they signed remain verifiable.

A key id is derived from the public key (the first 5 bytes of its SHA-256 in Crockford base32,
8 characters), so anyone holding the public key can check the id. It travels in every payload.

The public keys document (``GET /.well-known/parcours-keys.json``) is JWKS-like (RFC 7517 with the
OKP key type of RFC 8037): ``{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": …, "kid": …, …}]}``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from hub.errors import HubError

# cryptography loads on use, in the methods that sign, verify or read keys (see the package's docstring).

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
KID_BYTES = 5
KEYRING = "keyring.json"
FORMAT = "parcours-keys/1"
ALGORITHMS = ("EdDSA", "RS256")
#: RSA modulus size: RFC 7518 3.3 requires 2048 bits or more; ANSSI (RGS annexe B1) advises 3072
#: for keys used beyond 2030
RSA_BITS = 3072


class KeyRingError(HubError):
    """A key-ring problem the admin must fix (no key yet, unreadable file…)."""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kid_encode(raw: bytes) -> str:
    value = int.from_bytes(raw, "big")
    bits = len(raw) * 8
    return "".join(CROCKFORD[(value >> (bits - 5 * (i + 1))) & 31] for i in range(bits // 5))


def kid_decode(kid: str) -> bytes:
    value = 0
    for ch in kid.lower():
        index = CROCKFORD.find(ch)
        if index < 0:
            raise ValueError(f"invalid key id {kid!r}")
        value = (value << 5) | index
    return value.to_bytes(len(kid) * 5 // 8, "big")


def kid_for(public_raw: bytes) -> str:
    return kid_encode(hashlib.sha256(public_raw).digest()[:KID_BYTES])


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def public_raw(public) -> bytes:
    """The bytes a key id derives from: the raw 32 bytes of an Ed25519 public key, the DER
    SubjectPublicKeyInfo of an RSA one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if isinstance(public, Ed25519PublicKey):
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def sign_with(private, alg: str, message: bytes) -> bytes:
    """The JWS signature of ``message`` with ``private`` (RFC 8037 EdDSA, or RFC 7518 RS256)."""
    if alg == "RS256":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return private.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return private.sign(message)


def _uint(value: int) -> str:
    return b64u(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class PublicKey:
    kid: str
    raw: bytes  # EdDSA: the 32 bytes of the key; RS256: its DER SubjectPublicKeyInfo
    created_at: str
    retired_at: str | None = None
    alg: str = "EdDSA"

    @property
    def status(self) -> str:
        return "retired" if self.retired_at else "active"

    def verifier(self):
        if self.alg == "RS256":
            from cryptography.hazmat.primitives import serialization

            return serialization.load_der_public_key(self.raw)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        return Ed25519PublicKey.from_public_bytes(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            if self.alg == "RS256":
                from cryptography.hazmat.primitives import hashes
                from cryptography.hazmat.primitives.asymmetric import padding

                self.verifier().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                self.verifier().verify(signature, message)
            return True
        except InvalidSignature:
            return False

    def jwk(self) -> dict[str, Any]:
        if self.alg == "RS256":
            numbers = self.verifier().public_numbers()
            key = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
        else:
            key = {"kty": "OKP", "crv": "Ed25519", "x": b64u(self.raw)}
        out = {**key, "kid": self.kid, "alg": self.alg, "use": "sig",
               "status": self.status, "created_at": self.created_at}
        if self.retired_at:
            out["retired_at"] = self.retired_at
        return out


def keys_document(keys: Iterable[PublicKey], issuer: str | None = None) -> dict[str, Any]:
    """The public keys document (JWKS-like)."""
    doc: dict[str, Any] = {"format": FORMAT, "keys": [k.jwk() for k in keys]}
    if issuer:
        doc["issuer"] = issuer
    return doc


def parse_keys_document(doc: dict[str, Any]) -> dict[str, PublicKey]:
    """Public keys from a keys document (``parcours verify-document --keys FILE``)."""
    out = {}
    for entry in doc.get("keys", []):
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        raw = b64u_decode(entry["x"])
        kid = kid_for(raw)
        if entry.get("kid") not in (None, kid):
            raise ValueError(f"key {entry.get('kid')!r}: its id does not match its public key ({kid})")
        out[kid] = PublicKey(kid, raw, entry.get("created_at", ""), entry.get("retired_at"))
    return out


class KeyRing:
    """Keys of one algorithm (``EdDSA`` by default, or ``RS256``) in a folder. Not safe against two
    processes rotating at once (an admin command)."""

    def __init__(self, folder: str | os.PathLike, alg: str = "EdDSA"):
        if alg not in ALGORITHMS:
            raise KeyRingError(f"unsupported key algorithm {alg!r} (expected one of {', '.join(ALGORITHMS)})")
        self.folder = Path(folder)
        self.alg = alg
        self._signer_cache: tuple[str, Any] | None = None

    # ------------------------------------------------------------------ reading
    def _index(self) -> list[dict[str, Any]]:
        path = self.folder / KEYRING
        if not path.exists():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyRingError(f"{path}: unreadable key ring: {exc}") from None
        return data.get("keys", [])

    def public_keys(self) -> list[PublicKey]:
        return [PublicKey(e["kid"], b64u_decode(e["x"]), e["created_at"], e.get("retired_at"), e.get("alg", "EdDSA"))
                for e in self._index()]

    def lookup(self) -> dict[str, PublicKey]:
        return {k.kid: k for k in self.public_keys()}

    def get(self, kid: str) -> PublicKey | None:
        return self.lookup().get(kid)

    def active(self) -> PublicKey | None:
        active = [k for k in self.public_keys() if k.retired_at is None]
        return active[-1] if active else None

    def signer(self) -> tuple[str, Any]:
        """(key id, private key) of the active key. Raises KeyRingError when there is none."""
        from cryptography.hazmat.primitives import serialization

        active = self.active()
        if active is None:
            raise KeyRingError(f"no signing key in {self.folder}: run `parcours keys generate`")
        if self._signer_cache and self._signer_cache[0] == active.kid:
            return self._signer_cache
        path = self.folder / f"{active.kid}.pem"
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise KeyRingError(f"{path}: cannot read the private key of {active.kid}: {exc}") from None
        if public_raw(private.public_key()) != active.raw:
            raise KeyRingError(f"{path}: this private key does not match public key {active.kid} of the key ring")
        self._signer_cache = (active.kid, private)
        return self._signer_cache

    # ------------------------------------------------------------------ changing
    def generate(self) -> PublicKey:
        """Create the first key. Refuses when a key already exists (use :meth:`rotate`)."""
        if self._index():
            raise KeyRingError(f"{self.folder} already holds keys: use `parcours keys rotate` for a new one")
        return self._add(retire_previous=False)

    def rotate(self) -> tuple[PublicKey, PublicKey | None]:
        """A new active key; the previous one is retired (still published, still verifies)."""
        previous = self.active()
        return self._add(retire_previous=True), previous

    def _add(self, *, retire_previous: bool) -> PublicKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        if self.alg == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        else:
            private = Ed25519PrivateKey.generate()
        raw = public_raw(private.public_key())
        kid = kid_for(raw)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        key_path = self.folder / f"{kid}.pem"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(key_path, 0o600)  # whatever the umask
        now = _now()
        entries = self._index()
        if retire_previous:
            for entry in entries:
                entry.setdefault("retired_at", None)
                if entry["retired_at"] is None:
                    entry["retired_at"] = now
        entry = {"kid": kid, "x": b64u(raw), "created_at": now, "retired_at": None}
        if self.alg != "EdDSA":
            entry["alg"] = self.alg
        entries.append(entry)
        self._write_index(entries)
        self._signer_cache = None
        return PublicKey(kid, raw, now, alg=self.alg)

    def _write_index(self, entries: list[dict[str, Any]]) -> None:
        text = json.dumps({"format": FORMAT, "keys": entries}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".keyring-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.folder / KEYRING)

    def document(self, issuer: str | None = None) -> dict[str, Any]:
        return keys_document(self.public_keys(), issuer)
