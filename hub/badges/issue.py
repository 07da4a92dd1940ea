"""Issuing a badge's credential: the issuer of a hub, and the signed VC-JWT of an award.

The credential is built from the award event when it is asked for (download, export) and signed
with the key ring's active key: Ed25519 signatures are deterministic, so until the key is rotated
the same award always gives the same JWS; after a rotation a new download is signed with the new
key, and copies signed before still verify (retired keys stay published).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.badges import credential as C
from hub.badges.records import AwardRecord
from hub.documents.keys import KeyRing
from hub.documents.settings import keys_dir, organisation, public_url

if TYPE_CHECKING:
    from hub.config import LoadedConfig


def issuer_of(config: "LoadedConfig") -> C.Issuer:
    """The organisation (hub.organisation, required) at the hub's public address."""
    org = organisation(config)
    return C.Issuer(public_url(config), org.name, org.siret)


def credential_of(config: "LoadedConfig", record: AwardRecord) -> dict:
    return C.build(issuer_of(config), record.event, record.learner_id)


def signed_credential(config: "LoadedConfig", record: AwardRecord, keyring: KeyRing | None = None) -> str:
    """The VC-JWT of ``record``, signed with the active document key (KeyRingError when none)."""
    keyring = keyring or KeyRing(keys_dir(config))
    kid, private = keyring.signer()
    issuer = issuer_of(config)
    return C.sign(C.build(issuer, record.event, record.learner_id), issuer.key_url(kid), private)


def file_name(record: AwardRecord) -> str:
    return f"badge-{record.event['data']['badge']}-{record.id}.jwt"
