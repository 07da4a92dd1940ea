"""Time-stamp tokens checked in Python (hub.ledger.tsp_check) with no ``openssl`` on the PATH, and
the same verdicts as ``openssl ts -verify``, the independent oracle; tokens made by another
implementation (pyHanko's time-stamper) check out too, and a certificate that is not a TSA's is refused."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.ledger.anchoring import AnchorStatus, anchor_block, build_request, verify_anchor
from tests.fakes.tsa import tsa_peer_fixture, tsa_pki_fixture  # noqa: F401  (fixtures)
from tests.test_anchoring import openssl_verify, sealed_hub, session, settings_for  # noqa: F401  (fixture)


async def test_tokens_are_checked_without_openssl_as_openssl_does(make_hub, tsa_peer, session, tmp_path, monkeypatch):
    hub, _, blocks = await sealed_hub(make_hub, n=3)
    anchor = await anchor_block(session, blocks[0], settings_for(tsa_peer))  # the TSA is openssl ts -reply
    pki, der, digest = tsa_peer.pki, anchor.der, blocks[0]["hash"]
    altered = bytearray(der)
    altered[-3] ^= 0x01  # inside the signature value
    cases = {"genuine, our CA": (der, pki.ca, AnchorStatus.VALID),
             "genuine, another CA": (der, pki.other_ca, AnchorStatus.UNTRUSTED),
             "altered signature": (bytes(altered), pki.ca, AnchorStatus.SIGNATURE_INVALID)}
    oracle = {name: openssl_verify(token, digest, ca, tmp_path) for name, (token, ca, _) in cases.items()}
    assert oracle["genuine, our CA"] == "OK"
    assert all(verdict != "OK" for name, verdict in oracle.items() if name != "genuine, our CA")
    monkeypatch.setenv("PATH", str(tmp_path))  # no openssl from here on
    for name, (token, ca, expected) in cases.items():
        check = verify_anchor(blocks[0], token, [ca])
        assert check.status is expected, (name, check)
    assert "not trusted" in verify_anchor(blocks[0], der, [pki.other_ca]).detail


def _tsa_like(pki, eku, name: str) -> tuple[asn1_x509.Certificate, asn1_keys.PrivateKeyInfo]:
    """An RSA certificate (pyHanko's test time-stamper is RSA-only) signed by the test TSA's root CA,
    with extended key usage ``eku`` (critical)."""
    ca_key = serialization.load_pem_private_key((pki.dir / "tsa-ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage(eku), critical=True).sign(ca_key, hashes.SHA256()))
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return (asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            asn1_keys.PrivateKeyInfo.load(pkcs8))


def _pyhanko_token(cert, key, digest_hex: str) -> bytes:
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    request = tsp.TimeStampReq.load(build_request(digest_hex)[0])
    response = asyncio.run(DummyTimeStamper(cert, key).async_request_tsa_response(request))
    return response["time_stamp_token"].dump()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_token_from_another_implementation_and_a_certificate_that_is_not_a_tsa(tsa_pki):
    digest = "ab" * 32
    block = {"index": 0, "hash": digest}
    # pyHanko's time-stamper (RSA, PKCS#1 v1.5), with a TSA certificate of our CA
    token = _pyhanko_token(*_tsa_like(tsa_pki, [ExtendedKeyUsageOID.TIME_STAMPING], "Another TSA"), digest)
    assert verify_anchor(block, token, [tsa_pki.ca]).ok
    assert verify_anchor(block, token, [tsa_pki.other_ca]).status is AnchorStatus.UNTRUSTED
    # the same CA, but a web server's certificate: it may not time-stamp
    token = _pyhanko_token(*_tsa_like(tsa_pki, [ExtendedKeyUsageOID.SERVER_AUTH], "Not a TSA"), digest)
    check = verify_anchor(block, token, [tsa_pki.ca])
    assert check.status is AnchorStatus.UNTRUSTED and "timeStamping" in check.detail
    # and a token for another digest is refused before any signature is looked at
    assert verify_anchor({"index": 0, "hash": "cd" * 32}, token, [tsa_pki.ca]).status is AnchorStatus.IMPRINT_MISMATCH
