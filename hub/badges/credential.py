"""A ``badge.awarded`` event as an Open Badges 3.0 credential, signed as a VC-JWT.

The credential is an ``OpenBadgeCredential`` in the W3C Verifiable Credentials 2.0 data model
(contexts ``https://www.w3.org/ns/credentials/v2`` and Open Badges ``context-3.0.3.json``), built
from the event alone (and the issuer's identity): the same award always gives the same credential.
Its proof is external (Open Badges 3.0, section 8.2, "JSON Web Token Proof Format"): a compact
JWS whose payload holds the credential in its ``vc`` claim, with ``iss`` = ``issuer.id``, ``jti``
= ``id``, ``sub`` = ``credentialSubject.id`` and ``nbf`` = ``validFrom``, signed EdDSA (RFC 8037)
with the organisation's document key (:mod:`hub.documents.keys`); the JOSE header's ``kid`` is a
URL that answers the public key as a JWK (``GET /badges/keys/{kid}``). See docs/badges.md for why.

Revocation: ``credentialStatus`` is a W3C Bitstring Status List entry (:mod:`hub.badges.status`)
whose index is the award event's sequence number in the ledger (unique, never reused).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from hub.documents.keys import b64u, b64u_decode

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
#: ``issuanceDate`` is not a VC 2.0 term; verifiers of Open Badges 3.0.0 to 3.0.2 (VC 1.1) and the
#: specification's JSON Schema still require it: an inline context maps it to its VC 1.1 IRI
ISSUANCE_DATE_CONTEXT = {"issuanceDate": {"@id": "https://www.w3.org/2018/credentials#issuanceDate",
                                          "@type": "http://www.w3.org/2001/XMLSchema#dateTime"}}
SCHEMA = {"id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
          "type": "1EdTechJsonSchemaValidator2019"}
ALG = "EdDSA"
MEDIA_TYPE = "application/vc+jwt"


class CredentialError(ValueError):
    """A presented credential that cannot be read (not a compact JWS, bad JSON, wrong algorithm)."""


@dataclass(frozen=True)
class Issuer:
    """Who issues: the organisation, at the hub's public address."""

    base_url: str  # no trailing slash
    name: str
    siret: str | None = None

    @property
    def id(self) -> str:
        return f"{self.base_url}/badges/issuer"

    def profile(self) -> dict[str, Any]:
        """The issuer's Open Badges Profile (embedded in each credential, and at ``GET /badges/issuer``)."""
        return {"id": self.id, "type": ["Profile"], "name": self.name, "url": self.base_url}

    def key_url(self, kid: str) -> str:
        return f"{self.base_url}/badges/keys/{kid}"

    def status_list_url(self) -> str:
        return f"{self.base_url}/badges/status/revocation"

    def achievement_url(self, badge: str) -> str:
        return f"{self.base_url}/badges/achievements/{badge}"

    def credential_url(self, award_id: str) -> str:
        return f"{self.base_url}/verify/{award_id}"


def utc_text(value: str | dt.datetime) -> str:
    """An instant as ``YYYY-MM-DDTHH:MM:SSZ`` (the XML Schema dateTime the credential carries)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def subject_id(issuer: Issuer, learner_id: str) -> str:
    """The learner as the credential's subject: a stable pseudonymous URN, the same for all the
    learner's badges from this issuer (the name and a hashed e-mail go in ``identifier``)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{issuer.id}#learner/{learner_id}')}"


def identity_hash(email: str, salt: str) -> str:
    """Open Badges IdentityHash of an e-mail address: ``sha256$`` + hex SHA-256 of address + salt."""
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def achievement(issuer: Issuer, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": issuer.achievement_url(data["badge"]), "type": ["Achievement"],
                           "name": data["name"], "description": data["description"],
                           "criteria": {"narrative": data["criteria"]}, "creator": issuer.profile()}
    if data.get("image"):
        out["image"] = {"id": data["image"], "type": "Image"}
    return out


