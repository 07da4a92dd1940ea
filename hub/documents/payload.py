"""The signed payload carried by a document's QR code, and its verification URL.

A document's *fields* (what it states: learner, action, dates, hours, organisation… see
:mod:`hub.documents.fields`) are encoded canonically — JSON with sorted keys, no spaces, UTF-8,
strings in Unicode NFC — and hashed with SHA-256. The compact payload signs that hash:

``PH1.<base64url(header)>.<base64url(signature)>``

* ``header`` (23 bytes): format version (1), document-type code (1, see ``TYPE_CODES``), key id
  (5 bytes, the first 5 bytes of SHA-256 of the public key), and the first 16 bytes of
  SHA-256(canonical fields);
* ``signature``: Ed25519 over ``b"parcours-document/1\\0" || document id (16-byte ULID) || header``.

The QR code holds the verification URL ``<public_url>/verify/<document id>?p=<payload>``: about
160 characters plus the public URL, which stays within QR version 10 at error level M (213 bytes)
for public URLs up to 54 characters. The payload carries no personal data (a hash, not the
fields), so it may appear in access logs.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import zxingcpp

from hub.documents import TYPE_CODES
from hub.documents.keys import b64u, b64u_decode, kid_decode, kid_encode

MAGIC = "PH1"
VERSION = 1
DOMAIN = b"parcours-document/1\x00"
DIGEST_BYTES = 16
HEADER_BYTES = 1 + 1 + 5 + DIGEST_BYTES
ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
PAYLOAD_RE = re.compile(r"PH1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
CROCKFORD_UPPER = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_TYPES = {code: name for name, code in TYPE_CODES.items()}
QR_MAX_VERSION = 10
ATTACHMENT = "parcours-document.json"  # the PDF's embedded copy of the URL, payload and fields
EMBED_FORMAT = "parcours-document/1"


class PayloadError(ValueError):
    """The text is not a well-formed payload or verification URL."""


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nfc(v) for v in value]
    return value


def canonical(fields: dict[str, Any]) -> bytes:
    """The canonical encoding of a document's fields (what the signature covers, through its hash)."""
    return json.dumps(_nfc(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fields_digest(fields: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical(fields)).digest()[:DIGEST_BYTES]


def is_ulid(value: str) -> bool:
    return bool(ULID_RE.match(value or ""))


def ulid_bytes(doc_id: str) -> bytes:
    if not is_ulid(doc_id):
        raise PayloadError(f"invalid document id {doc_id!r} (expected a ULID)")
    value = 0
    for ch in doc_id:
        value = (value << 5) | CROCKFORD_UPPER.index(ch)
    return value.to_bytes(16, "big")


@dataclass(frozen=True)
class Payload:
    version: int
    doc_type: str | None  # None for an unknown type code
    type_code: int
    kid: str
    digest: bytes
    signature: bytes
    header: bytes

    @property
    def text(self) -> str:
        return f"{MAGIC}.{b64u(self.header)}.{b64u(self.signature)}"

    def message(self, doc_id: str) -> bytes:
        return DOMAIN + ulid_bytes(doc_id) + self.header


def _header(doc_type: str, kid: str, digest: bytes) -> bytes:
    return bytes([VERSION, TYPE_CODES[doc_type]]) + kid_decode(kid) + digest


def sign(doc_id: str, doc_type: str, fields: dict[str, Any], kid: str, private_key) -> str:
    """The payload text of a document (``private_key``: an Ed25519PrivateKey)."""
    header = _header(doc_type, kid, fields_digest(fields))
    signature = private_key.sign(DOMAIN + ulid_bytes(doc_id) + header)
    return f"{MAGIC}.{b64u(header)}.{b64u(signature)}"


def parse(text: str) -> Payload:
    """Decode a payload text. Raises PayloadError when it is not well formed."""
    parts = (text or "").strip().split(".")
    if len(parts) != 3 or parts[0] != MAGIC:
        raise PayloadError("not a Parcours document payload (expected PH1.<header>.<signature>)")
    try:
        header, signature = b64u_decode(parts[1]), b64u_decode(parts[2])
    except (ValueError, TypeError):
        raise PayloadError("payload is not valid base64url") from None
    if len(header) != HEADER_BYTES or len(signature) != 64:
        raise PayloadError("payload has the wrong length")
    if header[0] != VERSION:
        raise PayloadError(f"unsupported payload version {header[0]}")
    return Payload(version=header[0], doc_type=CODE_TYPES.get(header[1]), type_code=header[1],
                   kid=kid_encode(header[2:7]), digest=header[7:], signature=signature, header=header)


def check_signature(payload: Payload, doc_id: str, public_key) -> bool:
    """``public_key``: a :class:`hub.documents.keys.PublicKey`."""
    return public_key.verify(payload.signature, payload.message(doc_id))


def verification_url(base: str, doc_id: str, payload_text: str) -> str:
    return f"{base.rstrip('/')}/verify/{doc_id}?p={payload_text}"


def page_url(base: str, doc_id: str) -> str:
    return f"{base.rstrip('/')}/verify/{doc_id}"


def parse_url(text: str) -> tuple[str | None, str | None]:
    """(document id, payload text) from a scanned QR text: a verification URL (payload in ``?p=``
    or after ``#``), or a bare payload (document id unknown)."""
    text = (text or "").strip()
    if text.startswith(MAGIC + "."):
        return None, text
    parts = urlsplit(text)
    match = re.search(r"/verify/([0-9A-Za-z]{26})/?$", parts.path)
    if not match:
        raise PayloadError("not a Parcours verification URL (…/verify/<document id>?p=…)")
    doc_id = match.group(1).upper()
    payload = (parse_qs(parts.query).get("p") or [None])[0]
    if payload is None and parts.fragment.startswith(MAGIC + "."):
        payload = parts.fragment
    return doc_id, payload


def embedded_json(doc_id: str, url: str, payload: str, fields: dict[str, Any]) -> bytes:
    """The content of the PDF's ``parcours-document.json``: a verifier needs no QR decoder for an intact PDF."""
    return json.dumps({"format": EMBED_FORMAT, "id": doc_id, "url": url, "payload": payload, "fields": fields},
                      ensure_ascii=False, sort_keys=True, indent=1).encode()


@dataclass(frozen=True)
class QrCode:
    """A QR code: its version (1–40) and its modules, one ``bytes`` row each (1 dark, 0 light),
    without the quiet zone."""

    version: int
    matrix: tuple[bytes, ...]


_DARK = bytes.maketrans(b"\x00\xff", b"\x01\x00")  # zxing-cpp's image: 0 black, 255 white


def make_qr(url: str) -> QrCode:
    """The QR code of ``url`` at error level M, version as small as fits (zxing-cpp's encoder, in
    C++: segno, in pure Python, took half of a certificate's rendering choosing among the 8 masks)."""
    image = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(
        scale=1, add_quiet_zones=False)
    n = image.shape[0]
    cells = bytes(memoryview(image)).translate(_DARK)
    return QrCode((n - 17) // 4, tuple(cells[i:i + n] for i in range(0, n * n, n)))
