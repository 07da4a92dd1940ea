"""Verifying a badge: what the ledger says of an award, and (when one is presented) whether a
credential is the one issued for it.

Checks, in order (the first failure decides):

1. the award exists (a ``badge.awarded`` event with this id) — else ``unknown``;
2. a presented credential (a VC-JWT) is a compact JWS signed ``EdDSA`` — else ``altered``;
3. its ``kid`` names a key of the organisation's key ring (active or retired) — else ``unknown_key``;
4. the Ed25519 signature covers header and payload — else ``altered``;
5. the JWT claims agree with the credential (``iss``, ``jti``, ``sub``, ``nbf``) and the
   credential is the one this award gives — else ``altered``;
6. a ``badge.revoked`` makes it ``revoked`` (with the date and reason).

Otherwise ``valid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from hub.badges import credential as C
from hub.badges.issue import credential_of
from hub.badges.records import load_award
from hub.documents.fr import date_fr
from hub.documents.keys import PublicKey

if TYPE_CHECKING:
    from hub.documents.services import DocumentServices

MESSAGES_FR = {
    "valid": "Badge authentique",
    "revoked": "Badge révoqué",
    "altered": "Badge altéré : il ne correspond pas au badge émis",
    "unknown_key": "Clé de signature inconnue : l'authenticité ne peut pas être établie",
    "unknown": "Badge inconnu",
}


@dataclass
class BadgeVerdict:
    status: str
    reason: str
    badge: str | None = None  # the award's id
    name: str | None = None
    description: str | None = None
    recipient: str | None = None
    action: str | None = None
    awarded_at: str | None = None
    key_id: str | None = None
    revoked_at: str | None = None
    revoked_reason: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message_fr(self) -> str:
        text = MESSAGES_FR[self.status]
        if self.status == "revoked" and self.revoked_at:
            text += f" le {date_fr(self.revoked_at)}"
            if self.revoked_reason:
                text += f" (motif : {self.revoked_reason})"
        return text

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append({"check": name, "ok": ok, **({"detail": detail} if detail else {})})

    def as_dict(self) -> dict[str, Any]:
        out = {"status": self.status, "message": self.message_fr, "reason": self.reason, "kind": "badge",
               "badge": self.badge, "name": self.name, "description": self.description, "recipient": self.recipient,
               "action": self.action, "awarded_at": self.awarded_at, "key_id": self.key_id,
               "revoked_at": self.revoked_at, "revoked_reason": self.revoked_reason, "checks": self.checks}
        return {k: v for k, v in out.items() if v is not None}


class _Failed(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _check_presented(v: BadgeVerdict, token: str, expected: dict[str, Any], keys: Mapping[str, PublicKey]) -> None:
    try:
        parsed = C.parse(token)
    except C.CredentialError as exc:
        v.check("jws", False, str(exc))
        raise _Failed("altered", f"the credential cannot be read: {exc}") from None
    v.key_id = parsed.kid
    key = keys.get(parsed.kid)
    if key is None:
        v.check("key", False, f"key {parsed.kid} is not among the organisation's keys")
        raise _Failed("unknown_key", f"key {parsed.kid} is unknown")
    v.check("key", True, f"{parsed.kid} ({key.status})")
    if not key.verify(parsed.signature, parsed.signing_input):
        v.check("signature", False, "EdDSA (Ed25519) signature does not match")
        raise _Failed("altered", "the signature does not match the credential")
    v.check("signature", True, "EdDSA (Ed25519)")
    problem = C.claims_problem(parsed)
    if problem:
        v.check("claims", False, problem)
        raise _Failed("altered", problem)
    v.check("claims", True, "iss, jti, sub and nbf match the credential")
    if parsed.credential != expected:
        v.check("ledger", False, "the credential differs from the one this award gives")
        raise _Failed("altered", "the credential differs from the one issued for this award")
    v.check("ledger", True, "the credential issued for this award")


async def verify_badge(services: "DocumentServices", award_id: str, token: str | None,
                       keys: Mapping[str, PublicKey]) -> BadgeVerdict:
    """The verdict on award ``award_id`` (and on the presented credential ``token``, if any)."""
    v = BadgeVerdict("valid", "the award is in the ledger" + (", the credential checks out" if token else ""),
                     badge=award_id)
    record = await load_award(services, award_id)
    if record is None:
        v.status, v.reason = "unknown", "no badge.awarded with this id"
        return v
    data = record.event["data"]
    v.name, v.description, v.recipient = data["name"], data["description"], data.get("recipient_name")
    v.action, v.awarded_at = record.event.get("action"), record.event["occurred_at"]
    try:
        if token is not None:
            _check_presented(v, token, credential_of(services.config, record), keys)
        if record.revoked:
            v.revoked_at, v.revoked_reason = record.revoked["at"], record.revoked.get("reason")
            raise _Failed("revoked", f"revoked on {record.revoked['at'][:10]}")
    except _Failed as failed:
        v.status, v.reason = failed.status, failed.reason
    return v