def build(issuer: Issuer, award: dict[str, Any], learner_id: str) -> dict[str, Any]:
    """The OpenBadgeCredential of ``award`` (a stored ``badge.awarded`` event with its ``seq``)."""
    data = award["data"]
    identifiers = []
    if data.get("recipient_name"):
        identifiers.append({"type": "IdentityObject", "hashed": False, "identityHash": data["recipient_name"],
                            "identityType": "name"})
    if data.get("identity_hash"):
        identifiers.append({"type": "IdentityObject", "hashed": True, "identityHash": data["identity_hash"],
                            "identityType": "emailAddress", "salt": data.get("identity_salt") or ""})
    subject: dict[str, Any] = {"id": subject_id(issuer, learner_id), "type": ["AchievementSubject"],
                               "achievement": achievement(issuer, data)}
    if identifiers:
        subject["identifier"] = identifiers
    when = utc_text(award["occurred_at"])
    status_url = issuer.status_list_url()
    credential = {
        "@context": [VC_CONTEXT, OB_CONTEXT, ISSUANCE_DATE_CONTEXT],
        "id": issuer.credential_url(award["id"]),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": data["name"],
        "description": data["description"],
        "issuer": issuer.profile(),
        "validFrom": when,
        "issuanceDate": when,
        "credentialSubject": subject,
        "credentialStatus": {"id": f"{status_url}#{award['seq']}", "type": "BitstringStatusListEntry",
                             "statusPurpose": "revocation", "statusListIndex": str(award["seq"]),
                             "statusListCredential": status_url},
        "credentialSchema": [SCHEMA],
    }
    if data.get("image"):
        credential["image"] = {"id": data["image"], "type": "Image"}
    return credential


def _epoch(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The JWT claims of a credential (Open Badges 3.0, 8.2: iss, jti, nbf, sub and vc)."""
    issuer = credential["issuer"]
    out = {"iss": issuer["id"] if isinstance(issuer, dict) else issuer, "jti": credential["id"], "nbf": _epoch(credential["validFrom"]),
           "vc": credential}
    subject = credential["credentialSubject"]
    if isinstance(subject, dict) and subject.get("id"):
        out["sub"] = subject["id"]
    return out


def _segment(value: dict[str, Any]) -> str:
    return b64u(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def sign(credential: dict[str, Any], kid_url: str, private_key) -> str:
    """The compact JWS (VC-JWT) of ``credential``, signed with an Ed25519 private key."""
    header = {"alg": ALG, "kid": kid_url, "typ": "JWT"}
    signing_input = f"{_segment(header)}.{_segment(claims(credential))}"
    return f"{signing_input}.{b64u(private_key.sign(signing_input.encode()))}"


@dataclass(frozen=True)
class Parsed:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def credential(self) -> dict[str, Any]:
        return self.claims["vc"]

    @property
    def kid(self) -> str:
        """The key id: the last segment of the ``kid`` URL."""
        return str(self.header.get("kid", "")).rstrip("/").rsplit("/", 1)[-1]


def parse(token: str) -> Parsed:
    """Read a compact JWS (no verification). Raises CredentialError naming what is wrong."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise CredentialError("not a compact JWS (three base64url parts separated by dots)")
    try:
        header = json.loads(b64u_decode(parts[0]))
        payload = json.loads(b64u_decode(parts[1]))
        signature = b64u_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise CredentialError(f"unreadable JWS: {exc}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise CredentialError("the JWS header and payload must be JSON objects")
    if header.get("alg") != ALG:
        raise CredentialError(f"unsupported algorithm {header.get('alg')!r} (expected {ALG})")
    if not isinstance(payload.get("vc"), dict):
        raise CredentialError("the JWT has no `vc` claim holding the credential")
    return Parsed(header, payload, f"{parts[0]}.{parts[1]}".encode(), signature)


def claims_problem(parsed: Parsed) -> str | None:
    """What is inconsistent between the JWT claims and the credential (Open Badges 3.0, 8.2.4.1), or None."""
    vc = parsed.credential
    try:
        expected = claims(vc)
    except (KeyError, TypeError, ValueError) as exc:
        return f"the credential lacks what its claims derive from: {exc}"
    for name in ("iss", "jti", "sub", "nbf"):
        if parsed.claims.get(name) != expected.get(name):
            return f"claim {name} does not match the credential"
    return None
