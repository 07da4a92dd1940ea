"""An award as an Open Badges 3.0 credential: the specification's JSON Schema, the VC-JWT proof
checked by an independent JOSE implementation (jwcrypto), tampering, and the status list's bits."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwcrypto import jwk, jws

from hub.badges import credential as C
from hub.badges import status as S
from hub.documents.keys import PublicKey, b64u, kid_for

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "ob_v3p0_achievementcredential_schema.json")
                    .read_text(encoding="utf-8"))
ISSUER = C.Issuer("https://of-demo.example.fr", "Parcours Démo Formation SAS", "73282932000074")
AWARD = {
    "id": "01M994GQRKEKNTJS8PT1F61VDW", "seq": 567, "occurred_at": "2026-10-08T16:50:00+02:00",
    "type": "badge.awarded", "action": "ACT-2026-REACT-01",
    "data": {"badge": "react-composants", "name": "Composants React", "description": "A terminé le module.",
             "criteria": "Terminer le module mod-react.", "milestone": "module_completed",
             "occurrence": "ACT-2026-REACT-01", "recipient_name": "Camille Dubois",
             "identity_hash": C.identity_hash("camille.dubois@example.fr", "c5f3eb7b84cfb501"),
             "identity_salt": "c5f3eb7b84cfb501"},
}


def validator():
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    return cls(SCHEMA, format_checker=cls.FORMAT_CHECKER)


def keypair():
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, raw, kid_for(raw)


def test_the_credential_validates_against_the_open_badges_schema():
    credential = C.build(ISSUER, AWARD, "01M994GJK2F4F2GT7XQ2NJNM2F")
    errors = sorted(validator().iter_errors(credential), key=str)
    assert not errors, [e.message for e in errors]
    assert credential["@context"][:2] == ["https://www.w3.org/ns/credentials/v2",
                                          "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["validFrom"] == credential["issuanceDate"] == "2026-10-08T14:50:00Z"
    assert credential["credentialStatus"]["statusListIndex"] == "567"
    assert credential["credentialSubject"]["achievement"]["criteria"] == {"narrative": "Terminer le module mod-react."}
    # the schema is no rubber stamp: what it requires is required
    for broken in ({k: v for k, v in credential.items() if k != "issuanceDate"},
                   {**credential, "credentialSubject": {"type": ["AchievementSubject"]}},
                   {**credential, "credentialSubject": {**credential["credentialSubject"], "identifier": [
                       {"type": "IdentityObject", "hashed": True, "identityHash": "x", "identityType": "nope"}]}}):
        assert list(validator().iter_errors(broken))


def test_the_jws_verifies_with_an_independent_implementation_and_tampering_breaks_it():
    private, raw, kid = keypair()
    credential = C.build(ISSUER, AWARD, "01M994GJK2F4F2GT7XQ2NJNM2F")
    token = C.sign(credential, ISSUER.key_url(kid), private)
    public = jwk.JWK(kty="OKP", crv="Ed25519", x=b64u(raw))

    checked = jws.JWS()
    checked.allowed_algs = ["EdDSA"]
    checked.deserialize(token)
    checked.verify(public)  # raises when the signature does not verify
    header = checked.jose_header
    assert header == {"alg": "EdDSA", "kid": f"https://of-demo.example.fr/badges/keys/{kid}", "typ": "JWT"}
    claims = json.loads(checked.payload)
    assert claims["vc"] == credential
    assert (claims["iss"], claims["jti"], claims["sub"]) == (credential["issuer"]["id"], credential["id"],
                                                             credential["credentialSubject"]["id"])
    assert claims["nbf"] == 1791471000  # 2026-10-08T14:50:00Z, the credential's validFrom

    # the same credential with one word changed, the signature kept
    head, payload, signature = token.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_claims["vc"]["credentialSubject"]["achievement"]["name"] = "Certification React"
    forged = ".".join((head, b64u(json.dumps(forged_claims).encode()), signature))
    tampered = jws.JWS()
    tampered.allowed_algs = ["EdDSA"]
    tampered.deserialize(forged)
    with pytest.raises(jws.InvalidJWSSignature):
        tampered.verify(public)
    # the hub's own reading agrees
    parsed = C.parse(forged)
    assert not PublicKey(kid, raw, "").verify(parsed.signature, parsed.signing_input)
    assert PublicKey(kid, raw, "").verify(C.parse(token).signature, C.parse(token).signing_input)


def test_claims_that_disagree_with_the_credential_are_named():
    private, _raw, kid = keypair()
    credential = C.build(ISSUER, AWARD, "01M994GJK2F4F2GT7XQ2NJNM2F")
    parsed = C.parse(C.sign(credential, ISSUER.key_url(kid), private))
    assert C.claims_problem(parsed) is None
    wrong = C.Parsed(parsed.header, {**parsed.claims, "sub": "urn:uuid:someone-else"}, parsed.signing_input,
                     parsed.signature)
    assert C.claims_problem(wrong) == "claim sub does not match the credential"
    with pytest.raises(C.CredentialError, match="unsupported algorithm 'none'"):
        C.parse(b64u(b'{"alg":"none"}') + "." + b64u(b'{"vc":{}}') + ".")
    with pytest.raises(C.CredentialError, match="three base64url parts"):
        C.parse("not-a-jws")


def test_the_status_list_sets_the_bits_of_the_revoked_indices_left_to_right():
    encoded = S.encode([0, 9, 131_071], size=12)
    assert encoded.startswith("u")
    # decoded here without the hub's code: multibase base64url, then GZIP
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == S.MIN_ENTRIES // 8  # never smaller than 16 KB (group privacy)
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0100_0000 and raw[-1] == 0b0000_0001
    assert sum(bin(b).count("1") for b in raw) == 3
    assert [S.is_set(S.decode(encoded), i) for i in (0, 1, 9, 131_071)] == [True, False, True, True]
    bigger = S.decode(S.encode([200_000], size=200_001))
    assert len(bigger) * 8 >= 200_001 and S.is_set(bigger, 200_000)
    with pytest.raises(ValueError, match="outside the list"):
        S.encode([300_000], size=10)
