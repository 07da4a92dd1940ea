"""Auditors' links: a time-limited, revocable address (``/app/audit/<token>``) to the evidence and
the audit pack of one scope: a training action and the learners of a sample, drawn once when the
link is made (with the audit pack's selection, :mod:`hub.audit.selection`, so that the seed draws
the same learners again).

The token is the credential: 256 random bits, shown once, kept only as its SHA-256. Making and
revoking a link are ``admin.action`` events; each use of it is an ``access.audit_viewed`` event
(the web app records it), never with the token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from hub.audit.selection import Selection, select_learners
from hub.errors import HubError
from hub.ingest.audit import Append, record_admin_action
from hub.ulid import new_ulid

TOKEN_BYTES = 32  # 256 bits, URL-safe base64 (43 characters)
MAX_TOKEN_LENGTH = 100  # longer is not one of ours: refused before hashing
MAX_LIFETIME = dt.timedelta(days=90)


class AuditLinkError(HubError):
    """The link cannot be made or changed (the message says what and why)."""


@dataclass(frozen=True)
class AuditLink:
    id: str
    action: str
    learners: tuple[str, ...]
    selection: dict[str, Any]
    label: str | None
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "AuditLink":
        return cls(row["id"], row["action"], tuple(row["learners"]), row["selection"], row.get("label"),
                   row["created_by"], row["created_at"], row["expires_at"], row.get("revoked_at"))

    def state(self, now: float | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if (time.time() if now is None else now) >= self.expires_at else "active"

    def covers(self, learner_id: str) -> bool:
        return learner_id in self.learners

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        def iso(t: float | None) -> str | None:
            return None if t is None else dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")
        return {"id": self.id, "action": self.action, "learners": list(self.learners), "selection": self.selection,
                "label": self.label, "created_by": self.created_by, "created_at": iso(self.created_at),
                "expires_at": iso(self.expires_at), "revoked_at": iso(self.revoked_at), "state": self.state(now)}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _direct(fn, *args, **kwargs):
    return fn(*args, **kwargs)  # already on the store's thread


async def create_link(hub: Any, selection: Selection, lifetime: dt.timedelta, *, label: str | None = None,
                      actor: str | None = None, now: float | None = None) -> tuple[AuditLink, str]:
    """Draw the scope of ``selection`` now and store a link to it valid for ``lifetime``: the link and
    its token (shown once; only its hash is kept). Raises AuditLinkError or SelectionError."""
    if lifetime <= dt.timedelta(0) or lifetime > MAX_LIFETIME:
        raise AuditLinkError(f"--expires must be between a second and {MAX_LIFETIME.days} days (got {lifetime})")
    if selection.funder is not None:
        raise AuditLinkError("an audit link is scoped to a sample (--sample N) or to named learners (--learners)")
    selection = selection.with_seed()
    await hub.project()
    store = hub.store
    learners = await store.call(select_learners, store, _direct, hub.config, selection)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    created = time.time() if now is None else now
    link = AuditLink(new_ulid(), selection.action, tuple(learners), selection.as_dict(), label,
                     actor or "unknown", created, created + lifetime.total_seconds(), None)
    row = {**link.as_dict(), "token_hash": hash_token(token), "learners": list(link.learners),
           "created_at": link.created_at, "expires_at": link.expires_at, "revoked_at": None}
    await store.call(store.add_audit_link, row)
    await record_admin_action(hub.append, actor, "audit-link create", link.id,
                              {"action": link.action, "learners": len(link.learners), "selection": link.selection,
                               "expires_at": link.as_dict()["expires_at"], **({"label": label} if label else {})})
    return link, token


async def find_link(store, token: str) -> AuditLink | None:
    """The link of ``token`` (whatever its state), or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = await store.call(store.audit_link_by_token_hash, hash_token(token))
    return AuditLink.of(row) if row else None


async def list_links(store) -> list[AuditLink]:
    return [AuditLink.of(r) for r in await store.call(store.audit_links)]


async def revoke_link(store, append: Append, link_id: str, *, actor: str | None = None) -> AuditLink:
    """Revoke link ``link_id`` now (its next use answers 410). AuditLinkError when unknown or revoked."""
    row = await store.call(store.audit_link, link_id)
    if row is None:
        raise AuditLinkError(f"no audit link {link_id!r} (see `parcours audit-link list`)")
    if not await store.call(store.revoke_audit_link, link_id, at=time.time()):
        raise AuditLinkError(f"audit link {link_id} is revoked already")
    await record_admin_action(append, actor, "audit-link revoke", link_id, {"action": row["action"]})
    return AuditLink.of(await store.call(store.audit_link, link_id))


async def record_use(append: Append, link: AuditLink, what: str, *, learner: str | None = None,
                     remote: str | None = None) -> None:
    """An ``access.audit_viewed`` event for one use of ``link`` (never with its token)."""
    await append([{
        "type": "access.audit_viewed", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "source_id": new_ulid(),
        "data": {"link": link.id, "action": link.action, "what": what, "learner": learner, "remote": remote},
    }], source="hub")
