"""The badges' signing keys: which key ring signs a credential, and which keys verify one.

Badges are signed ``RS256`` by default (the one algorithm Open Badges 3.0, 8.2.3, requires every
verifier to support) with an RSA key ring kept in the organisation's keys folder
(``<keys_dir>/badges-rs256``: same file modes, same rotation as the document keys), or ``EdDSA``
with the document keys themselves (``hub.badges.algorithm``). Verification accepts a key of either
ring, so credentials signed before a change of algorithm still verify.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.documents.keys import KeyRing, PublicKey
from hub.documents.settings import keys_dir

if TYPE_CHECKING:
    from hub.config import LoadedConfig

RSA_FOLDER = "badges-rs256"


def rsa_ring(config: "LoadedConfig") -> KeyRing:
    """The RSA key ring of badges (created by ``parcours keys generate``, rotated with the document keys)."""
    return KeyRing(keys_dir(config) / RSA_FOLDER, alg="RS256")


def signing_ring(config: "LoadedConfig") -> KeyRing:
    """The key ring whose active key signs new credentials, after ``hub.badges.algorithm``."""
    if config.hub.badges.algorithm == "RS256":
        return rsa_ring(config)
    return KeyRing(keys_dir(config))


def signer(config: "LoadedConfig", ring: KeyRing | None = None) -> tuple[str, Any, str]:
    """(key id, private key, JWS algorithm) of the active badge key (KeyRingError when none)."""
    ring = ring or signing_ring(config)
    kid, private = ring.signer()
    return kid, private, ring.alg


def verifying_keys(config: "LoadedConfig") -> dict[str, PublicKey]:
    """Every key a badge credential may have been signed with: the RSA ring's and the document keys
    (active or retired)."""
    return {**KeyRing(keys_dir(config)).lookup(), **rsa_ring(config).lookup()}
