"""Checking an RFC 3161 time-stamp token's CMS signature and TSA certificate, in Python.

``asn1crypto`` parses the token, ``cryptography`` verifies the signatures. What is checked, as
``openssl ts -verify`` does (the tests keep that command as an independent oracle):

1. the signed attributes: content type ``id-ct-TSTInfo``, message digest = hash of the TSTInfo;
2. the ESS ``signingCertificate`` (v1 or v2) names the certificate that signed (RFC 5816);
3. the signature over the signed attributes, with that certificate's key (RSA, RSA-PSS, ECDSA,
   Ed25519);
4. that certificate is a TSA certificate: extended key usage ``timeStamping``, alone and critical
   (RFC 3161 §2.3);
5. it chains, through the certificates the token carries, to one of the trusted CAs, each
   certificate valid at the given time and each issuer a CA.

:func:`check_signed_data` raises :class:`Rejected` with the status name (``"signature invalid"``,
``"untrusted"``, ``"malformed"``) and a short reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
import warnings
from pathlib import Path
from typing import Any, Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

SIGNATURE_INVALID = "signature invalid"
UNTRUSTED = "untrusted"
MALFORMED = "malformed"
ALTERED = "the token's signature does not match its content (altered token)"
MAX_CHAIN = 8


class Rejected(Exception):
    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _untrusted(why: str) -> Rejected:
    return Rejected(UNTRUSTED, f"the TSA certificate is not trusted ({why})")


def load_pem_bundle(paths: Iterable[Path]) -> list[x509.Certificate]:
    """Every certificate of the PEM files ``paths``; ValueError when a file holds none."""
    out: list[x509.Certificate] = []
    for path in paths:
        try:
            out.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except ValueError:
            raise ValueError(f"no PEM certificate in {path}") from None
    return out


def system_trust_store() -> list[x509.Certificate]:
    """The host's CA certificates (OpenSSL's default file, else its default folder)."""
    paths = ssl.get_default_verify_paths()
    files = [Path(paths.cafile)] if paths.cafile and Path(paths.cafile).is_file() else []
    if not files and paths.capath and Path(paths.capath).is_dir():
        files = sorted(p for p in Path(paths.capath).iterdir() if p.suffix in (".pem", ".crt") and p.is_file())
    certs: list[x509.Certificate] = []
    for path in files:
        try:
            with warnings.catch_warnings():  # a distribution's old roots (e.g. a zero serial) are not ours to flag
                warnings.simplefilter("ignore")
                certs.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except ValueError:  # a stray file in the folder
            continue
    return certs


def _hash(name: str):
    try:
        return {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
                "sha512": hashes.SHA512}[name]()
    except KeyError:
        raise Rejected(SIGNATURE_INVALID, f"unsupported digest algorithm {name}") from None


def _signer_certificate(signer_info, certificates: list[Any]) -> Any:
    """The asn1crypto certificate the signer identifier names, among those the token carries."""
    sid = signer_info["sid"]
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise _untrusted("the token does not carry the certificate that signed it")


def _signed_attributes(signer_info, content: bytes, signer_der: bytes) -> bytes:
    """Check the signed attributes; return the bytes the signature covers."""
    attrs = signer_info["signed_attrs"]
    if not attrs:
        raise Rejected(SIGNATURE_INVALID, "the token has no signed attributes (RFC 3161 requires them)")
    values = {attr["type"].native: attr["values"] for attr in attrs}
    if values.get("content_type") is None or values["content_type"][0].native != "tst_info":
        raise Rejected(SIGNATURE_INVALID, "the signed content type is not a TSTInfo")
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in hashlib.algorithms_available:
        raise Rejected(SIGNATURE_INVALID, f"unsupported digest algorithm {digest_name}")
    if values.get("message_digest") is None or values["message_digest"][0].native != hashlib.new(digest_name, content).digest():
        raise Rejected(SIGNATURE_INVALID, ALTERED)
    ess = values.get("signing_certificate_v2") or values.get("signing_certificate")
    if ess is None:
        raise Rejected(SIGNATURE_INVALID, "the token does not name its signing certificate (ESS signingCertificate)")
    first = ess[0]["certs"][0]
    algorithm = first["hash_algorithm"]["algorithm"].native if "hash_algorithm" in first else "sha1"
    if first["cert_hash"].native != hashlib.new(algorithm, signer_der).digest():
        raise Rejected(SIGNATURE_INVALID, "the ESS signingCertificate names another certificate than the signer's")
    return b"\x31" + attrs.dump()[1:]  # signed as a SET OF, not with the [0] IMPLICIT tag


def _verify_signature(signer_info, key, data: bytes) -> None:
    signature = signer_info["signature"].native
    algorithm = signer_info["signature_algorithm"]
    try:
        kind = algorithm.signature_algo
    except ValueError:
        raise Rejected(SIGNATURE_INVALID, f"unsupported signature algorithm {algorithm['algorithm'].native}") from None
    digest = _hash(signer_info["digest_algorithm"]["algorithm"].native)
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            pss_hash = _hash(params["hash_algorithm"]["algorithm"].native)
            mgf_hash = _hash(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            key.verify(signature, data, padding.PSS(padding.MGF1(mgf_hash), params["salt_length"].native), pss_hash)
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(digest))
        elif kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            raise Rejected(SIGNATURE_INVALID, f"signature algorithm {kind} does not fit the certificate's key")
    except InvalidSignature:
        raise Rejected(SIGNATURE_INVALID, ALTERED) from None
    except UnsupportedAlgorithm as exc:
        raise Rejected(SIGNATURE_INVALID, f"unsupported signature: {exc}") from None


def _is_tsa_certificate(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise _untrusted("the signing certificate has no extended key usage timeStamping") from None
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not eku.critical:
        raise _untrusted("the signing certificate's extended key usage is not timeStamping alone, critical")


def _valid_at(cert: x509.Certificate, at: dt.datetime) -> None:
    if at < cert.not_valid_before_utc:
        raise _untrusted(f"certificate is not yet valid: {cert.subject.rfc4514_string()}")
    if at > cert.not_valid_after_utc:
        raise _untrusted(f"certificate has expired: {cert.subject.rfc4514_string()}")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject or not _is_ca(issuer):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _chain_to_trusted(signer: x509.Certificate, carried: list[x509.Certificate], trusted: list[x509.Certificate],
                      at: dt.datetime) -> None:
    """``signer`` chains through ``carried`` to a certificate of ``trusted``, all valid at ``at``."""
    current = signer
    for _ in range(MAX_CHAIN):
        _valid_at(current, at)
        if current in trusted:
            return
        anchor = next((t for t in trusted if _issued_by(current, t)), None)
        if anchor is not None:
            _valid_at(anchor, at)
            return
        parent = next((c for c in carried if c != current and _issued_by(current, c)), None)
        if parent is None:
            raise _untrusted("unable to get local issuer certificate")
        current = parent
    raise _untrusted("certificate chain too long")


def check_signed_data(signed, trusted: list[x509.Certificate], at: dt.datetime | None = None) -> None:
    """Check a token's CMS ``SignedData`` (asn1crypto): signature, TSA certificate, chain to ``trusted``."""
    at = at or dt.datetime.now(dt.timezone.utc)
    try:
        carried_asn1 = [c.chosen for c in (signed["certificates"] or []) if c.name == "certificate"]
        signer_info = signed["signer_infos"][0]
        content = bytes(signed["encap_content_info"]["content"])
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise Rejected(MALFORMED, f"the token's signed data is not readable ({exc})") from None
    signer_asn1 = _signer_certificate(signer_info, carried_asn1)
    signed_bytes = _signed_attributes(signer_info, content, signer_asn1.dump())
    try:
        carried = [x509.load_der_x509_certificate(c.dump()) for c in carried_asn1]
        signer = x509.load_der_x509_certificate(signer_asn1.dump())
        key = signer.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise Rejected(MALFORMED, f"a certificate in the token is not readable ({exc})") from None
    _verify_signature(signer_info, key, signed_bytes)
    _is_tsa_certificate(signer)
    _chain_to_trusted(signer, carried, trusted, at)
