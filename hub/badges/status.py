"""Revocation as a W3C Bitstring Status List (Bitstring Status List v1.0, W3C Recommendation).

One list, ``revocation``: bit *i* set means the credential whose ``statusListIndex`` is *i* is
revoked. A credential's index is its award event's sequence number in the ledger, so the list
covers at least every sequence number issued so far, and never less than 131,072 entries (the
specification's minimum, which gives group privacy). Bit 0 is the left-most bit of the first byte.
``encodedList`` is the multibase base64url (prefix ``u``, no padding) of the GZIP-compressed list.
"""

from __future__ import annotations

import datetime as dt
import gzip
from typing import Any, Iterable

from hub.badges.credential import VC_CONTEXT, Issuer, utc_text
from hub.documents.keys import b64u, b64u_decode

MIN_ENTRIES = 131_072


def encode(revoked: Iterable[int], size: int) -> str:
    """The ``encodedList`` of a list of ``size`` entries (rounded up to whole bytes, at least the
    minimum) where the indices ``revoked`` are set."""
    entries = max(MIN_ENTRIES, size)
    bits = bytearray((entries + 7) // 8)
    for index in revoked:
        if not 0 <= index < len(bits) * 8:
            raise ValueError(f"status index {index} is outside the list of {len(bits) * 8} entries")
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + b64u(gzip.compress(bytes(bits), mtime=0))


def decode(encoded: str) -> bytes:
    """The bitstring of an ``encodedList``. Raises ValueError when it is not one."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (prefix u)")
    return gzip.decompress(b64u_decode(encoded[1:]))


def is_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise ValueError(f"status index {index} is outside the list of {len(bits) * 8} entries")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def list_credential(issuer: Issuer, revoked: Iterable[int], size: int, now: dt.datetime) -> dict[str, Any]:
    """The BitstringStatusListCredential the badges' ``credentialStatus`` points at."""
    url = issuer.status_list_url()
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.id,
        "validFrom": utc_text(now),
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList", "statusPurpose": "revocation",
                              "encodedList": encode(revoked, size)},
    }
