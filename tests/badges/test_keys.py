"""The badges' RSA key ring: kept with the document keys (same modes, same rotation rules); its
key id checkable from the public JWK alone (``parcours keys`` is tested in test_cli.py)."""

from __future__ import annotations

import stat

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from hub.badges.keys import RSA_FOLDER
from hub.documents.keys import KeyRing, KeyRingError, b64u_decode, kid_for


def test_the_rsa_ring_keeps_the_document_keys_rules(tmp_path):
    ring = KeyRing(tmp_path / "keys" / RSA_FOLDER, alg="RS256")
    try:
        ring.signer()
        raise AssertionError("a ring without a key must not sign")
    except KeyRingError as exc:
        assert "parcours keys generate" in str(exc)
    first = ring.generate()
    assert stat.S_IMODE(ring.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((ring.folder / f"{first.kid}.pem").stat().st_mode) == 0o600
    kid, private = ring.signer()
    assert kid == first.kid == kid_for(first.raw) and private.key_size >= 2048
    jwk = first.jwk()
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and "d" not in jwk
    # the kid is checkable from the public key alone: rebuild the SubjectPublicKeyInfo from n and e
    numbers = RSAPublicNumbers(int.from_bytes(b64u_decode(jwk["e"]), "big"), int.from_bytes(b64u_decode(jwk["n"]), "big"))
    spki = numbers.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kid_for(spki) == first.kid

    second, previous = ring.rotate()
    assert previous.kid == first.kid and ring.signer()[0] == second.kid
    keys = ring.lookup()
    assert keys[first.kid].status == "retired" and keys[second.kid].status == "active"
    assert {k.alg for k in keys.values()} == {"RS256"}
    signature = private.sign(b"x", padding.PKCS1v15(), hashes.SHA256())
    assert keys[first.kid].verify(signature, b"x") and not keys[second.kid].verify(signature, b"x")
    try:
        KeyRing(tmp_path / "other", alg="HS256")
        raise AssertionError("an unknown algorithm must be refused")
    except KeyRingError as exc:
        assert "unsupported key algorithm 'HS256'" in str(exc)
